/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_CFGTAB_H
#define EDGE_CFGTAB_H
/*
 * Configuration tables. One table per configuration maps every dotted key
 * path to a field of a struct (offset and size) with its type, default,
 * bounds, flags and a one-line description. The same table
 *   - fills the defaults (edge_cfg_defaults),
 *   - applies a JSON object, refusing unknown keys (edge_cfg_apply),
 *   - sets one key from text, e.g. a command-line flag (edge_cfg_set),
 *   - prints the reference, e.g. for --help-config (edge_cfg_print_reference).
 * Every error is one line "<origin>: <key.path>: <problem>", for example
 * "/etc/edge-agent/edge-agent.json: mqtt.port: 99999 is out of range [1, 65535]".
 *
 * Also here: JSON number -> integer conversions that check before they cast,
 * the duration syntax and the error formatter the project's parsers share.
 *
 * Library code: never logs. It allocates only for EDGE_CFG_STRDUP fields and
 * EDGE_CFG_F_HEAP arrays, which edge_cfg_free() releases.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum edge_cfg_type {
	EDGE_CFG_BOOL,	   /* bool */
	EDGE_CFG_UINT,	   /* unsigned integer of the field's size: uint32_t, uint64_t, size_t */
	EDGE_CFG_INT,	   /* signed integer of the field's size: int, int64_t */
	EDGE_CFG_DOUBLE,   /* double, finite */
	EDGE_CFG_STRING,   /* char array: at most size - 1 characters */
	EDGE_CFG_STRDUP,   /* char *, owned by the struct (edge_cfg_free); NULL without default */
	EDGE_CFG_ENUM,	   /* integer of the field's size: values[i] (or i) of the name given */
	EDGE_CFG_DURATION, /* int64_t seconds: "30s", "10m", "2h", "90d" or a number */
	EDGE_CFG_OBJECT,   /* keys below it; a bool field (optional) records its presence */
	EDGE_CFG_ARRAY,	   /* array of records (sub table): a new array replaces the old */
	EDGE_CFG_MAP,	   /* object of records keyed by name (sub table): merges by name */
	EDGE_CFG_CUSTOM,   /* parse callback */
};

/* Row flags. */
#define EDGE_CFG_F_REQUIRED (1u << 0) /* must appear whenever its parent object appears */
#define EDGE_CFG_F_RUNTIME  (1u << 1) /* may change at run time (EDGE_CFG_RUNTIME_ONLY) */
#define EDGE_CFG_F_NAME	    (1u << 2) /* string of letters, digits, '-', '_', '.'; not empty */
#define EDGE_CFG_F_NUMTEXT  (1u << 3) /* integer also accepted as a string: "0x48", "9600" */
#define EDGE_CFG_F_HEAP	    (1u << 4) /* ARRAY: the field is a pointer, records are allocated */
#define EDGE_CFG_F_KEY	    (1u << 5) /* MAP record: the STRING field that holds the name */

/* Table flags. */
/* Errors worded as for a command-line flag, for tables whose keys are also
 * flags (edge-fleet-exporter): "must be an integer in [1, 65535]", "\"70000\"
 * is not an integer in [1, 65535]", "must be an object". */
#define EDGE_CFGTAB_FLAG_WORDS (1u << 0)
/* JSON null for a key means "not given" (the default stays). */
#define EDGE_CFGTAB_NULL_UNSET (1u << 1)

/* edge_cfg_apply() modes. */
/* A partial document over values already set (an overlay): keys flagged
 * EDGE_CFG_F_REQUIRED are checked only in new records (array entries, map
 * entries of a new name). Without it they are checked in every object given. */
#define EDGE_CFG_MERGE (1u << 0)
/* Only keys flagged EDGE_CFG_F_RUNTIME (and the objects holding them);
 * any other key is "cannot be changed at run time". */
#define EDGE_CFG_RUNTIME_ONLY (1u << 1)

struct edge_cfgtab;

/* Where an error happens, for callbacks: edge_cfg_errorf() writes
 * "<origin>: <path>.<key>: <problem>" with it. */
struct edge_cfg_ctx {
	const char *origin;
	char *err;
	size_t errlen;
	unsigned flags;	   /* the top table's EDGE_CFGTAB_* flags */
	const cJSON *json; /* the record or value at hand; NULL for text */
	char path[192];	   /* its key path: "alerts[2]", "sensors.vitals", "" at the top */
};

struct edge_cfg_key {
	const char *path; /* "mqtt.port": dots between objects, relative to the table */
	enum edge_cfg_type type;
	unsigned flags;	 /* EDGE_CFG_F_* */
	size_t off;	 /* offsetof the field (OBJECT: of its presence bool, if size) */
	size_t size;	 /* sizeof the field (ARRAY: the whole array; F_HEAP: the pointer) */
	const char *def; /* default as text; NULL: zero, "" or NULL */
	double min, max; /* numbers and durations: inclusive bounds */
	const char *const *names;      /* ENUM: the names; STRING, STRDUP: allowed values */
	const int *values;	       /* ENUM: value of each name; NULL: its index */
	const struct edge_cfgtab *sub; /* ARRAY, MAP: the record table */
	size_t count_off, count_size;  /* ARRAY, MAP: the record counter */
	/* ARRAY, MAP: called after record i of the struct at base was read. */
	int (*check)(void *base, size_t i, struct edge_cfg_ctx *ctx);
	/* CUSTOM: reads v (JSON) or text (default, flag) into field. */
	int (*parse)(void *field, const cJSON *v, const char *text, struct edge_cfg_ctx *ctx);
	const char *what; /* CUSTOM: its type in the reference */
	const char *flag; /* command-line long option for the key, or NULL */
	const char *desc; /* one line */
};

