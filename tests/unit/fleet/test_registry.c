/* SPDX-License-Identifier: Apache-2.0 */
/* The registry: status/alert application rules and the rendered exposition
 * (families, escaping, missing fields), plus the hash map under churn. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet/registry.h"

#define NOW 1763762010000ULL

static struct edge_fleet *fleet_with(uint32_t max, uint32_t stale)
{
	struct edge_fleet_opts o = {.max_devices = max, .stale_after_s = stale, .version = "9.9"};
	struct edge_fleet *f = NULL;

	assert_int_equal(edge_fleet_new(&o, &f), 0);
	return f;
}

static int status(struct edge_fleet *f, const char *id, const char *json, bool retained)
{
	return edge_fleet_on_status(f, id, json, strlen(json), retained, NOW);
}

/* Renders and returns the text; caller frees. */
static char *render(struct edge_fleet *f)
{
	struct edge_fleet_buf b = {0};

	assert_int_equal(edge_fleet_render(f, &b, NOW), 0);
	return edge_fleet_buf_steal(&b, NULL);
}

static void assert_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)))
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
		else
			p++;
	fail_msg("missing line: %s", line);
}

static void assert_no(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("unexpected: %s", needle);
}

static const char full[] =
    "{\"state\":\"online\",\"deviceId\":\"sim-0001\",\"board\":\"sim\",\"version\":\"0.1.0\","
    "\"firmware\":\"0.1.0\",\"boot\":\"b1\",\"timestamp\":1763762000000,\"uptimeS\":123,"
    "\"backlog\":10,\"dropped\":2,\"reconnects\":1,\"lastPublishMs\":1763761999000,"
    "\"sensors\":{\"vitals\":{\"healthy\":true,\"errors\":4,\"lastReadingMs\":1763761999500},"
    "\"cuff\":{\"healthy\":false,\"enabled\":false}},\"alerts\":{\"active\":1,\"total\":3},"
    "\"certExpiresMs\":1795298000000,\"memory\":{\"rssKb\":2100,\"pssKb\":1800},"
    "\"recordsIncomplete\":6}";

static void test_full_status_renders_every_family(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	char *t;

	(void)state;
	assert_int_equal(status(f, "sim-0001", full, false), 0);
	t = render(f);
	assert_line(t, "# TYPE edge_devices_total gauge");
	assert_line(t, "edge_devices_total 1");
	assert_line(t, "edge_devices_online 1");
	assert_line(t, "# HELP edge_device_up 1 when the device's last status says online (and is "
		       "not older than stale_after_s).");
	assert_line(t, "edge_device_up{device_id=\"sim-0001\"} 1");
	assert_line(t,
		    "edge_device_last_seen_timestamp_seconds{device_id=\"sim-0001\"} 1763762010");
	assert_line(t,
		    "edge_device_info{device_id=\"sim-0001\",firmware=\"0.1.0\",version=\"0.1.0\","
		    "board=\"sim\"} 1");
	assert_line(t, "edge_device_uptime_seconds{device_id=\"sim-0001\"} 123");
	assert_line(t, "edge_device_backlog{device_id=\"sim-0001\"} 10");
	assert_line(t, "# TYPE edge_device_dropped_total counter");
	assert_line(t, "edge_device_dropped_total{device_id=\"sim-0001\"} 2");
	assert_line(t, "edge_device_reconnects_total{device_id=\"sim-0001\"} 1");
	assert_line(t, "edge_device_last_publish_timestamp_seconds{device_id=\"sim-0001\"} "
		       "1763761999");
	assert_line(t, "edge_device_cert_expiry_timestamp_seconds{device_id=\"sim-0001\"} "
		       "1795298000");
	assert_line(t, "edge_device_memory_rss_bytes{device_id=\"sim-0001\"} 2150400");
	assert_line(t, "edge_device_memory_pss_bytes{device_id=\"sim-0001\"} 1843200");
	assert_line(t, "edge_device_alerts_active{device_id=\"sim-0001\"} 1");
	assert_line(t, "edge_device_records_incomplete_total{device_id=\"sim-0001\"} 6");
	assert_line(t, "edge_device_sensor_healthy{device_id=\"sim-0001\",sensor=\"vitals\"} 1");
	assert_line(t, "edge_device_sensor_healthy{device_id=\"sim-0001\",sensor=\"cuff\"} 0");
	assert_line(t,
		    "edge_device_sensor_errors_total{device_id=\"sim-0001\",sensor=\"vitals\"} 4");
	assert_no(t, "edge_device_sensor_errors_total{device_id=\"sim-0001\",sensor=\"cuff\"}");
	assert_line(t, "edge_device_sensor_enabled{device_id=\"sim-0001\",sensor=\"cuff\"} 0");
	assert_no(t, "edge_device_sensor_enabled{device_id=\"sim-0001\",sensor=\"vitals\"}");
	assert_line(t, "edge_device_sensor_last_reading_timestamp_seconds{device_id=\"sim-0001\","
		       "sensor=\"vitals\"} 1763761999.5");
	assert_line(t, "edge_exporter_messages_received_total{kind=\"status\"} 1");
	assert_line(t, "edge_exporter_parse_errors_total{kind=\"status\"} 0");
	assert_line(t, "edge_exporter_mqtt_connected 0");
	assert_line(t, "edge_exporter_build_info{version=\"9.9\"} 1");
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
	edge_fleet_free(f);
}

