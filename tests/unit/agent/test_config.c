/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "edge/cfgtab.h"

#define BASE                                                                                       \
	"\"device_id\":\"dev-1\",\"state_dir\":\"/tmp/x\","                                        \
	"\"mqtt\":{\"tls\":{\"ca_file\":\"ca\",\"cert_file\":\"c\",\"key_file\":\"k\"}"

static int parse(const char *json, struct edge_config *cfg, char *err)
{
	return edge_config_parse(json, strlen(json), "test.json", cfg, err, 512);
}

static void expect_error(const char *json, const char *fragment)
{
	struct edge_config cfg;
	char err[512] = "";

	assert_int_not_equal(parse(json, &cfg, err), 0);
	if (!strstr(err, fragment))
		fail_msg("error \"%s\" does not mention \"%s\"", err, fragment);
	assert_non_null(strstr(err, "test.json"));
}

static void minimal_ok_with_defaults(void **state)
{
	struct edge_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse("{" BASE "}}", &cfg, err), 0);
	assert_string_equal(cfg.device_id, "dev-1");
	assert_string_equal(cfg.board, "sim");
	assert_int_equal(cfg.mqtt.port, 8883);
	assert_int_equal(cfg.mqtt.protocol, EDGE_MQTT_V5);
	assert_int_equal(cfg.mqtt.keepalive_s, 30);
	assert_false(cfg.mqtt.clean_start);
	assert_int_equal(cfg.mqtt.session_expiry_s, 3600);
	assert_string_equal(cfg.mqtt.client_id, "dev-1");
	assert_int_equal(cfg.store.max_rows, 1000000);
	assert_int_equal(cfg.store.max_bytes, 268435456);
	assert_string_equal(cfg.topics.device_data, "health/device_data");
	assert_string_equal(cfg.mqtt.tls.version, "tlsv1.2");
	assert_true(cfg.record.sensor_topics);
	assert_false(cfg.record.static_location);
}

static void values_are_read(void **state)
{
	struct edge_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse("{" BASE ",\"port\":1883,\"protocol\":\"v311\","
			       "\"session_expiry_s\":4294967295,"
			       "\"backoff\":{\"base_ms\":50,\"cap_ms\":500}},"
			       "\"store\":{\"max_rows\":500,\"synchronous\":\"full\"},"
			       "\"record\":{\"location\":{\"latitude\":1.5,\"longitude\":-2.25}},"
			       "\"log_level\":\"debug\"}",
			       &cfg, err),
			 0);
	assert_int_equal(cfg.mqtt.port, 1883);
	assert_int_equal(cfg.mqtt.protocol, EDGE_MQTT_V311);
	assert_int_equal(cfg.mqtt.backoff.base_ms, 50);
	assert_true(cfg.mqtt.session_expiry_s == UINT32_MAX);
	assert_int_equal(cfg.store.max_rows, 500);
	assert_int_equal(cfg.store.synchronous, EDGE_SYNC_FULL);
	assert_true(cfg.record.static_location);
	assert_true(cfg.record.latitude == 1.5 && cfg.record.longitude == -2.25);
	assert_int_equal(cfg.log_level, 7);
}

static void errors_name_key_and_problem(void **state)
{
	(void)state;
	expect_error("{" BASE ",\"prot\":1}}", "mqtt.prot: unknown key");
	expect_error("{" BASE ",\"port\":\"8883\"}}", "mqtt.port: expected a number, got a string");
	expect_error("{" BASE ",\"port\":70000}}", "mqtt.port: 70000 is out of range");
	expect_error("{" BASE ",\"port\":1.5}}", "mqtt.port: expected a whole number");
	expect_error("{" BASE ",\"session_expiry_s\":4294967296}}",
		     "mqtt.session_expiry_s: 4294967296 is out of range [0, 4294967295]");
	expect_error("{" BASE ",\"session_expiry_s\":-1}}",
		     "mqtt.session_expiry_s: -1 is out of range");
	expect_error("{" BASE ",\"protocol\":\"v4\"}}",
		     "mqtt.protocol: \"v4\" is not one of v5, v311");
	expect_error("{" BASE "},\"store\":{\"max_rows\":-1}}",
		     "store.max_rows: -1 is out of range");
	expect_error("{" BASE "},\"store\":[]}", "store: expected an object, got an array");
	expect_error("{\"state_dir\":\"/tmp\",\"mqtt\":{\"tls\":{\"ca_file\":\"a\"}}}",
		     "device_id: required");
	expect_error("{" BASE "},\"device_id\":\"a/b\"}", "device_id: \"a/b\" may hold only");
	expect_error("{" BASE "},\"state_dir\":\"rel\"}", "state_dir: must be an absolute path");
	expect_error("{\"device_id\":\"d\",\"state_dir\":\"/x\"}", "mqtt.tls.ca_file: required");
	expect_error("{" BASE ",\"backoff\":{\"base_ms\":500,\"cap_ms\":100}}}",
		     "mqtt.backoff.cap_ms: 100 is below base_ms 500");
	expect_error("{" BASE "},\"topics\":{\"sensor\":\"a/#\"}}", "topics.sensor");
	expect_error("{" BASE "},\"record\":{\"location\":{\"latitude\":1}}}",
		     "record.location: needs latitude and longitude");
	expect_error("{" BASE "},\"provisioning\":{\"url\":\"http://x\"}}",
		     "provisioning.url: must start with https://");
	expect_error("{" BASE "}", "line 1: not valid JSON");
	expect_error("[1]", "top level must be an object");
	expect_error("{" BASE "},\"log_level\":true}",
		     "log_level: expected a string, got a boolean");
}

