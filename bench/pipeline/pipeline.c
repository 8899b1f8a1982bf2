/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-pipeline: end-to-end acknowledged readings per second through the
 * agent's real modules, in the agent's real event loop:
 *
 *   record encoding (edge_record_reading / edge_record_build)
 *   -> edge_store_append (one SQLite transaction per loop iteration)
 *   -> edge_uplink (libmosquitto, mutual TLS, in-flight window, QoS 1)
 *   -> PUBACK -> edge_store_ack -> batched delete transaction.
 *
 * The producer runs as a prepare hook before the uplink's: each iteration it
 * tops the outbox up to --backlog rows (at most --batch messages, one
 * append), so the pipeline never starves and the outbox stays bounded. The
 * run counts PUBACKed messages over --seconds after --warmup seconds, and
 * samples its own RSS/PSS/anonymous memory every 250 ms (peaks, PSS median)
 * and its CPU time per acknowledged message.
 *
 * Usage: bench-pipeline --config agent.json [--seconds 10] [--warmup 2]
 *                       [--backlog 1024] [--batch 256]
 * Prints one line of key=value pairs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "benchutil.h"
#include "edge/log.h"
#include "edge/loop.h"
#include "edge/time.h"
#include "memstat.h"
#include "workload.h"

#define BATCH_LIMIT 4096
#define MEM_SAMPLES 4096

struct bench {
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_uplink *uplink;
	struct bench_workload wl;
	uint64_t backlog;
	size_t batch;
	uint64_t warmup_ms, seconds_ms;
	bool started;
	int failed;

	/* the measured window */
	uint64_t t0_ms, t1_ms, acked0, acked1, cpu0_us, cpu1_us;
	uint64_t appends0, appended0, appends, appended;
	struct bench_mem peak;
	uint64_t pss[MEM_SAMPLES]; /* PSS samples of the measured window */
	size_t n_pss;
	bool measuring;

	struct edge_store_msg msgs[BATCH_LIMIT];
	char payloads[BATCH_LIMIT][BENCH_PAYLOAD_MAX];
};

static void produce(void *arg)
{
	struct bench *b = arg;
	struct edge_store_stats st;
	size_t n;
	int rc;

	if (!b->started)
		return;
	edge_store_stats(b->store, &st);
	if (st.rows >= b->backlog)
		return;
	n = (size_t)(b->backlog - st.rows);
	if (n > b->batch)
		n = b->batch;
	bench_workload_msgs(&b->wl, edge_wall_ms(), b->msgs, b->payloads, n);
	rc = edge_store_append(b->store, b->msgs, n);
	if (rc) {
		fprintf(stderr, "bench-pipeline: append failed: %s\n", strerror(-rc));
		b->failed = rc;
		edge_loop_stop(b->loop);
		return;
	}
	b->appends++;
	b->appended += n;
}

static uint64_t acked(struct bench *b)
{
	struct edge_uplink_stats us;

	edge_uplink_stats(b->uplink, &us);
	return us.acked;
}

static void mem_cb(void *arg)
{
	struct bench *b = arg;
	struct bench_mem m;

	if (bench_mem_read(0, &m))
		return;
	if (!b->measuring)
		return;
	bench_mem_peak(&b->peak, &m);
	if (b->n_pss < MEM_SAMPLES)
		b->pss[b->n_pss++] = m.pss_kib;
}

static uint64_t pss_median(struct bench *b)
{
	if (!b->n_pss)
		return 0;
	qsort(b->pss, b->n_pss, sizeof(b->pss[0]), bench_cmp_u64);
	return b->pss[b->n_pss / 2];
}

static void end_cb(void *arg)
{
	struct bench *b = arg;

	mem_cb(b);
	b->t1_ms = edge_now_ms();
	b->cpu1_us = bench_cpu_us();
	b->acked1 = acked(b);
	b->measuring = false;
	edge_loop_stop(b->loop);
}

static void begin_cb(void *arg)
{
	struct bench *b = arg;

	b->t0_ms = edge_now_ms();
	b->cpu0_us = bench_cpu_us();
	b->acked0 = acked(b);
	b->appends0 = b->appends;
	b->appended0 = b->appended;
	b->measuring = true;
	mem_cb(b);
	edge_loop_timer_add(b->loop, b->seconds_ms, 0, end_cb, b, NULL);
}

static void connected(void *arg)
{
	struct bench *b = arg;

	if (b->started)
		return;
	b->started = true;
	edge_loop_timer_add(b->loop, b->warmup_ms, 0, begin_cb, b, NULL);
}

