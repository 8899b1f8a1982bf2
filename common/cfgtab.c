/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration-table engine (edge/cfgtab.h). A walk over the JSON
 * object looks every member up in the table by its dotted path; values go
 * through one setter per type, text (defaults, flags) through another, so a
 * default, a flag and a file value are checked alike.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "edge/cfgtab.h"
#include "edge/file.h"

/* 2^63 and 2^64 are exact doubles: the limits of a safe cast. */
#define TWO_63 9223372036854775808.0
#define TWO_64 18446744073709551616.0

/* Table paths are short; a member whose path does not fit is unknown. */
#define TPATH_MAX 128

int edge_cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int edge_cfg_errorf(struct edge_cfg_ctx *ctx, const char *key, const char *fmt, ...)
{
	char msg[256];
	bool has_key = key && *key, has_path = ctx->path[0] != '\0';
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return edge_cfg_fail(ctx->err, ctx->errlen, "%s: %s%s%s%s%s", ctx->origin, ctx->path,
			     has_path && has_key ? "." : "", has_key ? key : "",
			     has_path || has_key ? ": " : "", msg);
}

const char *edge_json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	return "null";
}

bool edge_cfg_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* ---- checked conversions ---- */

static int double_to_i64(double d, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (!isfinite(d) || d != trunc(d))
		return -EINVAL;
	if (d < -TWO_63 || d >= TWO_63)
		return -ERANGE;
	v = (int64_t)d;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int double_to_u64(double d, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!isfinite(d) || d != trunc(d))
		return -EINVAL;
	if (d < 0 || d >= TWO_64)
		return -ERANGE;
	v = (uint64_t)d;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int edge_json_to_i64(const cJSON *n, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(n))
		return -EINVAL;
	return double_to_i64(n->valuedouble, min, max, out);
}

int edge_json_to_u64(const cJSON *n, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!cJSON_IsNumber(n))
		return -EINVAL;
	return double_to_u64(n->valuedouble, min, max, out);
}

int edge_json_to_u32(const cJSON *n, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int rc = edge_json_to_u64(n, min, max, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

int edge_json_to_int(const cJSON *n, int min, int max, int *out)
{
	int64_t v;
	int rc = edge_json_to_i64(n, min, max, &v);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

/* Whole seconds of a duration given as a number of seconds (truncated). */
static int seconds_from_double(double v, int64_t *out)
{
	if (isnan(v) || v < 0)
		return -EINVAL;
	if (v > 1e12)
		return -ERANGE;
	*out = (int64_t)v;
	return 0;
}

int edge_cfg_parse_duration(const char *s, int64_t *out)
{
	char *end;
	double v, mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno == EINVAL || end == s)
		return -EINVAL;
	if (*end) {
		switch (*end) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -EINVAL;
		}
		if (end[1])
			return -EINVAL;
	}
	return seconds_from_double(v * mult, out);
}

/* "90d", "2h", "10m", "45s": the largest unit that divides s. */
static void format_duration(int64_t s, char *buf, size_t len)
{
	static const struct {
		int64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (s != 0 && s % units[i].secs == 0) {
			snprintf(buf, len, "%lld%c", (long long)(s / units[i].secs), units[i].unit);
			return;
		}
	snprintf(buf, len, "%llds", (long long)s);
}

/* ---- fields ---- */

static void *field_of(void *base, const struct edge_cfg_key *k)
{
	return (char *)base + k->off;
}

static uint64_t umax_of(size_t size)
{
	return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

static int64_t imax_of(size_t size)
{
	return size >= 8 ? INT64_MAX : (INT64_C(1) << (size * 8 - 1)) - 1;
}

static void store_uint(void *p, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

static uint64_t load_uint(const void *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&u64, p, 8);
		return u64;
	}
}

/* Two's complement: the low bytes of v are those of the narrower type. */
static void store_int(void *p, size_t size, int64_t v)
{
	store_uint(p, size, (uint64_t)v);
}

/* A table bound as an integer the field can hold (bounds are whole). */
static uint64_t ubound(double b, size_t size)
{
	uint64_t m = umax_of(size);

	if (!(b > 0))
		return 0;
	if (b >= TWO_64)
		return m;
	return (uint64_t)b > m ? m : (uint64_t)b;
}

static int64_t ibound(double b, size_t size)
{
	int64_t m = imax_of(size);

	if (isnan(b))
		return 0;
	if (b >= TWO_63)
		return m;
	if (b < -TWO_63)
		return -m - 1;
	if ((int64_t)b > m)
		return m;
	return (int64_t)b < -m - 1 ? -m - 1 : (int64_t)b;
}

static bool is_integer(const struct edge_cfg_key *k)
{
	return k->type == EDGE_CFG_UINT || k->type == EDGE_CFG_INT;
}

/* "[1, 65535]" (sep ", ") or "[1..65535]" (sep ".."); "" without bounds. */
static void format_bounds(const struct edge_cfg_key *k, const char *sep, char *buf, size_t len)
{
	char lo[32], hi[32];

	buf[0] = '\0';
	if (k->type == EDGE_CFG_DURATION) {
		format_duration(ibound(k->min, 8), lo, sizeof(lo));
		format_duration(ibound(k->max, 8), hi, sizeof(hi));
	} else if (k->type == EDGE_CFG_UINT) {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)ubound(k->min, k->size));
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)ubound(k->max, k->size));
	} else if (k->type == EDGE_CFG_INT) {
		snprintf(lo, sizeof(lo), "%lld", (long long)ibound(k->min, k->size));
		snprintf(hi, sizeof(hi), "%lld", (long long)ibound(k->max, k->size));
	} else if (k->type == EDGE_CFG_DOUBLE && isfinite(k->min) && isfinite(k->max)) {
		snprintf(lo, sizeof(lo), "%.15g", k->min);
		snprintf(hi, sizeof(hi), "%.15g", k->max);
	} else {
		return;
	}
	snprintf(buf, len, "[%s%s%s]", lo, sep, hi);
}