static void test_missing_fields_render_nothing(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	char *t;

	(void)state;
	assert_int_equal(status(f, "bare", "{\"state\":\"online\"}", true), 0);
	t = render(f);
	assert_line(t, "edge_device_up{device_id=\"bare\"} 1");
	/* retained without a timestamp: when it was seen is unknown */
	assert_no(t, "edge_device_last_seen_timestamp_seconds{");
	assert_no(t, "edge_device_info{");
	assert_no(t, "edge_device_backlog{");
	assert_no(t, "edge_device_sensor_healthy{");
	/* the families are still announced */
	assert_line(t, "# TYPE edge_device_backlog gauge");
	free(t);
	edge_fleet_free(f);
}

static void test_label_escaping(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	char *t;

	(void)state;
	assert_int_equal(status(f, "we\"ird\\id",
				"{\"state\":\"online\",\"firmware\":\"1.0 \\\"rc\\\\1\\\"\","
				"\"sensors\":{\"s\\\"1\":{\"healthy\":true}}}",
				false),
			 0);
	t = render(f);
	assert_line(t, "edge_device_up{device_id=\"we\\\"ird\\\\id\"} 1");
	assert_line(t, "edge_device_info{device_id=\"we\\\"ird\\\\id\",firmware=\"1.0 "
		       "\\\"rc\\\\1\\\"\",version=\"\",board=\"\"} 1");
	assert_line(
	    t, "edge_device_sensor_healthy{device_id=\"we\\\"ird\\\\id\",sensor=\"s\\\"1\"} 1");
	free(t);
	/* ids that could break the exposition are refused */
	assert_int_equal(status(f, "a\nb", "{\"state\":\"online\"}", false), -EINVAL);
	assert_int_equal(status(f, "\xff", "{\"state\":\"online\"}", false), -EINVAL);
	assert_int_equal(status(f, "", "{\"state\":\"online\"}", false), -EINVAL);
	t = render(f);
	assert_line(t, "edge_exporter_parse_errors_total{kind=\"status\"} 3");
	assert_line(t, "edge_devices_total 1");
	free(t);
	edge_fleet_free(f);
}

