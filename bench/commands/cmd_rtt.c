/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-cmd-rtt: MQTT v5 request/response round trips over TLS.
 *
 * Requester (default): publishes --count requests one after the other
 * (QoS 1, Response Topic + Correlation Data, a fresh "id" each time) to
 * --topic and waits for each answer; prints p50/p90/p99/max in ms.
 * Echo (--echo): a plain libmosquitto client subscribed to --topic that
 * publishes every request back to its Response Topic with its Correlation
 * Data: the baseline a command handler is compared with.
 *
 *   bench-cmd-rtt --port P --ca CA --cert CRT --key KEY --topic T
 *                 [--count 2000] [--warmup 100] [--label NAME] [--echo]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"

static bool connected, answered, failed;
static uint64_t expect_corr;
static char reply_topic[128];

static void on_connect(struct mosquitto *m, void *arg, int rc, int flags,
		       const mosquitto_property *p)
{
	(void)m;
	(void)arg;
	(void)flags;
	(void)p;
	if (rc) {
		fprintf(stderr, "bench-cmd-rtt: refused: %s\n", mosquitto_reason_string(rc));
		failed = true;
		return;
	}
	connected = true;
}

/* requester: the answer carrying the correlation data we wait for */
static void on_answer(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
		      const mosquitto_property *props)
{
	void *corr = NULL;
	uint16_t len = 0;
	uint64_t v = 0;

	(void)m;
	(void)arg;
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &len, false);
	if (corr && len == sizeof(v))
		memcpy(&v, corr, sizeof(v));
	free(corr);
	(void)msg;
	if (v == expect_corr)
		answered = true;
}

/* echo: the request back to its Response Topic with its Correlation Data */
static void on_request(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	char *rt = NULL;
	void *corr = NULL;
	uint16_t len = 0;
	mosquitto_property *out = NULL;

	(void)arg;
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rt, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &len, false);
	if (rt) {
		if (corr)
			mosquitto_property_add_binary(&out, MQTT_PROP_CORRELATION_DATA, corr, len);
		mosquitto_publish_v5(m, NULL, rt, msg->payloadlen, msg->payload, 1, false, out);
		mosquitto_property_free_all(&out);
	}
	free(rt);
	free(corr);
}

static double pct(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)ceil(p / 100.0 * (double)n);

	return (double)v[i ? i - 1 : 0] / 1000.0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},   {"ca", required_argument, NULL, 'a'},
	    {"cert", required_argument, NULL, 'c'},   {"key", required_argument, NULL, 'k'},
	    {"topic", required_argument, NULL, 't'},  {"count", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'}, {"label", required_argument, NULL, 'l'},
	    {"echo", no_argument, NULL, 'e'},	      {NULL, 0, NULL, 0},
	};
	const char *ca = NULL, *cert = NULL, *key = NULL, *topic = NULL, *label = "rtt";
	int port = 0, c;
	long count = 2000, warmup = 100;
	bool echo = false;
	struct mosquitto *m;
	uint64_t *rtt;
	char cid[64];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'a':
			ca = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		case 'l':
			label = optarg;
			break;
		case 'e':
			echo = true;
			break;
		default:
			return 2;
		}
	}
	if (!port || !ca || !topic || count < 1) {
		fprintf(stderr, "usage: see the comment at the top of cmd_rtt.c\n");
		return 2;
	}
	mosquitto_lib_init();
	snprintf(cid, sizeof(cid), "bench-%s-%d", echo ? "echo" : "req", (int)getpid());
	m = mosquitto_new(cid, true, NULL);
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_message_v5_callback_set(m, echo ? on_request : on_answer);
	if (mosquitto_tls_set(m, ca, NULL, cert, key, NULL) ||
	    mosquitto_connect(m, "127.0.0.1", port, 30)) {
		fprintf(stderr, "bench-cmd-rtt: cannot connect to 127.0.0.1:%d\n", port);
		return 1;
	}
	while (!connected && !failed)
		if (mosquitto_loop(m, 100, 1))
			return 1;
	if (failed)
		return 1;
	if (echo) {
		mosquitto_subscribe(m, NULL, topic, 1);
		fprintf(stderr, "bench-cmd-rtt: echoing %s\n", topic);
		mosquitto_loop_forever(m, 1000, 1);
		return 0;
	}
	snprintf(reply_topic, sizeof(reply_topic), "bench/replies/%d", (int)getpid());
	mosquitto_subscribe(m, NULL, reply_topic, 1);
	for (int i = 0; i < 20; i++)
		mosquitto_loop(m, 10, 1); /* SUBACK */
	rtt = calloc((size_t)count, sizeof(*rtt));
	if (!rtt)
		return 1;
	for (long i = -warmup; i < count; i++) {
		mosquitto_property *props = NULL;
		char payload[128];
		uint64_t t0, deadline;
		int n;

		expect_corr = (uint64_t)(i + warmup + 1);
		answered = false;
		n = snprintf(payload, sizeof(payload), "{\"id\":\"bench-%d-%ld\",\"params\":{}}",
			     (int)getpid(), i + warmup);
		mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, reply_topic);
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, &expect_corr,
					      sizeof(expect_corr));
		t0 = bench_now_us();
		mosquitto_publish_v5(m, NULL, topic, n, payload, 1, false, props);
		mosquitto_property_free_all(&props);
		deadline = t0 + 5000000;
		while (!answered && bench_now_us() < deadline)
			if (mosquitto_loop(m, 5, 1) != MOSQ_ERR_SUCCESS)
				break;
		if (!answered) {
			fprintf(stderr, "bench-cmd-rtt: %s: no answer to request %ld\n", label, i);
			return 1;
		}
		if (i >= 0)
			rtt[i] = bench_now_us() - t0;
	}
	qsort(rtt, (size_t)count, sizeof(*rtt), bench_cmp_u64);
	{
		double sum = 0;

		for (long i = 0; i < count; i++)
			sum += (double)rtt[i];
		printf("label=%s n=%ld p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
		       "mean_ms=%.3f\n",
		       label, count, pct(rtt, (size_t)count, 50), pct(rtt, (size_t)count, 90),
		       pct(rtt, (size_t)count, 99), (double)rtt[count - 1] / 1000.0,
		       sum / (double)count / 1000.0);
	}
	free(rtt);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
