/* SPDX-License-Identifier: Apache-2.0 */
/* The dedup window: repeated ids, bounds by count and age, persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cmd_dedup.h"

#define HOUR 3600000ULL
#define T0   1800000000000ULL

static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/edge-dedup-%d.json", (int)getpid());
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void repeated_id(void **state)
{
	struct edge_dedup *d;

	(void)state;
	assert_int_equal(edge_dedup_open(path, 4, HOUR, T0, &d), 0);
	assert_null(edge_dedup_get(d, "a", T0));
	assert_int_equal(edge_dedup_put(d, "a", "{\"id\":\"a\",\"status\":\"ok\"}", T0, true), 0);
	assert_string_equal(edge_dedup_get(d, "a", T0 + 1000), "{\"id\":\"a\",\"status\":\"ok\"}");
	assert_null(edge_dedup_get(d, "b", T0));
	edge_dedup_free(d);
}

static void bounded_by_count(void **state)
{
	struct edge_dedup *d;
	char id[8];

	(void)state;
	assert_int_equal(edge_dedup_open(path, 4, HOUR, T0, &d), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(edge_dedup_put(d, id, "{}", T0 + (uint64_t)i, false), 0);
	}
	assert_int_equal(edge_dedup_count(d), 4);
	assert_null(edge_dedup_get(d, "id5", T0 + 20));
	assert_non_null(edge_dedup_get(d, "id6", T0 + 20));
	assert_non_null(edge_dedup_get(d, "id9", T0 + 20));
	edge_dedup_free(d);
}

static void bounded_by_age(void **state)
{
	struct edge_dedup *d;

	(void)state;
	assert_int_equal(edge_dedup_open(path, 100, HOUR, T0, &d), 0);
	edge_dedup_put(d, "old", "{}", T0, false);
	edge_dedup_put(d, "new", "{}", T0 + HOUR / 2, false);
	assert_non_null(edge_dedup_get(d, "old", T0 + HOUR - 1));
	assert_null(edge_dedup_get(d, "old", T0 + HOUR));
	assert_non_null(edge_dedup_get(d, "new", T0 + HOUR));
	assert_int_equal(edge_dedup_count(d), 1);
	edge_dedup_free(d);
}

static void survives_reopen(void **state)
{
	struct edge_dedup *d;
	char *big = malloc(EDGE_DEDUP_RESULT_MAX + 100);
	const char *r;

	(void)state;
	memset(big, 'x', EDGE_DEDUP_RESULT_MAX + 99);
	big[EDGE_DEDUP_RESULT_MAX + 99] = '\0';
	{
		const char *pre = "{\"id\":\"big\",\"status\":\"ok\",\"message\":\"m\",\"data\":\"";

		memcpy(big, pre, strlen(pre));
	}
	memcpy(big + EDGE_DEDUP_RESULT_MAX + 97, "\"}", 2);
	assert_int_equal(edge_dedup_open(path, 8, HOUR, T0, &d), 0);
	assert_int_equal(edge_dedup_put(d, "sync", "{\"r\":1}", T0, true), 0);
	assert_int_equal(edge_dedup_put(d, "lazy", "{\"r\":2}", T0, false), 0);
	assert_int_equal(edge_dedup_put(d, "big", big, T0, false), 0);
	edge_dedup_free(d); /* flushes */
	assert_int_equal(edge_dedup_open(path, 8, HOUR, T0 + 10, &d), 0);
	assert_string_equal(edge_dedup_get(d, "sync", T0 + 10), "{\"r\":1}");
	assert_string_equal(edge_dedup_get(d, "lazy", T0 + 10), "{\"r\":2}");
	r = edge_dedup_get(d, "big", T0 + 10);
	assert_non_null(r);
	assert_true(strlen(r) < 512);
	assert_non_null(strstr(r, "\"status\":\"ok\""));
	assert_non_null(strstr(r, "\"id\":\"big\""));
	edge_dedup_free(d);
	/* reopened after the window: nothing left */
	assert_int_equal(edge_dedup_open(path, 8, HOUR, T0 + 2 * HOUR, &d), 0);
	assert_int_equal(edge_dedup_count(d), 0);
	edge_dedup_free(d);
	free(big);
}

static void damaged_file(void **state)
{
	struct edge_dedup *d;
	FILE *f = fopen(path, "w");

	(void)state;
	fputs("[{\"id\":\"a\",\"at\":1,\"result\":", f);
	fclose(f);
	assert_int_equal(edge_dedup_open(path, 8, HOUR, T0, &d), 0);
	assert_int_equal(edge_dedup_count(d), 0);
	assert_int_equal(edge_dedup_put(d, "b", "{}", T0, true), 0);
	edge_dedup_free(d);
	assert_int_equal(edge_dedup_open(path, 8, HOUR, T0, &d), 0);
	assert_int_equal(edge_dedup_count(d), 1);
	edge_dedup_free(d);
}

/* "at" is checked before the cast: 1e30 reached (uint64_t) */
static void damaged_times(void **state)
{
	struct edge_dedup *d;
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	fputs("[{\"id\":\"big\",\"at\":1e30,\"result\":\"{}\"},"
	      "{\"id\":\"neg\",\"at\":-1,\"result\":\"{}\"},"
	      "{\"id\":\"frac\",\"at\":1800000000000.5,\"result\":\"{}\"},"
	      "{\"id\":\"text\",\"at\":\"1800000000000\",\"result\":\"{}\"},"
	      "{\"id\":\"huge\",\"at\":1.8e19,\"result\":\"{}\"},"
	      "{\"id\":\"ok\",\"at\":1800000000000,\"result\":\"{\\\"r\\\":1}\"}]",
	      f);
	fclose(f);
	assert_int_equal(edge_dedup_open(path, 8, HOUR, T0 + 10, &d), 0);
	assert_int_equal(edge_dedup_count(d), 1);
	assert_string_equal(edge_dedup_get(d, "ok", T0 + 10), "{\"r\":1}");
	assert_null(edge_dedup_get(d, "big", T0 + 10));
	edge_dedup_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(repeated_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(bounded_by_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(bounded_by_age, setup, teardown),
	    cmocka_unit_test_setup_teardown(survives_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_times, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
