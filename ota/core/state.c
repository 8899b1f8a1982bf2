/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.json and history.json (edge/ota/state.h). One table maps each
 * camelCase key to its field, type and bounds; the writer and the reader
 * both walk it, so a key cannot be written under one name and read under
 * another. _save() reads back what it is about to write and refuses a
 * record _load() would refuse: an agent must never leave itself a state
 * file it cannot start from.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/cfgtab.h"
#include "edge/file.h"
#include "edge/ota/state.h"
#include "ota_core.h"

#define TWO_53	  (INT64_C(1) << 53)
#define STATE_MAX (64 * 1024) /* a record is ~3 KiB of JSON */
#define HIST_MAX  (256 * 1024)

static const char *const state_names[] = {
    [EDGE_OTA_IDLE] = "idle",
    [EDGE_OTA_DOWNLOADING] = "downloading",
    [EDGE_OTA_VERIFYING] = "verifying",
    [EDGE_OTA_INSTALLING] = "installing",
    [EDGE_OTA_REBOOTING] = "rebooting",
    [EDGE_OTA_TRIAL] = "trial",
    [EDGE_OTA_COMMITTED] = "committed",
    [EDGE_OTA_FAILED] = "failed",
    [EDGE_OTA_ROLLED_BACK] = "rolled_back",
};

#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

const char *edge_ota_state_name(enum edge_ota_state s)
{
	return (unsigned)s < N_STATES ? state_names[s] : NULL;
}

int edge_ota_state_from_name(const char *name)
{
	for (size_t i = 0; name && i < N_STATES; i++)
		if (strcmp(state_names[i], name) == 0)
			return (int)i;
	return -1;
}

/* ---- one table per document ---- */

enum kind {
	K_TEXT,	   /* any string that fits */
	K_SLOT,	   /* "" or a name ([A-Za-z0-9._-]) */
	K_RESULT,  /* "", "success", "failure", "rolled_back" */
	K_OUTCOME, /* "success", "failure", "rolled_back" */
	K_SHA256,  /* "" or 64 hex (folded to lower case) */
	K_SHA256_REQ,
	K_VERSION_REQ, /* non-empty */
	K_U64,	       /* [0, 2^53]: a JSON number is a double */
	K_U32,
	K_I64, /* [0, 2^53] milliseconds */
};

struct field {
	const char *key;
	enum kind kind;
	size_t off, size;
};

#define FIELD(T, key, kind, m)                                                                     \
	{                                                                                          \
		key, kind, offsetof(T, m), sizeof(((T *)0)->m)                                     \
	}

static const struct field record_fields[] = {
    FIELD(struct edge_ota_record, "otaId", K_TEXT, ota_id),
    FIELD(struct edge_ota_record, "fromVersion", K_TEXT, from_version),
    FIELD(struct edge_ota_record, "offset", K_U64, offset),
    FIELD(struct edge_ota_record, "resumedFrom", K_U64, resumed_from),
    FIELD(struct edge_ota_record, "validator", K_TEXT, validator),
    FIELD(struct edge_ota_record, "attempt", K_U32, attempt),
    FIELD(struct edge_ota_record, "targetSlot", K_SLOT, target_slot),
    FIELD(struct edge_ota_record, "bootedSlot", K_SLOT, booted_slot),
    FIELD(struct edge_ota_record, "bootId", K_TEXT, boot_id),
    FIELD(struct edge_ota_record, "trialStarts", K_U32, trial_starts),
    FIELD(struct edge_ota_record, "trialSinceMs", K_I64, trial_since_ms),
    FIELD(struct edge_ota_record, "startedMs", K_I64, started_ms),
    FIELD(struct edge_ota_record, "deadlineMs", K_I64, deadline_ms),
    FIELD(struct edge_ota_record, "result", K_RESULT, result),
    FIELD(struct edge_ota_record, "reason", K_TEXT, reason),
    FIELD(struct edge_ota_record, "tsMs", K_I64, ts_ms),
};