static void join_names(const char *const *names, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; names && names[i] && o < len; i++) {
		int n = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", names[i]);

		if (n < 0)
			break;
		o += (size_t)n;
	}
}

static int type_error(struct edge_cfg_ctx *ctx, const struct edge_cfg_key *k, const char *want,
		      const cJSON *v)
{
	char b[80];

	if (!(ctx->flags & EDGE_CFGTAB_FLAG_WORDS))
		return edge_cfg_errorf(ctx, NULL, "expected %s, got %s", want,
				       edge_json_type_name(v));
	if (k && is_integer(k)) {
		format_bounds(k, ", ", b, sizeof(b));
		return edge_cfg_errorf(ctx, NULL, "must be an integer in %s", b);
	}
	return edge_cfg_errorf(ctx, NULL, "must be %s", want);
}

/* A value out of the row's bounds; shown is how the value reads. */
static int range_error(struct edge_cfg_ctx *ctx, const struct edge_cfg_key *k, const char *shown)
{
	char b[80];

	format_bounds(k, ", ", b, sizeof(b));
	if ((ctx->flags & EDGE_CFGTAB_FLAG_WORDS) && is_integer(k))
		return edge_cfg_errorf(ctx, NULL, "\"%s\" is not an integer in %s", shown, b);
	return edge_cfg_errorf(ctx, NULL, "%s is out of range %s", shown, b);
}

/* An integer from JSON: checked on the double before the cast. */
static int set_integer(const struct edge_cfg_key *k, void *field, double d,
		       struct edge_cfg_ctx *ctx)
{
	char shown[40];
	uint64_t u;
	int64_t i;
	int rc;

	if (k->type == EDGE_CFG_UINT)
		rc = double_to_u64(d, ubound(k->min, k->size), ubound(k->max, k->size), &u);
	else
		rc = double_to_i64(d, ibound(k->min, k->size), ibound(k->max, k->size), &i);
	if (rc == -EINVAL && (ctx->flags & EDGE_CFGTAB_FLAG_WORDS))
		return type_error(ctx, k, "an integer", NULL);
	if (rc == -EINVAL)
		return edge_cfg_errorf(ctx, NULL, "expected a whole number, got %g", d);
	if (rc) {
		snprintf(shown, sizeof(shown), "%.15g", d);
		return range_error(ctx, k, shown);
	}
	if (k->type == EDGE_CFG_UINT)
		store_uint(field, k->size, u);
	else
		store_int(field, k->size, i);
	return 0;
}

