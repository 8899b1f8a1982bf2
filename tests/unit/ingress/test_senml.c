/* SPDX-License-Identifier: Apache-2.0 */
/* SenML JSON and CBOR decoders (agent/ingress/senml.c, cbor.c) and the
 * mapping onto platform metrics. */
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

#include "agent/senml.h"

#define NOW 1763762000000ull /* ms */

static struct edge_senml_pack pack;
static char diag[EDGE_SENML_DIAG_MAX];

static int dj(const char *json)
{
	diag[0] = '\0';
	return edge_senml_decode_json(json, strlen(json), &pack, diag, sizeof(diag));
}

static int dc(const uint8_t *b, size_t n)
{
	diag[0] = '\0';
	return edge_senml_decode_cbor(b, n, &pack, diag, sizeof(diag));
}

/* base fields apply to the records after them (RFC 8428 4.6) */
static void json_resolves_base_fields(void **state)
{
	(void)state;
	assert_int_equal(
	    dj("[{\"bn\":\"node-01/\",\"bt\":1763762000,\"bu\":\"beat/min\","
	       "\"n\":\"heartRate\",\"v\":72,\"t\":-5},"
	       "{\"n\":\"oxygenSaturation\",\"u\":\"%\",\"v\":97},"
	       "{\"bv\":30,\"n\":\"bodyTemperature\",\"u\":\"Cel\",\"v\":6.85,\"t\":1}]"),
	    0);
	assert_int_equal(pack.n, 3);
	assert_string_equal(pack.rec[0].name, "node-01/heartRate");
	assert_int_equal(pack.rec[0].base_len, 8);
	assert_string_equal(pack.rec[0].unit, "beat/min");
	assert_true(pack.rec[0].value == 72);
	assert_true(pack.rec[0].time == 1763761995.0);
	assert_string_equal(pack.rec[1].unit, "%");
	assert_true(pack.rec[1].time == 1763762000.0);
	assert_string_equal(pack.rec[2].name, "node-01/bodyTemperature");
	assert_true(fabs(pack.rec[2].value - 36.85) < 1e-9);
	assert_true(pack.rec[2].kind == EDGE_SENML_NUMBER);
}

static void json_refusals(void **state)
{
	static const char *const bad[] = {
	    "",
	    "{\"n\":\"heartRate\",\"v\":1}",				/* not an array */
	    "[{\"n\":\"heartRate\",\"v\":1}] x",			/* trailing bytes */
	    "[{\"n\":\"heartRate\",\"v\":1}]\0",			/* a NUL after it */
	    "[{\"n\":\"heartRate\",\"v\":1,\"v\":2}]",			/* duplicate */
	    "[{\"n\":\"heartRate\",\"v\":1,\"x_\":2}]",			/* must understand */
	    "[{\"bver\":11,\"n\":\"heartRate\",\"v\":1}]",		/* version */
	    "[{\"n\":\"heart rate\",\"v\":1}]",				/* name characters */
	    "[{\"n\":\"-x\",\"v\":1}]",					/* first character */
	    "[{\"n\":\"heartRate\",\"v\":1e999}]",			/* not finite */
	    "[{\"n\":\"heartRate\",\"v\":\"1\"}]",			/* v a string */
	    "[{\"n\":\"heartRate\",\"v\":1,\"vs\":\"a\"}]",		/* two values */
	    "[{\"n\":\"heartRate\"}]",					/* no value */
	    "[{}]",							/* empty record */
	    "[]",							/* empty pack */
	    "[1]",							/* not an object */
	    "[{\"n\":\"heartRate\",\"v\":NaN}]",			/* not JSON */
	    "[{\"bt\":1e308,\"t\":1e308,\"n\":\"heartRate\",\"v\":1}]", /* time overflows */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]) + (i == 3 ? 1 : 0);

		diag[0] = '\0';
		assert_int_equal(edge_senml_decode_json(bad[i], len, &pack, diag, sizeof(diag)),
				 -EINVAL);
		assert_true(diag[0] != '\0'); /* every refusal says why */
		assert_int_equal(pack.n, 0);
	}
}

