/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-fleet-benchpub: publishes N devices' retained statuses (and one
 * alert each) as fast as the broker takes them, QoS 1, then waits for every
 * PUBACK. For bench/fleet/run.py; not part of the product.
 *
 *   edge-fleet-benchpub HOST PORT CA CERT KEY COUNT [PREFIX] [--clear]
 */
#include <mosquitto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

static volatile int acked;
static volatile bool connected;

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	(void)arg;
	if (rc) {
		fprintf(stderr, "benchpub: connection refused: %s\n", mosquitto_connack_string(rc));
		exit(1);
	}
	connected = true;
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)arg;
	(void)mid;
	__atomic_add_fetch(&acked, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	struct mosquitto *m;
	const char *prefix;
	bool clear;
	int count, sent = 0;
	long long wall;
	double t0;

	if (argc < 7) {
		fprintf(stderr, "usage: %s HOST PORT CA CERT KEY COUNT [PREFIX] [--clear]\n",
			argv[0]);
		return 2;
	}
	count = atoi(argv[6]);
	prefix = argc > 7 && strcmp(argv[7], "--clear") ? argv[7] : "bench";
	clear = !strcmp(argv[argc - 1], "--clear");
	mosquitto_lib_init();
	m = mosquitto_new(NULL, true, NULL);
	if (!m || mosquitto_tls_set(m, argv[3], NULL, argv[4], argv[5], NULL)) {
		fprintf(stderr, "benchpub: setup failed\n");
		return 1;
	}
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(m, 1000);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_publish_callback_set(m, on_publish);
	if (mosquitto_connect(m, argv[1], atoi(argv[2]), 60) || mosquitto_loop_start(m)) {
		fprintf(stderr, "benchpub: cannot connect to %s:%s\n", argv[1], argv[2]);
		return 1;
	}
	while (!connected)
		usleep(1000);
	wall = (long long)time(NULL) * 1000;
	t0 = bench_now_s();
	for (int i = 0; i < count; i++) {
		char topic[96], payload[1024], id[64];
		int n = 0;

		snprintf(id, sizeof(id), "%s-%05d", prefix, i);
		snprintf(topic, sizeof(topic), "devices/%s/status", id);
		if (!clear)
			n = snprintf(
			    payload, sizeof(payload),
			    "{\"state\":\"online\",\"deviceId\":\"%s\",\"board\":\"%s\","
			    "\"version\":\"0.1.0\",\"firmware\":\"0.%d.0\",\"boot\":\"%08x\","
			    "\"timestamp\":%lld,\"uptimeS\":%d,\"backlog\":%d,\"dropped\":%d,"
			    "\"reconnects\":%d,\"lastPublishMs\":%lld,\"lastError\":\"\","
			    "\"sensors\":{\"vitals\":{\"healthy\":true,\"errors\":0,"
			    "\"lastReadingMs\":%lld},\"cuff\":{\"healthy\":%s,\"errors\":%d,"
			    "\"lastReadingMs\":%lld}},\"alerts\":{\"active\":0,\"total\":%d},"
			    "\"certExpiresMs\":%lld,\"memory\":{\"rssKb\":%d,\"pssKb\":%d},"
			    "\"recordsIncomplete\":%d}",
			    id, i % 3 ? "rpi4" : "sim", i % 4, (unsigned)i * 2654435761u, wall,
			    1000 + i, i % 500, i % 7, i % 5, wall - 1000, wall - 500,
			    i % 50 ? "true" : "false", i % 9, wall - 60000, i % 4,
			    wall + (long long)(i % 400) * 86400000LL, 2000 + i % 300,
			    1700 + i % 300, i % 11);
		while (mosquitto_publish(m, NULL, topic, n, payload, 1, true) == MOSQ_ERR_NOMEM)
			usleep(1000);
		sent++;
		if (!clear && i % 10 == 0) {
			n = snprintf(
			    payload, sizeof(payload),
			    "{\"deviceId\":\"%s\",\"rule\":\"hr-high\",\"metric\":\"heartRate\","
			    "\"value\":150,\"severity\":\"warning\",\"state\":\"firing\","
			    "\"timestamp\":%lld}",
			    id, wall);
			mosquitto_publish(m, NULL, "alerts/warning", n, payload, 1, false);
			sent++;
		}
	}
	while (__atomic_load_n(&acked, __ATOMIC_RELAXED) < sent)
		usleep(1000);
	printf("published %d messages (%d devices) in %.3f s\n", sent, count, bench_now_s() - t0);
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
