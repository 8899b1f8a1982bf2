/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration-table engine and the checked JSON number conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/cfgtab.h"

struct rec {
	char name[16];
	uint32_t weight;
	char *note;
};

struct item {
	char name[8];
	int level;
	uint32_t seen; /* set by the check callback */
};

struct conf {
	bool flag;
	uint32_t port;
	uint64_t big;
	int64_t offset;
	int small;
	size_t bytes;
	double ratio;
	char host[16];
	char *path;
	int mode;
	char tls[8];
	int64_t ttl;
	bool has_extra;
	uint32_t extra_n;
	uint16_t addr;
	int custom;
	struct rec recs[3];
	uint32_t n_recs;
	struct rec *heap;
	size_t n_heap;
	struct item items[3];
	uint32_t n_items;
};

static const char *const mode_names[] = {"off", "on", "auto", NULL};
static const int mode_values[] = {0, 10, 20};
static const char *const tls_names[] = {"tls1.2", "tls1.3", NULL};

#define EDGE_CFG_T struct rec
static const struct edge_cfg_key rec_keys[] = {
    {"name", EDGE_CFG_STRING, EDGE_CFG_F_REQUIRED | EDGE_CFG_F_NAME, EDGE_CFG_FIELD(name),
     .desc = "record name"},
    {"weight", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(weight), .min = 1, .max = 9, .def = "5",
     .desc = "weight"},
    {"note", EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(note), .desc = "free text"},
};
static const struct edge_cfgtab rec_tab = EDGE_CFGTAB(rec_keys, 0);
#undef EDGE_CFG_T

#define EDGE_CFG_T struct item
static const struct edge_cfg_key item_keys[] = {
    {"name", EDGE_CFG_STRING, EDGE_CFG_F_KEY, EDGE_CFG_FIELD(name), .desc = "the key"},
    {"level", EDGE_CFG_INT, 0, EDGE_CFG_FIELD(level), .min = -5, .max = 5, .desc = "level"},
};
static const struct edge_cfgtab item_tab = EDGE_CFGTAB(item_keys, 0);
#undef EDGE_CFG_T

static int check_item(void *base, size_t i, struct edge_cfg_ctx *ctx)
{
	struct conf *c = base;

	if (c->items[i].level == 4)
		return edge_cfg_errorf(ctx, "level", "4 is unlucky");
	c->items[i].seen++;
	return 0;
}

static int check_rec(void *base, size_t i, struct edge_cfg_ctx *ctx)
{
	struct conf *c = base;

	for (size_t j = 0; j < i; j++)
		if (strcmp(c->recs[j].name, c->recs[i].name) == 0)
			return edge_cfg_errorf(ctx, "name", "\"%s\" twice", c->recs[i].name);
	return 0;
}

/* "low" / "high" or a digit. */
static int parse_level(void *field, const cJSON *v, const char *text, struct edge_cfg_ctx *ctx)
{
	int *out = field;

	if (v && cJSON_IsNumber(v))
		return edge_json_to_int(v, 0, 9, out) ? edge_cfg_errorf(ctx, NULL, "not a digit")
						      : 0;
	if (v)
		text = cJSON_IsString(v) ? v->valuestring : "";
	if (strcmp(text, "low") == 0 || strcmp(text, "high") == 0) {
		*out = text[0] == 'l' ? 1 : 9;
		return 0;
	}
	return edge_cfg_errorf(ctx, NULL, "\"%s\" is not low or high", text);
}

