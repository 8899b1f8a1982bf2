/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: defaults, file, flags overriding the file, clear errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edge/cfgtab.h"
#include "fleet/config.h"

static char errbuf[1024];

static int load(struct edge_fleet_config *c, int argc, char **argv)
{
	FILE *out = fopen("/dev/null", "w");
	FILE *err = fmemopen(errbuf, sizeof(errbuf), "w");
	int rc;

	memset(errbuf, 0, sizeof(errbuf));
	rc = edge_fleet_config_load(c, argc, argv, out, err);
	fclose(out);
	fclose(err);
	return rc;
}

static char *write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", FLEET_TEST_TMP, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_defaults(void **state)
{
	struct edge_fleet_config c;
	char *argv[] = {"x", NULL};

	(void)state;
	assert_int_equal(load(&c, 1, argv), 0);
	assert_string_equal(c.mqtt_host, "127.0.0.1");
	assert_int_equal(c.mqtt_port, 8883);
	assert_string_equal(c.status_topic, "devices/{device_id}/status");
	assert_int_equal(c.listen_port, 9810);
	assert_int_equal(c.stale_after_s, 0);
	edge_fleet_config_free(&c);
}

static void test_file_then_flags(void **state)
{
	struct edge_fleet_config c;
	char *p = write_file("ok.json",
			     "{\"mqtt\":{\"host\":\"broker\",\"port\":1883,\"tls\":{\"ca_file\":"
			     "\"ca.crt\",\"cert_file\":\"c.crt\",\"key_file\":\"c.key\"}},"
			     "\"listen\":{\"port\":9999},\"stale_after_s\":120}");
	char *argv[] = {"x", "--config", p, "--listen-port=9100", "--mqtt-host", "b2", NULL};

	(void)state;
	assert_int_equal(load(&c, 6, argv), 0);
	assert_string_equal(c.mqtt_host, "b2");
	assert_int_equal(c.mqtt_port, 1883);
	assert_string_equal(c.tls_key_file, "c.key");
	assert_int_equal(c.listen_port, 9100);
	assert_int_equal(c.stale_after_s, 120);
	edge_fleet_config_free(&c);
}

static void expect_error(const char *json, const char *msg)
{
	struct edge_fleet_config c;
	char *p = write_file("bad.json", json);
	char *argv[] = {"x", "--config", p, NULL};

	assert_int_equal(load(&c, 3, argv), -EINVAL);
	if (!strstr(errbuf, msg) || !strstr(errbuf, "bad.json"))
		fail_msg("error \"%s\" does not say \"%s\" and name the file", errbuf, msg);
	edge_fleet_config_free(&c);
}

static void test_errors_name_file_and_key(void **state)
{
	(void)state;
	expect_error("{\"mqtt\":{\"prot\":1}}", "mqtt.prot: unknown key");
	expect_error("{\"mqtt\":{\"port\":\"1883\"}}", "mqtt.port: must be an integer");
	expect_error("{\"mqtt\":{\"port\":70000}}", "mqtt.port: \"70000\" is not an integer");
	expect_error("{\"mqtt\":{\"port\":1.5}}", "mqtt.port: must be an integer");
	expect_error("{\"mqtt\":3}", "mqtt: must be an object");
	expect_error("{\"mqtt\":{\"protocol\":\"v4\"}}", "mqtt.protocol");
	expect_error("{\"mqtt\":{\"status_topic\":\"devices/+/status\"}}", "mqtt.status_topic");
	expect_error("{\"mqtt\":{\"tls\":{\"cert_file\":\"a\"}}}", "mqtt.tls");
	expect_error("{\"log_level\":\"loud\"}", "log_level");
	expect_error("{\"listen\":{\"address\":\"localhost\"}}", "listen.address");
	expect_error("{\"listen\":{\"address\":\"::1::2\"}}", "listen.address");
	/* numbers are checked before any cast: 1e30 once reached (int64_t) */
	expect_error("{\"mqtt\":{\"port\":1e30}}",
		     "bad.json: mqtt.port: \"1e+30\" is not an integer in [1, 65535]");
	expect_error("{\"mqtt\":{\"port\":-1e30}}", "mqtt.port: \"-1e+30\" is not an integer");
	expect_error("{\"max_devices\":1e300}", "max_devices: \"1e+300\" is not an integer");
	expect_error("{\"listen\":{\"port\":-1}}", "listen.port: \"-1\" is not an integer");
	expect_error("{\"mqtt\":{\"host\":5}}", "bad.json: mqtt.host: must be a string");
	expect_error("{\"mqtt\":{\"protocol\":\"v4\"}}",
		     "bad.json: mqtt.protocol: \"v4\" is not one of v5, v311");
	expect_error("[1]", "not a JSON object");
	expect_error("{\"a\":", "not a JSON object");
}

