/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OTA manifest payload (shared/DESIGN.md 5.4) and its ES256 JWS. The
 * schema is closed: a key this agent does not know is refused, because a
 * manifest that says more than we understand (a new constraint, say) must
 * not be installed as if it said less.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/cfgtab.h"
#include "edge/jws.h"
#include "ota_core.h"

#define TWO_53 (UINT64_C(1) << 53)

int ota_why(int rc, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

cJSON *ota_add_u64(cJSON *o, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return cJSON_AddRawToObject(o, key, num);
}

cJSON *ota_add_i64(cJSON *o, const char *key, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	return cJSON_AddRawToObject(o, key, num);
}

bool ota_sha256_hex(const char *s, char out[65])
{
	char tmp[65];

	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		tmp[i] = c;
	}
	tmp[64] = '\0';
	memcpy(out, tmp, sizeof(tmp));
	return true;
}

/* http:// or https://, a non-empty host, printable ASCII without spaces
 * (the URL goes to a helper's command line and to libcurl as is). */
static int check_url(const char *u, const char *pfx, char *why, size_t whylen)
{
	const char *host, *end;
	size_t n = strlen(u);

	if (n == 0 || n >= EDGE_OTA_URL_MAX)
		return ota_why(-EINVAL, why, whylen, "%surl: must be 1 to %d characters", pfx,
			       EDGE_OTA_URL_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c <= 0x20 || c >= 0x7f)
			return ota_why(-EINVAL, why, whylen,
				       "%surl: whitespace, control or non-ASCII character at "
				       "offset %zu",
				       pfx, i);
	}
	if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else
		return ota_why(-EINVAL, why, whylen, "%surl: must start with http:// or https://",
			       pfx);
	end = host + strcspn(host, "/?#");
	/* userinfo@host:port: the host is what lies between them */
	for (const char *p = host; p < end; p++)
		if (*p == '@')
			host = p + 1;
	if (host < end && *host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (!close || close == host + 1)
			return ota_why(-EINVAL, why, whylen, "%surl: malformed [IPv6] host", pfx);
		end = close + 1;
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));

		if (colon)
			end = colon;
	}
	if (end == host)
		return ota_why(-EINVAL, why, whylen, "%surl: has no host", pfx);
	return 0;
}

static int get_string(const cJSON *v, const char *pfx, const char *key, char *dst, size_t dstlen,
		      char *why, size_t whylen)
{
	size_t n;

	if (!cJSON_IsString(v))
		return ota_why(-EINVAL, why, whylen, "%s%s: must be a string, not %s", pfx, key,
			       edge_json_type_name(v));
	n = strlen(v->valuestring);
	if (n >= dstlen)
		return ota_why(-EINVAL, why, whylen, "%s%s: longer than %zu characters", pfx, key,
			       dstlen - 1);
	memcpy(dst, v->valuestring, n + 1);
	return 0;
}

static int get_version(const cJSON *v, const char *pfx, const char *key, char *dst, char *why,
		       size_t whylen)
{
	int rc = get_string(v, pfx, key, dst, EDGE_OTA_VERSION_MAX, why, whylen);

	if (rc)
		return rc;
	if (!edge_semver_valid(dst))
		return ota_why(-EINVAL, why, whylen, "%s%s: \"%s\" is not a semantic version", pfx,
			       key, dst);
	return 0;
}

static int get_boards(const cJSON *v, const char *pfx, struct edge_ota_manifest *m, char *why,
		      size_t whylen)
{
	const cJSON *b;
	size_t n = 0;

	if (!cJSON_IsArray(v))
		return ota_why(-EINVAL, why, whylen, "%sboards: must be an array, not %s", pfx,
			       edge_json_type_name(v));
	cJSON_ArrayForEach (b, v) {
		if (n == EDGE_OTA_BOARDS_MAX)
			return ota_why(-EINVAL, why, whylen, "%sboards: more than %d names", pfx,
				       EDGE_OTA_BOARDS_MAX);
		if (!cJSON_IsString(b) || !edge_cfg_name_ok(b->valuestring, EDGE_OTA_BOARD_MAX))
			return ota_why(-EINVAL, why, whylen,
				       "%sboards[%zu]: must be a name of 1 to %d characters of "
				       "[A-Za-z0-9._-]",
				       pfx, n, EDGE_OTA_BOARD_MAX - 1);
		for (size_t i = 0; i < n; i++)
			if (strcmp(m->boards[i], b->valuestring) == 0)
				return ota_why(-EINVAL, why, whylen,
					       "%sboards[%zu]: \"%s\" is listed twice", pfx, n,
					       b->valuestring);
		memcpy(m->boards[n], b->valuestring, strlen(b->valuestring) + 1);
		n++;
	}
	if (n == 0)
		return ota_why(-EINVAL, why, whylen, "%sboards: must name at least one board", pfx);
	m->n_boards = n;
	return 0;
}

