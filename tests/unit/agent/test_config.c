/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/config.h"

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
	    cmocka_unit_test(provisioning_defaults_paths),
	    cmocka_unit_test(topic_templates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
