/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/status.h"

bool edge_fleet_text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3fu);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

/* The member key of obj; a JSON null counts as absent ("not known"). */
static const cJSON *member(const cJSON *obj, const char *key)
{
	const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	return cJSON_IsNull(it) ? NULL : it;
}

/* Copies a JSON string of at most max bytes that passes edge_fleet_text_ok.
 * Absent: untouched, returns false. Present but unusable: counted. */
static bool get_str(const cJSON *obj, const char *key, char *dst, size_t max, uint32_t *skipped)
{
	const cJSON *it = member(obj, key);
	size_t n;

	if (!it)
		return false;
	if (!cJSON_IsString(it) || !it->valuestring) {
		(*skipped)++;
		return false;
	}
	n = strlen(it->valuestring);
	if (n > max || !edge_fleet_text_ok(it->valuestring, n)) {
		(*skipped)++;
		return false;
	}
	memcpy(dst, it->valuestring, n + 1);
	return true;
}

/* A JSON number that is finite and fits an int64 (beyond 2^53 doubles are
 * not exact anyway); fractions are truncated. Counters and timestamps must
 * not be negative. */
static bool num_ok(const cJSON *it, bool nonneg, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(it))
		return false;
	v = it->valuedouble;
	if (!isfinite(v) || v >= 9007199254740992.0 || v <= -9007199254740992.0)
		return false;
	if (nonneg && v < 0)
		return false;
	*out = (int64_t)v;
	return true;
}

static void get_num(const cJSON *obj, const char *key, bool nonneg, struct edge_fleet_status *st,
		    enum edge_fleet_field f)
{
	const cJSON *it = member(obj, key);

	if (!it)
		return;
	if (!num_ok(it, nonneg, &st->num[f])) {
		st->skipped++;
		return;
	}
	st->present |= 1u << f;
}

/* The object under key, or NULL (counted when present with another type). */
static const cJSON *get_obj(const cJSON *obj, const char *key, uint32_t *skipped)
{
	const cJSON *it = member(obj, key);

	if (it && !cJSON_IsObject(it)) {
		(*skipped)++;
		return NULL;
	}
	return it;
}

/* 1 or 0, -1 when absent (counted when present with another type) */
static int8_t get_bool(const cJSON *obj, const char *key, uint32_t *skipped)
{
	const cJSON *it = member(obj, key);

	if (cJSON_IsBool(it))
		return cJSON_IsTrue(it) ? 1 : 0;
	if (it)
		(*skipped)++;
	return -1;
}

static void parse_sensors(const cJSON *sensors, struct edge_fleet_status *st)
{
	const cJSON *s;

	cJSON_ArrayForEach (s, sensors) {
		struct edge_fleet_sensor *out;
		const cJSON *e, *r;
		size_t n;

		if (!s->string || !cJSON_IsObject(s)) {
			st->skipped++;
			continue;
		}
		n = strlen(s->string);
		if (n == 0 || n > EDGE_FLEET_STR_MAX || !edge_fleet_text_ok(s->string, n) ||
		    st->n_sensors == EDGE_FLEET_MAX_SENSORS) {
			st->skipped++;
			continue;
		}
		/* a duplicate key: cJSON keeps both, the first one wins */
		for (size_t i = 0; i < st->n_sensors; i++)
			if (!strcmp(st->sensors[i].name, s->string))
				goto next;
		out = &st->sensors[st->n_sensors++];
		memset(out, 0, sizeof(*out));
		memcpy(out->name, s->string, n + 1);
		out->healthy = get_bool(s, "healthy", &st->skipped);
		out->enabled = get_bool(s, "enabled", &st->skipped);
		e = member(s, "errors");
		if (e && !(out->has_errors = num_ok(e, true, &out->errors)))
			st->skipped++;
		r = member(s, "lastReadingMs");
		if (r && !(out->has_last_reading = num_ok(r, true, &out->last_reading_ms)))
			st->skipped++;
	next:;
	}
}