static void test_will_keeps_figures_and_stale_will_is_ignored(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	char *t;

	(void)state;
	assert_int_equal(status(f, "sim-0001", full, false), 0);
	/* a will from an earlier boot arriving late: ignored */
	assert_int_equal(status(f, "sim-0001", "{\"state\":\"offline\",\"boot\":\"b0\"}", false),
			 1);
	t = render(f);
	assert_line(t, "edge_device_up{device_id=\"sim-0001\"} 1");
	assert_line(t, "edge_exporter_stale_wills_total 1");
	free(t);
	/* this boot's will: offline, the last figures stay */
	assert_int_equal(status(f, "sim-0001", "{\"state\":\"offline\",\"boot\":\"b1\"}", false),
			 0);
	t = render(f);
	assert_line(t, "edge_device_up{device_id=\"sim-0001\"} 0");
	assert_line(t, "edge_devices_online 0");
	assert_line(t, "edge_devices_total 1");
	assert_line(t, "edge_device_backlog{device_id=\"sim-0001\"} 10");
	assert_line(t,
		    "edge_device_info{device_id=\"sim-0001\",firmware=\"0.1.0\",version=\"0.1.0\","
		    "board=\"sim\"} 1");
	free(t);
	/* back online with fewer fields: online replaces */
	assert_int_equal(status(f, "sim-0001", "{\"state\":\"online\",\"backlog\":3}", false), 0);
	t = render(f);
	assert_line(t, "edge_device_up{device_id=\"sim-0001\"} 1");
	assert_line(t, "edge_device_backlog{device_id=\"sim-0001\"} 3");
	assert_no(t, "edge_device_info{");
	assert_no(t, "edge_device_dropped_total{");
	free(t);
	edge_fleet_free(f);
}

static void test_empty_payload_removes(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	char *t;

	(void)state;
	assert_int_equal(status(f, "a", "{\"state\":\"online\"}", false), 0);
	assert_int_equal(status(f, "b", "{\"state\":\"online\"}", false), 0);
	assert_int_equal(edge_fleet_on_status(f, "a", "", 0, true, NOW), 0);
	assert_int_equal(edge_fleet_on_status(f, "zz", "", 0, true, NOW), 0); /* unknown: no-op */
	t = render(f);
	assert_line(t, "edge_devices_total 1");
	assert_no(t, "device_id=\"a\"");
	assert_line(t, "edge_device_up{device_id=\"b\"} 1");
	assert_line(t, "edge_exporter_devices_removed_total 1");
	free(t);
	edge_fleet_free(f);
}

static void test_stale_after(void **state)
{
	struct edge_fleet *f = fleet_with(0, 60);

	(void)state;
	assert_int_equal(
	    edge_fleet_on_status(f, "fresh", "{\"state\":\"online\"}", 19, false, NOW - 59000), 0);
	assert_int_equal(
	    edge_fleet_on_status(f, "old", "{\"state\":\"online\"}", 19, false, NOW - 61000), 0);
	/* retained: its own timestamp decides */
	assert_int_equal(
	    status(f, "ret", "{\"state\":\"online\",\"timestamp\":1763761000000}", true), 0);
	assert_int_equal(edge_fleet_devices(f), 3);
	assert_int_equal(edge_fleet_online(f, NOW), 1);
	edge_fleet_free(f);
}

static void test_alerts(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	const char *fire =
	    "{\"deviceId\":\"sim-0001\",\"severity\":\"critical\",\"state\":\"firing\"}";
	const char *res = "{\"deviceId\":\"sim-0001\",\"state\":\"resolved\"}";
	char *t;

	(void)state;
	assert_int_equal(edge_fleet_on_alert(f, "critical", fire, strlen(fire)), 0);
	assert_int_equal(edge_fleet_on_alert(f, "critical", fire, strlen(fire)), 0);
	assert_int_equal(edge_fleet_on_alert(f, "critical", res, strlen(res)), 0);
	assert_int_equal(edge_fleet_on_alert(f, "warning", fire, strlen(fire)), 0);
	assert_int_equal(edge_fleet_on_alert(f, "bad sev", fire, strlen(fire)), -EINVAL);
	assert_int_equal(edge_fleet_on_alert(f, "x", "{}", 2), -EINVAL);
	t = render(f);
	/* alerts alone do not make a device */
	assert_line(t, "edge_devices_total 0");
	assert_no(t, "edge_device_up{");
	assert_line(t, "edge_alerts_total{device_id=\"sim-0001\",severity=\"critical\"} 2");
	assert_line(t, "edge_alerts_total{device_id=\"sim-0001\",severity=\"warning\"} 1");
	assert_line(t,
		    "edge_alerts_resolved_total{device_id=\"sim-0001\",severity=\"critical\"} 1");
	assert_line(t, "edge_exporter_messages_received_total{kind=\"alert\"} 6");
	assert_line(t, "edge_exporter_parse_errors_total{kind=\"alert\"} 2");
	free(t);
	/* at most 8 severities per device */
	for (int i = 0; i < 10; i++) {
		char sev[8];

		snprintf(sev, sizeof(sev), "s%d", i);
		assert_int_equal(edge_fleet_on_alert(f, sev, fire, strlen(fire)),
				 i < 6 ? 0 : -ENOSPC);
	}
	edge_fleet_free(f);
}

