/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-raw-publish: the limit. A minimal libmosquitto QoS 1 publish loop:
 * no store, no encoding in the loop (the benchmark's payloads are encoded
 * once at start-up by the same workload the pipeline uses), the same TLS,
 * the same MQTT v5 user properties (seq, boot) and the same in-flight window
 * as the agent. It counts PUBACKs.
 *
 *   --seconds S [--warmup W]   PUBACKs per second over S seconds after W
 *   --count N                  time until N messages are acknowledged
 *
 * Usage: bench-raw-publish --port P --ca CA --cert CRT --key KEY
 *            [--host 127.0.0.1] [--inflight 128] [--device-id sim-0001]
 *            [--no-props] (--seconds S [--warmup W] | --count N)
 *        bench-raw-publish --dump FILE   (writes the payloads, "topic<TAB>payload"
 *                                         per line, for the Python peer)
 * Prints one line of key=value pairs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/time.h"
#include "memstat.h"
#include "workload.h"

#define RING 1024 /* distinct precomputed messages, cycled */

struct msg {
	const char *topic;
	int len;
	char payload[BENCH_PAYLOAD_MAX];
};

static struct msg ring[RING];
static bool connected, failed, props = true;
static uint64_t published, acked, inflight_max = 128;

static void on_connect(struct mosquitto *m, void *arg, int rc, int flags,
		       const mosquitto_property *p)
{
	(void)m;
	(void)arg;
	(void)flags;
	(void)p;
	if (rc) {
		fprintf(stderr, "bench-raw-publish: connection refused: %s\n",
			mosquitto_reason_string(rc));
		failed = true;
		return;
	}
	connected = true;
}

static void on_publish(struct mosquitto *m, void *arg, int mid, int reason,
		       const mosquitto_property *p)
{
	(void)m;
	(void)arg;
	(void)mid;
	(void)p;
	if (reason >= 0x80)
		failed = true;
	acked++;
}

static int publish_one(struct mosquitto *mosq)
{
	const struct msg *m = &ring[published % RING];
	mosquitto_property *pl = NULL;
	int rc;

	if (props) {
		char seq[24];

		snprintf(seq, sizeof(seq), "%" PRIu64, published + 1);
		if (mosquitto_property_add_string_pair(&pl, MQTT_PROP_USER_PROPERTY, "seq", seq) ||
		    mosquitto_property_add_string_pair(&pl, MQTT_PROP_USER_PROPERTY, "boot", "1")) {
			mosquitto_property_free_all(&pl);
			return MOSQ_ERR_NOMEM;
		}
	}
	rc = mosquitto_publish_v5(mosq, NULL, m->topic, m->len, m->payload, 1, false, pl);
	mosquitto_property_free_all(&pl);
	if (rc == MOSQ_ERR_SUCCESS)
		published++;
	return rc;
}

static void fill_ring(const char *device)
{
	static struct bench_workload wl; /* the ring borrows its topics */

	bench_workload_init(&wl, device);
	for (size_t i = 0; i < RING; i++) {
		size_t len =
		    bench_workload_next(&wl, edge_wall_ms(), &ring[i].topic, ring[i].payload);

		ring[i].len = (int)len;
	}
}