/* Numbers that used to reach a cast unchecked, alerts and sensors through
 * their record tables. */
static void records_and_numbers(void **state)
{
	struct edge_config cfg;
	char err[512] = "";

	(void)state;
	expect_error("{" BASE ",\"port\":1e30}}",
		     "test.json: mqtt.port: 1e+30 is out of range [1, 65535]");
	expect_error("{" BASE "},\"store\":{\"max_bytes\":1e300}}",
		     "store.max_bytes: 1e+300 is out of range [65536, 1000000000000000]");
	expect_error("{" BASE "},\"record\":{\"location\":{\"latitude\":1e400,"
		     "\"longitude\":0}}}",
		     "record.location.latitude: expected a finite number, got inf");
	expect_error("{" BASE "},\"sensors\":{\"vitals\":{\"interval_ms\":1e30}}}",
		     "sensors.vitals.interval_ms: 1e+30 is out of range [10, 86400000]");
	expect_error("{" BASE "},\"sensors\":{\"vitals\":{\"rate\":5}}}",
		     "sensors.vitals.rate: unknown key");
	expect_error("{" BASE "},\"sensors\":{\"a/b\":{}}}", "sensors.a/b: not a name");
	expect_error("{" BASE "},\"alerts\":[{\"name\":\"a\",\"metric\":\"spo2\","
		     "\"comparison\":\"<\",\"threshold\":90,\"for_s\":1e30}]}",
		     "alerts[0].for_s: 1e+30 is out of range [0, 86400]");
	expect_error("{" BASE "},\"alerts\":[{\"name\":\"a\",\"metric\":\"spo2\","
		     "\"comparison\":\"<\"}]}",
		     "alerts[0].threshold: missing");
	expect_error("{" BASE "},\"alerts\":[{\"name\":\"a\",\"metric\":\"mood\","
		     "\"comparison\":\"<\",\"threshold\":1}]}",
		     "alerts[0].metric: \"mood\" is not a channel name");
	expect_error("{" BASE "},\"alerts\":[{\"name\":\"a\",\"metric\":\"spo2\","
		     "\"comparison\":\"<\",\"threshold\":1},{\"name\":\"a\",\"metric\":"
		     "\"spo2\",\"comparison\":\">\",\"threshold\":1}]}",
		     "alerts[1].name: \"a\" twice");
	assert_int_equal(parse("{" BASE "},\"sensors\":{\"vitals\":{\"interval_ms\":200}},"
			       "\"alerts\":[{\"name\":\"lo\",\"metric\":\"spo2\","
			       "\"comparison\":\"<=\",\"threshold\":88.5}]}",
			       &cfg, err),
			 0);
	assert_int_equal(cfg.n_sensors, 1);
	assert_string_equal(cfg.sensors[0].name, "vitals");
	assert_int_equal(cfg.sensors[0].interval_ms, 200);
	assert_int_equal(cfg.sensors[0].freshness_ms, 0); /* the board's */
	assert_int_equal(cfg.n_alerts, 1);
	assert_int_equal(cfg.alerts[0].cmp, EDGE_CMP_LE);
	assert_true(cfg.alerts[0].threshold == 88.5);
	assert_string_equal(cfg.alerts[0].severity, "warning");
	assert_string_equal(edge_alert_cmp_str(cfg.alerts[0].cmp), "<=");
	assert_null(edge_alert_cmp_str(4));
}

static int apply(struct edge_config *cfg, const char *json, char *err)
{
	return edge_config_apply_json(cfg, json, strlen(json), "set", err, 512);
}

/* config.set and the overlay: run-time keys only; sensors merge by name,
 * alerts replace. */