static const struct field outcome_fields[] = {
    FIELD(struct edge_ota_outcome, "otaId", K_TEXT, ota_id),
    FIELD(struct edge_ota_outcome, "version", K_VERSION_REQ, version),
    FIELD(struct edge_ota_outcome, "sha256", K_SHA256, sha256),
    FIELD(struct edge_ota_outcome, "result", K_OUTCOME, result),
    FIELD(struct edge_ota_outcome, "reason", K_TEXT, reason),
    FIELD(struct edge_ota_outcome, "tsMs", K_I64, ts_ms),
};

struct failed_pair {
	char version[EDGE_OTA_VERSION_MAX];
	char sha256[65];
};

static const struct field failed_fields[] = {
    FIELD(struct failed_pair, "version", K_VERSION_REQ, version),
    FIELD(struct failed_pair, "sha256", K_SHA256_REQ, sha256),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool is_outcome(const char *s)
{
	return !strcmp(s, "success") || !strcmp(s, "failure") || !strcmp(s, "rolled_back");
}

/* The checks of a string value s of field f; 0 or -EINVAL with why. */
static int check_string(const struct field *f, const char *pfx, const char *s, char *dst, char *why,
			size_t whylen)
{
	char hex[65];
	size_t n = strlen(s);

	if (n >= f->size)
		return ota_why(-EINVAL, why, whylen, "%s%s: longer than %zu characters", pfx,
			       f->key, f->size - 1);
	switch (f->kind) {
	case K_SLOT:
		if (n && !edge_cfg_name_ok(s, f->size))
			return ota_why(-EINVAL, why, whylen,
				       "%s%s: must be \"\" or a slot name of [A-Za-z0-9._-]", pfx,
				       f->key);
		break;
	case K_RESULT:
	case K_OUTCOME:
		if ((n || f->kind == K_OUTCOME) && !is_outcome(s))
			return ota_why(-EINVAL, why, whylen,
				       "%s%s: must be %s\"success\", \"failure\" or "
				       "\"rolled_back\"",
				       pfx, f->key, f->kind == K_RESULT ? "\"\", " : "");
		break;
	case K_SHA256:
	case K_SHA256_REQ:
		if ((n || f->kind == K_SHA256_REQ) && !ota_sha256_hex(s, hex))
			return ota_why(-EINVAL, why, whylen, "%s%s: must be %s64 hex digits", pfx,
				       f->key, f->kind == K_SHA256 ? "\"\" or " : "");
		if (n) {
			memcpy(dst, hex, sizeof(hex));
			return 0;
		}
		break;
	case K_VERSION_REQ:
		if (!n)
			return ota_why(-EINVAL, why, whylen, "%s%s: must not be empty", pfx,
				       f->key);
		break;
	default:
		break;
	}
	memcpy(dst, s, n + 1);
	return 0;
}

/* Reads the keys of table from o into base; absent keys stay zero, unknown
 * keys are ignored (a newer agent may have written them). */
static int read_fields(const cJSON *o, const struct field *tab, size_t n, void *base,
		       const char *pfx, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &tab[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f->key);
		char *field = (char *)base + f->off;
		int rc = 0;

		if (!v)
			continue;
		switch (f->kind) {
		case K_U64: {
			uint64_t x;

			rc = edge_json_to_u64(v, 0, (uint64_t)TWO_53, &x);
			if (!rc)
				memcpy(field, &x, sizeof(x));
			if (rc)
				return ota_why(-EINVAL, why, whylen,
					       "%s%s: must be an integer in [0, 2^53]", pfx,
					       f->key);
			break;
		}
		case K_U32: {
			uint32_t x;

			if (edge_json_to_u32(v, 0, UINT32_MAX, &x))
				return ota_why(-EINVAL, why, whylen,
					       "%s%s: must be an integer in [0, 4294967295]", pfx,
					       f->key);
			memcpy(field, &x, sizeof(x));
			break;
		}
		case K_I64: {
			int64_t x;

			if (edge_json_to_i64(v, 0, TWO_53, &x))
				return ota_why(-EINVAL, why, whylen,
					       "%s%s: must be milliseconds in [0, 2^53]", pfx,
					       f->key);
			memcpy(field, &x, sizeof(x));
			break;
		}
		default:
			if (!cJSON_IsString(v))
				return ota_why(-EINVAL, why, whylen,
					       "%s%s: must be a string, not %s", pfx, f->key,
					       edge_json_type_name(v));
			rc = check_string(f, pfx, v->valuestring, field, why, whylen);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Writes the keys of table from base into o; false on allocation failure
 * or a string field without its NUL. */
static bool write_fields(cJSON *o, const struct field *tab, size_t n, const void *base)
{
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &tab[i];
		const char *field = (const char *)base + f->off;
		uint64_t u64;
		uint32_t u32;
		int64_t i64;
		cJSON *added;

		switch (f->kind) {
		case K_U64:
			memcpy(&u64, field, sizeof(u64));
			added = ota_add_u64(o, f->key, u64);
			break;
		case K_U32:
			memcpy(&u32, field, sizeof(u32));
			added = ota_add_u64(o, f->key, u32);
			break;
		case K_I64:
			memcpy(&i64, field, sizeof(i64));
			added = ota_add_i64(o, f->key, i64);
			break;
		default:
			added = memchr(field, '\0', f->size)
				    ? cJSON_AddStringToObject(o, f->key, field)
				    : NULL;
		}
		if (!added)
			return false;
	}
	return true;
}

/* ---- state.json ---- */

/* json -> an object; why "line N: not valid JSON" (the caller's caller adds
 * the file name). */
static int parse_object(const char *json, size_t len, cJSON **root, char *why, size_t whylen)
{
	cJSON *r = cJSON_ParseWithLength(json, len);

	*root = NULL;
	if (!r) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *p = json; at && p < at && p < json + len; p++)
			line += *p == '\n';
		return ota_why(-EINVAL, why, whylen, "line %d: not valid JSON", line);
	}
	if (!cJSON_IsObject(r)) {
		cJSON_Delete(r);
		return ota_why(-EINVAL, why, whylen, "the top level must be an object");
	}
	*root = r;
	return 0;
}