#define EDGE_CFG_T struct conf
static const struct edge_cfg_key keys[] = {
    {"flag", EDGE_CFG_BOOL, EDGE_CFG_F_RUNTIME, EDGE_CFG_FIELD(flag), .def = "true", .flag = "flag",
     .desc = "a switch"},
    {"net.port", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(port), .min = 1, .max = 65535, .def = "8883",
     .flag = "port", .desc = "a port"},
    {"net.big", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(big), .min = 0, .max = 1e15, .def = "1000000",
     .desc = "a big one"},
    {"net.offset", EDGE_CFG_INT, EDGE_CFG_F_RUNTIME, EDGE_CFG_FIELD(offset), .min = -1e12,
     .max = 1e12, .def = "-3", .desc = "signed"},
    {"small", EDGE_CFG_INT, 0, EDGE_CFG_FIELD(small), .min = -10, .max = 10, .desc = "int"},
    {"bytes", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(bytes), .min = 256, .max = 1048576, .def = "16384",
     .desc = "a size_t"},
    {"ratio", EDGE_CFG_DOUBLE, 0, EDGE_CFG_FIELD(ratio), .min = 0.01, .max = 1e6, .def = "20",
     .desc = "a double"},
    {"host", EDGE_CFG_STRING, 0, EDGE_CFG_FIELD(host), .def = "localhost", .desc = "a string"},
    {"path", EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(path), .desc = "owned string, NULL by default"},
    {"mode", EDGE_CFG_ENUM, 0, EDGE_CFG_FIELD(mode), .names = mode_names, .values = mode_values,
     .def = "on", .desc = "an enum"},
    {"tls", EDGE_CFG_STRING, 0, EDGE_CFG_FIELD(tls), .names = tls_names, .def = "tls1.2",
     .desc = "a string from a list"},
    {"ttl", EDGE_CFG_DURATION, 0, EDGE_CFG_FIELD(ttl), .min = 10, .max = 3650.0 * 86400,
     .def = "365d", .desc = "a duration"},
    {"extra", EDGE_CFG_OBJECT, 0, EDGE_CFG_FIELD(has_extra), .desc = "optional object"},
    {"extra.n", EDGE_CFG_UINT, EDGE_CFG_F_REQUIRED, EDGE_CFG_FIELD(extra_n), .max = 100,
     .desc = "required when extra is given"},
    {"addr", EDGE_CFG_UINT, EDGE_CFG_F_NUMTEXT, EDGE_CFG_FIELD(addr), .max = 0x7f,
     .desc = "a number or \"0x48\""},
    {"custom", EDGE_CFG_CUSTOM, 0, EDGE_CFG_FIELD(custom), .parse = parse_level, .def = "low",
     .what = "level", .desc = "low, high or a digit"},
    {"recs", EDGE_CFG_ARRAY, 0, EDGE_CFG_FIELD(recs), EDGE_CFG_COUNT(n_recs), .sub = &rec_tab,
     .check = check_rec, .desc = "records"},
    {"heap", EDGE_CFG_ARRAY, EDGE_CFG_F_HEAP, EDGE_CFG_FIELD(heap), EDGE_CFG_COUNT(n_heap),
     .sub = &rec_tab, .desc = "allocated records"},
    {"items", EDGE_CFG_MAP, EDGE_CFG_F_RUNTIME, EDGE_CFG_FIELD(items), EDGE_CFG_COUNT(n_items),
     .sub = &item_tab, .check = check_item, .desc = "records by name"},
};
static const struct edge_cfgtab tab = EDGE_CFGTAB(keys, 0);
static const struct edge_cfgtab tab_words = EDGE_CFGTAB(keys, EDGE_CFGTAB_FLAG_WORDS);
static const struct edge_cfgtab tab_null = EDGE_CFGTAB(keys, EDGE_CFGTAB_NULL_UNSET);
#undef EDGE_CFG_T

static char err[512];

static int apply_to(const struct edge_cfgtab *t, struct conf *c, const char *json, unsigned mode)
{
	cJSON *root = cJSON_Parse(json);
	int rc;

	assert_non_null(root);
	err[0] = '\0';
	rc = edge_cfg_apply(t, c, root, mode, "t.json", err, sizeof(err));
	cJSON_Delete(root);
	return rc;
}

/* Applies json over fresh defaults and expects exactly msg. */
static void expect_with(const struct edge_cfgtab *t, const char *json, const char *msg)
{
	struct conf c = {0};

	assert_int_equal(edge_cfg_defaults(t, &c), 0);
	assert_int_equal(apply_to(t, &c, json, 0), -EINVAL);
	if (strcmp(err, msg) != 0)
		fail_msg("%s\n  gave \"%s\"\n  want \"%s\"", json, err, msg);
	edge_cfg_free(t, &c);
}

static void expect(const char *json, const char *msg)
{
	expect_with(&tab, json, msg);
}

