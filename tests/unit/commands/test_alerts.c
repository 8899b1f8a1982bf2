/* SPDX-License-Identifier: Apache-2.0 */
/* Alert episodes: for-duration, once per episode, resolved, rule edits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "agent/alerts.h"
#include "agent/config.h"

struct sent {
	char topic[128];
	char state[16];
	char rule[32];
	double value;
	int n;
};

static struct sent last;

static void emit(void *arg, const char *topic, const char *payload, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(payload, len);

	(void)arg;
	assert_non_null(j);
	snprintf(last.topic, sizeof(last.topic), "%s", topic);
	snprintf(last.state, sizeof(last.state), "%s",
		 cJSON_GetObjectItem(j, "state")->valuestring);
	snprintf(last.rule, sizeof(last.rule), "%s", cJSON_GetObjectItem(j, "rule")->valuestring);
	last.value = cJSON_GetObjectItem(j, "value")->valuedouble;
	assert_int_equal(cJSON_GetArraySize(j), 7);
	assert_string_equal(cJSON_GetObjectItem(j, "deviceId")->valuestring, "dev-1");
	last.n++;
	cJSON_Delete(j);
}

static void config(struct edge_config *cfg, double threshold, uint32_t for_s, int cmp)
{
	edge_config_defaults(cfg);
	strcpy(cfg->device_id, "dev-1");
	cfg->n_alerts = 1;
	memset(&cfg->alerts[0], 0, sizeof(cfg->alerts[0]));
	strcpy(cfg->alerts[0].name, "hr-high");
	strcpy(cfg->alerts[0].metric, "heart_rate");
	strcpy(cfg->alerts[0].severity, "critical");
	cfg->alerts[0].cmp = cmp;
	cfg->alerts[0].threshold = threshold;
	cfg->alerts[0].for_s = for_s;
}

static void for_duration_once_resolved(void **state)
{
	struct edge_config cfg;
	struct edge_alerts *al;
	uint32_t active;
	uint64_t total;

	(void)state;
	memset(&last, 0, sizeof(last));
	config(&cfg, 120, 10, EDGE_CMP_GT);
	assert_int_equal(edge_alerts_new(&cfg, emit, NULL, &al), 0);
	/* below: nothing */
	edge_alerts_reading(al, "heart_rate", 100, 1000, 1);
	/* over, but not yet for 10 s */
	edge_alerts_reading(al, "heart_rate", 130, 2000, 2);
	edge_alerts_reading(al, "heart_rate", 131, 11999, 3);
	assert_int_equal(last.n, 0);
	/* another metric never matters */
	edge_alerts_reading(al, "spo2", 50, 12000, 4);
	assert_int_equal(last.n, 0);
	/* 10 s after the first reading over the threshold: fires once */
	edge_alerts_reading(al, "heart_rate", 132, 12000, 5);
	assert_int_equal(last.n, 1);
	assert_string_equal(last.state, "firing");
	assert_string_equal(last.topic, "alerts/critical");
	assert_true(last.value == 132);
	for (uint64_t t = 13000; t < 60000; t += 1000)
		edge_alerts_reading(al, "heart_rate", 140, t, t);
	assert_int_equal(last.n, 1);
	edge_alerts_counts(al, &active, &total);
	assert_int_equal(active, 1);
	assert_int_equal(total, 1);
	/* equal to the threshold is not ">": resolved, once */
	edge_alerts_reading(al, "heart_rate", 120, 61000, 61000);
	assert_int_equal(last.n, 2);
	assert_string_equal(last.state, "resolved");
	edge_alerts_reading(al, "heart_rate", 90, 62000, 62000);
	assert_int_equal(last.n, 2);
	edge_alerts_counts(al, &active, &total);
	assert_int_equal(active, 0);
	assert_int_equal(total, 1);
	edge_alerts_free(al);
}

static void pending_resets(void **state)
{
	struct edge_config cfg;
	struct edge_alerts *al;

	(void)state;
	memset(&last, 0, sizeof(last));
	config(&cfg, 90, 5, EDGE_CMP_LE);
	assert_int_equal(edge_alerts_new(&cfg, emit, NULL, &al), 0);
	edge_alerts_reading(al, "heart_rate", 80, 0, 0);
	edge_alerts_reading(al, "heart_rate", 95, 4000, 0); /* breaks the run: no resolve */
	assert_int_equal(last.n, 0);
	edge_alerts_reading(al, "heart_rate", 90, 5000, 0); /* <= holds again: new timer */
	edge_alerts_reading(al, "heart_rate", 85, 9999, 0);
	assert_int_equal(last.n, 0);
	edge_alerts_reading(al, "heart_rate", 85, 10000, 0);
	assert_int_equal(last.n, 1);
	edge_alerts_free(al);
}

