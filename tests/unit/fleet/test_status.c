/* SPDX-License-Identifier: Apache-2.0 */
/* Status and alert parsing: the contract's example, missing and unknown
 * fields, wrong types, hostile strings, topic templates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet/buf.h"
#include "fleet/status.h"
#include "fleet/topic.h"

#define HAS(st, f) (((st)->present >> (f)) & 1u)

static const char example[] =
    "{\"state\":\"online\",\"deviceId\":\"sim-0001\",\"board\":\"sim\",\"version\":\"0.1.0\","
    "\"firmware\":\"0.1.0\",\"boot\":\"6f1c\",\"timestamp\":1763762000000,\"uptimeS\":123,"
    "\"backlog\":10,\"dropped\":0,\"reconnects\":1,\"lastPublishMs\":1763761999000,"
    "\"lastError\":\"\",\"sensors\":{\"vitals\":{\"healthy\":true,\"errors\":0,"
    "\"lastReadingMs\":1763761999500}},\"alerts\":{\"active\":0,\"total\":3},"
    "\"certExpiresMs\":1795298000000,\"memory\":{\"rssKb\":2100,\"pssKb\":1800},"
    "\"recordsIncomplete\":0,\"ingress\":{\"nodes\":3,\"nodesActive\":2,\"sessions\":2,"
    "\"accepted\":10,\"refused\":1,\"rateLimited\":4}}";

static int parse(const char *json, struct edge_fleet_status *st)
{
	return edge_fleet_status_parse(json, strlen(json), st);
}

static void test_contract_example(void **state)
{
	static struct edge_fleet_status st;

	(void)state;
	assert_int_equal(parse(example, &st), 0);
	assert_int_equal(st.state, EDGE_FLEET_STATE_ONLINE);
	assert_string_equal(st.device_id, "sim-0001");
	assert_string_equal(st.board, "sim");
	assert_string_equal(st.firmware, "0.1.0");
	assert_string_equal(st.boot, "6f1c");
	assert_int_equal(st.present, (1u << EDGE_FLEET_F_COUNT) - 1);
	assert_int_equal(st.num[EDGE_FLEET_F_TIMESTAMP_MS], 1763762000000LL);
	assert_int_equal(st.num[EDGE_FLEET_F_BACKLOG], 10);
	assert_int_equal(st.num[EDGE_FLEET_F_ALERTS_TOTAL], 3);
	assert_int_equal(st.num[EDGE_FLEET_F_CERT_EXPIRES_MS], 1795298000000LL);
	assert_int_equal(st.num[EDGE_FLEET_F_INGRESS_ACTIVE], 2);
	assert_int_equal(st.num[EDGE_FLEET_F_INGRESS_RATE_LIMITED], 4);
	assert_int_equal(st.num[EDGE_FLEET_F_RSS_KB], 2100);
	assert_int_equal(st.num[EDGE_FLEET_F_PSS_KB], 1800);
	assert_int_equal(st.n_sensors, 1);
	assert_string_equal(st.sensors[0].name, "vitals");
	assert_int_equal(st.sensors[0].healthy, 1);
	assert_true(st.sensors[0].has_errors);
	assert_int_equal(st.sensors[0].last_reading_ms, 1763761999500LL);
	assert_int_equal(st.skipped, 0);
}

static void test_last_will(void **state)
{
	static struct edge_fleet_status st;

	(void)state;
	assert_int_equal(
	    parse("{\"state\":\"offline\",\"deviceId\":\"sim-0001\",\"boot\":\"6f1c\"}", &st), 0);
	assert_int_equal(st.state, EDGE_FLEET_STATE_OFFLINE);
	assert_int_equal(st.present, 0);
	assert_int_equal(st.n_sensors, 0);
	assert_string_equal(st.firmware, "");
	assert_int_equal(parse("{\"state\":\"offline\"}", &st), 0);
	assert_int_equal(st.state, EDGE_FLEET_STATE_OFFLINE);
	assert_string_equal(st.device_id, "");
}

static void test_not_an_object(void **state)
{
	static struct edge_fleet_status st;
	static const char *bad[] = {"",		  "null",	 "[]",
				    "\"online\"", "42",		 "{",
				    "{\"a\":1",	  "{} trailing", "{\"state\":\"online\"}}",
				    "\xff"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &st), -EINVAL);
}

static void test_too_big(void **state)
{
	static struct edge_fleet_status st;
	static char big[EDGE_FLEET_PAYLOAD_MAX + 2];

	(void)state;
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	assert_int_equal(edge_fleet_status_parse(big, sizeof(big) - 1, &st), -EMSGSIZE);
}

static void test_wrong_types_are_skipped(void **state)
{
	static struct edge_fleet_status st;

	(void)state;
	assert_int_equal(
	    parse("{\"state\":7,\"backlog\":\"10\",\"dropped\":-1,\"reconnects\":1e300,"
		  "\"uptimeS\":12.9,\"firmware\":[],\"board\":null,\"memory\":\"x\","
		  "\"alerts\":{\"active\":true,\"total\":2},\"sensors\":[1,2],"
		  "\"timestamp\":NaN}",
		  &st),
	    -EINVAL); /* NaN is not JSON */
	assert_int_equal(
	    parse("{\"state\":7,\"backlog\":\"10\",\"dropped\":-1,\"reconnects\":1e300,"
		  "\"uptimeS\":12.9,\"firmware\":[],\"board\":null,\"memory\":\"x\","
		  "\"alerts\":{\"active\":true,\"total\":2},\"sensors\":[1,2],"
		  "\"unknown\":{\"deep\":[1,{\"x\":2}]}}",
		  &st),
	    0);
	assert_int_equal(st.state, EDGE_FLEET_STATE_UNKNOWN);
	assert_false(HAS(&st, EDGE_FLEET_F_BACKLOG));
	assert_false(HAS(&st, EDGE_FLEET_F_DROPPED));
	assert_false(HAS(&st, EDGE_FLEET_F_RECONNECTS));
	assert_true(HAS(&st, EDGE_FLEET_F_UPTIME_S));
	assert_int_equal(st.num[EDGE_FLEET_F_UPTIME_S], 12);
	assert_false(HAS(&st, EDGE_FLEET_F_ALERTS_ACTIVE));
	assert_true(HAS(&st, EDGE_FLEET_F_ALERTS_TOTAL));
	assert_string_equal(st.firmware, "");
	assert_int_equal(st.n_sensors, 0);
	/* state, backlog, dropped, reconnects, firmware, memory, alerts.active,
	 * sensors (board is null: not known, not wrong) */
	assert_int_equal(st.skipped, 8);
}

