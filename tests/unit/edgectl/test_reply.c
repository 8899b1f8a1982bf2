/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgectl's reading of the agent's answers (tools/edgectl/reply.c): exit
 * statuses, what is printed where, and answers with numbers no agent sends
 * (found by tests/fuzz/edgectl: 1e30 seconds of uptime, timestamps far
 * beyond time_t, "sensors" as an array).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"

struct capture {
	FILE *out, *err;
	char *out_text, *err_text;
	size_t out_len, err_len;
};

static void open_capture(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->out = open_memstream(&c->out_text, &c->out_len);
	c->err = open_memstream(&c->err_text, &c->err_len);
	assert_non_null(c->out);
	assert_non_null(c->err);
}

static void close_capture(struct capture *c)
{
	fclose(c->out);
	fclose(c->err);
}

static void free_capture(struct capture *c)
{
	free(c->out_text);
	free(c->err_text);
}

static int answer(struct capture *c, const char *verb, const char *line, bool json)
{
	int rc;

	open_capture(c);
	rc = edgectl_answer(verb, line, json, c->out, c->err);
	close_capture(c);
	return rc;
}

static void test_refusals(void **state)
{
	struct capture c;

	(void)state;
	assert_int_equal(
	    answer(&c, "status", "{\"ok\":false,\"error\":\"too many edgectl clients\"}", false),
	    EDGECTL_EXIT_FAILED);
	assert_string_equal(c.err_text, "edgectl: too many edgectl clients\n");
	assert_int_equal(c.out_len, 0);
	free_capture(&c);
	assert_int_equal(answer(&c, "cmd", "{\"ok\":0}", false), EDGECTL_EXIT_FAILED);
	assert_string_equal(c.err_text, "edgectl: the agent refused\n");
	free_capture(&c);
	assert_int_equal(answer(&c, "flush", "{\"ok\":true", false), EDGECTL_EXIT_FAILED);
	assert_string_equal(c.err_text, "edgectl: unreadable answer from the agent\n");
	free_capture(&c);
}

static void test_results(void **state)
{
	struct capture c;

	(void)state;
	assert_int_equal(answer(&c, "cmd",
				"{\"ok\":true,\"result\":{\"id\":\"local-1\",\"status\":\"ok\","
				"\"message\":\"pong\",\"data\":{\"pong\":true}}}",
				false),
			 0);
	assert_string_equal(c.out_text, "ok: pong\n{\n\t\"pong\":\ttrue\n}\n");
	free_capture(&c);
	assert_int_equal(
	    answer(&c, "cmd", "{\"ok\":true,\"result\":{\"status\":\"error\",\"message\":\"no\"}}",
		   true),
	    EDGECTL_EXIT_FAILED);
	assert_string_equal(c.out_text, "{\"status\":\"error\",\"message\":\"no\"}\n");
	free_capture(&c);
	assert_int_equal(answer(&c, "tail", "{\"ok\":true,\"tail\":true}", false),
			 EDGECTL_TAIL_FOLLOWS);
	free_capture(&c);
}

/* Found by fuzz_edgectl: (uint64_t)1e30 and (time_t)(1e30 / 1000) are
 * undefined; the figures are clamped at 1e12 s = 11574074 d 1 h 46 min 40 s. */
static void test_status_huge_numbers(void **state)
{
	struct capture c;

	(void)state;
	assert_int_equal(answer(&c, "status",
				"{\"ok\":true,\"connected\":true,\"status\":{\"uptimeS\":1e30,"
				"\"lastPublishMs\":1e999,\"certExpiresMs\":1e30,"
				"\"sensors\":[{\"healthy\":true,\"lastReadingMs\":-1e30}]}}",
				false),
			 0);
	assert_non_null(strstr(c.out_text, "since 11574074d 1h 46min; pid 0\n"));
	assert_non_null(strstr(c.out_text, "Last publish: 33658-09-27 01:46:40 UTC; "));
	assert_non_null(strstr(c.out_text, " Certificate: 33658-09-27 01:46:40 UTC; "));
	/* "sensors" as an array has no names */
	assert_non_null(strstr(c.out_text, " ? "));
	free_capture(&c);
}

/* The update in hand gets a line of its own; none without "ota". */
static void test_status_update_line(void **state)
{
	struct capture c;

	(void)state;
	assert_int_equal(
	    answer(&c, "status",
		   "{\"ok\":true,\"connected\":true,\"status\":{\"firmware\":\"1.4.0\","
		   "\"ota\":{\"state\":\"trial\",\"version\":\"1.4.0\",\"slot\":\"B\"}}}",
		   false),
	    0);
	assert_non_null(strstr(c.out_text, "firmware 1.4.0\n"));
	assert_non_null(strstr(c.out_text, "      Update: trial 1.4.0, booted slot B\n"));
	free_capture(&c);
	assert_int_equal(answer(&c, "status", "{\"ok\":true,\"status\":{}}", false), 0);
	assert_null(strstr(c.out_text, "Update:"));
	free_capture(&c);
}

static void test_tail_lines(void **state)
{
	struct capture c;

	(void)state;
	open_capture(&c);
	assert_int_equal(
	    edgectl_tail_line("{\"sensor\":\"pulse_oximeter\",\"metric\":\"heart_rate\","
			      "\"value\":72,\"unit\":\"bpm\",\"timestamp\":"
			      "1763464000000}",
			      false, c.out, c.err),
	    1);
	assert_int_equal(edgectl_tail_line("{\"dropped\":5}", false, c.out, c.err), 0);
	assert_int_equal(
	    edgectl_tail_line("{\"sensor\":\"s\",\"timestamp\":1e30}", false, c.out, c.err), 1);
	assert_int_equal(
	    edgectl_tail_line("{\"sensor\":\"s\",\"timestamp\":-1e300}", false, c.out, c.err), 1);
	assert_int_equal(edgectl_tail_line("not json", false, c.out, c.err), 1);
	close_capture(&c);
	assert_string_equal(c.out_text,
			    "11:06:40  pulse_oximeter heart_rate                     72 bpm\n"
			    "01:46:40  s          ?                               0 \n"
			    "22:13:20  s          ?                               0 \n"
			    "not json\n");
	assert_string_equal(c.err_text, "edgectl: 5 reading(s) dropped (output too slow)\n");
	free_capture(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_results),
	    cmocka_unit_test(test_status_huge_numbers),
	    cmocka_unit_test(test_status_update_line),
	    cmocka_unit_test(test_tail_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