static void json_accepts(void **state)
{
	char big[8192], *last;
	size_t o = 0;

	(void)state;
	/* an unknown extension is ignored, trailing white space is fine */
	assert_int_equal(dj(" [{\"n\":\"heartRate\",\"v\":1,\"foo\":{\"a\":[1]}}] \n"), 0);
	assert_int_equal(pack.n, 1);
	/* a record of base fields only yields nothing */
	assert_int_equal(dj("[{\"bn\":\"n1/\"},{\"n\":\"heartRate\",\"v\":1}]"), 0);
	assert_int_equal(pack.n, 1);
	assert_string_equal(pack.rec[0].name, "n1/heartRate");
	/* other value kinds decode (the mapping refuses them) */
	assert_int_equal(dj("[{\"n\":\"a\",\"vs\":\"x\"},{\"n\":\"b\",\"vb\":true},"
			    "{\"n\":\"c\",\"vd\":\"AA\"},{\"n\":\"d\",\"s\":1}]"),
			 0);
	assert_int_equal(pack.rec[0].kind, EDGE_SENML_STRING);
	assert_int_equal(pack.rec[1].kind, EDGE_SENML_BOOL);
	assert_int_equal(pack.rec[2].kind, EDGE_SENML_DATA);
	assert_int_equal(pack.rec[3].kind, EDGE_SENML_SUM);
	/* 64 records fit, 65 do not */
	o += (size_t)snprintf(big + o, sizeof(big) - o, "[");
	for (int i = 0; i < 65; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s{\"n\":\"heartRate\",\"v\":%d}",
				      i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "]");
	assert_int_equal(dj(big), -EINVAL);
	assert_non_null(strstr(diag, "64"));
	last = strrchr(big, '{'); /* drop the 65th */
	last[-1] = ']';
	last[0] = '\0';
	assert_int_equal(dj(big), 0);
	assert_int_equal(pack.n, 64);
}

/* [{-2: "node-01/", -3: 1763762000, 0: "heartRate", 1: "beat/min", 2: 72, 6: -5},
 *  {0: "bodyTemperature", 2: 36.85 (double)}] */
static const uint8_t cbor_pack[] = {
    0x82, 0xa6, 0x21, 0x68, 'n',  'o',	'd',  'e',  '-',  '0',	'1',  '/',  0x22, 0x1a, 0x69,
    0x20, 0xdf, 0x50, 0x00, 0x69, 'h',	'e',  'a',  'r',  't',	'R',  'a',  't',  'e',	0x01,
    0x68, 'b',	'e',  'a',  't',  '/',	'm',  'i',  'n',  0x02, 0x18, 0x48, 0x06, 0x24, 0xa2,
    0x00, 0x6f, 'b',  'o',  'd',  'y',	'T',  'e',  'm',  'p',	'e',  'r',  'a',  't',	'u',
    'r',  'e',	0x02, 0xfb, 0x40, 0x42, 0x6c, 0xcc, 0xcc, 0xcc, 0xcc, 0xcd};

static void cbor_resolves(void **state)
{
	(void)state;
	assert_int_equal(dc(cbor_pack, sizeof(cbor_pack)), 0);
	assert_int_equal(pack.n, 2);
	assert_string_equal(pack.rec[0].name, "node-01/heartRate");
	assert_string_equal(pack.rec[0].unit, "beat/min");
	assert_true(pack.rec[0].value == 72);
	assert_true(pack.rec[0].time == 1763761995.0);
	assert_string_equal(pack.rec[1].name, "node-01/bodyTemperature");
	assert_true(pack.rec[1].value == 36.85);
	assert_true(pack.rec[1].time == 1763762000.0);
}

/* Every prefix of a valid pack is refused, never read beyond its end (the
 * copy is exactly as long as the prefix, so ASan sees any overread). */
static void cbor_truncated(void **state)
{
	(void)state;
	for (size_t n = 0; n < sizeof(cbor_pack); n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, cbor_pack, n);
		assert_int_equal(dc(copy, n), -EINVAL);
		free(copy);
	}
}

static void cbor_floats_and_keys(void **state)
{
	/* half 1.5 (0xf93e00), single 36.5 (0xfa42120000), text keys, indefinite
	 * array and map, negative integer value */
	static const uint8_t p[] = {0x9f, 0xbf, 0x61, 'n',  0x61, 'a', 0x61, 'v',  0xf9, 0x3e,
				    0x00, 0xff, 0xa2, 0x00, 0x61, 'b', 0x02, 0xfa, 0x42, 0x12,
				    0x00, 0x00, 0xa2, 0x00, 0x61, 'c', 0x02, 0x38, 0x63, 0xff};

	(void)state;
	assert_int_equal(dc(p, sizeof(p)), 0);
	assert_int_equal(pack.n, 3);
	assert_true(pack.rec[0].value == 1.5);
	assert_true(pack.rec[1].value == 36.5);
	assert_true(pack.rec[2].value == -100);
}