static void run_time_changes(void **state)
{
	struct edge_config cfg;
	char err[512] = "";
	const char *ok = "{\"log_level\":\"debug\",\"record\":{\"interval_ms\":500},"
			 "\"status\":{\"interval_s\":5},\"sensors\":{\"a\":{\"interval_ms\":100}}}";
	const char *more = "{\"sensors\":{\"a\":{\"freshness_ms\":900},\"b\":{}},"
			   "\"alerts\":[]}";

	(void)state;
	assert_int_equal(parse("{" BASE "},\"alerts\":[{\"name\":\"x\",\"metric\":\"spo2\","
			       "\"comparison\":\"<\",\"threshold\":1}]}",
			       &cfg, err),
			 0);
	assert_int_equal(apply(&cfg, ok, err), 0);
	assert_int_equal(cfg.log_level, 7);
	assert_int_equal(cfg.record.interval_ms, 500);
	assert_int_equal(cfg.status.interval_s, 5);
	assert_int_equal(apply(&cfg, more, err), 0);
	assert_int_equal(cfg.n_sensors, 2);
	assert_int_equal(cfg.sensors[0].interval_ms, 100); /* kept: maps merge */
	assert_int_equal(cfg.sensors[0].freshness_ms, 900);
	assert_int_equal(cfg.n_alerts, 0); /* replaced */
	assert_int_not_equal(apply(&cfg, "{\"mqtt\":{\"host\":\"x\"}}", err), 0);
	assert_string_equal(err, "set: mqtt.host: cannot be changed at run time");
	assert_int_not_equal(apply(&cfg, "{\"provisioning\":{}}", err), 0);
	assert_string_equal(err, "set: provisioning: cannot be changed at run time");
	assert_int_not_equal(apply(&cfg, "{\"nope\":1}", err), 0);
	assert_string_equal(err, "set: nope: unknown key");
	assert_int_not_equal(apply(&cfg, "{\"record\":{\"interval_ms\":1}}", err), 0);
	assert_string_equal(err, "set: record.interval_ms: 1 is out of range [50, 3600000]");
}

/* Every key of DESIGN 5.5 and docs/ is in the reference; the table is
 * consistent (defaults within bounds, sizes match types). */
static void reference_and_table(void **state)
{
	static const char *const must[] = {"device_id",
					   "board",
					   "state_dir",
					   "mqtt.host",
					   "mqtt.port",
					   "mqtt.protocol",
					   "mqtt.keepalive_s",
					   "mqtt.tls.ca_file",
					   "mqtt.tls.cert_file",
					   "mqtt.tls.key_file",
					   "mqtt.username",
					   "mqtt.password_file",
					   "store.max_rows",
					   "store.max_bytes",
					   "provisioning.url",
					   "provisioning.ca_file",
					   "provisioning.claim_token_file",
					   "provisioning.csr_file",
					   "provisioning.realtime_platform",
					   "provisioning.model",
					   "provisioning.renew_before_days",
					   "alerts[].comparison",
					   "alerts[].for_s",
					   "sensors.<name>.interval_ms",
					   "sensors.<name>.freshness_ms",
					   NULL};
	char err[256], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_int_equal(edge_cfg_check_table(edge_config_table(), err, sizeof(err)), 0);
	assert_non_null(f);
	edge_config_print_reference(f);
	fclose(f);
	for (size_t i = 0; must[i]; i++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  %s ", must[i]);
		if (!strstr(text, line))
			fail_msg("%s is not in the reference", must[i]);
	}
	assert_non_null(
	    strstr(text, "mqtt.port                      integer [1..65535] default \"8883\""));
	free(text);
}

static void provisioning_defaults_paths(void **state)
{
	struct edge_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse("{\"device_id\":\"d\",\"state_dir\":\"/var/lib/e\","
			       "\"provisioning\":{\"url\":\"https://p\",\"ca_file\":\"/ca\","
			       "\"claim_token_file\":\"/t\"}}",
			       &cfg, err),
			 0);
	assert_true(cfg.provisioning.enabled);
	assert_string_equal(cfg.mqtt.tls.cert_file, "/var/lib/e/device.crt");
	assert_string_equal(cfg.mqtt.tls.key_file, "/var/lib/e/device.key");
	assert_string_equal(cfg.mqtt.tls.ca_file, "/var/lib/e/ca.crt");
}

static void topic_templates(void **state)
{
	char t[64];

	(void)state;
	assert_int_equal(edge_topic_format(t, sizeof(t), "sensors/{device_id}/{metric}", "d1",
					   "spo2", NULL, NULL),
			 (int)strlen("sensors/d1/spo2"));
	assert_string_equal(t, "sensors/d1/spo2");
	edge_topic_format(t, sizeof(t), "alerts/{severity}", "d1", NULL, "critical", NULL);
	assert_string_equal(t, "alerts/critical");
	assert_true(
	    edge_topic_format(t, 8, "sensors/{device_id}", "long-device", NULL, NULL, NULL) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(minimal_ok_with_defaults),
	    cmocka_unit_test(values_are_read),
	    cmocka_unit_test(errors_name_key_and_problem),
	    cmocka_unit_test(records_and_numbers),
	    cmocka_unit_test(run_time_changes),
	    cmocka_unit_test(reference_and_table),
	    cmocka_unit_test(provisioning_defaults_paths),
	    cmocka_unit_test(topic_templates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