/* cJSON wants a NUL-terminated string; payloads from MQTT are not. */
static cJSON *parse_json(const void *payload, size_t len, int *err)
{
	char *copy;
	cJSON *root;

	if (len > EDGE_FLEET_PAYLOAD_MAX) {
		*err = -EMSGSIZE;
		return NULL;
	}
	copy = malloc(len + 1);
	if (!copy) {
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(copy, payload, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
	free(copy);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*err = -EINVAL;
		return NULL;
	}
	return root;
}

int edge_fleet_status_parse(const void *payload, size_t len, struct edge_fleet_status *st)
{
	const cJSON *alerts, *mem, *sensors, *ingress;
	cJSON *root;
	char state[16] = "";
	int err = 0;

	memset(st, 0, offsetof(struct edge_fleet_status, sensors));
	st->skipped = 0;
	root = parse_json(payload, len, &err);
	if (!root)
		return err;

	/* an unrecognised state stays UNKNOWN: the device is counted, not up */
	if (get_str(root, "state", state, sizeof(state) - 1, &st->skipped)) {
		if (!strcmp(state, "online"))
			st->state = EDGE_FLEET_STATE_ONLINE;
		else if (!strcmp(state, "offline"))
			st->state = EDGE_FLEET_STATE_OFFLINE;
	}
	get_str(root, "deviceId", st->device_id, EDGE_FLEET_ID_MAX, &st->skipped);
	get_str(root, "board", st->board, EDGE_FLEET_STR_MAX, &st->skipped);
	get_str(root, "version", st->version, EDGE_FLEET_STR_MAX, &st->skipped);
	get_str(root, "firmware", st->firmware, EDGE_FLEET_STR_MAX, &st->skipped);
	get_str(root, "boot", st->boot, EDGE_FLEET_STR_MAX, &st->skipped);

	get_num(root, "timestamp", true, st, EDGE_FLEET_F_TIMESTAMP_MS);
	get_num(root, "uptimeS", true, st, EDGE_FLEET_F_UPTIME_S);
	get_num(root, "backlog", false, st, EDGE_FLEET_F_BACKLOG);
	get_num(root, "dropped", true, st, EDGE_FLEET_F_DROPPED);
	get_num(root, "reconnects", true, st, EDGE_FLEET_F_RECONNECTS);
	get_num(root, "lastPublishMs", true, st, EDGE_FLEET_F_LAST_PUBLISH_MS);
	get_num(root, "certExpiresMs", true, st, EDGE_FLEET_F_CERT_EXPIRES_MS);
	get_num(root, "recordsIncomplete", true, st, EDGE_FLEET_F_RECORDS_INCOMPLETE);

	alerts = get_obj(root, "alerts", &st->skipped);
	get_num(alerts, "active", false, st, EDGE_FLEET_F_ALERTS_ACTIVE);
	get_num(alerts, "total", true, st, EDGE_FLEET_F_ALERTS_TOTAL);
	mem = get_obj(root, "memory", &st->skipped);
	get_num(mem, "rssKb", true, st, EDGE_FLEET_F_RSS_KB);
	get_num(mem, "pssKb", true, st, EDGE_FLEET_F_PSS_KB);

	/* a gateway with CoAP nodes (agent/ingress) */
	ingress = get_obj(root, "ingress", &st->skipped);
	get_num(ingress, "nodes", true, st, EDGE_FLEET_F_INGRESS_NODES);
	get_num(ingress, "nodesActive", true, st, EDGE_FLEET_F_INGRESS_ACTIVE);
	get_num(ingress, "sessions", true, st, EDGE_FLEET_F_INGRESS_SESSIONS);
	get_num(ingress, "accepted", true, st, EDGE_FLEET_F_INGRESS_ACCEPTED);
	get_num(ingress, "refused", true, st, EDGE_FLEET_F_INGRESS_REFUSED);
	get_num(ingress, "rateLimited", true, st, EDGE_FLEET_F_INGRESS_RATE_LIMITED);

	sensors = get_obj(root, "sensors", &st->skipped);
	if (sensors)
		parse_sensors(sensors, st);

	cJSON_Delete(root);
	return 0;
}

int edge_fleet_alert_parse(const void *payload, size_t len, struct edge_fleet_alert *out)
{
	char state[16] = "";
	cJSON *root;
	int err = 0;

	memset(out, 0, sizeof(*out));
	root = parse_json(payload, len, &err);
	if (!root)
		return err;
	if (!get_str(root, "deviceId", out->device_id, EDGE_FLEET_ID_MAX, &out->skipped) ||
	    !out->device_id[0]) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	get_str(root, "severity", out->severity, EDGE_FLEET_SEV_MAX, &out->skipped);
	if (get_str(root, "state", state, sizeof(state) - 1, &out->skipped))
		out->resolved = !strcmp(state, "resolved");
	cJSON_Delete(root);
	return 0;
}

/* The agent's OTA state names (ota/include/edge/ota/state.h); the exporter
 * does not link the OTA module, so the list is repeated here. */
static const char *const ota_states[] = {
    "idle",  "downloading", "verifying", "installing",	"rebooting",
    "trial", "committed",   "failed",	 "rolled_back",
};

static bool one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

/* A known word or nothing: a label value from a closed set keeps the number
 * of series bounded whatever a device sends. */
static void get_word(const cJSON *obj, const char *key, char *dst, size_t max,
		     const char *const *set, size_t n, uint32_t *skipped)
{
	char tmp[EDGE_FLEET_STR_MAX + 1] = "";

	if (!get_str(obj, key, tmp, max, skipped))
		return;
	if (!one_of(tmp, set, n)) {
		(*skipped)++;
		return;
	}
	strcpy(dst, tmp);
}

int edge_fleet_ota_parse(const void *payload, size_t len, struct edge_fleet_ota *out)
{
	static const char *const results[] = {"success", "failure", "rolled_back"};
	static const char *const installers[] = {"bundle", "rauc", "swupdate"};
	const cJSON *progress;
	int64_t bytes, total;
	cJSON *root;
	int err = 0;

	memset(out, 0, sizeof(*out));
	root = parse_json(payload, len, &err);
	if (!root)
		return err;
	get_str(root, "otaId", out->ota_id, EDGE_FLEET_STR_MAX, &out->skipped);
	get_word(root, "state", out->state, EDGE_FLEET_OTA_STATE_MAX, ota_states,
		 sizeof(ota_states) / sizeof(ota_states[0]), &out->skipped);
	get_str(root, "version", out->version, EDGE_FLEET_STR_MAX, &out->skipped);
	get_str(root, "fromVersion", out->from_version, EDGE_FLEET_STR_MAX, &out->skipped);
	get_word(root, "installer", out->installer, EDGE_FLEET_OTA_STATE_MAX, installers,
		 sizeof(installers) / sizeof(installers[0]), &out->skipped);
	get_word(root, "result", out->result, EDGE_FLEET_OTA_STATE_MAX, results,
		 sizeof(results) / sizeof(results[0]), &out->skipped);
	progress = get_obj(root, "progress", &out->skipped);
	if (progress) {
		const cJSON *b = member(progress, "bytes"), *t = member(progress, "total"),
			    *pc = member(progress, "percent");

		if (b && t && num_ok(b, true, &bytes) && num_ok(t, true, &total) && total > 0 &&
		    bytes <= total) {
			out->has_ratio = true;
			out->ratio = (double)bytes / (double)total;
		} else if (cJSON_IsNumber(pc) && isfinite(pc->valuedouble) &&
			   pc->valuedouble >= 0 && pc->valuedouble <= 100) {
			/* percent may be fractional: not through num_ok's truncation */
			out->has_ratio = true;
			out->ratio = pc->valuedouble / 100.0;
		} else if (b || t || pc) {
			out->skipped++;
		}
	}
	cJSON_Delete(root);
	return 0;
}
