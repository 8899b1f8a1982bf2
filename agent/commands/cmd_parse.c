/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_parse.h"
#include "agent/config.h"
#include "edge/cfgtab.h"

static const char *const status_names[] = {
    [EDGE_CMD_OK] = "ok",
    [EDGE_CMD_ERROR] = "error",
    [EDGE_CMD_REJECTED] = "rejected",
    [EDGE_CMD_EXPIRED] = "expired",
    [EDGE_CMD_UNKNOWN_ACTION] = "unknown_action",
};

const char *edge_cmd_status_str(enum edge_cmd_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s]
									    : "error";
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == ':';
}

bool edge_cmd_id_valid(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (!id_char(id[n]) || n >= EDGE_CMD_ID_MAX)
			return false;
	return n > 0;
}

bool edge_cmd_action_valid(const char *a)
{
	size_t n = 0;

	for (; a[n]; n++)
		if (!((a[n] >= 'a' && a[n] <= 'z') || (a[n] >= '0' && a[n] <= '9') || a[n] == '-' ||
		      a[n] == '.') ||
		    n >= EDGE_CMD_ACTION_MAX)
			return false;
	return n > 0;
}

int edge_cmd_action_from_topic(const char *tmpl, const char *device_id, const char *topic,
			       char *action, size_t action_len)
{
	char prefix[256];
	int n = edge_topic_format(prefix, sizeof(prefix), tmpl, device_id, NULL, NULL, "");
	size_t rest;

	if (n < 0 || strncmp(topic, prefix, (size_t)n) != 0)
		return -EINVAL;
	rest = strlen(topic + n);
	if (rest == 0 || rest >= action_len || strchr(topic + n, '/'))
		return -EINVAL;
	memcpy(action, topic + n, rest + 1);
	return 0;
}

bool edge_cmd_recover_id(const void *payload, size_t len, char *id, size_t idlen)
{
	const char *p = payload, *end = p + len;

	if (idlen)
		*id = '\0';
	for (; p + 4 <= end; p++) {
		const char *q;
		size_t n = 0;

		if (memcmp(p, "\"id\"", 4) != 0)
			continue;
		q = p + 4;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= end || *q++ != ':')
			continue;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= end || *q++ != '"')
			continue;
		while (q + n < end && id_char(q[n]) && n < EDGE_CMD_ID_MAX)
			n++;
		if (q + n >= end || q[n] != '"' || n == 0 || n + 1 > idlen)
			continue;
		memcpy(id, q, n);
		id[n] = '\0';
		return true;
	}
	return false;
}

int edge_cmd_parse(const char *action, const void *payload, size_t len, size_t max_len,
		   struct edge_cmd *out, char *err, size_t errlen)
{
	cJSON *it;