static void test_max_devices(void **state)
{
	struct edge_fleet *f = fleet_with(2, 0);
	char *t;

	(void)state;
	assert_int_equal(status(f, "a", "{\"state\":\"online\"}", false), 0);
	assert_int_equal(status(f, "b", "{\"state\":\"online\"}", false), 0);
	assert_int_equal(status(f, "c", "{\"state\":\"online\"}", false), -ENOSPC);
	assert_int_equal(status(f, "a", "{\"state\":\"offline\"}", false), 0);
	t = render(f);
	assert_line(t, "edge_exporter_devices_refused_total 1");
	assert_line(t, "edge_devices_total 2");
	assert_line(t, "edge_devices_online 1");
	free(t);
	edge_fleet_free(f);
}

static void test_resync_forgets_vanished_statuses(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	const char *fire = "{\"deviceId\":\"alerts-only\"}";
	char *t;

	(void)state;
	for (int i = 0; i < 50; i++) {
		char id[16];

		snprintf(id, sizeof(id), "d%d", i);
		assert_int_equal(status(f, id, "{\"state\":\"online\"}", true), 0);
	}
	assert_int_equal(edge_fleet_on_alert(f, "warning", fire, strlen(fire)), 0);
	edge_fleet_resync_begin(f);
	/* the replay brings back the even ones only (an offline will counts) */
	for (int i = 0; i < 50; i += 2) {
		char id[16];

		snprintf(id, sizeof(id), "d%d", i);
		assert_int_equal(
		    status(f, id, i % 4 ? "{\"state\":\"offline\"}" : "{\"state\":\"online\"}",
			   true),
		    0);
	}
	assert_int_equal(edge_fleet_resync_end(f), 25);
	assert_int_equal(edge_fleet_devices(f), 25);
	assert_int_equal(edge_fleet_online(f, NOW), 13);
	t = render(f);
	assert_line(t, "edge_device_up{device_id=\"d48\"} 1");
	assert_no(t, "device_id=\"d49\"");
	/* alert counters of a device without a status are not the replay's business */
	assert_line(t, "edge_alerts_total{device_id=\"alerts-only\",severity=\"warning\"} 1");
	assert_line(t, "edge_exporter_devices_resync_removed_total 25");
	free(t);
	/* nothing new since the last begin: nothing to forget */
	assert_int_equal(edge_fleet_resync_end(f), 0);
	edge_fleet_free(f);
}

static int ota(struct edge_fleet *f, const char *id, const char *json, bool retained)
{
	return edge_fleet_on_ota(f, id, json, strlen(json), retained);
}