static void defaults_fill_every_type(void **state)
{
	struct conf c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	c.path = NULL;
	c.heap = NULL;
	c.n_heap = 0;
	c.n_recs = c.n_items = 0;
	assert_int_equal(edge_cfg_defaults(&tab, &c), 0);
	assert_true(c.flag);
	assert_int_equal(c.port, 8883);
	assert_true(c.big == 1000000);
	assert_true(c.offset == -3);
	assert_int_equal(c.small, 0);
	assert_true(c.bytes == 16384);
	assert_true(c.ratio == 20.0);
	assert_string_equal(c.host, "localhost");
	assert_null(c.path);
	assert_int_equal(c.mode, 10);
	assert_string_equal(c.tls, "tls1.2");
	assert_true(c.ttl == 365 * 86400);
	assert_false(c.has_extra);
	assert_int_equal(c.addr, 0);
	assert_int_equal(c.custom, 1);
	assert_int_equal(c.n_recs, 0);
	assert_null(c.heap);
	assert_int_equal(c.n_items, 0);
	assert_int_equal(edge_cfg_check_table(&tab, err, sizeof(err)), 0);
}

static void values_are_read(void **state)
{
	struct conf c = {0};

	(void)state;
	assert_int_equal(edge_cfg_defaults(&tab, &c), 0);
	assert_int_equal(
	    apply_to(&tab, &c,
		     "{\"flag\":false,\"net\":{\"port\":1883,\"big\":1e15,\"offset\":-1e12},"
		     "\"small\":-10,\"bytes\":256,\"ratio\":0.5,\"host\":\"h\",\"path\":\"/p\","
		     "\"mode\":\"auto\",\"tls\":\"tls1.3\",\"ttl\":\"2h\",\"extra\":{\"n\":7},"
		     "\"addr\":\"0x48\",\"custom\":\"high\","
		     "\"recs\":[{\"name\":\"a\"},{\"name\":\"b\",\"weight\":9,\"note\":\"x\"}],"
		     "\"heap\":[{\"name\":\"h1\",\"note\":\"n1\"}],"
		     "\"items\":{\"i1\":{\"level\":-5},\"i2\":{}}}",
		     0),
	    0);
	assert_false(c.flag);
	assert_int_equal(c.port, 1883);
	assert_true(c.big == 1000000000000000ULL);
	assert_true(c.offset == -1000000000000LL);
	assert_int_equal(c.small, -10);
	assert_true(c.bytes == 256);
	assert_true(c.ratio == 0.5);
	assert_string_equal(c.host, "h");
	assert_string_equal(c.path, "/p");
	assert_int_equal(c.mode, 20);
	assert_string_equal(c.tls, "tls1.3");
	assert_true(c.ttl == 7200);
	assert_true(c.has_extra);
	assert_int_equal(c.extra_n, 7);
	assert_int_equal(c.addr, 0x48);
	assert_int_equal(c.custom, 9);
	assert_int_equal(c.n_recs, 2);
	assert_string_equal(c.recs[0].name, "a");
	assert_int_equal(c.recs[0].weight, 5); /* the record table's default */
	assert_null(c.recs[0].note);
	assert_int_equal(c.recs[1].weight, 9);
	assert_string_equal(c.recs[1].note, "x");
	assert_true(c.n_heap == 1);
	assert_string_equal(c.heap[0].note, "n1");
	assert_int_equal(c.n_items, 2);
	assert_string_equal(c.items[0].name, "i1");
	assert_int_equal(c.items[0].level, -5);
	assert_int_equal(c.items[0].seen, 1);
	/* arrays replace, maps merge by name, strings are replaced and freed */
	assert_int_equal(apply_to(&tab, &c,
				  "{\"recs\":[{\"name\":\"z\"}],\"path\":\"/q\",\"heap\":[],"
				  "\"items\":{\"i1\":{\"level\":2},\"i3\":{\"level\":1}}}",
				  EDGE_CFG_MERGE),
			 0);
	assert_int_equal(c.n_recs, 1);
	assert_string_equal(c.recs[0].name, "z");
	assert_string_equal(c.path, "/q");
	assert_true(c.n_heap == 0 && c.heap == NULL);
	assert_int_equal(c.n_items, 3);
	assert_int_equal(c.items[0].level, 2);
	assert_int_equal(c.items[0].seen, 2);
	assert_int_equal(c.items[1].level, 0); /* i2 untouched */
	assert_string_equal(c.items[2].name, "i3");
	assert_int_equal(c.items[2].level, 1);
	edge_cfg_free(&tab, &c);
	assert_null(c.path);
	assert_int_equal(c.n_recs, 0);
}