static void cbor_refusals(void **state)
{
	static const struct {
		uint8_t b[16];
		size_t n;
	} bad[] = {
	    {{0xa0}, 1},							/* not an array */
	    {{0x80}, 1},							/* empty pack */
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0xf9, 0x7e, 0x00}, 9},		/* NaN */
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0xf9, 0x7c, 0x00}, 9},		/* Inf */
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0x01, 0x00}, 8},		/* trailing byte */
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0xc1, 0x01}, 8},		/* tagged value */
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x27, 0x01}, 7},			/* label -8 */
	    {{0x81, 0xa2, 0x00, 0x7f, 0x61, 'a', 0xff, 0x02, 0x01}, 9},		/* chunked string */
	    {{0x81, 0xa3, 0x00, 0x61, 'a', 0x02, 0x01, 0x02, 0x02}, 9},		/* duplicate v */
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0x1c}, 7},			/* reserved info */
	    {{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},	/* 2^64-1 records */
	    {{0x81, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 10}, /* huge map */
	    {{0x81, 0xa1, 0x00, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 12},
	    {{0x81, 0xa2, 0x00, 0x61, 'a', 0x04, 0x01}, 7},	  /* vb not a bool */
	    {{0x81, 0xa2, 0x00, 0x62, 'a', 0x00, 0x02, 0x01}, 8}, /* NUL in a name */
	    {{0xff}, 1},					  /* a lone break */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		diag[0] = '\0';
		assert_int_equal(dc(bad[i].b, bad[i].n), -EINVAL);
		assert_true(diag[0] != '\0');
	}
}

/* an extension value nested deeper than the skip allows, and one that fits */
static void cbor_nesting(void **state)
{
	uint8_t b[64];
	size_t n = 0;

	(void)state;
	b[n++] = 0x81;
	b[n++] = 0xa3;
	b[n++] = 0x00;
	b[n++] = 0x61;
	b[n++] = 'a';
	b[n++] = 0x02;
	b[n++] = 0x01;
	b[n++] = 0x18; /* label 100: unknown, skipped */
	b[n++] = 100;
	for (int i = 0; i < 40; i++)
		b[n++] = 0x81;
	b[n++] = 0x01;
	assert_int_equal(dc(b, n), -EINVAL);
	n -= 41;
	b[n++] = 0x81;
	b[n++] = 0x81;
	b[n++] = 0x01;
	assert_int_equal(dc(b, n), 0);
}

static int map(const char *json, const char *node, struct edge_senml_reading *out)
{
	assert_int_equal(dj(json), 0);
	diag[0] = '\0';
	return edge_senml_map(&pack, node, NOW, 3600, out, diag, sizeof(diag));
}

static void map_metrics(void **state)
{
	struct edge_senml_reading r[EDGE_SENML_MAX_RECORDS];

	(void)state;
	assert_int_equal(
	    map("[{\"bn\":\"node-01/\",\"n\":\"heartRate\",\"u\":\"beat/min\",\"v\":72.4},"
		"{\"n\":\"oxygenSaturation\",\"u\":\"%\",\"v\":97},"
		"{\"n\":\"bodyTemperature\",\"u\":\"Cel\",\"v\":36.85},"
		"{\"n\":\"systolic\",\"u\":\"mm[Hg]\",\"v\":121},{\"n\":\"diastolic\",\"v\":79},"
		"{\"n\":\"latitude\",\"u\":\"lat\",\"v\":48.8566123},"
		"{\"n\":\"longitude\",\"u\":\"lon\",\"v\":-2.3522}]",
		"node-01", r),
	    7);
	assert_int_equal(r[0].ch, EDGE_CH_HEART_RATE);
	assert_int_equal(r[0].value, 72);
	assert_int_equal(r[1].ch, EDGE_CH_SPO2);
	assert_int_equal(r[2].value, 36850);
	assert_int_equal(r[2].vital, EDGE_VITAL_BODY_TEMP);
	assert_int_equal(r[3].ch, EDGE_CH_SYSTOLIC);
	assert_int_equal(r[4].ch, EDGE_CH_DIASTOLIC);
	assert_int_equal(r[5].value, 488566123);
	assert_int_equal(r[6].value, -23522000);
	for (int i = 0; i < 7; i++) {
		assert_true(r[i].ts_ms == NOW);
		assert_false(r[i].absolute);
	}
}

static void map_identity(void **state)
{
	struct edge_senml_reading r[EDGE_SENML_MAX_RECORDS];

	(void)state;
	assert_int_equal(
	    map("[{\"bn\":\"urn:dev:ow:node-01:\",\"n\":\"heartRate\",\"v\":60}]", "node-01", r),
	    1);
	assert_int_equal(map("[{\"n\":\"node-01/heartRate\",\"v\":60}]", "node-01", r), 1);
	assert_int_equal(map("[{\"bn\":\"node-02/\",\"n\":\"heartRate\",\"v\":60}]", "node-01", r),
			 -EPERM);
	assert_non_null(strstr(diag, "another node"));
	assert_int_equal(map("[{\"n\":\"node-02:heartRate\",\"v\":60}]", "node-01", r), -EPERM);
	/* a later bn for another node is caught too */
	assert_int_equal(map("[{\"bn\":\"node-01/\",\"n\":\"heartRate\",\"v\":60},"
			     "{\"bn\":\"node-011/\",\"n\":\"heartRate\",\"v\":60}]",
			     "node-01", r),
			 -EPERM);
}

static void map_refusals(void **state)
{
	static const char *const bad[] = {
	    "[{\"n\":\"pulse\",\"v\":60}]",			 /* unknown metric */
	    "[{\"n\":\"heartRate\",\"u\":\"Hz\",\"v\":1}]",	 /* wrong unit */
	    "[{\"n\":\"heartRate\",\"bu\":\"Hz\",\"v\":1}]",	 /* wrong base unit */
	    "[{\"n\":\"oxygenSaturation\",\"v\":101}]",		 /* out of range */
	    "[{\"n\":\"bodyTemperature\",\"v\":-1}]",		 /* out of range */
	    "[{\"n\":\"latitude\",\"v\":91}]",			 /* out of range */
	    "[{\"n\":\"heartRate\",\"vs\":\"60\"}]",		 /* not numeric */
	    "[{\"n\":\"heartRate\",\"v\":60,\"t\":301}]",	 /* future, relative */
	    "[{\"n\":\"heartRate\",\"v\":60,\"t\":1763762301}]", /* future, absolute */
	    "[{\"n\":\"heartRate\",\"v\":60,\"t\":-3601}]",	 /* too old */
	    "[{\"n\":\"heartRate\",\"v\":60,\"t\":1763758399}]", /* too old */
	    "[{\"n\":\"heartRate\",\"v\":60,\"t\":-268435457}]", /* before 1970 */
	};
	struct edge_senml_reading r[EDGE_SENML_MAX_RECORDS];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(map(bad[i], "node-01", r), -EINVAL);
		assert_true(diag[0] != '\0');
	}
	/* the edges that pass */
	assert_int_equal(map("[{\"n\":\"heartRate\",\"v\":60,\"t\":299}]", "node-01", r), 1);
	assert_int_equal(map("[{\"n\":\"heartRate\",\"v\":60,\"t\":1763758401}]", "node-01", r), 1);
	assert_true(r[0].absolute);
	assert_true(r[0].ts_ms == 1763758401000ull);
	assert_int_equal(map("[{\"n\":\"heartRate\",\"v\":60,\"t\":-3599.5}]", "node-01", r), 1);
	assert_true(r[0].ts_ms == NOW - 3599500);
	assert_int_equal(map("[{\"n\":\"oxygenSaturation\",\"v\":100}]", "node-01", r), 1);
}

static void metric_table(void **state)
{
	size_t n;
	const struct edge_senml_metric *m = edge_senml_metrics(&n);

	(void)state;
	assert_int_equal(n, 7);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(edge_senml_metric_find(m[i].name), &m[i]);
	assert_null(edge_senml_metric_find("heart_rate"));
	assert_string_equal(edge_senml_metric_find("systolic")->unit, "mm[Hg]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(json_resolves_base_fields),
	    cmocka_unit_test(json_refusals),
	    cmocka_unit_test(json_accepts),
	    cmocka_unit_test(cbor_resolves),
	    cmocka_unit_test(cbor_truncated),
	    cmocka_unit_test(cbor_floats_and_keys),
	    cmocka_unit_test(cbor_refusals),
	    cmocka_unit_test(cbor_nesting),
	    cmocka_unit_test(map_metrics),
	    cmocka_unit_test(map_identity),
	    cmocka_unit_test(map_refusals),
	    cmocka_unit_test(metric_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