	memset(out, 0, sizeof(*out));
	if (action && strlen(action) <= EDGE_CMD_ACTION_MAX)
		strcpy(out->action, action);
	if (len > max_len) {
		edge_cmd_recover_id(payload, len < 4096 ? len : 4096, out->id, sizeof(out->id));
		edge_cfg_fail(err, errlen, "payload of %zu bytes exceeds the limit of %zu", len,
			      max_len);
		return -EMSGSIZE;
	}
	if (!action || !edge_cmd_action_valid(action)) {
		edge_cmd_recover_id(payload, len, out->id, sizeof(out->id));
		return edge_cfg_fail(err, errlen, "invalid action name");
	}
	out->root = cJSON_ParseWithLength(payload, len);
	if (!out->root) {
		edge_cmd_recover_id(payload, len, out->id, sizeof(out->id));
		return edge_cfg_fail(err, errlen, "payload is not valid JSON");
	}
	if (!cJSON_IsObject(out->root)) {
		edge_cmd_recover_id(payload, len, out->id, sizeof(out->id));
		return edge_cfg_fail(err, errlen, "payload must be a JSON object");
	}
	it = cJSON_GetObjectItemCaseSensitive(out->root, "id");
	if (!it)
		return edge_cfg_fail(err, errlen, "id is missing");
	if (!cJSON_IsString(it) || !edge_cmd_id_valid(it->valuestring))
		return edge_cfg_fail(err, errlen,
				     "id must be a string of 1-64 letters, digits or \"-_.:\"");
	strcpy(out->id, it->valuestring);
	it = cJSON_GetObjectItemCaseSensitive(out->root, "expiresAt");
	if (it) {
		if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0 ||
		    it->valuedouble > 9.0e15 || it->valuedouble != floor(it->valuedouble))
			return edge_cfg_fail(err, errlen, "expiresAt must be epoch milliseconds");
		out->expires_at = (int64_t)it->valuedouble;
	}
	it = cJSON_GetObjectItemCaseSensitive(out->root, "params");
	if (it && !cJSON_IsNull(it) && !cJSON_IsObject(it))
		return edge_cfg_fail(err, errlen, "params must be an object");
	if (!it || cJSON_IsNull(it)) {
		cJSON_DeleteItemFromObjectCaseSensitive(out->root, "params");
		it = cJSON_AddObjectToObject(out->root, "params");
		if (!it)
			return edge_cfg_fail(err, errlen, "out of memory");
	}
	out->params = it;
	it = cJSON_GetObjectItemCaseSensitive(out->root, "jws");
	if (it) {
		if (!cJSON_IsString(it))
			return edge_cfg_fail(err, errlen, "jws must be a compact JWS string");
		out->jws = it->valuestring;
	}
	return 0;
}

void edge_cmd_release(struct edge_cmd *c)
{
	cJSON_Delete(c->root);
	c->root = NULL;
	c->params = NULL;
	c->jws = NULL;
}

bool edge_cmd_expired(const struct edge_cmd *c, uint64_t now_wall_ms)
{
	return c->expires_at > 0 && (uint64_t)c->expires_at <= now_wall_ms;
}

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

int edge_cmd_check_signed(const struct edge_cmd *c, const char *device_id, const char *signed_json,
			  size_t len, char *why, size_t whylen)
{
	cJSON *s = cJSON_ParseWithLength(signed_json, len);
	const cJSON *it, *params;
	int rc = 0;

	if (!cJSON_IsObject(s)) {
		rc = bad(why, whylen, "signed payload is not a JSON object");
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "id");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, c->id)) {
		rc = bad(why, whylen, "signed id does not match");
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "action");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, c->action)) {
		rc = bad(why, whylen, "signed action does not match");
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "deviceId");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, device_id)) {
		rc = bad(why, whylen, "signed deviceId does not match");
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "expiresAt");
	if (c->expires_at <= 0 || !cJSON_IsNumber(it) || it->valuedouble != (double)c->expires_at) {
		rc = bad(why, whylen, "signed commands need a matching expiresAt");
		goto out;
	}
	params = cJSON_GetObjectItemCaseSensitive(s, "params");
	if (!params || cJSON_IsNull(params)) {
		if (cJSON_GetArraySize(c->params) != 0)
			rc = bad(why, whylen, "signed params do not match");
	} else if (!cJSON_Compare(params, c->params, true)) {
		rc = bad(why, whylen, "signed params do not match");
	}
out:
	cJSON_Delete(s);
	return rc;
}

char *edge_cmd_result_json(const char *id, enum edge_cmd_status status, const char *message,
			   const cJSON *data)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *d = NULL;
	char *out;

	if (!r)
		return NULL;
	if (id && *id)
		cJSON_AddStringToObject(r, "id", id);
	else
		cJSON_AddNullToObject(r, "id");
	cJSON_AddStringToObject(r, "status", edge_cmd_status_str(status));
	cJSON_AddStringToObject(r, "message", message ? message : "");
	if (data)
		d = cJSON_Duplicate(data, true);
	if (d)
		cJSON_AddItemToObject(r, "data", d);
	else
		cJSON_AddNullToObject(r, "data");
	out = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return out;
}