static void test_ota_reports(void **state)
{
	struct edge_fleet *f = fleet_with(0, 0);
	char *t;

	(void)state;
	/* no report yet: the families are there, the fleet counters at 0 */
	t = render(f);
	assert_line(t, "# TYPE edge_ota_state gauge");
	assert_line(t, "# TYPE edge_ota_info gauge");
	assert_line(t, "# TYPE edge_ota_progress_ratio gauge");
	assert_line(t, "# TYPE edge_ota_results_total counter");
	assert_line(t, "edge_ota_results_total{result=\"success\"} 0");
	assert_line(t, "edge_ota_results_total{result=\"failure\"} 0");
	assert_line(t, "edge_ota_results_total{result=\"rolled_back\"} 0");
	assert_no(t, "edge_ota_state{");
	free(t);

	assert_int_equal(status(f, "gw-1", full, false), 0);
	assert_int_equal(ota(f, "gw-1",
			     "{\"otaId\":\"c-1\",\"state\":\"downloading\",\"version\":\"1.3.0\","
			     "\"fromVersion\":\"1.2.0\",\"installer\":\"bundle\",\"progress\":"
			     "{\"bytes\":250,\"total\":1000,\"percent\":25},\"result\":null,"
			     "\"reason\":\"\",\"ts\":1763762000000}",
			     false),
			 0);
	/* a device known only from its OTA report */
	assert_int_equal(ota(f, "gw-2",
			     "{\"otaId\":\"c-9\",\"state\":\"installing\",\"version\":\"2.0.0\","
			     "\"progress\":{\"percent\":12.5}}",
			     true),
			 0);
	t = render(f);
	assert_line(t, "edge_ota_state{device_id=\"gw-1\",state=\"downloading\"} 1");
	assert_line(t, "edge_ota_info{device_id=\"gw-1\",version=\"1.3.0\",from_version=\"1.2.0\","
		       "installer=\"bundle\"} 1");
	assert_line(t, "edge_ota_progress_ratio{device_id=\"gw-1\"} 0.25");
	assert_line(t, "edge_ota_state{device_id=\"gw-2\",state=\"installing\"} 1");
	assert_line(t, "edge_ota_progress_ratio{device_id=\"gw-2\"} 0.125");
	assert_line(t, "edge_devices_total 1"); /* an OTA report alone is no status */
	assert_line(t, "edge_exporter_messages_received_total{kind=\"ota\"} 2");
	free(t);

	/* the outcome, live: counted once however often the report comes */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ota(f, "gw-1",
				     "{\"otaId\":\"c-1\",\"state\":\"rolled_back\",\"version\":"
				     "\"1.3.0\",\"fromVersion\":\"1.2.0\",\"installer\":\"bundle\","
				     "\"result\":\"rolled_back\",\"reason\":\"trial failed\"}",
				     false),
				 0);
	/* a retained outcome (replayed at subscribe time) is not counted */
	assert_int_equal(
	    ota(f, "gw-2", "{\"otaId\":\"c-9\",\"state\":\"failed\",\"result\":\"failure\"}", true),
	    0);
	assert_int_equal(ota(f, "gw-2",
			     "{\"otaId\":\"c-9\",\"state\":\"failed\",\"result\":\"failure\"}",
			     false),
			 0);
	/* the next update of gw-2 succeeds */
	assert_int_equal(ota(f, "gw-2",
			     "{\"otaId\":\"c-10\",\"state\":\"committed\",\"version\":\"2.0.1\","
			     "\"result\":\"success\"}",
			     false),
			 0);
	t = render(f);
	assert_line(t, "edge_ota_state{device_id=\"gw-1\",state=\"rolled_back\"} 1");
	assert_no(t, "state=\"downloading\"");
	assert_no(t, "edge_ota_progress_ratio{device_id=\"gw-1\"}");
	assert_line(t, "edge_ota_results_total{result=\"rolled_back\"} 1");
	assert_line(t, "edge_ota_results_total{result=\"failure\"} 0");
	assert_line(t, "edge_ota_results_total{result=\"success\"} 1");
	assert_line(t, "edge_ota_state{device_id=\"gw-2\",state=\"committed\"} 1");
	free(t);

	/* unknown states, results and installers never become labels */
	assert_int_equal(ota(f, "gw-1",
			     "{\"state\":\"hacking\",\"result\":\"x\",\"installer\":\"docker\","
			     "\"version\":\"1.4.0\",\"progress\":{\"bytes\":5,\"total\":2}}",
			     false),
			 0);
	t = render(f);
	assert_no(t, "edge_ota_state{device_id=\"gw-1\"");
	assert_no(t, "hacking");
	assert_no(t, "docker");
	assert_line(t, "edge_ota_info{device_id=\"gw-1\",version=\"1.4.0\",from_version=\"\","
		       "installer=\"\"} 1");
	assert_no(t, "edge_ota_progress_ratio{device_id=\"gw-1\"}");
	/* 4, and 1 for the status whose deviceId is not the topic's */
	assert_line(t, "edge_exporter_fields_skipped_total 5");
	free(t);

	/* not JSON: counted; an empty retained report clears the series */
	assert_int_equal(ota(f, "gw-1", "nope", false), -EINVAL);
	assert_int_equal(edge_fleet_on_ota(f, "gw-2", "", 0, true), 0);
	assert_int_equal(edge_fleet_on_ota(f, "", "{}", 2, true), -EINVAL);
	t = render(f);
	assert_no(t, "edge_ota_state{device_id=\"gw-2\"");
	assert_line(t, "edge_exporter_parse_errors_total{kind=\"ota\"} 2");
	free(t);

	/* a resync forgets a report that did not come back */
	assert_int_equal(ota(f, "gw-2", "{\"state\":\"trial\"}", true), 0);
	edge_fleet_resync_begin(f);
	assert_int_equal(status(f, "gw-1", full, true), 0);
	assert_int_equal(ota(f, "gw-1", "{\"state\":\"idle\"}", true), 0);
	edge_fleet_resync_end(f);
	t = render(f);
	assert_line(t, "edge_ota_state{device_id=\"gw-1\",state=\"idle\"} 1");
	assert_no(t, "edge_ota_state{device_id=\"gw-2\"");
	free(t);
	edge_fleet_free(f);
}