static void errors_have_one_format(void **state)
{
	(void)state;
	expect("{\"nope\":1}", "t.json: nope: unknown key");
	expect("{\"net\":{\"prot\":1}}", "t.json: net.prot: unknown key");
	expect("{\"net\":[]}", "t.json: net: expected an object, got an array");
	expect("{\"net\":{\"port\":99999}}", "t.json: net.port: 99999 is out of range [1, 65535]");
	expect("{\"net\":{\"port\":1e30}}", "t.json: net.port: 1e+30 is out of range [1, 65535]");
	expect("{\"net\":{\"port\":-1}}", "t.json: net.port: -1 is out of range [1, 65535]");
	expect("{\"net\":{\"port\":1.5}}", "t.json: net.port: expected a whole number, got 1.5");
	expect("{\"net\":{\"port\":\"80\"}}", "t.json: net.port: expected a number, got a string");
	expect("{\"net\":{\"big\":1e16}}",
	       "t.json: net.big: 1e+16 is out of range [0, 1000000000000000]");
	expect("{\"net\":{\"offset\":-1e19}}",
	       "t.json: net.offset: -1e+19 is out of range [-1000000000000, 1000000000000]");
	expect("{\"small\":1e300}", "t.json: small: 1e+300 is out of range [-10, 10]");
	expect("{\"bytes\":100}", "t.json: bytes: 100 is out of range [256, 1048576]");
	expect("{\"ratio\":0}", "t.json: ratio: 0 is out of range [0.01, 1000000]");
	expect("{\"ratio\":1e400}", "t.json: ratio: expected a finite number, got inf");
	expect("{\"flag\":1}", "t.json: flag: expected true or false, got a number");
	expect("{\"host\":\"0123456789abcdef\"}", "t.json: host: longer than 15 characters");
	expect("{\"host\":null}", "t.json: host: expected a string, got null");
	expect("{\"mode\":\"maybe\"}", "t.json: mode: \"maybe\" is not one of off, on, auto");
	expect("{\"tls\":\"ssl3\"}", "t.json: tls: \"ssl3\" is not one of tls1.2, tls1.3");
	expect("{\"ttl\":\"3w\"}",
	       "t.json: ttl: \"3w\" is not a duration like 30s, 10m, 2h or 90d");
	expect("{\"ttl\":\"nan\"}",
	       "t.json: ttl: \"nan\" is not a duration like 30s, 10m, 2h or 90d");
	expect("{\"ttl\":\"5s\"}", "t.json: ttl: 5s is out of range [10s, 3650d]");
	expect("{\"ttl\":\"1e30d\"}", "t.json: ttl: 1e30d is out of range [10s, 3650d]");
	expect("{\"ttl\":1e30}", "t.json: ttl: 1e+30s is out of range [10s, 3650d]");
	expect("{\"ttl\":-1}", "t.json: ttl: -1 is not a duration");
	expect(
	    "{\"ttl\":true}",
	    "t.json: ttl: expected a duration (\"30s\", \"10m\", \"2h\", \"90d\"), got a boolean");
	expect("{\"extra\":{}}", "t.json: extra.n: missing");
	expect("{\"addr\":\"0x80\"}", "t.json: addr: 128 is out of range [0, 127]");
	expect("{\"addr\":\"0x\"}", "t.json: addr: \"0x\" is not an integer in [0, 127]");
	expect("{\"addr\":\"-1\"}", "t.json: addr: \"-1\" is not an integer in [0, 127]");
	expect("{\"custom\":\"mid\"}", "t.json: custom: \"mid\" is not low or high");
	expect("{\"custom\":1e30}", "t.json: custom: not a digit");
	expect("{\"recs\":{}}", "t.json: recs: expected an array, got an object");
	expect("{\"recs\":[1]}", "t.json: recs[0]: expected an object, got a number");
	expect("{\"recs\":[{\"name\":\"a\"},{}]}", "t.json: recs[1].name: missing");
	expect("{\"recs\":[{\"name\":\"a b\"}]}",
	       "t.json: recs[0].name: \"a b\" may hold only letters, digits, '-', '_' and '.'");
	expect("{\"recs\":[{\"name\":\"a\",\"weight\":0}]}",
	       "t.json: recs[0].weight: 0 is out of range [1, 9]");
	expect("{\"recs\":[{\"name\":\"a\",\"x\":0}]}", "t.json: recs[0].x: unknown key");
	expect("{\"recs\":[{\"name\":\"a\"},{\"name\":\"a\"}]}",
	       "t.json: recs[1].name: \"a\" twice");
	expect("{\"recs\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"},{\"name\":\"d\"}]}",
	       "t.json: recs: more than 3 entries");
	expect("{\"heap\":[{\"name\":\"a\",\"note\":5}]}",
	       "t.json: heap[0].note: expected a string, got a number");
	expect("{\"items\":{\"a b\":{}}}",
	       "t.json: items.a b: not a name (up to 7 letters, digits, '-', '_', '.')");
	expect("{\"items\":{\"a\":{\"name\":\"b\"}}}", "t.json: items.a.name: unknown key");
	expect("{\"items\":{\"a\":{\"level\":4}}}", "t.json: items.a.level: 4 is unlucky");
	expect("{\"items\":{\"a\":{},\"b\":{},\"c\":{},\"d\":{}}}",
	       "t.json: items: more than 3 entries");
	expect("{\"items\":{\"a\":3}}", "t.json: items.a: expected an object, got a number");
}