static void test_null_is_not_known(void **state)
{
	static struct edge_fleet_status st;

	(void)state;
	assert_int_equal(parse("{\"state\":\"online\",\"certExpiresMs\":null,\"firmware\":null,"
			       "\"alerts\":null,\"sensors\":{\"a\":{\"healthy\":null,"
			       "\"errors\":null}}}",
			       &st),
			 0);
	assert_int_equal(st.present, 0);
	assert_string_equal(st.firmware, "");
	assert_int_equal(st.n_sensors, 1);
	assert_int_equal(st.sensors[0].healthy, -1);
	assert_false(st.sensors[0].has_errors);
	assert_int_equal(st.skipped, 0);
}

static void test_strings_are_checked(void **state)
{
	static struct edge_fleet_status st;
	char json[512];

	(void)state;
	/* invalid UTF-8, a control character, too long, an escaped NUL */
	assert_int_equal(parse("{\"state\":\"online\",\"firmware\":\"\xc3\x28\","
			       "\"board\":\"a\\nb\",\"version\":\"\\u0000x\"}",
			       &st),
			 0);
	assert_string_equal(st.firmware, "");
	assert_string_equal(st.board, "");
	assert_string_equal(st.version, "");
	assert_int_equal(st.skipped, 2); /* the NUL just ends the string early */
	snprintf(json, sizeof(json), "{\"firmware\":\"%065d\"}", 0);
	assert_int_equal(parse(json, &st), 0);
	assert_string_equal(st.firmware, "");
	assert_int_equal(st.skipped, 1);
	snprintf(json, sizeof(json), "{\"firmware\":\"%064d\"}", 0);
	assert_int_equal(parse(json, &st), 0);
	assert_int_equal(strlen(st.firmware), 64);
	/* UTF-8 that is fine, quotes and backslashes that need escaping later */
	assert_int_equal(parse("{\"firmware\":\"v1 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
			       "\"board\":\"a\\\"b\\\\c\"}",
			       &st),
			 0);
	assert_string_equal(st.firmware, "v1 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_string_equal(st.board, "a\"b\\c");
}