static void give_up(void *arg)
{
	struct bench *b = arg;

	if (!b->started) {
		fprintf(stderr, "bench-pipeline: no connection to the broker within 20 s\n");
		b->failed = -ETIMEDOUT;
		edge_loop_stop(b->loop);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-pipeline --config FILE [--seconds S] [--warmup S] "
			"[--backlog ROWS] [--batch N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"seconds", required_argument, NULL, 's'},
	    {"warmup", required_argument, NULL, 'w'}, {"backlog", required_argument, NULL, 'b'},
	    {"batch", required_argument, NULL, 'n'},  {NULL, 0, NULL, 0},
	};
	static struct bench b;
	struct edge_config cfg;
	struct edge_store_cfg scfg;
	struct edge_uplink_hooks hooks = {.connected = connected, .arg = &b};
	struct edge_store_stats st;
	const char *config = NULL;
	double secs = 10, warm = 2;
	char err[512];
	int c, rc;

	b.backlog = 1024;
	b.batch = 256;
	while ((c = getopt_long(argc, argv, "c:s:w:b:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			secs = strtod(optarg, NULL);
			break;
		case 'w':
			warm = strtod(optarg, NULL);
			break;
		case 'b':
			b.backlog = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			b.batch = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!config || secs <= 0 || warm < 0 || b.batch < 1 || b.batch > BATCH_LIMIT ||
	    b.backlog < 1)
		usage();
	b.seconds_ms = (uint64_t)(secs * 1000);
	b.warmup_ms = (uint64_t)(warm * 1000);
	signal(SIGPIPE, SIG_IGN);
	if (edge_config_load(config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "bench-pipeline: %s\n", err);
		return 1;
	}
	edge_log_set_level(cfg.log_level);
	bench_workload_init(&b.wl, cfg.device_id);
	scfg = (struct edge_store_cfg){.dir = cfg.state_dir,
				       .max_rows = cfg.store.max_rows,
				       .max_bytes = cfg.store.max_bytes,
				       .sync_full = cfg.store.synchronous == EDGE_SYNC_FULL};
	rc = edge_store_open(&scfg, &b.store, NULL, 0);
	if (rc) {
		fprintf(stderr, "bench-pipeline: outbox in %s: %s\n", cfg.state_dir, strerror(-rc));
		return 1;
	}
	rc = edge_loop_new(&b.loop);
	if (rc)
		goto out_store;
	/* Before the uplink's prepare hook: rows appended now go out this iteration. */
	rc = edge_loop_prepare_add(b.loop, produce, &b);
	if (!rc)
		rc = edge_uplink_new(b.loop, b.store, &cfg, "bench/will", "{}", &hooks, &b.uplink);
	if (!rc)
		rc = edge_loop_timer_add(b.loop, 250, 250, mem_cb, &b, NULL);
	if (!rc)
		rc = edge_loop_timer_add(b.loop, 20000, 0, give_up, &b, NULL);
	if (rc) {
		fprintf(stderr, "bench-pipeline: set-up failed: %s\n", strerror(-rc));
		goto out_loop;
	}
	edge_uplink_start(b.uplink);
	rc = edge_loop_run(b.loop);
	if (!rc)
		rc = b.failed;
	edge_uplink_shutdown(b.uplink, "bench/will", "{}");
	edge_uplink_free(b.uplink);
	if (!rc) {
		double dt = (double)(b.t1_ms - b.t0_ms) / 1000.0;
		uint64_t n = b.acked1 - b.acked0;
		uint64_t appends = b.appends - b.appends0;

		edge_store_stats(b.store, &st);
		printf("acked_per_s=%.0f acked=%" PRIu64 " seconds=%.2f sync=%s inflight=%u "
		       "backlog=%" PRIu64 " batch_mean=%.1f rss_kib=%" PRIu64 " pss_kib=%" PRIu64
		       " pss_median_kib=%" PRIu64 " anon_kib=%" PRIu64 " cpu_us_per_msg=%.2f\n",
		       (double)n / dt, n, dt, scfg.sync_full ? "full" : "normal", cfg.mqtt.inflight,
		       b.backlog,
		       appends ? (double)(b.appended - b.appended0) / (double)appends : 0.0,
		       b.peak.rss_kib, b.peak.pss_kib, pss_median(&b), b.peak.anon_kib,
		       n ? (double)(b.cpu1_us - b.cpu0_us) / (double)n : 0.0);
	}
out_loop:
	edge_loop_free(b.loop);
out_store:
	edge_store_close(b.store);
	return rc ? 1 : 0;
}