static void flag_wording_and_null(void **state)
{
	struct conf c = {0};

	(void)state;
	expect_with(&tab_words, "{\"net\":3}", "t.json: net: must be an object");
	expect_with(&tab_words, "{\"net\":{\"port\":\"80\"}}",
		    "t.json: net.port: must be an integer in [1, 65535]");
	expect_with(&tab_words, "{\"net\":{\"port\":1.5}}",
		    "t.json: net.port: must be an integer in [1, 65535]");
	expect_with(&tab_words, "{\"net\":{\"port\":70000}}",
		    "t.json: net.port: \"70000\" is not an integer in [1, 65535]");
	expect_with(&tab_words, "{\"host\":1}", "t.json: host: must be a string");
	/* null: the default stays */
	assert_int_equal(edge_cfg_defaults(&tab_null, &c), 0);
	assert_int_equal(apply_to(&tab_null, &c, "{\"host\":null,\"net\":{\"port\":null}}", 0), 0);
	assert_string_equal(c.host, "localhost");
	assert_int_equal(c.port, 8883);
	edge_cfg_free(&tab_null, &c);
}

static void runtime_and_merge_modes(void **state)
{
	struct conf c = {0};

	(void)state;
	assert_int_equal(edge_cfg_defaults(&tab, &c), 0);
	assert_int_equal(apply_to(&tab, &c,
				  "{\"flag\":false,\"net\":{\"offset\":5},\"items\":{\"x\":{}}}",
				  EDGE_CFG_RUNTIME_ONLY | EDGE_CFG_MERGE),
			 0);
	assert_false(c.flag);
	assert_true(c.offset == 5);
	assert_int_equal(c.n_items, 1);
	assert_int_equal(apply_to(&tab, &c, "{\"net\":{\"port\":1}}", EDGE_CFG_RUNTIME_ONLY),
			 -EINVAL);
	assert_string_equal(err, "t.json: net.port: cannot be changed at run time");
	assert_int_equal(apply_to(&tab, &c, "{\"extra\":{\"n\":1}}", EDGE_CFG_RUNTIME_ONLY),
			 -EINVAL);
	assert_string_equal(err, "t.json: extra: cannot be changed at run time");
	assert_int_equal(apply_to(&tab, &c, "{\"nope\":1}", EDGE_CFG_RUNTIME_ONLY), -EINVAL);
	assert_string_equal(err, "t.json: nope: unknown key");
	/* merge: a required key of an object need not repeat; records still check */
	assert_int_equal(apply_to(&tab, &c, "{\"extra\":{}}", EDGE_CFG_MERGE), 0);
	assert_int_equal(apply_to(&tab, &c, "{\"recs\":[{}]}", EDGE_CFG_MERGE), -EINVAL);
	assert_string_equal(err, "t.json: recs[0].name: missing");
	edge_cfg_free(&tab, &c);
}

