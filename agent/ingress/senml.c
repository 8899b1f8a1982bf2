/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/senml.h"
#include "cbor.h"

/* The SenML fields (RFC 8428 tables 1, 2 and 4): JSON name, CBOR label, type. */
enum field {
	F_BVER,
	F_BN,
	F_BT,
	F_BU,
	F_BV,
	F_BS,
	F_N,
	F_U,
	F_V,
	F_VS,
	F_VB,
	F_S,
	F_T,
	F_UT,
	F_VD,
	F__COUNT
};
enum ftype { T_NUM, T_STR, T_BOOL, T_DATA };

static const struct {
	const char *json;
	int label;
	enum ftype type;
} fields[F__COUNT] = {
    [F_BVER] = {"bver", -1, T_NUM}, [F_BN] = {"bn", -2, T_STR}, [F_BT] = {"bt", -3, T_NUM},
    [F_BU] = {"bu", -4, T_STR},	    [F_BV] = {"bv", -5, T_NUM}, [F_BS] = {"bs", -6, T_NUM},
    [F_N] = {"n", 0, T_STR},	    [F_U] = {"u", 1, T_STR},	[F_V] = {"v", 2, T_NUM},
    [F_VS] = {"vs", 3, T_STR},	    [F_VB] = {"vb", 4, T_BOOL}, [F_S] = {"s", 5, T_NUM},
    [F_T] = {"t", 6, T_NUM},	    [F_UT] = {"ut", 7, T_NUM},	[F_VD] = {"vd", 8, T_DATA},
};

#define SENML_VERSION 10
#define BASE_FIELDS                                                                                \
	((1u << F_BVER) | (1u << F_BN) | (1u << F_BT) | (1u << F_BU) | (1u << F_BV) | (1u << F_BS))
#define VALUE_FIELDS ((1u << F_V) | (1u << F_VS) | (1u << F_VB) | (1u << F_VD) | (1u << F_S))

/* One record as it came in: which fields, their values (strings borrowed
 * from the input or the cJSON tree). */
struct raw {
	unsigned seen;
	double num[F__COUNT];
	const char *str[F__COUNT];
	size_t len[F__COUNT];
};

/* The base fields in force (they apply to the records after them). */
struct base {
	char bn[EDGE_SENML_NAME_MAX];
	size_t bn_len;
	char bu[EDGE_SENML_UNIT_MAX];
	double bt, bv;
};