char *edge_ota_state_to_json(const struct edge_ota_record *r)
{
	const char *name = edge_ota_state_name(r->state);
	cJSON *o = cJSON_CreateObject(), *m = NULL;
	char *out = NULL;
	bool ok;

	if (!o || !name)
		goto out;
	ok = cJSON_AddStringToObject(o, "state", name) != NULL;
	/* the manifest of the update in hand; null when there is none */
	if (ok && r->m.version[0]) {
		m = ota_manifest_to_object(&r->m);
		ok = m && cJSON_AddItemToObject(o, "manifest", m);
		if (!ok)
			cJSON_Delete(m);
	} else if (ok) {
		ok = cJSON_AddNullToObject(o, "manifest") != NULL;
	}
	ok = ok && write_fields(o, record_fields, COUNT(record_fields), r);
	if (ok)
		out = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return out;
}

int edge_ota_state_from_json(const char *json, size_t len, struct edge_ota_record *r, char *why,
			     size_t whylen)
{
	const cJSON *v;
	cJSON *root = NULL;
	int rc, st;

	memset(r, 0, sizeof(*r));
	rc = parse_object(json, len, &root, why, whylen);
	if (rc)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(root, "state");
	if (!cJSON_IsString(v)) {
		rc = ota_why(-EINVAL, why, whylen, "state: must be a state name, not %s",
			     edge_json_type_name(v));
		goto out;
	}
	st = edge_ota_state_from_name(v->valuestring);
	if (st < 0) {
		rc = ota_why(-EINVAL, why, whylen, "state: \"%.40s\" is not a state",
			     v->valuestring);
		goto out;
	}
	r->state = (enum edge_ota_state)st;
	v = cJSON_GetObjectItemCaseSensitive(root, "manifest");
	if (v && !cJSON_IsNull(v)) {
		/* unknown keys ignored here: after a rollback this (older)
		 * agent reads what a newer one accepted */
		rc = ota_manifest_from_object(v, "manifest.", false, &r->m, why, whylen);
		if (rc)
			goto out;
	}
	rc = read_fields(root, record_fields, COUNT(record_fields), r, "", why, whylen);
	if (rc)
		goto out;
	if (r->m.version[0] && (r->offset > r->m.size || r->resumed_from > r->m.size)) {
		rc = ota_why(-EINVAL, why, whylen,
			     "offset: %llu or resumedFrom %llu beyond the manifest's size %llu",
			     (unsigned long long)r->offset, (unsigned long long)r->resumed_from,
			     (unsigned long long)r->m.size);
		goto out;
	}
	if (!r->m.version[0] && (r->offset || r->resumed_from)) {
		rc = ota_why(-EINVAL, why, whylen, "offset: set without a manifest");
		goto out;
	}
out:
	cJSON_Delete(root);
	if (rc)
		memset(r, 0, sizeof(*r));
	return rc;
}