/* Decimal or 0x-hexadecimal digits only (no sign, no blanks). */
static int parse_uint_text(const char *s, uint64_t *out)
{
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!((*s >= '0' && *s <= '9') ||
	      (base == 16 && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	return errno == ERANGE ? -ERANGE : 0;
}

static int parse_int_text(const char *s, int64_t *out)
{
	const char *d = s[0] == '-' ? s + 1 : s;
	char *end;

	if (!(*d >= '0' && *d <= '9'))
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	return errno == ERANGE ? -ERANGE : 0;
}

static int integer_text(const struct edge_cfg_key *k, void *field, const char *text,
			struct edge_cfg_ctx *ctx)
{
	char shown[40], b[80];
	uint64_t u = 0;
	int64_t i = 0;
	int rc;

	rc = k->type == EDGE_CFG_UINT ? parse_uint_text(text, &u) : parse_int_text(text, &i);
	if (rc == -EINVAL) {
		format_bounds(k, ", ", b, sizeof(b));
		return edge_cfg_errorf(ctx, NULL, "\"%s\" is not an integer in %s", text, b);
	}
	if (ctx->flags & EDGE_CFGTAB_FLAG_WORDS || rc == -ERANGE)
		snprintf(shown, sizeof(shown), "%s", text);
	else if (k->type == EDGE_CFG_UINT)
		snprintf(shown, sizeof(shown), "%llu", (unsigned long long)u);
	else
		snprintf(shown, sizeof(shown), "%lld", (long long)i);
	if (k->type == EDGE_CFG_UINT) {
		if (rc || u < ubound(k->min, k->size) || u > ubound(k->max, k->size))
			return range_error(ctx, k, shown);
		store_uint(field, k->size, u);
	} else {
		if (rc || i < ibound(k->min, k->size) || i > ibound(k->max, k->size))
			return range_error(ctx, k, shown);
		store_int(field, k->size, i);
	}
	return 0;
}

static int set_double(const struct edge_cfg_key *k, void *field, double d, struct edge_cfg_ctx *ctx)
{
	char shown[40];

	if (!isfinite(d))
		return edge_cfg_errorf(ctx, NULL, "expected a finite number, got %g", d);
	if (!(d >= k->min && d <= k->max)) {
		snprintf(shown, sizeof(shown), "%.15g", d);
		return range_error(ctx, k, shown);
	}
	memcpy(field, &d, sizeof(d));
	return 0;
}

static int set_duration(const struct edge_cfg_key *k, void *field, int64_t secs,
			struct edge_cfg_ctx *ctx)
{
	char shown[32];

	if ((double)secs < k->min || (double)secs > k->max) {
		format_duration(secs, shown, sizeof(shown));
		return range_error(ctx, k, shown);
	}
	memcpy(field, &secs, sizeof(secs));
	return 0;
}

/* *i: the index of text in k->names; else the error naming them all. */
static int name_index(const struct edge_cfg_key *k, const char *text, struct edge_cfg_ctx *ctx,
		      size_t *i)
{
	char names[256];

	for (*i = 0; k->names[*i]; (*i)++)
		if (strcmp(k->names[*i], text) == 0)
			return 0;
	join_names(k->names, names, sizeof(names));
	return edge_cfg_errorf(ctx, NULL, "\"%s\" is not one of %s", text, names);
}

static int set_string(const struct edge_cfg_key *k, void *field, const char *text,
		      struct edge_cfg_ctx *ctx)
{
	size_t i;

	if (k->names && name_index(k, text, ctx, &i))
		return -EINVAL;
	if ((k->flags & EDGE_CFG_F_NAME) && !edge_cfg_name_ok(text, SIZE_MAX))
		return edge_cfg_errorf(
		    ctx, NULL, "\"%s\" may hold only letters, digits, '-', '_' and '.'", text);
	if (k->type == EDGE_CFG_STRING) {
		if (strlen(text) >= k->size)
			return edge_cfg_errorf(ctx, NULL, "longer than %zu characters",
					       k->size - 1);
		memcpy(field, text, strlen(text) + 1);
	} else {
		char *dup = strdup(text), **p = field;

		if (!dup)
			return -ENOMEM;
		free(*p);
		*p = dup;
	}
	return 0;
}

/* A value given as text: a default, a flag, a JSON string. */
static int set_text(const struct edge_cfg_key *k, void *field, const char *text,
		    struct edge_cfg_ctx *ctx)
{
	char *end;
	int64_t secs;
	size_t i;
	double d;
	int rc;

	switch (k->type) {
	case EDGE_CFG_BOOL:
		if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
			return edge_cfg_errorf(ctx, NULL, "\"%s\" is not true or false", text);
		*(bool *)field = text[0] == 't';
		return 0;
	case EDGE_CFG_UINT:
	case EDGE_CFG_INT:
		return integer_text(k, field, text, ctx);
	case EDGE_CFG_DOUBLE:
		errno = 0;
		d = strtod(text, &end);
		if (!*text || *end || errno == EINVAL)
			return edge_cfg_errorf(ctx, NULL, "\"%s\" is not a number", text);
		return set_double(k, field, d, ctx);
	case EDGE_CFG_STRING:
	case EDGE_CFG_STRDUP:
		return set_string(k, field, text, ctx);
	case EDGE_CFG_ENUM:
		if (name_index(k, text, ctx, &i))
			return -EINVAL;
		store_int(field, k->size, k->values ? k->values[i] : (int64_t)i);
		return 0;
	case EDGE_CFG_DURATION:
		rc = edge_cfg_parse_duration(text, &secs);
		if (rc == -ERANGE)
			return range_error(ctx, k, text);
		if (rc)
			return edge_cfg_errorf(
			    ctx, NULL, "\"%s\" is not a duration like 30s, 10m, 2h or 90d", text);
		return set_duration(k, field, secs, ctx);
	case EDGE_CFG_CUSTOM:
		ctx->json = NULL;
		return k->parse(field, NULL, text, ctx);
	case EDGE_CFG_OBJECT:
	case EDGE_CFG_ARRAY:
	case EDGE_CFG_MAP:
		break;
	}
	return edge_cfg_errorf(ctx, NULL, "cannot be set from text");
}

/* ---- tables ---- */

const struct edge_cfg_key *edge_cfg_find(const struct edge_cfgtab *tab, const char *path)
{
	for (size_t i = 0; i < tab->n_keys; i++)
		if (strcmp(tab->keys[i].path, path) == 0)
			return &tab->keys[i];
	return NULL;
}

/* Some key lies below path: an object is expected there. */
static bool is_section(const struct edge_cfgtab *tab, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < tab->n_keys; i++)
		if (strncmp(tab->keys[i].path, path, n) == 0 && tab->keys[i].path[n] == '.')
			return true;
	return false;
}

static size_t push(struct edge_cfg_ctx *ctx, const char *name)
{
	size_t len = strlen(ctx->path);

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "%s%s", len ? "." : "", name);
	return len;
}