static void immediate_and_episodes(void **state)
{
	struct edge_config cfg;
	struct edge_alerts *al;
	uint32_t active;
	uint64_t total;

	(void)state;
	memset(&last, 0, sizeof(last));
	config(&cfg, 100, 0, EDGE_CMP_GE);
	assert_int_equal(edge_alerts_new(&cfg, emit, NULL, &al), 0);
	for (int ep = 0; ep < 3; ep++) {
		edge_alerts_reading(al, "heart_rate", 100, (uint64_t)ep * 10, 0);
		edge_alerts_reading(al, "heart_rate", 101, (uint64_t)ep * 10 + 1, 0);
		edge_alerts_reading(al, "heart_rate", 99, (uint64_t)ep * 10 + 2, 0);
	}
	assert_int_equal(last.n, 6);
	edge_alerts_counts(al, &active, &total);
	assert_int_equal(active, 0);
	assert_int_equal(total, 3);
	edge_alerts_free(al);
}

static void rule_edits(void **state)
{
	struct edge_config cfg;
	struct edge_alerts *al;

	(void)state;
	memset(&last, 0, sizeof(last));
	config(&cfg, 100, 0, EDGE_CMP_GT);
	assert_int_equal(edge_alerts_new(&cfg, emit, NULL, &al), 0);
	edge_alerts_reading(al, "heart_rate", 110, 0, 0);
	assert_int_equal(last.n, 1);
	/* same rule, higher threshold: the episode is kept until the next reading */
	config(&cfg, 200, 0, EDGE_CMP_GT);
	edge_alerts_configure(al, &cfg);
	assert_int_equal(last.n, 1);
	edge_alerts_reading(al, "heart_rate", 110, 1, 0);
	assert_int_equal(last.n, 2);
	assert_string_equal(last.state, "resolved");
	/* a removed firing rule is resolved at once */
	config(&cfg, 100, 0, EDGE_CMP_GT);
	edge_alerts_configure(al, &cfg);
	edge_alerts_reading(al, "heart_rate", 110, 2, 0);
	assert_int_equal(last.n, 3);
	cfg.n_alerts = 0;
	edge_alerts_configure(al, &cfg);
	assert_int_equal(last.n, 4);
	assert_string_equal(last.state, "resolved");
	assert_int_equal(edge_alerts_rule_count(al), 0);
	edge_alerts_free(al);
}

static void config_parsing(void **state)
{
	struct edge_config cfg;
	char err[512];
	const char *base = "{\"device_id\":\"d\",\"state_dir\":\"/tmp/x\",\"mqtt\":{\"tls\":{"
			   "\"ca_file\":\"ca\",\"cert_file\":\"c\",\"key_file\":\"k\"}},";
	char json[1024];

	(void)state;
	snprintf(json, sizeof(json),
		 "%s\"alerts\":[{\"name\":\"a\",\"metric\":\"spo2\",\"comparison\":\"<\","
		 "\"threshold\":90,\"for_s\":30,\"severity\":\"critical\"},"
		 "{\"name\":\"b\",\"metric\":\"heart_rate\",\"comparison\":\">=\",\"threshold\":"
		 "130}]}",
		 base);
	assert_int_equal(edge_config_parse(json, strlen(json), "t", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_alerts, 2);
	assert_int_equal(cfg.alerts[0].cmp, EDGE_CMP_LT);
	assert_int_equal(cfg.alerts[0].for_s, 30);
	assert_string_equal(cfg.alerts[1].severity, "warning");
	snprintf(json, sizeof(json),
		 "%s\"alerts\":[{\"name\":\"a\",\"metric\":\"spo2\",\"comparison\":\"=\","
		 "\"threshold\":90}]}",
		 base);
	assert_int_not_equal(edge_config_parse(json, strlen(json), "t", &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "alerts[0].comparison"));
	snprintf(json, sizeof(json), "%s\"alerts\":[{\"name\":\"a\",\"metric\":\"spo2\"}]}", base);
	assert_int_not_equal(edge_config_parse(json, strlen(json), "t", &cfg, err, sizeof(err)), 0);
	/* overlay: only run-time keys */
	assert_int_equal(
	    edge_config_apply_json(&cfg, "{\"log_level\":\"debug\"}", 21, "o", err, sizeof(err)),
	    0);
	assert_int_not_equal(
	    edge_config_apply_json(&cfg, "{\"mqtt\":{\"port\":1}}", 19, "o", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "mqtt.port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(for_duration_once_resolved),
	    cmocka_unit_test(pending_resets),
	    cmocka_unit_test(immediate_and_episodes),
	    cmocka_unit_test(rule_edits),
	    cmocka_unit_test(config_parsing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