/* dir/name, or -ENAMETOOLONG. */
static int join(char *out, size_t outlen, const char *dir, const char *name)
{
	return (size_t)snprintf(out, outlen, "%s/%s", dir, name) < outlen ? 0 : -ENAMETOOLONG;
}

/* Reads dir/name: 0 with *text, 1 when missing, negative errno with why. */
static int read_doc(const char *dir, const char *name, size_t max, char **text, size_t *len,
		    char *why, size_t whylen)
{
	char path[PATH_MAX];
	int rc = join(path, sizeof(path), dir, name);

	if (rc)
		return ota_why(rc, why, whylen, "%s/%s: path too long", dir, name);
	rc = edge_file_read(path, max, text, len);
	if (rc == -ENOENT)
		return 1;
	if (rc == -EFBIG)
		return ota_why(-EINVAL, why, whylen, "%s: larger than %zu bytes", path, max);
	if (rc == -EINVAL) /* edge_file_read's answer for a directory, a FIFO... */
		return ota_why(-EINVAL, why, whylen, "%s: not a regular file", path);
	if (rc)
		return ota_why(rc, why, whylen, "%s: cannot read: %s", path, strerror(-rc));
	return 0;
}

/* why = "<path>: <inner>", keeping inner's text. */
static void why_prefix(char *why, size_t whylen, const char *dir, const char *name)
{
	char inner[256];

	if (!why || !whylen)
		return;
	snprintf(inner, sizeof(inner), "%s", why);
	snprintf(why, whylen, "%s/%s: %s", dir, name, inner);
}

int edge_ota_state_load(const char *dir, struct edge_ota_record *r, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = read_doc(dir, "state.json", STATE_MAX, &text, &len, why, whylen);
	if (rc == 1) {
		r->state = EDGE_OTA_IDLE;
		return 0;
	}
	if (rc)
		return rc;
	rc = edge_ota_state_from_json(text, len, r, why, whylen);
	free(text);
	if (rc)
		why_prefix(why, whylen, dir, "state.json");
	return rc;
}

/* Writes json to dir/name after parse() accepted it. */
static int save_doc(const char *dir, const char *name, char *json, int parse_rc)
{
	char path[PATH_MAX];
	int rc;

	if (!json)
		return -ENOMEM;
	rc = parse_rc ? parse_rc : join(path, sizeof(path), dir, name);
	if (!rc)
		rc = edge_file_write_atomic(path, json, strlen(json), 0600);
	free(json);
	return rc;
}