enum field { F_VERSION, F_URL, F_SIZE, F_SHA256, F_BOARDS, F_INSTALLER, F_MIN, F_DOWNGRADE };

static const struct {
	const char *key;
	bool required;
} fields[] = {
    [F_VERSION] = {"version", true}, [F_URL] = {"url", true},
    [F_SIZE] = {"size", true},	     [F_SHA256] = {"sha256", true},
    [F_BOARDS] = {"boards", true},   [F_INSTALLER] = {"installer", true},
    [F_MIN] = {"minVersion", false}, [F_DOWNGRADE] = {"allowDowngrade", false},
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static int get_field(enum field f, const cJSON *v, const char *pfx, struct edge_ota_manifest *m,
		     char *why, size_t whylen)
{
	switch (f) {
	case F_VERSION:
		return get_version(v, pfx, "version", m->version, why, whylen);
	case F_MIN:
		return get_version(v, pfx, "minVersion", m->min_version, why, whylen);
	case F_URL: {
		int rc = get_string(v, pfx, "url", m->url, sizeof(m->url), why, whylen);

		return rc ? rc : check_url(m->url, pfx, why, whylen);
	}
	case F_SIZE:
		if (edge_json_to_u64(v, 1, TWO_53, &m->size))
			return ota_why(-EINVAL, why, whylen,
				       "%ssize: must be an integer in [1, 2^53]", pfx);
		return 0;
	case F_SHA256:
		if (!cJSON_IsString(v) || !ota_sha256_hex(v->valuestring, m->sha256))
			return ota_why(-EINVAL, why, whylen, "%ssha256: must be 64 hex digits",
				       pfx);
		return 0;
	case F_BOARDS:
		return get_boards(v, pfx, m, why, whylen);
	case F_INSTALLER:
		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "bundle") && strcmp(v->valuestring, "rauc") &&
		     strcmp(v->valuestring, "swupdate")))
			return ota_why(-EINVAL, why, whylen,
				       "%sinstaller: must be \"bundle\", \"rauc\" or \"swupdate\"",
				       pfx);
		memcpy(m->installer, v->valuestring, strlen(v->valuestring) + 1);
		return 0;
	case F_DOWNGRADE:
		if (!cJSON_IsBool(v))
			return ota_why(-EINVAL, why, whylen,
				       "%sallowDowngrade: must be true or false, not %s", pfx,
				       edge_json_type_name(v));
		m->allow_downgrade = cJSON_IsTrue(v);
		return 0;
	}
	return -EINVAL;
}

int ota_manifest_from_object(const cJSON *o, const char *pfx, bool strict_keys,
			     struct edge_ota_manifest *m, char *why, size_t whylen)
{
	bool seen[N_FIELDS] = {false};
	const cJSON *v;
	int rc;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(o))
		return ota_why(-EINVAL, why, whylen, "%s must be a JSON object, not %s",
			       *pfx ? pfx : "manifest:", edge_json_type_name(o));
	cJSON_ArrayForEach (v, o) {
		size_t f = 0;

		while (f < N_FIELDS && strcmp(fields[f].key, v->string) != 0)
			f++;
		if (f == N_FIELDS && !strict_keys)
			continue;
		if (f == N_FIELDS)
			return ota_why(-EINVAL, why, whylen, "%s%.40s: unknown key", pfx,
				       v->string);
		/* cJSON keeps both copies of a repeated key; which one counts
		 * would depend on the reader: refuse rather than pick. */
		if (seen[f])
			return ota_why(-EINVAL, why, whylen, "%s%s: given twice", pfx,
				       fields[f].key);
		seen[f] = true;
		rc = get_field((enum field)f, v, pfx, m, why, whylen);
		if (rc)
			return rc;
	}
	for (size_t f = 0; f < N_FIELDS; f++)
		if (fields[f].required && !seen[f])
			return ota_why(-EINVAL, why, whylen, "%s%s: missing", pfx, fields[f].key);
	return 0;
}