static void set_from_text(void **state)
{
	struct conf c = {0};

	(void)state;
	assert_int_equal(edge_cfg_defaults(&tab, &c), 0);
	assert_int_equal(edge_cfg_set(&tab, &c, "net.port", "1883", "flag", err, sizeof(err)), 0);
	assert_int_equal(c.port, 1883);
	assert_int_equal(edge_cfg_set(&tab, &c, "net.port", "0x50", "flag", err, sizeof(err)), 0);
	assert_int_equal(c.port, 0x50);
	assert_int_equal(edge_cfg_set(&tab, &c, "ttl", "90d", "flag", err, sizeof(err)), 0);
	assert_true(c.ttl == 90 * 86400);
	assert_int_equal(edge_cfg_set(&tab, &c, "flag", "false", "flag", err, sizeof(err)), 0);
	assert_false(c.flag);
	assert_int_equal(edge_cfg_set(&tab, &c, "path", "/x", "flag", err, sizeof(err)), 0);
	assert_string_equal(c.path, "/x");
	assert_int_equal(
	    edge_cfg_set(&tab, &c, "net.port", "abc", "command line", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "command line: net.port: \"abc\" is not an integer in [1, 65535]");
	assert_int_equal(edge_cfg_set(&tab, &c, "net.port", "70000", "flag", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "flag: net.port: 70000 is out of range [1, 65535]");
	assert_int_equal(
	    edge_cfg_set(&tab, &c, "net.port", "99999999999999999999999", "flag", err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err,
			    "flag: net.port: 99999999999999999999999 is out of range [1, 65535]");
	assert_int_equal(edge_cfg_set(&tab, &c, "net.port", " 1", "flag", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(edge_cfg_set(&tab, &c, "flag", "yes", "flag", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "flag: flag: \"yes\" is not true or false");
	assert_int_equal(edge_cfg_set(&tab, &c, "ratio", "1e999", "flag", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(edge_cfg_set(&tab, &c, "net", "1", "flag", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "flag: net: unknown key");
	assert_int_equal(
	    edge_cfg_set(&tab_words, &c, "net.port", "70000", "command line", err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err,
			    "command line: net.port: \"70000\" is not an integer in [1, 65535]");
	assert_int_equal(c.port, 0x50); /* failed sets changed nothing */
	edge_cfg_free(&tab, &c);
}

static void reference_lists_every_key(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	edge_cfg_print_reference(&tab, f);
	fclose(f);
	for (size_t i = 0; i < tab.n_keys; i++)
		if (!strstr(text, keys[i].path) || !strstr(text, keys[i].desc))
			fail_msg("%s missing from the reference", keys[i].path);
	assert_non_null(strstr(text, "  net.port                       integer [1..65535] default "
				     "\"8883\" (--port)\n      a port\n"));
	assert_non_null(strstr(text, "ttl                            duration [10s..3650d]"));
	assert_non_null(strstr(text, "mode                           enum {off, on, auto}"));
	assert_non_null(strstr(text, "recs[].weight"));
	assert_non_null(strstr(text, "items.<name>.level"));
	assert_non_null(strstr(text, "extra.n                        integer [0..100] required"));
	assert_non_null(strstr(text, "host                           string (max 15 characters)"));
	assert_null(strstr(text, "items.<name>.name"));
	free(text);
}

static void table_checks_catch_mistakes(void **state)
{
#define EDGE_CFG_T struct conf
	static const struct edge_cfg_key twice[] = {
	    {"a", EDGE_CFG_BOOL, 0, EDGE_CFG_FIELD(flag)},
	    {"a", EDGE_CFG_BOOL, 0, EDGE_CFG_FIELD(flag)},
	};
	static const struct edge_cfg_key bad_def[] = {
	    {"p", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(port), .min = 1, .max = 9, .def = "10"},
	};
	static const struct edge_cfg_key bad_size[] = {
	    {"p", EDGE_CFG_DOUBLE, 0, EDGE_CFG_FIELD(port)},
	};
	static const struct edge_cfg_key bad_bounds[] = {
	    {"p", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(port), .max = 5e9},
	};
	static const struct edge_cfg_key no_key[] = {
	    {"m", EDGE_CFG_MAP, 0, EDGE_CFG_FIELD(recs), EDGE_CFG_COUNT(n_recs), .sub = &rec_tab},
	};
	const struct edge_cfgtab t1 = EDGE_CFGTAB(twice, 0), t2 = EDGE_CFGTAB(bad_def, 0),
				 t3 = EDGE_CFGTAB(bad_size, 0), t4 = EDGE_CFGTAB(bad_bounds, 0),
				 t5 = EDGE_CFGTAB(no_key, 0);
#undef EDGE_CFG_T

	(void)state;
	assert_int_equal(edge_cfg_check_table(&t1, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "table: a: listed twice");
	assert_int_equal(edge_cfg_check_table(&t2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "default: p: 10 is out of range [1, 9]");
	assert_int_equal(edge_cfg_check_table(&t3, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "table: p: not a double field");
	assert_int_equal(edge_cfg_check_table(&t4, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "table: p: bad bounds");
	assert_int_equal(edge_cfg_check_table(&t5, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "table: m: map records need an EDGE_CFG_F_KEY string");
}

static void json_text_and_files(void **state)
{
	cJSON *root = NULL;

	(void)state;
	assert_int_equal(edge_cfg_parse_json("{\n\"a\":\n}", 8, "x.json", &root, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "x.json: line 3: not valid JSON");
	assert_null(root);
	assert_int_equal(edge_cfg_parse_json("[1]", 3, "x.json", &root, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "x.json: the top level must be an object");
	assert_int_equal(edge_cfg_parse_json("{}", 2, "x.json", &root, err, sizeof(err)), 0);
	cJSON_Delete(root);
	assert_int_equal(edge_cfg_read_json("/nonexistent/x.json", 1024, &root, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/x.json: cannot read: No such file or directory");
}

static cJSON *num(double d)
{
	cJSON *n = cJSON_CreateNumber(d);

	assert_non_null(n);
	return n;
}

/* Each input that used to reach a cast out of range (UBSan:
 * float-cast-overflow) or through NaN. */
static void checked_number_conversions(void **state)
{
	struct {
		double d;
		int i64, u64, u32, i;
	} cases[] = {
	    /* value, then the result of each conversion over the full range */
	    {0, 0, 0, 0, 0},
	    {-1, 0, -ERANGE, -ERANGE, 0},
	    {1.5, -EINVAL, -EINVAL, -EINVAL, -EINVAL},
	    {(double)NAN, -EINVAL, -EINVAL, -EINVAL, -EINVAL},
	    {(double)INFINITY, -EINVAL, -EINVAL, -EINVAL, -EINVAL},
	    {-(double)INFINITY, -EINVAL, -EINVAL, -EINVAL, -EINVAL},
	    {1e30, -ERANGE, -ERANGE, -ERANGE, -ERANGE},
	    {-1e30, -ERANGE, -ERANGE, -ERANGE, -ERANGE},
	    {9223372036854775808.0, -ERANGE, 0, -ERANGE, -ERANGE},	  /* 2^63 */
	    {-9223372036854775808.0, 0, -ERANGE, -ERANGE, -ERANGE},	  /* -2^63 */
	    {18446744073709551616.0, -ERANGE, -ERANGE, -ERANGE, -ERANGE}, /* 2^64 */
	    {4294967295.0, 0, 0, 0, -ERANGE},
	    {4294967296.0, 0, 0, -ERANGE, -ERANGE},
	};
	int64_t i64 = 7;
	uint64_t u64 = 7;
	uint32_t u32 = 7;
	int i = 7;
	cJSON *s = cJSON_CreateString("1");

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		cJSON *n = num(cases[k].d);

		if (edge_json_to_i64(n, INT64_MIN, INT64_MAX, &i64) != cases[k].i64 ||
		    edge_json_to_u64(n, 0, UINT64_MAX, &u64) != cases[k].u64 ||
		    edge_json_to_u32(n, 0, UINT32_MAX, &u32) != cases[k].u32 ||
		    edge_json_to_int(n, INT32_MIN, INT32_MAX, &i) != cases[k].i)
			fail_msg("case %zu (%g)", k, cases[k].d);
		cJSON_Delete(n);
	}
	{
		cJSON *n = num(-9223372036854775808.0);

		assert_int_equal(edge_json_to_i64(n, INT64_MIN, INT64_MAX, &i64), 0);
		assert_true(i64 == INT64_MIN);
		cJSON_Delete(n);
		n = num(4294967295.0);
		assert_int_equal(edge_json_to_u32(n, 0, UINT32_MAX, &u32), 0);
		assert_true(u32 == UINT32_MAX);
		/* bounds are inclusive and checked on the converted value */
		assert_int_equal(edge_json_to_u32(n, 0, UINT32_MAX - 1, &u32), -ERANGE);
		assert_true(u32 == UINT32_MAX); /* untouched on error */
		cJSON_Delete(n);
		n = num(65535);
		assert_int_equal(edge_json_to_int(n, 1, 65535, &i), 0);
		assert_int_equal(i, 65535);
		cJSON_Delete(n);
	}
	assert_int_equal(edge_json_to_i64(s, INT64_MIN, INT64_MAX, &i64), -EINVAL);
	assert_int_equal(edge_json_to_u64(NULL, 0, 1, &u64), -EINVAL);
	cJSON_Delete(s);
}

static void durations(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(edge_cfg_parse_duration("90d", &v), 0);
	assert_true(v == 90 * 86400);
	assert_int_equal(edge_cfg_parse_duration("1.5h", &v), 0);
	assert_true(v == 5400);
	assert_int_equal(edge_cfg_parse_duration("42", &v), 0);
	assert_true(v == 42);
	assert_int_equal(edge_cfg_parse_duration("nan", &v), -EINVAL);
	assert_int_equal(edge_cfg_parse_duration("nand", &v), -EINVAL);
	assert_int_equal(edge_cfg_parse_duration("-1d", &v), -EINVAL);
	assert_int_equal(edge_cfg_parse_duration("3w", &v), -EINVAL);
	assert_int_equal(edge_cfg_parse_duration("", &v), -EINVAL);
	assert_int_equal(edge_cfg_parse_duration("1dd", &v), -EINVAL);
	assert_int_equal(edge_cfg_parse_duration("inf", &v), -ERANGE);
	assert_int_equal(edge_cfg_parse_duration("1e30", &v), -ERANGE);
	assert_int_equal(edge_cfg_parse_duration("1e9d", &v), -ERANGE);
	assert_true(v == 42);
}

static void error_helpers(void **state)
{
	struct edge_cfg_ctx ctx = {.origin = "o", .err = err, .errlen = sizeof(err)};

	(void)state;
	assert_int_equal(edge_cfg_fail(err, sizeof(err), "%s: %d", "x", 5), -EINVAL);
	assert_string_equal(err, "x: 5");
	assert_int_equal(edge_cfg_fail(NULL, 0, "%s", "nothing written"), -EINVAL);
	assert_int_equal(edge_cfg_errorf(&ctx, NULL, "top"), -EINVAL);
	assert_string_equal(err, "o: top");
	assert_int_equal(edge_cfg_errorf(&ctx, "k", "bad"), -EINVAL);
	assert_string_equal(err, "o: k: bad");
	strcpy(ctx.path, "a[1]");
	assert_int_equal(edge_cfg_errorf(&ctx, "k", "bad %d", 2), -EINVAL);
	assert_string_equal(err, "o: a[1].k: bad 2");
	assert_true(edge_cfg_name_ok("a-b_c.9", 8));
	assert_false(edge_cfg_name_ok("a-b_c.90", 8));
	assert_false(edge_cfg_name_ok("", 8));
	assert_false(edge_cfg_name_ok("a/b", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_fill_every_type),
	    cmocka_unit_test(values_are_read),
	    cmocka_unit_test(errors_have_one_format),
	    cmocka_unit_test(flag_wording_and_null),
	    cmocka_unit_test(runtime_and_merge_modes),
	    cmocka_unit_test(set_from_text),
	    cmocka_unit_test(reference_lists_every_key),
	    cmocka_unit_test(table_checks_catch_mistakes),
	    cmocka_unit_test(json_text_and_files),
	    cmocka_unit_test(checked_number_conversions),
	    cmocka_unit_test(durations),
	    cmocka_unit_test(error_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