int edge_ota_state_save(const char *dir, const struct edge_ota_record *r)
{
	struct edge_ota_record *back;
	char *json;
	int rc = -ENOMEM;

	if (!edge_ota_state_name(r->state))
		return -EINVAL;
	back = malloc(sizeof(*back));
	json = edge_ota_state_to_json(r);
	if (back && json)
		rc = edge_ota_state_from_json(json, strlen(json), back, NULL, 0) ? -EINVAL : 0;
	free(back);
	return save_doc(dir, "state.json", json, rc);
}

/* ---- history.json ---- */

void edge_ota_history_add(struct edge_ota_history *h, const struct edge_ota_outcome *o)
{
	size_t n = h->n_last < EDGE_OTA_HISTORY_MAX ? h->n_last : EDGE_OTA_HISTORY_MAX - 1;

	memmove(&h->last[1], &h->last[0], n * sizeof(h->last[0]));
	h->last[0] = *o;
	h->n_last = n + 1;
	/* only a pair that names an image can be refused later */
	if ((strcmp(o->result, "failure") && strcmp(o->result, "rolled_back")) || !o->version[0] ||
	    !o->sha256[0])
		return;
	/* once: an entry already there moves to the front (newest) */
	edge_ota_history_forget_failed(h, o->version, o->sha256);
	n = h->n_failed < EDGE_OTA_FAILED_MAX ? h->n_failed : EDGE_OTA_FAILED_MAX - 1;
	memmove(&h->failed[1], &h->failed[0], n * sizeof(h->failed[0]));
	memset(&h->failed[0], 0, sizeof(h->failed[0]));
	snprintf(h->failed[0].version, sizeof(h->failed[0].version), "%s", o->version);
	snprintf(h->failed[0].sha256, sizeof(h->failed[0].sha256), "%s", o->sha256);
	h->n_failed = n + 1;
}

bool edge_ota_history_is_failed(const struct edge_ota_history *h, const char *version,
				const char *sha256)
{
	for (size_t i = 0; i < h->n_failed && i < EDGE_OTA_FAILED_MAX; i++)
		if (strcmp(h->failed[i].version, version) == 0 &&
		    strcasecmp(h->failed[i].sha256, sha256) == 0)
			return true;
	return false;
}

void edge_ota_history_forget_failed(struct edge_ota_history *h, const char *version,
				    const char *sha256)
{
	size_t i = 0;

	if (h->n_failed > EDGE_OTA_FAILED_MAX)
		h->n_failed = EDGE_OTA_FAILED_MAX;
	while (i < h->n_failed) {
		if (strcmp(h->failed[i].version, version) == 0 &&
		    strcasecmp(h->failed[i].sha256, sha256) == 0) {
			memmove(&h->failed[i], &h->failed[i + 1],
				(h->n_failed - i - 1) * sizeof(h->failed[0]));
			h->n_failed--;
			memset(&h->failed[h->n_failed], 0, sizeof(h->failed[0]));
		} else {
			i++;
		}
	}
}