int edge_ota_manifest_parse(const char *payload, size_t len, struct edge_ota_manifest *m, char *why,
			    size_t whylen)
{
	const char *end = NULL;
	cJSON *root;
	int rc;

	memset(m, 0, sizeof(*m));
	if (len > EDGE_OTA_PAYLOAD_MAX)
		return ota_why(-EINVAL, why, whylen, "payload: larger than %d bytes",
			       EDGE_OTA_PAYLOAD_MAX);
	if (len == 0 || memchr(payload, '\0', len))
		return ota_why(-EINVAL, why, whylen, "payload: empty or holds a NUL byte");
	/* cJSON decodes \u0000 into a NUL that silently cuts a key or a
	 * value short ("version\u0000x" would read as "version"): refuse it
	 * rather than let two readers see two manifests. */
	for (size_t i = 0; i + 6 <= len; i++)
		if (payload[i] == '\\' && payload[i + 1] == 'u' &&
		    !memcmp(payload + i + 2, "0000", 4))
			return ota_why(-EINVAL, why, whylen, "payload: holds \\u0000");
	root = cJSON_ParseWithLengthOpts(payload, len, &end, false);
	if (!root)
		return ota_why(-EINVAL, why, whylen, "payload: not valid JSON");
	/* only whitespace may follow the object */
	while (end && (size_t)(end - payload) < len && strchr(" \t\r\n", *end))
		end++;
	if (!end || (size_t)(end - payload) != len) {
		cJSON_Delete(root);
		return ota_why(-EINVAL, why, whylen, "payload: text after the JSON object");
	}
	rc = ota_manifest_from_object(root, "", true, m, why, whylen);
	cJSON_Delete(root);
	if (rc)
		memset(m, 0, sizeof(*m));
	return rc;
}

int edge_ota_manifest_verify(const char *jws, size_t len, const struct edge_jws_key *key,
			     struct edge_ota_manifest *m, char *why, size_t whylen)
{
	const char *dot1, *dot2;
	char *payload = NULL;
	size_t plen = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	/* A payload over the cap is refused before the signature is checked
	 * or the payload decoded: its base64url length says enough. */
	dot1 = memchr(jws, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jws)) : NULL;
	if (dot2 && (size_t)(dot2 - dot1 - 1) > (EDGE_OTA_PAYLOAD_MAX * 4 + 2) / 3)
		return ota_why(-EINVAL, why, whylen, "payload: larger than %d bytes",
			       EDGE_OTA_PAYLOAD_MAX);
	rc = edge_jws_verify(jws, len, key, &payload, &plen, why, whylen);
	if (rc)
		return rc;
	rc = edge_ota_manifest_parse(payload, plen, m, why, whylen);
	free(payload);
	return rc;
}

cJSON *ota_manifest_to_object(const struct edge_ota_manifest *m)
{
	cJSON *o = cJSON_CreateObject(), *boards;
	bool ok;

	if (!o)
		return NULL;
	ok = cJSON_AddStringToObject(o, "version", m->version) &&
	     cJSON_AddStringToObject(o, "url", m->url) && ota_add_u64(o, "size", m->size) &&
	     cJSON_AddStringToObject(o, "sha256", m->sha256);
	boards = ok ? cJSON_AddArrayToObject(o, "boards") : NULL;
	ok = boards != NULL;
	for (size_t i = 0; ok && i < m->n_boards && i < EDGE_OTA_BOARDS_MAX; i++) {
		cJSON *s = cJSON_CreateString(m->boards[i]);

		ok = s && cJSON_AddItemToArray(boards, s);
		if (!ok)
			cJSON_Delete(s);
	}
	ok = ok && cJSON_AddStringToObject(o, "installer", m->installer);
	if (ok && m->min_version[0])
		ok = cJSON_AddStringToObject(o, "minVersion", m->min_version) != NULL;
	if (ok && m->allow_downgrade)
		ok = cJSON_AddTrueToObject(o, "allowDowngrade") != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

char *edge_ota_manifest_to_json(const struct edge_ota_manifest *m)
{
	cJSON *o = ota_manifest_to_object(m);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

bool edge_ota_manifest_has_board(const struct edge_ota_manifest *m, const char *board)
{
	for (size_t i = 0; board && i < m->n_boards && i < EDGE_OTA_BOARDS_MAX; i++)
		if (strcmp(m->boards[i], board) == 0)
			return true;
	return false;
}
