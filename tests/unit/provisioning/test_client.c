/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/provision.h"

#define PEM "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
#define CSR "-----BEGIN CERTIFICATE REQUEST-----\\nMIIB\\n-----END CERTIFICATE REQUEST-----\\n"
#define KEY "-----BEGIN EC PRIVATE KEY-----\\nMHc\\n-----END EC PRIVATE KEY-----\\n"

static void test_parse_ok(void **state)
{
	const char *body =
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" PEM "\",\"caChain\":\"" PEM PEM "\","
	    "\"notAfter\":1800000000,\"mqtt\":{\"host\":\"broker.example\",\"port\":8883},"
	    "\"topics\":{\"data\":\"health/device_data\"},"
	    "\"realtimePlatform\":{\"name\":\"health-data\",\"claim\":\"health-data-realtime\","
	    "\"created\":true}}";
	struct edge_prov_response r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(edge_prov_parse_response(body, strlen(body), &r, &why), 0);
	assert_null(why);
	assert_string_equal(r.device_id, "GW-1");
	assert_string_equal(r.mqtt_host, "broker.example");
	assert_int_equal(r.mqtt_port, 8883);
	assert_string_equal(r.platform_claim, "health-data-realtime");
	assert_true(r.platform_created);
	assert_int_equal(r.not_after, 1800000000);
	assert_string_equal(r.topics_json, "{\"data\":\"health/device_data\"}");
	edge_prov_response_clear(&r);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "null",
	    "{\"deviceId\":\"GW-1\"}",
	    "{\"deviceId\":\"../etc\",\"certificate\":\"" PEM "\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":1}}",
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"nope\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":1}}",
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" PEM "\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":70000}}",
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" PEM "\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h;rm -rf\",\"port\":1}}",
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" PEM "\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":1},\"realtimePlatform\":{\"name\":5}}",
	    /* a CSR of the device key before a certificate for another key
	     * (tests/fuzz/prov_answer): the fingerprint check saw the CSR */
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" CSR PEM "\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":1}}",
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" PEM KEY "\",\"caChain\":\"" PEM
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":1}}",
	    "{\"deviceId\":\"GW-1\",\"certificate\":\"" PEM "\",\"caChain\":\"" PEM CSR
	    "\",\"mqtt\":{\"host\":\"h\",\"port\":1}}",
	};
	struct edge_prov_response r;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(edge_prov_parse_response(bad[i], strlen(bad[i]), &r, &why),
				 -EINVAL);
		assert_non_null(why);
		assert_null(r.device_id);
	}
}

static void test_parse_error(void **state)
{
	char buf[32];

	(void)state;
	edge_prov_parse_error("{\"error\":\"claim token expired\"}", 31, buf, sizeof(buf));
	assert_string_equal(buf, "claim token expired");
	edge_prov_parse_error("{\"error\":\"a\\nb\"}", 16, buf, sizeof(buf));
	assert_string_equal(buf, "a?b");
	edge_prov_parse_error("<html>", 6, buf, sizeof(buf));
	assert_string_equal(buf, "");
	edge_prov_parse_error("{\"error\":\"0123456789012345678901234567890123456789\"}", 52, buf,
			      8);
	assert_string_equal(buf, "0123456");
}

static void test_need_registration(void **state)
{
	(void)state;
	assert_true(edge_prov_need_registration("/nonexistent-dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_parse_error),
	    cmocka_unit_test(test_need_registration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