char *edge_ota_history_to_json(const struct edge_ota_history *h)
{
	cJSON *o = cJSON_CreateObject(), *last, *failed;
	char *out = NULL;
	bool ok;

	last = o ? cJSON_AddArrayToObject(o, "last") : NULL;
	failed = last ? cJSON_AddArrayToObject(o, "failed") : NULL;
	ok = failed != NULL;
	for (size_t i = 0; ok && i < h->n_last && i < EDGE_OTA_HISTORY_MAX; i++) {
		cJSON *e = cJSON_CreateObject();

		ok = e && cJSON_AddItemToArray(last, e);
		if (!ok)
			cJSON_Delete(e);
		ok = ok && write_fields(e, outcome_fields, COUNT(outcome_fields), &h->last[i]);
	}
	for (size_t i = 0; ok && i < h->n_failed && i < EDGE_OTA_FAILED_MAX; i++) {
		cJSON *e = cJSON_CreateObject();
		struct failed_pair p;

		memcpy(p.version, h->failed[i].version, sizeof(p.version));
		memcpy(p.sha256, h->failed[i].sha256, sizeof(p.sha256));
		ok = e && cJSON_AddItemToArray(failed, e);
		if (!ok)
			cJSON_Delete(e);
		ok = ok && write_fields(e, failed_fields, COUNT(failed_fields), &p);
	}
	if (ok)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

/* Parses history JSON (the fuzzer reaches it through _load). Entries beyond
 * the caps are dropped, oldest first, as _add() would have: a newer agent
 * with bigger caps must not leave this one unable to read its history. */
static int history_from_json(const char *json, size_t len, struct edge_ota_history *h, char *why,
			     size_t whylen)
{
	const cJSON *last, *failed, *e;
	cJSON *root = NULL;
	char pfx[32];
	size_t i;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = parse_object(json, len, &root, why, whylen);
	if (rc)
		return rc;
	last = cJSON_GetObjectItemCaseSensitive(root, "last");
	failed = cJSON_GetObjectItemCaseSensitive(root, "failed");
	rc = -EINVAL;
	if (last && !cJSON_IsArray(last)) {
		ota_why(rc, why, whylen, "last: must be an array, not %s",
			edge_json_type_name(last));
		goto out;
	}
	if (failed && !cJSON_IsArray(failed)) {
		ota_why(rc, why, whylen, "failed: must be an array, not %s",
			edge_json_type_name(failed));
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach (e, last) {
		if (i == EDGE_OTA_HISTORY_MAX)
			break;
		snprintf(pfx, sizeof(pfx), "last[%zu].", i);
		if (!cJSON_IsObject(e)) {
			ota_why(rc, why, whylen, "%s must be an object", pfx);
			goto out;
		}
		if (read_fields(e, outcome_fields, COUNT(outcome_fields), &h->last[i], pfx, why,
				whylen))
			goto out;
		if (!cJSON_GetObjectItemCaseSensitive(e, "version") ||
		    !cJSON_GetObjectItemCaseSensitive(e, "result")) {
			ota_why(rc, why, whylen, "%s needs version and result", pfx);
			goto out;
		}
		h->n_last = ++i;
	}
	i = 0;
	cJSON_ArrayForEach (e, failed) {
		struct failed_pair p = {{0}, {0}};

		if (i == EDGE_OTA_FAILED_MAX)
			break;
		snprintf(pfx, sizeof(pfx), "failed[%zu].", i);
		if (!cJSON_IsObject(e)) {
			ota_why(rc, why, whylen, "%s must be an object", pfx);
			goto out;
		}
		if (read_fields(e, failed_fields, COUNT(failed_fields), &p, pfx, why, whylen))
			goto out;
		if (!p.version[0] || !p.sha256[0]) {
			ota_why(rc, why, whylen, "%s needs version and sha256", pfx);
			goto out;
		}
		memcpy(h->failed[i].version, p.version, sizeof(p.version));
		memcpy(h->failed[i].sha256, p.sha256, sizeof(p.sha256));
		h->n_failed = ++i;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc)
		memset(h, 0, sizeof(*h));
	return rc;
}

int edge_ota_history_load(const char *dir, struct edge_ota_history *h, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = read_doc(dir, "history.json", HIST_MAX, &text, &len, why, whylen);
	if (rc == 1)
		return 0;
	if (rc)
		return rc;
	rc = history_from_json(text, len, h, why, whylen);
	free(text);
	if (rc)
		why_prefix(why, whylen, dir, "history.json");
	return rc;
}

int edge_ota_history_save(const char *dir, const struct edge_ota_history *h)
{
	struct edge_ota_history *back = malloc(sizeof(*back));
	char *json = edge_ota_history_to_json(h);
	int rc = -ENOMEM;

	if (back && json)
		rc = history_from_json(json, strlen(json), back, NULL, 0) ? -EINVAL : 0;
	free(back);
	return save_doc(dir, "history.json", json, rc);
}