static int dump_payloads(const char *path, const char *device)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		perror(path);
		return 1;
	}
	fill_ring(device);
	for (size_t i = 0; i < RING; i++)
		fprintf(f, "%s\t%.*s\n", ring[i].topic, ring[i].len, ring[i].payload);
	return fclose(f) ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-raw-publish --port P --ca CA --cert CRT --key KEY [--host H] "
			"[--inflight N] [--device-id ID] [--no-props] "
			"(--seconds S [--warmup W] | --count N)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"host", required_argument, NULL, 'h'},
	    {"port", required_argument, NULL, 'p'},
	    {"ca", required_argument, NULL, 'a'},
	    {"cert", required_argument, NULL, 'c'},
	    {"key", required_argument, NULL, 'k'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"device-id", required_argument, NULL, 'd'},
	    {"seconds", required_argument, NULL, 's'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"count", required_argument, NULL, 'n'},
	    {"no-props", no_argument, NULL, 'P'},
	    {"dump", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const char *host = "127.0.0.1", *ca = NULL, *cert = NULL, *key = NULL;
	const char *device = "sim-0001", *dump = NULL;
	struct bench_mem mem = {0}, now;
	struct mosquitto *mosq;
	double secs = 0, warm = 2;
	uint64_t count = 0, t_start = 0, t0 = 0, acked0 = 0, cpu0 = 0, next_misc, next_mem,
		 deadline;
	bool saw_writable = false;
	int port = 0, c, rc;

	while ((c = getopt_long(argc, argv, "h:p:a:c:k:i:d:s:w:n:PD:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			host = optarg;
			break;
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
		case 'i':
			inflight_max = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			device = optarg;
			break;
		case 's':
			secs = strtod(optarg, NULL);
			break;
		case 'w':
			warm = strtod(optarg, NULL);
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'P':
			props = false;
			break;
		case 'D':
			dump = optarg;
			break;
		default:
			usage();
		}
	}
	if (dump)
		return dump_payloads(dump, device);
	if (!port || !ca || (secs <= 0) == (count == 0) || !inflight_max)
		usage();
	signal(SIGPIPE, SIG_IGN);

	fill_ring(device);
	mosquitto_lib_init();
	mosq = mosquitto_new("bench-raw-publish", true, NULL);
	if (!mosq)
		return 1;
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, (int)inflight_max);
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_publish_v5_callback_set(mosq, on_publish);
	rc = mosquitto_tls_set(mosq, ca, NULL, cert, key, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(mosq, 1, "tlsv1.2", NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect_async(mosq, host, port, 30);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bench-raw-publish: connect: %s\n", mosquitto_strerror(rc));
		return 1;
	}

	next_misc = edge_now_ms() + 1000;
	next_mem = edge_now_ms() + 250;
	deadline = edge_now_ms() + 20000; /* for CONNACK */
	for (;;) {
		struct pollfd p = {.fd = mosquitto_socket(mosq), .events = POLLIN};
		uint64_t now_ms;

		/* Keep the window full: publish outside callbacks, as the agent does. */
		while (connected && published - acked < inflight_max &&
		       (count == 0 || published < count)) {
			rc = publish_one(mosq);
			if (rc != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "bench-raw-publish: publish: %s\n",
					mosquitto_strerror(rc));
				return 1;
			}
		}
		/* Until the TCP connect completes, wait for writability (as the agent does). */
		if (mosquitto_want_write(mosq) || !saw_writable)
			p.events |= POLLOUT;
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return 1;
		rc = MOSQ_ERR_SUCCESS;
		if (p.revents & (POLLIN | POLLERR | POLLHUP))
			rc = mosquitto_loop_read(mosq, 1);
		if (rc == MOSQ_ERR_SUCCESS && (p.revents & POLLOUT)) {
			saw_writable = true;
			rc = mosquitto_loop_write(mosq, 1);
		}
		if (rc != MOSQ_ERR_SUCCESS || failed) {
			fprintf(stderr, "bench-raw-publish: connection lost: %s\n",
				mosquitto_strerror(rc));
			return 1;
		}
		now_ms = edge_now_ms();
		if (now_ms >= next_misc) {
			mosquitto_loop_misc(mosq);
			next_misc = now_ms + 1000;
		}
		if (now_ms >= next_mem) { /* as often as bench-pipeline samples itself */
			if (bench_mem_read(0, &now) == 0)
				bench_mem_peak(&mem, &now);
			next_mem = now_ms + 250;
		}
		if (!connected) {
			if (now_ms > deadline) {
				fprintf(stderr, "bench-raw-publish: no CONNACK within 20 s\n");
				return 1;
			}
			continue;
		}
		if (!t_start) {
			t_start = now_ms;
			cpu0 = bench_cpu_us();
			deadline = t_start + (uint64_t)(warm * 1000);
		}
		if (count) {
			if (acked >= count) {
				double dt = (double)(now_ms - t_start) / 1000.0;

				printf("seconds=%.2f acked=%" PRIu64
				       " acked_per_s=%.0f inflight=%" PRIu64 " rss_kib=%" PRIu64
				       " pss_kib=%" PRIu64 " cpu_us_per_msg=%.2f\n",
				       dt, acked, (double)acked / dt, inflight_max, mem.rss_kib,
				       mem.pss_kib,
				       (double)(bench_cpu_us() - cpu0) / (double)acked);
				break;
			}
		} else if (!t0 && now_ms >= deadline) {
			t0 = now_ms;
			acked0 = acked;
			cpu0 = bench_cpu_us();
			deadline = t0 + (uint64_t)(secs * 1000);
		} else if (t0 && now_ms >= deadline) {
			double dt = (double)(now_ms - t0) / 1000.0;

			printf("acked_per_s=%.0f acked=%" PRIu64 " seconds=%.2f inflight=%" PRIu64
			       " props=%d rss_kib=%" PRIu64 " pss_kib=%" PRIu64
			       " cpu_us_per_msg=%.2f\n",
			       (double)(acked - acked0) / dt, acked - acked0, dt, inflight_max,
			       props, mem.rss_kib, mem.pss_kib,
			       (double)(bench_cpu_us() - cpu0) / (double)(acked - acked0));
			break;
		}
	}
	mosquitto_disconnect(mosq);
	mosquitto_destroy(mosq);
	mosquitto_lib_cleanup();
	return 0;
}