static void test_help_config(void **state)
{
	struct edge_fleet_config c;
	char *argv[] = {"x", "--help-config", NULL};
	char *text = NULL, msg[256];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	FILE *err = fopen("/dev/null", "w");

	(void)state;
	assert_int_equal(edge_cfg_check_table(edge_fleet_config_table(), msg, sizeof(msg)), 0);
	assert_int_equal(edge_fleet_config_load(&c, 2, argv, out, err), 1);
	fclose(out);
	fclose(err);
	edge_fleet_config_free(&c);
	assert_non_null(strstr(text, "  mqtt.port                      integer [1..65535] default "
				     "\"8883\" (--mqtt-port)\n"));
	assert_non_null(strstr(text,
			       "  log_level                      enum {error, warning, notice, "
			       "info, debug} default \"info\" (--log-level)\n"));
	assert_non_null(strstr(text, "  mqtt.tls.ca_file "));
	assert_non_null(strstr(text, "  stale_after_s "));
	free(text);
}

static void test_flag_errors(void **state)
{
	struct edge_fleet_config c;
	char *a1[] = {"x", "--nope", NULL};
	char *a2[] = {"x", "--mqtt-port", "abc", NULL};
	char *a3[] = {"x", "--listen-port", NULL};
	char *a4[] = {"x", "--help", NULL};
	char *a5[] = {"x", "--config", "/nonexistent/x.json", NULL};
	char *a6[] = {"x", "--mqtt-port", "70000", NULL};
	char *a7[] = {"x", "--log-level", "loud", NULL};

	(void)state;
	assert_int_equal(load(&c, 2, a1), -EINVAL);
	assert_non_null(strstr(errbuf, "--nope"));
	edge_fleet_config_free(&c);
	assert_int_equal(load(&c, 3, a2), -EINVAL);
	assert_non_null(strstr(errbuf, "mqtt.port"));
	edge_fleet_config_free(&c);
	assert_int_equal(load(&c, 2, a3), -EINVAL);
	assert_non_null(strstr(errbuf, "needs a value"));
	edge_fleet_config_free(&c);
	assert_int_equal(load(&c, 2, a4), 1);
	edge_fleet_config_free(&c);
	assert_int_equal(load(&c, 3, a5), -ENOENT);
	assert_non_null(strstr(errbuf, "/nonexistent/x.json"));
	edge_fleet_config_free(&c);
	assert_int_equal(load(&c, 3, a6), -EINVAL);
	assert_string_equal(errbuf,
			    "command line: mqtt.port: \"70000\" is not an integer in [1, 65535]\n");
	edge_fleet_config_free(&c);
	assert_int_equal(load(&c, 3, a7), -EINVAL);
	assert_non_null(strstr(errbuf, "command line: log_level: \"loud\" is not one of error"));
	edge_fleet_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_file_then_flags),
	    cmocka_unit_test(test_errors_name_file_and_key),
	    cmocka_unit_test(test_help_config),
	    cmocka_unit_test(test_flag_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