__attribute__((format(printf, 3, 4))) static int fail(char *diag, size_t diaglen, const char *fmt,
						      ...)
{
	va_list ap;

	if (diag && diaglen) {
		va_start(ap, fmt);
		vsnprintf(diag, diaglen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* RFC 8428 4.5.1: A-Z a-z 0-9 - : . / _, starting with a letter or digit */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (i == 0 && !alnum)
			return false;
		if (!alnum && c != '-' && c != ':' && c != '.' && c != '/' && c != '_')
			return false;
	}
	return true;
}

static bool unit_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

static int resolve(const struct raw *r, struct base *b, size_t idx, struct edge_senml_pack *out,
		   char *diag, size_t diaglen)
{
	struct edge_senml_record *rec;
	unsigned values = r->seen & VALUE_FIELDS;
	size_t nlen;

	if (r->seen & (1u << F_BVER)) {
		double v = r->num[F_BVER];

		if (v != floor(v) || v < 1 || v > SENML_VERSION)
			return fail(diag, diaglen, "record %zu: bver %g not supported (<= %d)", idx,
				    v, SENML_VERSION);
	}
	if (r->seen & (1u << F_BN)) {
		if (r->len[F_BN] >= sizeof(b->bn))
			return fail(diag, diaglen, "record %zu: bn longer than %zu", idx,
				    sizeof(b->bn) - 1);
		memcpy(b->bn, r->str[F_BN], r->len[F_BN]);
		b->bn[r->len[F_BN]] = '\0';
		b->bn_len = r->len[F_BN];
	}
	if (r->seen & (1u << F_BU)) {
		if (r->len[F_BU] >= sizeof(b->bu) || !unit_ok(r->str[F_BU], r->len[F_BU]))
			return fail(diag, diaglen, "record %zu: bad bu", idx);
		memcpy(b->bu, r->str[F_BU], r->len[F_BU]);
		b->bu[r->len[F_BU]] = '\0';
	}
	if (r->seen & (1u << F_BT))
		b->bt = r->num[F_BT];
	if (r->seen & (1u << F_BV))
		b->bv = r->num[F_BV];
	if (out->n >= EDGE_SENML_MAX_RECORDS)
		return fail(diag, diaglen, "more than %d records", EDGE_SENML_MAX_RECORDS);
	if (values & (values - 1))
		return fail(diag, diaglen, "record %zu: more than one value", idx);
	if (!values && !(r->seen & (1u << F_N))) {
		if (!(r->seen & BASE_FIELDS))
			return fail(diag, diaglen, "record %zu: empty", idx);
		return 0; /* base fields only: nothing to map */
	}
	rec = &out->rec[out->n];
	memset(rec, 0, sizeof(*rec));
	nlen = b->bn_len + ((r->seen & (1u << F_N)) ? r->len[F_N] : 0);
	if (nlen >= sizeof(rec->name))
		return fail(diag, diaglen, "record %zu: name longer than %zu", idx,
			    sizeof(rec->name) - 1);
	memcpy(rec->name, b->bn, b->bn_len);
	if (r->seen & (1u << F_N))
		memcpy(rec->name + b->bn_len, r->str[F_N], r->len[F_N]);
	rec->name[nlen] = '\0';
	rec->base_len = (uint8_t)b->bn_len;
	if (!name_ok(rec->name, nlen))
		return fail(diag, diaglen, "record %zu: bad name", idx);
	if (r->seen & (1u << F_U)) {
		if (r->len[F_U] >= sizeof(rec->unit) || !unit_ok(r->str[F_U], r->len[F_U]))
			return fail(diag, diaglen, "record %zu: bad unit", idx);
		memcpy(rec->unit, r->str[F_U], r->len[F_U]);
		rec->unit[r->len[F_U]] = '\0';
	} else {
		memcpy(rec->unit, b->bu, sizeof(rec->unit));
	}
	rec->time = b->bt + ((r->seen & (1u << F_T)) ? r->num[F_T] : 0);
	if (!isfinite(rec->time))
		return fail(diag, diaglen, "record %zu: time out of range", idx);
	if (values & (1u << F_V)) {
		rec->kind = EDGE_SENML_NUMBER;
		rec->value = b->bv + r->num[F_V];
		if (!isfinite(rec->value))
			return fail(diag, diaglen, "record %zu: value out of range", idx);
	} else if (values & (1u << F_VS)) {
		rec->kind = EDGE_SENML_STRING;
	} else if (values & (1u << F_VB)) {
		rec->kind = EDGE_SENML_BOOL;
	} else if (values & (1u << F_VD)) {
		rec->kind = EDGE_SENML_DATA;
	} else if (values & (1u << F_S)) {
		rec->kind = EDGE_SENML_SUM;
	} else {
		return fail(diag, diaglen, "record %zu: no value", idx);
	}
	out->n++;
	return 0;
}

static int field_by_name(const char *s, size_t n)
{
	for (int f = 0; f < F__COUNT; f++)
		if (strlen(fields[f].json) == n && memcmp(fields[f].json, s, n) == 0)
			return f;
	return -1;
}

static int field_by_label(int64_t label)
{
	for (int f = 0; f < F__COUNT; f++)
		if (fields[f].label == label)
			return f;
	return -1;
}

/* ---- JSON ------------------------------------------------------------- */

static int json_field(const cJSON *it, struct raw *r, size_t idx, char *diag, size_t diaglen)
{
	int f = field_by_name(it->string, strlen(it->string));
	size_t klen = strlen(it->string);

	if (f < 0) {
		if (klen && it->string[klen - 1] == '_')
			return fail(diag, diaglen, "record %zu: must-understand field %.16s", idx,
				    it->string);
		return 0; /* an extension we may ignore */
	}
	if (r->seen & (1u << f))
		return fail(diag, diaglen, "record %zu: duplicate %s", idx, fields[f].json);
	switch (fields[f].type) {
	case T_NUM:
		if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
			return fail(diag, diaglen, "record %zu: %s is not a finite number", idx,
				    fields[f].json);
		r->num[f] = it->valuedouble;
		break;
	case T_STR:
	case T_DATA:
		if (!cJSON_IsString(it) || !it->valuestring)
			return fail(diag, diaglen, "record %zu: %s is not a string", idx,
				    fields[f].json);
		r->str[f] = it->valuestring;
		r->len[f] = strlen(it->valuestring);
		break;
	case T_BOOL:
		if (!cJSON_IsBool(it))
			return fail(diag, diaglen, "record %zu: vb is not a boolean", idx);
		break;
	}
	r->seen |= 1u << f;
	return 0;
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int edge_senml_decode_json(const void *buf, size_t len, struct edge_senml_pack *out, char *diag,
			   size_t diaglen)
{
	const char *text = buf, *end = NULL;
	struct base b;
	const cJSON *rec;
	cJSON *root;
	size_t idx = 0;
	int rc = 0;

	out->n = 0;
	memset(&b, 0, sizeof(b));
	if (len == 0)
		return fail(diag, diaglen, "empty payload");
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root)
		return fail(diag, diaglen, "not JSON");
	for (const char *p = end; p && p < text + len; p++)
		if (!json_space(*p)) {
			rc = fail(diag, diaglen, "trailing bytes after the pack");
			goto out;
		}
	if (!cJSON_IsArray(root)) {
		rc = fail(diag, diaglen, "a SenML pack is a JSON array");
		goto out;
	}
	cJSON_ArrayForEach (rec, root) {
		struct raw r;
		const cJSON *it;

		if (idx >= EDGE_SENML_MAX_RECORDS) {
			rc = fail(diag, diaglen, "more than %d records", EDGE_SENML_MAX_RECORDS);
			goto out;
		}
		if (!cJSON_IsObject(rec)) {
			rc = fail(diag, diaglen, "record %zu is not an object", idx);
			goto out;
		}
		memset(&r, 0, sizeof(r));
		cJSON_ArrayForEach (it, rec) {
			rc = json_field(it, &r, idx, diag, diaglen);
			if (rc)
				goto out;
		}
		rc = resolve(&r, &b, idx, out, diag, diaglen);
		if (rc)
			goto out;
		idx++;
	}
	if (idx == 0)
		rc = fail(diag, diaglen, "empty pack");
out:
	cJSON_Delete(root);
	if (rc)
		out->n = 0;
	return rc;
}

/* ---- CBOR ------------------------------------------------------------- */

static int cbor_field(struct cbor_reader *rd, struct raw *r, size_t idx, char *diag, size_t diaglen)
{
	struct cbor_head k, v;
	int f = -1;
	const uint8_t *s;
	size_t n;

	if (cbor_read_head(rd, &k))
		return fail(diag, diaglen, "truncated CBOR");
	if (k.major == CBOR_UINT || k.major == CBOR_NINT) {
		/* labels far out of the table are clamped (still unknown) */
		int64_t label = k.major == CBOR_UINT ? (k.arg > 1000 ? 1000 : (int64_t)k.arg)
						     : (k.arg > 1000 ? -1001 : -1 - (int64_t)k.arg);

		f = field_by_label(label);
		if (f < 0 && label < 0) /* an unknown base field changes what follows */
			return fail(diag, diaglen, "record %zu: unknown base label %lld", idx,
				    (long long)label);
	} else if (k.major == CBOR_TSTR && !k.indef) {
		if (cbor_take(rd, &k, &s, &n))
			return fail(diag, diaglen, "truncated CBOR");
		f = field_by_name((const char *)s, n);
		if (f < 0 && n && s[n - 1] == '_')
			return fail(diag, diaglen, "record %zu: must-understand field", idx);
	} else {
		return fail(diag, diaglen, "record %zu: bad map key", idx);
	}
	if (cbor_read_head(rd, &v) || v.brk)
		return fail(diag, diaglen, "truncated CBOR");
	if (f < 0) {
		if (cbor_skip_rest(rd, &v, 4))
			return fail(diag, diaglen, "record %zu: malformed extension", idx);
		return 0;
	}
	if (r->seen & (1u << f))
		return fail(diag, diaglen, "record %zu: duplicate %s", idx, fields[f].json);
	switch (fields[f].type) {
	case T_NUM:
		if (cbor_head_number(&v, &r->num[f]) || !isfinite(r->num[f]))
			return fail(diag, diaglen, "record %zu: %s is not a finite number", idx,
				    fields[f].json);
		break;
	case T_STR:
	case T_DATA:
		if (v.major != (fields[f].type == T_STR ? CBOR_TSTR : CBOR_BSTR) || v.indef)
			return fail(diag, diaglen, "record %zu: %s has the wrong type", idx,
				    fields[f].json);
		if (cbor_take(rd, &v, &s, &n))
			return fail(diag, diaglen, "truncated CBOR");
		r->str[f] = (const char *)s;
		r->len[f] = n;
		break;
	case T_BOOL:
		if (v.major != CBOR_SIMPLE || (v.arg != 20 && v.arg != 21) || v.info >= 24)
			return fail(diag, diaglen, "record %zu: vb is not a boolean", idx);
		break;
	}
	r->seen |= 1u << f;
	return 0;
}

int edge_senml_decode_cbor(const void *buf, size_t len, struct edge_senml_pack *out, char *diag,
			   size_t diaglen)
{
	struct cbor_reader rd;
	struct cbor_head top, m;
	struct base b;
	size_t idx;
	int rc;

	out->n = 0;
	memset(&b, 0, sizeof(b));
	cbor_reader_init(&rd, buf, len);
	if (len == 0)
		return fail(diag, diaglen, "empty payload");
	if (cbor_read_head(&rd, &top) || top.major != CBOR_ARRAY)
		return fail(diag, diaglen, "a SenML pack is a CBOR array");
	if (!top.indef && top.arg > EDGE_SENML_MAX_RECORDS)
		return fail(diag, diaglen, "more than %d records", EDGE_SENML_MAX_RECORDS);
	for (idx = 0;; idx++) {
		struct raw r;
		uint64_t entries;

		if (!top.indef && idx == top.arg)
			break;
		if (cbor_read_head(&rd, &m)) {
			rc = fail(diag, diaglen, "truncated CBOR");
			goto err;
		}
		if (top.indef && m.brk)
			break;
		if (idx >= EDGE_SENML_MAX_RECORDS) {
			rc = fail(diag, diaglen, "more than %d records", EDGE_SENML_MAX_RECORDS);
			goto err;
		}
		if (m.major != CBOR_MAP) {
			rc = fail(diag, diaglen, "record %zu is not a map", idx);
			goto err;
		}
		if (!m.indef && m.arg > cbor_left(&rd)) {
			rc = fail(diag, diaglen, "truncated CBOR");
			goto err;
		}
		memset(&r, 0, sizeof(r));
		entries = m.indef ? UINT64_MAX : m.arg;
		for (uint64_t e = 0; e < entries; e++) {
			if (m.indef) {
				if (cbor_left(&rd) == 0) {
					rc = fail(diag, diaglen, "truncated CBOR");
					goto err;
				}
				if (*rd.p == 0xff) {
					rd.p++;
					break;
				}
			}
			if (e >= F__COUNT * 4) {
				rc = fail(diag, diaglen, "record %zu: too many fields", idx);
				goto err;
			}
			rc = cbor_field(&rd, &r, idx, diag, diaglen);
			if (rc)
				goto err;
		}
		rc = resolve(&r, &b, idx, out, diag, diaglen);
		if (rc)
			goto err;
	}
	if (cbor_left(&rd)) {
		rc = fail(diag, diaglen, "trailing bytes after the pack");
		goto err;
	}
	if (idx == 0)
		return fail(diag, diaglen, "empty pack");
	return 0;
err:
	out->n = 0;
	return rc;
}

int edge_senml_decode(int fmt, const void *buf, size_t len, struct edge_senml_pack *out, char *diag,
		      size_t diaglen)
{
	if (fmt == EDGE_SENML_JSON)
		return edge_senml_decode_json(buf, len, out, diag, diaglen);
	if (fmt == EDGE_SENML_CBOR)
		return edge_senml_decode_cbor(buf, len, out, diag, diaglen);
	out->n = 0;
	return -EPROTONOSUPPORT;
}

/* ---- mapping ---------------------------------------------------------- */

/* The platform metrics (DESIGN 5.2, 5.6) with SenML units (RFC 8428 12.1)
 * and ranges outside which a value is a fault, not a reading. */
static const struct edge_senml_metric metrics[] = {
    {"heartRate", "beat/min", EDGE_CH_HEART_RATE, EDGE_VITAL_HEART_RATE, 0, 300},
    {"oxygenSaturation", "%", EDGE_CH_SPO2, EDGE_VITAL_SPO2, 0, 100},
    {"bodyTemperature", "Cel", EDGE_CH_BODY_TEMP, EDGE_VITAL_BODY_TEMP, 0, 50},
    {"systolic", "mm[Hg]", EDGE_CH_SYSTOLIC, EDGE_VITAL_SYSTOLIC, 0, 400},
    {"diastolic", "mm[Hg]", EDGE_CH_DIASTOLIC, EDGE_VITAL_DIASTOLIC, 0, 400},
    {"latitude", "lat", EDGE_CH_LATITUDE, EDGE_VITAL_LATITUDE, -90, 90},
    {"longitude", "lon", EDGE_CH_LONGITUDE, EDGE_VITAL_LONGITUDE, -180, 180},
};

const struct edge_senml_metric *edge_senml_metric_find(const char *name)
{
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (strcmp(metrics[i].name, name) == 0)
			return &metrics[i];
	return NULL;
}

const struct edge_senml_metric *edge_senml_metrics(size_t *n)
{
	*n = sizeof(metrics) / sizeof(metrics[0]);
	return metrics;
}

/* A name is "<prefix><metric>": the metric after the last '/' or ':'. A
 * prefix must name this node: its last segment is the node id. */
static int split_name(const char *name, const char *node_id, const char **metric)
{
	const char *sep = NULL, *seg;
	size_t seglen;

	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':')
			sep = p;
	if (!sep) {
		*metric = name;
		return 0;
	}
	*metric = sep + 1;
	seg = sep;
	while (seg > name && seg[-1] != '/' && seg[-1] != ':')
		seg--;
	seglen = (size_t)(sep - seg);
	if (seglen != strlen(node_id) || memcmp(seg, node_id, seglen) != 0)
		return -EPERM;
	return 0;
}