/* Inserts and removes thousands of ids in a shuffled order; after every
 * phase the map must agree with a plain array of expectations. */
static void test_map_churn(void **state)
{
	enum { N = 5000 };
	struct edge_fleet *f = fleet_with(0, 0);
	static bool present[N];
	uint64_t rng = 88172645463325252ull;
	size_t expect = 0;

	(void)state;
	for (int round = 0; round < 6; round++) {
		for (int k = 0; k < N; k++) {
			char id[16];
			int i;

			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			i = (int)(rng % N);
			snprintf(id, sizeof(id), "dev-%d", i);
			if (present[i] && (rng >> 32) % 2) {
				assert_int_equal(edge_fleet_on_status(f, id, "", 0, true, NOW), 0);
				present[i] = false;
				expect--;
			} else {
				assert_int_equal(status(f, id,
							present[i] ? "{\"state\":\"offline\"}"
								   : "{\"state\":\"online\"}",
							false),
						 0);
				if (!present[i])
					expect++;
				present[i] = true;
			}
		}
		assert_int_equal(edge_fleet_devices(f), expect);
	}
	/* and every expected id is found exactly once in the output */
	{
		char *t = render(f);
		size_t lines = 0;

		for (const char *p = t; (p = strstr(p, "\nedge_device_up{")); p++)
			lines++;
		assert_int_equal(lines, expect);
		for (int i = 0; i < N; i += 97) {
			char line[64];

			snprintf(line, sizeof(line), "edge_device_up{device_id=\"dev-%d\"}", i);
			if (present[i])
				assert_non_null(strstr(t, line));
			else
				assert_null(strstr(t, line));
		}
		free(t);
	}
	edge_fleet_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_status_renders_every_family),
	    cmocka_unit_test(test_missing_fields_render_nothing),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test(test_will_keeps_figures_and_stale_will_is_ignored),
	    cmocka_unit_test(test_empty_payload_removes),
	    cmocka_unit_test(test_stale_after),
	    cmocka_unit_test(test_alerts),
	    cmocka_unit_test(test_max_devices),
	    cmocka_unit_test(test_resync_forgets_vanished_statuses),
	    cmocka_unit_test(test_map_churn),
	    cmocka_unit_test(test_ota_reports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
