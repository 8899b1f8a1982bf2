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
#include <time.h>
#include <unistd.h>

#include "edge/cfgtab.h"
#include "srv.h"

static void test_token_hash_and_format(void **state)
{
	char a[48], b[48], hex[65];

	(void)state;
	/* FIPS 180-2 test vector: tokens are stored as their SHA-256. */
	srv_token_hash("abc", hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(srv_token_generate(a), 0);
	assert_int_equal(srv_token_generate(b), 0);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(
	    strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	assert_string_equal(srv_bearer("Bearer tok123"), "tok123");
	assert_string_equal(srv_bearer("bearer   tok"), "tok");
	assert_null(srv_bearer("Basic dXNlcg=="));
	assert_null(srv_bearer("Bearer "));
	assert_null(srv_bearer(NULL));
}

static void test_token_quota_and_expiry(void **state)
{
	char path[] = "/tmp/prov-reg-XXXXXX";
	struct srv_registry *reg;
	struct srv_token_info ti;
	char h1[65], h2[65], h3[65];
	int64_t now = (int64_t)time(NULL);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(srv_registry_open(path, &reg), 0);
	srv_token_hash("quota-token", h1);
	srv_token_hash("expired-token", h2);
	srv_token_hash("unknown-token", h3);
	assert_int_equal(srv_registry_token_add(reg, h1, "b1", 2, now + 3600), 0);
	assert_int_equal(srv_registry_token_add(reg, h2, "b2", 5, now - 1), 0);
	assert_int_equal(srv_registry_token_add(reg, h1, "dup", 1, now + 10), -EEXIST);
	assert_int_equal(srv_registry_token_consume(reg, h1, now), 0);
	assert_int_equal(srv_registry_token_consume(reg, h1, now), 0);
	assert_int_equal(srv_registry_token_consume(reg, h1, now), -EACCES); /* exhausted */
	assert_int_equal(srv_registry_token_consume(reg, h2, now), -EACCES); /* expired */
	assert_int_equal(srv_registry_token_consume(reg, h3, now), -EACCES); /* unknown */
	assert_int_equal(srv_registry_token_get(reg, h1, &ti), 0);
	assert_int_equal(ti.uses, 2);
	assert_int_equal(ti.uses_max, 2);
	assert_string_equal(ti.batch, "b1");
	assert_int_equal(srv_registry_token_get(reg, h3, &ti), -ENOENT);
	srv_registry_close(reg);
	unlink(path);
	{
		char wal[64];

		snprintf(wal, sizeof(wal), "%s-wal", path);
		unlink(wal);
		snprintf(wal, sizeof(wal), "%s-shm", path);
		unlink(wal);
	}
}

static void test_claim_rendering(void **state)
{
	struct srv_mqtt_user users[] = {{"ingest", "pa\"ss\\word"}};
	struct srv_claim_opts o = {.database = "postgres", .visualization = "metabase"};
	char *y = NULL;

	(void)state;
	assert_int_equal(srv_claim_render(&o, "health-data", &y), 0);
	assert_string_equal(y, "apiVersion: platform.example.org/v1alpha1\n"
			       "kind: RealtimePlatformClaim\n"
			       "metadata:\n"
			       "  name: health-data-realtime\n"
			       "spec:\n"
			       "  name: health-data\n"
			       "  database: postgres\n"
			       "  visualization: metabase\n"
			       "  iot: true\n");
	free(y);
	o.database = "mongodb";
	o.visualization = "grafana";
	o.data_retention = "30d";
	o.min_replicas = 2;
	o.max_replicas = 5;
	o.mqtt_users = users;
	o.n_mqtt_users = 1;
	assert_int_equal(srv_claim_render(&o, "ward-7", &y), 0);
	assert_string_equal(y, "apiVersion: platform.example.org/v1alpha1\n"
			       "kind: RealtimePlatformClaim\n"
			       "metadata:\n"
			       "  name: ward-7-realtime\n"
			       "spec:\n"
			       "  name: ward-7\n"
			       "  database: mongodb\n"
			       "  visualization: grafana\n"
			       "  iot: true\n"
			       "  mqttUsers:\n"
			       "    - username: \"ingest\"\n"
			       "      password: \"pa\\\"ss\\\\word\"\n"
			       "  dataRetention: \"30d\"\n"
			       "  scaling:\n"
			       "    minReplicas: 2\n"
			       "    maxReplicas: 5\n");
	free(y);
	y = NULL;
	assert_int_equal(srv_claim_render(&o, "Bad_Name", &y), -EINVAL);
	assert_int_equal(srv_claim_render(&o, "x\ny", &y), -EINVAL);
	assert_null(y);
}

static void test_register_body_parsing(void **state)
{
	struct srv_register_req r;
	char err[SRV_ERR_LEN];
	const char *ok =
	    "{\"serial\":\"GW-1\",\"board\":\"sim\",\"model\":\"m\",\"firmware\":\"1\","
	    "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\","
	    "\"realtimePlatform\":\"health-data\",\"sensors\":[\"max30102\",{\"a\":1}]}";

	(void)state;
	assert_int_equal(srv_parse_register(ok, strlen(ok), &r, err, sizeof(err)), 0);
	assert_string_equal(r.serial, "GW-1");
	assert_string_equal(r.platform, "health-data");
	assert_string_equal(r.sensors_json, "[\"max30102\",{\"a\":1}]");
	srv_register_req_clear(&r);

#define BAD(body, want)                                                                            \
	do {                                                                                       \
		assert_int_equal(srv_parse_register(body, strlen(body), &r, err, sizeof(err)),     \
				 -EINVAL);                                                         \
		assert_non_null(strstr(err, want));                                                \
	} while (0)
	BAD("{\"serial\": ", "malformed JSON");
	BAD("", "empty body");
	BAD("[1,2]", "JSON object");
	BAD("{\"csr\":\"x\"}", "missing \"serial\"");
	BAD("{\"serial\":5,\"csr\":\"x\"}", "must be a string");
	BAD("{\"serial\":\"a b\",\"csr\":\"x\"}", "serial");
	BAD("{\"serial\":\"GW-1\"}", "csr");
	BAD("{\"serial\":\"GW-1\",\"csr\":\"x\",\"realtimePlatform\":\"Health\"}", "DNS label");
	BAD("{\"serial\":\"GW-1\",\"csr\":\"x\",\"sensors\":\"max\"}", "sensors");
	BAD("{\"serial\":\"GW-1\",\"csr\":\"x\",\"board\":\"a\\u0001\"}", "control");
#undef BAD
}

static void test_duration_parsing(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(srv_parse_duration("90d", &v), 0);
	assert_int_equal(v, 90 * 86400);
	assert_int_equal(srv_parse_duration("15m", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(srv_parse_duration("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(srv_parse_duration("3w", &v), -EINVAL);
	assert_int_equal(srv_parse_duration("-1d", &v), -EINVAL);
	assert_int_equal(srv_parse_duration("", &v), -EINVAL);
	/* "nan" passed "v > 1e12" and reached (int64_t)NaN */
	v = 7;
	assert_int_equal(srv_parse_duration("nan", &v), -EINVAL);
	assert_int_equal(srv_parse_duration("nanh", &v), -EINVAL);
	assert_int_equal(srv_parse_duration("inf", &v), -ERANGE);
	assert_int_equal(srv_parse_duration("1e30d", &v), -ERANGE);
	assert_int_equal(v, 7);
}

static char cfg_err[SRV_ERR_LEN];

/* Loads json as a config file; returns srv_config_load()'s result. */
static int load_json(const char *json, struct srv_config *cfg)
{
	char path[] = "/tmp/prov-cfg-XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	cfg_err[0] = '\0';
	rc = srv_config_load(path, cfg, cfg_err, sizeof(cfg_err));
	unlink(path);
	return rc;
}

static void expect_config_error(const char *json, const char *msg)
{
	struct srv_config cfg;

	assert_int_not_equal(load_json(json, &cfg), 0);
	if (!strstr(cfg_err, msg) || strncmp(cfg_err, "/tmp/prov-cfg-", 14) != 0)
		fail_msg("%s: error \"%s\" lacks \"%s\" or the file", json, cfg_err, msg);
}

static void test_config_table(void **state)
{
	struct srv_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(edge_cfg_check_table(srv_config_table(), err, sizeof(err)), 0);
	assert_int_equal(
	    load_json("{\"state_dir\":\"/srv/p\",\"port\":9443,\"cert_validity\":\"90d\","
		      "\"cert_backdate\":60,\"limits\":{\"max_body\":4096,\"rate_per_s\":"
		      "0.5},\"claims\":{\"database\":\"mysql\",\"mqtt_users\":[{"
		      "\"username\":\"u\",\"password\":\"p\"}],\"min_replicas\":null},"
		      "\"dynsec\":{\"host\":\"b\"}}",
		      &cfg),
	    0);
	assert_int_equal(cfg.port, 9443);
	assert_true(cfg.cert_validity_s == 90 * 86400);
	assert_true(cfg.backdate_s == 60);
	assert_true(cfg.max_body == 4096);
	assert_true(cfg.rate_per_s == 0.5);
	assert_string_equal(cfg.claim.database, "mysql");
	assert_string_equal(cfg.claim.visualization, "metabase");
	assert_int_equal(cfg.claim.min_replicas, 0);
	assert_true(cfg.claim.n_mqtt_users == 1);
	assert_string_equal(cfg.claim.mqtt_users[0].password, "p");
	assert_string_equal(cfg.db_file, "/srv/p/registry.db");
	assert_string_equal(cfg.dynsec_host, "b");
	assert_int_equal(cfg.dynsec_port, 8883);
	assert_null(cfg.k8s_url);
	srv_config_free(&cfg);
	assert_null(cfg.claim.mqtt_users);
	assert_int_equal(srv_config_defaults(&cfg, "/srv/q"), 0);
	assert_string_equal(cfg.state_dir, "/srv/q");
	assert_string_equal(cfg.gitops_dir, "/srv/q/gitops");
	assert_true(cfg.cert_validity_s == 365 * 86400);
	srv_config_free(&cfg);

	expect_config_error("{\"limits\":{\"rate_per_sec\":5}}",
			    "limits.rate_per_sec: unknown key");
	expect_config_error("{\"claims\":{\"database\":\"oracle\"}}",
			    "claims.database: \"oracle\" is not one of postgres, mysql, mongodb");
	/* numbers checked before any cast: these reached (int) and (int64_t) */
	expect_config_error("{\"port\":1e30}", "port: 1e+30 is out of range [1, 65535]");
	expect_config_error("{\"limits\":{\"max_body\":1e30}}",
			    "limits.max_body: 1e+30 is out of range [256, 1048576]");
	expect_config_error("{\"cert_validity\":1e30}",
			    "cert_validity: 1e+30s is out of range [10s, 3650d]");
	expect_config_error("{\"cert_validity\":\"nan\"}",
			    "cert_validity: \"nan\" is not a duration like 30s, 10m, 2h or 90d");
	expect_config_error("{\"cert_backdate\":\"2d\"}",
			    "cert_backdate: 2d is out of range [0s, 1d]");
	expect_config_error("{\"claims\":{\"mqtt_users\":[{\"username\":\"u\"}]}}",
			    "claims.mqtt_users[0].password: missing");
	expect_config_error("{\"claims\":{\"min_replicas\":3,\"max_replicas\":2}}",
			    "claims.max_replicas: smaller than claims.min_replicas");
	expect_config_error("{\"kubernetes\":{\"url\":\"https://k\"}}",
			    "kubernetes.token_file: required with kubernetes.url");
	expect_config_error("{\"port\":", "line 1: not valid JSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_hash_and_format),
	    cmocka_unit_test(test_token_quota_and_expiry),
	    cmocka_unit_test(test_claim_rendering),
	    cmocka_unit_test(test_register_body_parsing),
	    cmocka_unit_test(test_duration_parsing),
	    cmocka_unit_test(test_config_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