int edge_senml_map(const struct edge_senml_pack *p, const char *node_id, uint64_t now_ms,
		   uint32_t max_age_s, struct edge_senml_reading *out, char *diag, size_t diaglen)
{
	double now = (double)now_ms, oldest = now - (double)max_age_s * 1000.0;
	int n = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct edge_senml_record *r = &p->rec[i];
		const struct edge_senml_metric *m;
		const char *metric;
		double ts, scaled;

		if (r->kind == EDGE_SENML_NONE)
			continue;
		if (split_name(r->name, node_id, &metric)) {
			fail(diag, diaglen, "record %zu names another node", i);
			return -EPERM;
		}
		m = edge_senml_metric_find(metric);
		if (!m)
			return fail(diag, diaglen, "record %zu: unknown metric %.24s", i, metric);
		if (r->kind != EDGE_SENML_NUMBER)
			return fail(diag, diaglen, "record %zu: %s needs a numeric v", i, m->name);
		if (r->unit[0] && strcmp(r->unit, m->unit) != 0)
			return fail(diag, diaglen, "record %zu: %s is in %s", i, m->name, m->unit);
		if (!(r->value >= m->min && r->value <= m->max))
			return fail(diag, diaglen, "record %zu: %s %g out of range", i, m->name,
				    r->value);
		ts = r->time < EDGE_SENML_REL_LIMIT ? now + r->time * 1000.0 : r->time * 1000.0;
		if (ts > now + EDGE_SENML_FUTURE_MS)
			return fail(diag, diaglen, "record %zu: time in the future", i);
		if (ts < oldest || ts < 0)
			return fail(diag, diaglen, "record %zu: older than %u s", i, max_age_s);
		scaled = r->value * (double)edge_channel_scale(m->ch);
		out[n] = (struct edge_senml_reading){
		    .ch = m->ch,
		    .vital = m->vital,
		    .value = (int32_t)lround(scaled),
		    .ts_ms = (uint64_t)llround(ts),
		    .absolute = r->time >= EDGE_SENML_REL_LIMIT,
		};
		n++;
	}
	return n;
}