static size_t push_index(struct edge_cfg_ctx *ctx, size_t i)
{
	size_t len = strlen(ctx->path);

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "[%zu]", i);
	return len;
}

static void pop(struct edge_cfg_ctx *ctx, size_t len)
{
	ctx->path[len] = '\0';
}

static void clear_records(const struct edge_cfg_key *k, void *base)
{
	void *field = field_of(base, k);
	char *recs = k->flags & EDGE_CFG_F_HEAP ? *(char **)field : field;
	uint64_t n = load_uint((char *)base + k->count_off, k->count_size);

	for (uint64_t i = 0; recs && i < n; i++)
		edge_cfg_free(k->sub, recs + i * k->sub->size);
	if (k->flags & EDGE_CFG_F_HEAP) {
		free(recs);
		*(char **)field = NULL;
	}
	store_uint((char *)base + k->count_off, k->count_size, 0);
}

void edge_cfg_free(const struct edge_cfgtab *tab, void *base)
{
	for (size_t i = 0; i < tab->n_keys; i++) {
		const struct edge_cfg_key *k = &tab->keys[i];

		if (k->type == EDGE_CFG_STRDUP) {
			char **p = field_of(base, k);

			free(*p);
			*p = NULL;
		} else if (k->type == EDGE_CFG_ARRAY || k->type == EDGE_CFG_MAP) {
			clear_records(k, base);
		}
	}
}