struct edge_cfgtab {
	const struct edge_cfg_key *keys;
	size_t n_keys;
	size_t size;	/* sizeof the struct (the record for sub tables) */
	unsigned flags; /* EDGE_CFGTAB_* */
};

/* Row helpers: #define EDGE_CFG_T as the struct a table fills before use. */
#define EDGE_CFG_FIELD(m) .off = offsetof(EDGE_CFG_T, m), .size = sizeof(((EDGE_CFG_T *)0)->m)
#define EDGE_CFG_COUNT(m)                                                                          \
	.count_off = offsetof(EDGE_CFG_T, m), .count_size = sizeof(((EDGE_CFG_T *)0)->m)
#define EDGE_CFGTAB(keys_, flags_)                                                                 \
	{                                                                                          \
		.keys = (keys_), .n_keys = sizeof(keys_) / sizeof((keys_)[0]),                     \
		.size = sizeof(EDGE_CFG_T), .flags = (flags_)                                      \
	}

/* Sets every key of tab in base to its default (keys without one to zero,
 * "" or NULL; arrays and maps to empty). base must be zeroed or hold values
 * set through tab. Returns 0 or -ENOMEM. */
int edge_cfg_defaults(const struct edge_cfgtab *tab, void *base);
/* Applies the JSON object obj over base. mode: EDGE_CFG_MERGE,
 * EDGE_CFG_RUNTIME_ONLY. On failure err holds one line naming origin and
 * the key, and base may be partly changed: apply to a copy when that
 * matters. Returns 0, -EINVAL or -ENOMEM. */
int edge_cfg_apply(const struct edge_cfgtab *tab, void *base, const cJSON *obj, unsigned mode,
		   const char *origin, char *err, size_t errlen);
/* Sets the key at path from text, as a command-line flag would ("1883",
 * "true", "30d"). Returns 0, -EINVAL (unknown key or bad value) or -ENOMEM. */
int edge_cfg_set(const struct edge_cfgtab *tab, void *base, const char *path, const char *text,
		 const char *origin, char *err, size_t errlen);
/* The row of path, or NULL. Borrowed from tab. */
const struct edge_cfg_key *edge_cfg_find(const struct edge_cfgtab *tab, const char *path);
/* Frees what the table allocated in base (STRDUP fields, heap arrays) and
 * sets those fields to NULL / 0. base itself is the caller's. */
void edge_cfg_free(const struct edge_cfgtab *tab, void *base);
/* Writes one entry per key, records' keys included: path, type, bounds,
 * default, flags, then the description on its own line. */
void edge_cfg_print_reference(const struct edge_cfgtab *tab, FILE *out);
/* Consistency of a table (for tests): field sizes match their types,
 * bounds are ordered, every default is accepted, no path twice. */
int edge_cfg_check_table(const struct edge_cfgtab *tab, char *err, size_t errlen);

/* JSON text -> object. *root: caller frees with cJSON_Delete(). Errors:
 * "<origin>: line N: not valid JSON", "<origin>: the top level must be an
 * object". Returns 0 or -EINVAL. */
int edge_cfg_parse_json(const char *json, size_t len, const char *origin, cJSON **root, char *err,
			size_t errlen);
/* The same from a file of at most max bytes ("<path>: cannot read: ...").
 * Returns 0, -EINVAL or the read error (-ENOENT, -EFBIG, ...). */
int edge_cfg_read_json(const char *path, size_t max, cJSON **root, char *err, size_t errlen);

/* Formats the message into err (when err and errlen are set); returns
 * -EINVAL. The formatter of the project's parsers: callers put the origin
 * and key path first ("%s: %s: ...", origin, path). */
__attribute__((format(printf, 3, 4))) int edge_cfg_fail(char *err, size_t errlen, const char *fmt,
							...);
/* "<ctx origin>: <ctx path>.<key>: <problem>" into ctx's buffer (key may be
 * NULL or "" for the path alone); returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int edge_cfg_errorf(struct edge_cfg_ctx *ctx, const char *key,
							  const char *fmt, ...);
/* "a string", "a number", "a boolean", "an object", "an array", "null". */
const char *edge_json_type_name(const cJSON *v);
/* Letters, digits, '-', '_', '.', at least one, fewer than max characters. */
bool edge_cfg_name_ok(const char *s, size_t max);

/*
 * Checked JSON number -> integer: 0 and *out set, or -EINVAL when n is not
 * a number, not finite or not integral, -ERANGE when outside [min, max].
 * The range is checked on the double before any cast (a cast of an
 * out-of-range double is undefined behaviour). *out is untouched on error.
 */
int edge_json_to_i64(const cJSON *n, int64_t min, int64_t max, int64_t *out);
int edge_json_to_u64(const cJSON *n, uint64_t min, uint64_t max, uint64_t *out);
int edge_json_to_u32(const cJSON *n, uint32_t min, uint32_t max, uint32_t *out);
int edge_json_to_int(const cJSON *n, int min, int max, int *out);

/* "30s" "10m" "2h" "90d" or plain seconds ("1.5h" is 5400) -> whole
 * seconds in [0, 1e12]. -EINVAL on bad syntax, a negative value or NaN,
 * -ERANGE beyond 1e12 seconds. */
int edge_cfg_parse_duration(const char *s, int64_t *out);

#endif