static void test_text_ok(void **state)
{
	(void)state;
	assert_true(edge_fleet_text_ok("abc", 3));
	assert_true(edge_fleet_text_ok("", 0));
	assert_false(edge_fleet_text_ok("a\tb", 3));
	assert_false(edge_fleet_text_ok("\x7f", 1));
	assert_false(edge_fleet_text_ok("\xc0\xaf", 2));	 /* overlong */
	assert_false(edge_fleet_text_ok("\xed\xa0\x80", 3));	 /* surrogate */
	assert_false(edge_fleet_text_ok("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(edge_fleet_text_ok("\xe2\x82", 2));	 /* truncated */
	assert_true(edge_fleet_text_ok("\xf4\x8f\xbf\xbf", 4));
}

static void test_sensors(void **state)
{
	static struct edge_fleet_status st;
	static char json[8192];
	size_t n;

	(void)state;
	assert_int_equal(
	    parse("{\"sensors\":{\"a\":{\"healthy\":false,\"errors\":-2,\"enabled\":false},"
		  "\"b\":{},\"a\":{\"healthy\":true},\"\":{\"healthy\":true},"
		  "\"c\":7,\"d\\\"e\":{\"healthy\":\"yes\",\"lastReadingMs\":5}}}",
		  &st),
	    0);
	assert_int_equal(st.n_sensors, 3);
	assert_string_equal(st.sensors[0].name, "a");
	assert_int_equal(st.sensors[0].healthy, 0);
	assert_false(st.sensors[0].has_errors);
	assert_string_equal(st.sensors[1].name, "b");
	assert_int_equal(st.sensors[1].healthy, -1);
	assert_int_equal(st.sensors[1].enabled, -1);
	assert_int_equal(st.sensors[0].enabled, 0);
	assert_string_equal(st.sensors[2].name, "d\"e");
	assert_int_equal(st.sensors[2].healthy, -1);
	assert_true(st.sensors[2].has_last_reading);

	n = (size_t)snprintf(json, sizeof(json), "{\"sensors\":{");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"s%d\":{\"healthy\":true}",
				      i ? "," : "", i);
	snprintf(json + n, sizeof(json) - n, "}}");
	assert_int_equal(parse(json, &st), 0);
	assert_int_equal(st.n_sensors, EDGE_FLEET_MAX_SENSORS);
	assert_int_equal(st.skipped, 40 - EDGE_FLEET_MAX_SENSORS);
}

static int alert(const char *json, struct edge_fleet_alert *a)
{
	return edge_fleet_alert_parse(json, strlen(json), a);
}

static void test_alert(void **state)
{
	struct edge_fleet_alert a;
	const char *ok = "{\"deviceId\":\"sim-0001\",\"rule\":\"hr\",\"metric\":\"heartRate\","
			 "\"value\":150,\"severity\":\"critical\",\"state\":\"resolved\","
			 "\"timestamp\":1}";

	(void)state;
	assert_int_equal(edge_fleet_alert_parse(ok, strlen(ok), &a), 0);
	assert_string_equal(a.device_id, "sim-0001");
	assert_string_equal(a.severity, "critical");
	assert_true(a.resolved);
	assert_int_equal(alert("{\"deviceId\":\"d\"}", &a), 0);
	assert_false(a.resolved);
	assert_int_equal(alert("{\"severity\":\"x\"}", &a), -EINVAL);
	assert_int_equal(alert("{\"deviceId\":\"\"}", &a), -EINVAL);
	assert_int_equal(alert("{\"deviceId\":3}", &a), -EINVAL);
	assert_int_equal(alert("[]", &a), -EINVAL);
}

static void test_topics(void **state)
{
	char cap[16];
	char *f;

	(void)state;
	f = edge_fleet_topic_filter("devices/{device_id}/status");
	assert_string_equal(f, "devices/+/status");
	free(f);
	f = edge_fleet_topic_filter("{severity}");
	assert_string_equal(f, "+");
	free(f);
	f = edge_fleet_topic_filter("site/a/{x}/{y}");
	assert_string_equal(f, "site/a/+/+");
	free(f);
	assert_true(edge_fleet_topic_match("devices/{device_id}/status", "devices/sim-1/status",
					   cap, sizeof(cap)));
	assert_string_equal(cap, "sim-1");
	assert_false(edge_fleet_topic_match("devices/{device_id}/status", "devices//status", cap,
					    sizeof(cap)));
	assert_false(edge_fleet_topic_match("devices/{device_id}/status", "devices/a/status/x", cap,
					    sizeof(cap)));
	assert_false(
	    edge_fleet_topic_match("devices/{device_id}/status", "devices/a", cap, sizeof(cap)));
	assert_false(edge_fleet_topic_match("devices/{device_id}/status", "devices/a/statu", cap,
					    sizeof(cap)));
	assert_false(edge_fleet_topic_match("devices/{device_id}/status",
					    "devices/0123456789abcdef/status", cap, sizeof(cap)));
	assert_true(
	    edge_fleet_topic_match("alerts/{severity}", "alerts/critical", cap, sizeof(cap)));
	assert_string_equal(cap, "critical");
	assert_false(
	    edge_fleet_topic_match("alerts/{severity}", "alerts/critical/x", cap, sizeof(cap)));
}

static void test_buf_numbers_and_escaping(void **state)
{
	struct edge_fleet_buf b = {0};

	(void)state;
	edge_fleet_buf_put_i64(&b, 0);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_i64(&b, -42);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_i64(&b, INT64_MIN);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_ms_as_s(&b, 1763762000000);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_ms_as_s(&b, 1763762000500);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_ms_as_s(&b, 1763762000007);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_ms_as_s(&b, -1500);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_double(&b, 0.25);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_double(&b, 1.0 / 0.0);
	edge_fleet_buf_putc(&b, ' ');
	edge_fleet_buf_put_label_value(&b, "a\"b\\c\nd");
	assert_false(b.oom);
	assert_string_equal(b.data, "0 -42 -9223372036854775808 1763762000 1763762000.5 "
				    "1763762000.007 -1.5 0.25 +Inf a\\\"b\\\\c\\nd");
	edge_fleet_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_contract_example),
	    cmocka_unit_test(test_last_will),
	    cmocka_unit_test(test_not_an_object),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_wrong_types_are_skipped),
	    cmocka_unit_test(test_null_is_not_known),
	    cmocka_unit_test(test_strings_are_checked),
	    cmocka_unit_test(test_text_ok),
	    cmocka_unit_test(test_sensors),
	    cmocka_unit_test(test_alert),
	    cmocka_unit_test(test_topics),
	    cmocka_unit_test(test_buf_numbers_and_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