static int defaults(const struct edge_cfgtab *tab, void *base, struct edge_cfg_ctx *ctx)
{
	for (size_t i = 0; i < tab->n_keys; i++) {
		const struct edge_cfg_key *k = &tab->keys[i];
		void *field = field_of(base, k);
		int rc = 0;

		switch (k->type) {
		case EDGE_CFG_OBJECT:
			if (k->size)
				*(bool *)field = false;
			continue;
		case EDGE_CFG_ARRAY:
		case EDGE_CFG_MAP:
			clear_records(k, base);
			continue;
		case EDGE_CFG_STRDUP:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		default:
			memset(field, 0, k->size);
			break;
		}
		if (k->def) {
			ctx->path[0] = '\0';
			push(ctx, k->path);
			rc = set_text(k, field, k->def, ctx);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int edge_cfg_defaults(const struct edge_cfgtab *tab, void *base)
{
	char err[256];
	struct edge_cfg_ctx ctx = {
	    .origin = "default", .err = err, .errlen = sizeof(err), .flags = tab->flags};

	return defaults(tab, base, &ctx);
}

static int walk(const struct edge_cfgtab *tab, void *base, const cJSON *obj, const char *tprefix,
		unsigned mode, struct edge_cfg_ctx *ctx);

/* A new record: zeroed, then the record table's defaults. */
static int fresh_record(const struct edge_cfg_key *k, char *rec)
{
	struct edge_cfg_ctx quiet = {.origin = "default"};

	memset(rec, 0, k->sub->size);
	return defaults(k->sub, rec, &quiet);
}

/* Reads el into record i of the array or map at k, then runs k's check. */
static int fill_record(const struct edge_cfg_key *k, void *base, char *rec, size_t i,
		       const cJSON *el, unsigned mode, struct edge_cfg_ctx *ctx)
{
	int rc;

	if (!cJSON_IsObject(el))
		return type_error(ctx, NULL, "an object", el);
	rc = walk(k->sub, rec, el, "", mode, ctx);
	if (rc == 0 && k->check) {
		ctx->json = el;
		rc = k->check(base, i, ctx);
	}
	return rc;
}

static int set_array(const struct edge_cfg_key *k, void *base, const cJSON *v,
		     struct edge_cfg_ctx *ctx)
{
	size_t n = (size_t)cJSON_GetArraySize(v), cap, i = 0;
	void *field = field_of(base, k);
	const cJSON *el;
	char *recs;

	if (!cJSON_IsArray(v))
		return type_error(ctx, k, "an array", v);
	clear_records(k, base);
	if (k->flags & EDGE_CFG_F_HEAP) {
		cap = n;
		recs = n ? calloc(n, k->sub->size) : NULL;
		if (n && !recs)
			return -ENOMEM;
		*(char **)field = recs;
	} else {
		cap = k->size / k->sub->size;
		recs = field;
	}
	cJSON_ArrayForEach (el, v) {
		char *rec = recs + i * k->sub->size;
		size_t len;
		int rc;

		if (i >= cap)
			return edge_cfg_errorf(ctx, NULL, "more than %zu entries", cap);
		/* counted first, so that edge_cfg_free() sees a record that fails */
		store_uint((char *)base + k->count_off, k->count_size, i + 1);
		rc = fresh_record(k, rec);
		if (rc)
			return rc;
		len = push_index(ctx, i);
		rc = fill_record(k, base, rec, i, el, 0, ctx);
		pop(ctx, len);
		if (rc)
			return rc;
		i++;
	}
	return 0;
}

static const struct edge_cfg_key *name_row(const struct edge_cfgtab *sub)
{
	for (size_t i = 0; i < sub->n_keys; i++)
		if (sub->keys[i].flags & EDGE_CFG_F_KEY)
			return &sub->keys[i];
	return NULL;
}

static int set_map(const struct edge_cfg_key *k, void *base, const cJSON *v,
		   struct edge_cfg_ctx *ctx)
{
	const struct edge_cfg_key *nk = name_row(k->sub);
	size_t cap = k->size / k->sub->size, rsize = k->sub->size;
	char *recs = field_of(base, k);
	const cJSON *el;

	if (!cJSON_IsObject(v))
		return type_error(ctx, k, "an object", v);
	cJSON_ArrayForEach (el, v) {
		size_t n = (size_t)load_uint((char *)base + k->count_off, k->count_size), i, len;
		unsigned mode = EDGE_CFG_MERGE;
		int rc = 0;

		for (i = 0; i < n && strcmp(recs + i * rsize + nk->off, el->string) != 0; i++)
			;
		len = push(ctx, el->string);
		if (!edge_cfg_name_ok(el->string, nk->size)) {
			rc = edge_cfg_errorf(
			    ctx, NULL, "not a name (up to %zu letters, digits, '-', '_', '.')",
			    nk->size - 1);
		} else if (i == n) {
			pop(ctx, len);
			if (n >= cap)
				return edge_cfg_errorf(ctx, NULL, "more than %zu entries", cap);
			len = push(ctx, el->string);
			mode = 0;
			rc = fresh_record(k, recs + i * rsize);
			memcpy(recs + i * rsize + nk->off, el->string, strlen(el->string) + 1);
			store_uint((char *)base + k->count_off, k->count_size, n + 1);
		}
		if (rc == 0)
			rc = fill_record(k, base, recs + i * rsize, i, el, mode, ctx);
		pop(ctx, len);
		if (rc)
			return rc;
	}
	return 0;
}

static int set_json(const struct edge_cfg_key *k, void *base, const cJSON *v,
		    struct edge_cfg_ctx *ctx)
{
	void *field = field_of(base, k);
	char shown[40];
	int64_t secs;
	int rc;

	switch (k->type) {
	case EDGE_CFG_BOOL:
		if (!cJSON_IsBool(v))
			return type_error(ctx, k, "true or false", v);
		*(bool *)field = cJSON_IsTrue(v);
		return 0;
	case EDGE_CFG_UINT:
	case EDGE_CFG_INT:
		if (cJSON_IsString(v) && (k->flags & EDGE_CFG_F_NUMTEXT))
			return set_text(k, field, v->valuestring, ctx);
		if (!cJSON_IsNumber(v))
			return type_error(ctx, k, "a number", v);
		return set_integer(k, field, v->valuedouble, ctx);
	case EDGE_CFG_DOUBLE:
		if (!cJSON_IsNumber(v))
			return type_error(ctx, k, "a number", v);
		return set_double(k, field, v->valuedouble, ctx);
	case EDGE_CFG_STRING:
	case EDGE_CFG_STRDUP:
	case EDGE_CFG_ENUM:
		if (!cJSON_IsString(v))
			return type_error(ctx, k, "a string", v);
		return set_text(k, field, v->valuestring, ctx);
	case EDGE_CFG_DURATION:
		if (cJSON_IsString(v))
			return set_text(k, field, v->valuestring, ctx);
		if (!cJSON_IsNumber(v))
			return type_error(ctx, k, "a duration (\"30s\", \"10m\", \"2h\", \"90d\")",
					  v);
		rc = seconds_from_double(v->valuedouble, &secs);
		if (rc == -EINVAL)
			return edge_cfg_errorf(ctx, NULL, "%g is not a duration", v->valuedouble);
		if (rc) {
			snprintf(shown, sizeof(shown), "%.15gs", v->valuedouble);
			return range_error(ctx, k, shown);
		}
		return set_duration(k, field, secs, ctx);
	case EDGE_CFG_CUSTOM:
		ctx->json = v;
		return k->parse(field, v, NULL, ctx);
	case EDGE_CFG_ARRAY:
		return set_array(k, base, v, ctx);
	case EDGE_CFG_MAP:
		return set_map(k, base, v, ctx);
	case EDGE_CFG_OBJECT:
		break;
	}
	return -EINVAL;
}

static bool given(const cJSON *v, const struct edge_cfg_ctx *ctx)
{
	return v && !(cJSON_IsNull(v) && (ctx->flags & EDGE_CFGTAB_NULL_UNSET));
}

/* Every EDGE_CFG_F_REQUIRED key directly below tprefix is in obj. */
static int check_required(const struct edge_cfgtab *tab, const cJSON *obj, const char *tprefix,
			  struct edge_cfg_ctx *ctx)
{
	size_t n = strlen(tprefix);

	for (size_t i = 0; i < tab->n_keys; i++) {
		const struct edge_cfg_key *k = &tab->keys[i];
		const char *rest = k->path + (n ? n + 1 : 0);

		if (!(k->flags & EDGE_CFG_F_REQUIRED) ||
		    (n && (strncmp(k->path, tprefix, n) != 0 || k->path[n] != '.')) ||
		    strchr(rest, '.'))
			continue;
		if (!given(cJSON_GetObjectItemCaseSensitive(obj, rest), ctx))
			return edge_cfg_errorf(ctx, rest, "missing");
	}
	return 0;
}

static int object(const struct edge_cfgtab *tab, void *base, const struct edge_cfg_key *k,
		  const cJSON *v, const char *tpath, unsigned mode, struct edge_cfg_ctx *ctx)
{
	if (!cJSON_IsObject(v))
		return type_error(ctx, NULL, "an object", v);
	if (k && k->size) {
		if ((mode & EDGE_CFG_RUNTIME_ONLY) && !(k->flags & EDGE_CFG_F_RUNTIME))
			return edge_cfg_errorf(ctx, NULL, "cannot be changed at run time");
		*(bool *)field_of(base, k) = true;
	}
	if (k && (k->flags & EDGE_CFG_F_RUNTIME))
		mode &= ~EDGE_CFG_RUNTIME_ONLY;
	return walk(tab, base, v, tpath, mode, ctx);
}

static int walk(const struct edge_cfgtab *tab, void *base, const cJSON *obj, const char *tprefix,
		unsigned mode, struct edge_cfg_ctx *ctx)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, obj) {
		const struct edge_cfg_key *k = NULL;
		char tpath[TPATH_MAX];
		size_t len = push(ctx, it->string);
		int n = snprintf(tpath, sizeof(tpath), "%s%s%s", tprefix, *tprefix ? "." : "",
				 it->string);
		int rc;

		if (n > 0 && (size_t)n < sizeof(tpath))
			k = edge_cfg_find(tab, tpath);
		if (k && (k->flags & EDGE_CFG_F_KEY))
			k = NULL; /* a map record's name is its key, not a member */
		if (!k && !(n > 0 && (size_t)n < sizeof(tpath) && is_section(tab, tpath)))
			rc = edge_cfg_errorf(ctx, NULL, "unknown key");
		else if (!given(it, ctx))
			rc = 0;
		else if (!k || k->type == EDGE_CFG_OBJECT)
			rc = object(tab, base, k, it, tpath, mode, ctx);
		else if ((mode & EDGE_CFG_RUNTIME_ONLY) && !(k->flags & EDGE_CFG_F_RUNTIME))
			rc = edge_cfg_errorf(ctx, NULL, "cannot be changed at run time");
		else
			rc = set_json(k, base, it, ctx);
		pop(ctx, len);
		if (rc)
			return rc;
	}
	return mode & EDGE_CFG_MERGE ? 0 : check_required(tab, obj, tprefix, ctx);
}

int edge_cfg_apply(const struct edge_cfgtab *tab, void *base, const cJSON *obj, unsigned mode,
		   const char *origin, char *err, size_t errlen)
{
	struct edge_cfg_ctx ctx = {
	    .origin = origin, .err = err, .errlen = errlen, .flags = tab->flags};

	if (!cJSON_IsObject(obj))
		return edge_cfg_fail(err, errlen, "%s: the top level must be an object", origin);
	return walk(tab, base, obj, "", mode, &ctx);
}

int edge_cfg_set(const struct edge_cfgtab *tab, void *base, const char *path, const char *text,
		 const char *origin, char *err, size_t errlen)
{
	const struct edge_cfg_key *k = edge_cfg_find(tab, path);
	struct edge_cfg_ctx ctx = {
	    .origin = origin, .err = err, .errlen = errlen, .flags = tab->flags};

	push(&ctx, path);
	if (!k || k->type == EDGE_CFG_OBJECT || k->type == EDGE_CFG_ARRAY ||
	    k->type == EDGE_CFG_MAP)
		return edge_cfg_errorf(&ctx, NULL, "unknown key");
	return set_text(k, field_of(base, k), text, &ctx);
}

/* ---- reference ---- */

static const char *type_name(const struct edge_cfg_key *k)
{
	switch (k->type) {
	case EDGE_CFG_BOOL:
		return "boolean";
	case EDGE_CFG_UINT:
	case EDGE_CFG_INT:
		return "integer";
	case EDGE_CFG_DOUBLE:
		return "number";
	case EDGE_CFG_STRING:
	case EDGE_CFG_STRDUP:
		return k->names ? "enum" : "string";
	case EDGE_CFG_ENUM:
		return "enum";
	case EDGE_CFG_DURATION:
		return "duration";
	case EDGE_CFG_OBJECT:
	case EDGE_CFG_MAP:
		return "object";
	case EDGE_CFG_ARRAY:
		return "array";
	case EDGE_CFG_CUSTOM:
		return k->what ? k->what : "value";
	}
	return "?";
}

static void print_rows(const struct edge_cfgtab *tab, const char *prefix, FILE *out)
{
	for (size_t i = 0; i < tab->n_keys; i++) {
		const struct edge_cfg_key *k = &tab->keys[i];
		char path[TPATH_MAX * 2], names[256], bounds[80], sub[TPATH_MAX * 2 + 8];

		if (k->flags & EDGE_CFG_F_KEY)
			continue;
		snprintf(path, sizeof(path), "%s%s", prefix, k->path);
		join_names(k->names, names, sizeof(names));
		format_bounds(k, "..", bounds, sizeof(bounds));
		fprintf(out, "  %-30s %s%s%s%s%s", path, type_name(k), names[0] ? " {" : "", names,
			names[0] ? "}" : "", bounds[0] ? " " : "");
		fprintf(out, "%s", bounds);
		if (k->type == EDGE_CFG_STRING && !k->names)
			fprintf(out, " (max %zu characters)", k->size - 1);
		if (k->def)
			fprintf(out, " default \"%s\"", k->def);
		if (k->flags & EDGE_CFG_F_REQUIRED)
			fprintf(out, " required");
		if (k->flags & EDGE_CFG_F_RUNTIME)
			fprintf(out, " run-time");
		if (k->flag)
			fprintf(out, " (--%s)", k->flag);
		fprintf(out, "\n      %s\n", k->desc ? k->desc : "");
		if (k->type == EDGE_CFG_ARRAY) {
			snprintf(sub, sizeof(sub), "%s[].", path);
			print_rows(k->sub, sub, out);
		} else if (k->type == EDGE_CFG_MAP) {
			snprintf(sub, sizeof(sub), "%s.<name>.", path);
			print_rows(k->sub, sub, out);
		}
	}
}

void edge_cfg_print_reference(const struct edge_cfgtab *tab, FILE *out)
{
	print_rows(tab, "", out);
}

/* ---- table checks (tests) ---- */

static bool size_is_integer(size_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static const char *row_problem(const struct edge_cfgtab *tab, const struct edge_cfg_key *k)
{
	size_t end = k->off + (k->type == EDGE_CFG_OBJECT && !k->size ? 0 : k->size);

	if (!k->path || !*k->path)
		return "no path";
	if (end > tab->size)
		return "field outside the struct";
	switch (k->type) {
	case EDGE_CFG_BOOL:
		return k->size == sizeof(bool) ? NULL : "not a bool field";
	case EDGE_CFG_UINT:
		if (!size_is_integer(k->size))
			return "not an integer field";
		if (k->min < 0 || k->min > k->max || k->min != trunc(k->min) ||
		    k->max != trunc(k->max) || k->max > (double)umax_of(k->size))
			return "bad bounds";
		return NULL;
	case EDGE_CFG_INT:
		if (!size_is_integer(k->size))
			return "not an integer field";
		if (k->min > k->max || k->min != trunc(k->min) || k->max != trunc(k->max) ||
		    k->max > (double)imax_of(k->size) || k->min < -(double)imax_of(k->size) - 1)
			return "bad bounds";
		return NULL;
	case EDGE_CFG_DOUBLE:
		return k->size != sizeof(double) ? "not a double field"
		       : !(k->min <= k->max)	 ? "bad bounds"
						 : NULL;
	case EDGE_CFG_STRING:
		return k->size < 2 ? "string field too small" : NULL;
	case EDGE_CFG_STRDUP:
		return k->size != sizeof(char *) ? "not a char * field" : NULL;
	case EDGE_CFG_ENUM:
		return !size_is_integer(k->size)   ? "not an integer field"
		       : !k->names || !k->names[0] ? "no names"
						   : NULL;
	case EDGE_CFG_DURATION:
		return k->size != sizeof(int64_t)	    ? "not an int64_t field"
		       : !(0 <= k->min && k->min <= k->max) ? "bad bounds"
							    : NULL;
	case EDGE_CFG_OBJECT:
		return k->size && k->size != sizeof(bool) ? "presence field not a bool" : NULL;
	case EDGE_CFG_ARRAY:
	case EDGE_CFG_MAP:
		if (!k->sub || !k->sub->size || !size_is_integer(k->count_size) ||
		    k->count_off + k->count_size > tab->size)
			return "no record table or counter";
		if (k->flags & EDGE_CFG_F_HEAP)
			return k->type == EDGE_CFG_ARRAY && k->size == sizeof(void *)
				   ? NULL
				   : "heap records need an ARRAY pointer field";
		if (k->size < k->sub->size || k->size % k->sub->size)
			return "field is not an array of records";
		if (k->type == EDGE_CFG_MAP &&
		    (!name_row(k->sub) || name_row(k->sub)->type != EDGE_CFG_STRING))
			return "map records need an EDGE_CFG_F_KEY string";
		return NULL;
	case EDGE_CFG_CUSTOM:
		return k->parse ? NULL : "no parse callback";
	}
	return "unknown type";
}

int edge_cfg_check_table(const struct edge_cfgtab *tab, char *err, size_t errlen)
{
	struct edge_cfg_ctx ctx = {
	    .origin = "default", .err = err, .errlen = errlen, .flags = tab->flags};
	void *scratch;
	int rc;

	for (size_t i = 0; i < tab->n_keys; i++) {
		const struct edge_cfg_key *k = &tab->keys[i];
		const char *problem = row_problem(tab, k);

		for (size_t j = 0; !problem && j < i; j++)
			if (strcmp(tab->keys[j].path, k->path) == 0)
				problem = "listed twice";
		if (problem)
			return edge_cfg_fail(err, errlen, "table: %s: %s", k->path ? k->path : "?",
					     problem);
		if (k->sub) {
			rc = edge_cfg_check_table(k->sub, err, errlen);
			if (rc)
				return rc;
		}
	}
	scratch = calloc(1, tab->size);
	if (!scratch)
		return -ENOMEM;
	rc = defaults(tab, scratch, &ctx);
	edge_cfg_free(tab, scratch);
	free(scratch);
	return rc;
}

/* ---- JSON text ---- */

int edge_cfg_parse_json(const char *json, size_t len, const char *origin, cJSON **root, char *err,
			size_t errlen)
{
	cJSON *r = cJSON_ParseWithLength(json, len);

	*root = NULL;
	if (!r) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *p = json; at && p < at && p < json + len; p++)
			line += *p == '\n';
		return edge_cfg_fail(err, errlen, "%s: line %d: not valid JSON", origin, line);
	}
	if (!cJSON_IsObject(r)) {
		cJSON_Delete(r);
		return edge_cfg_fail(err, errlen, "%s: the top level must be an object", origin);
	}
	*root = r;
	return 0;
}

int edge_cfg_read_json(const char *path, size_t max, cJSON **root, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = edge_file_read(path, max, &text, &len);

	*root = NULL;
	if (rc) {
		if (rc == -EFBIG)
			edge_cfg_fail(err, errlen, "%s: cannot read: larger than %zu bytes", path,
				      max);
		else
			edge_cfg_fail(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	rc = edge_cfg_parse_json(text, len, path, root, err, errlen);
	free(text);
	return rc;
}
