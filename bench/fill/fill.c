/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-fill: pre-fills an agent outbox (state_dir/outbox.db) with the
 * benchmark's message stream through the agent's own store, in large
 * transactions, for the drain measurement.
 *
 * Usage: bench-fill --state-dir DIR [--count 1000000] [--batch 10000]
 *                   [--device-id sim-0001]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store.h"
#include "edge/file.h"
#include "edge/time.h"
#include "workload.h"

#define BATCH_MAX 20000

static struct edge_store_msg msgs[BATCH_MAX];
static char payloads[BATCH_MAX][BENCH_PAYLOAD_MAX];

static void usage(void)
{
	fprintf(stderr, "usage: bench-fill --state-dir DIR [--count N] [--batch N] "
			"[--device-id ID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 'd'},
	    {"count", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},
	    {"device-id", required_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *device = "sim-0001";
	uint64_t count = 1000000, done = 0, t0;
	size_t batch = 10000;
	struct bench_workload wl;
	struct edge_store_cfg cfg;
	struct edge_store_stats st;
	struct edge_store *store;
	int c, rc;

	while ((c = getopt_long(argc, argv, "d:n:b:i:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			device = optarg;
			break;
		default:
			usage();
		}
	}
	if (!dir || !batch || batch > BATCH_MAX)
		usage();
	cfg = (struct edge_store_cfg){
	    .dir = dir, .max_rows = UINT64_MAX / 2, .max_bytes = UINT64_MAX / 2};
	rc = edge_mkdir_p(dir, 0750);
	if (!rc)
		rc = edge_store_open(&cfg, &store, NULL, 0);
	if (rc) {
		fprintf(stderr, "bench-fill: outbox in %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	bench_workload_init(&wl, device);
	t0 = edge_now_ms();
	while (done < count) {
		size_t n = count - done < batch ? (size_t)(count - done) : batch;

		bench_workload_msgs(&wl, edge_wall_ms(), msgs, payloads, n);
		rc = edge_store_append(store, msgs, n);
		if (rc) {
			fprintf(stderr, "bench-fill: append: %s\n", strerror(-rc));
			edge_store_close(store);
			return 1;
		}
		done += n;
	}
	edge_store_checkpoint(store);
	edge_store_stats(store, &st);
	edge_store_close(store);
	printf("rows=%" PRIu64 " bytes=%" PRIu64 " seconds=%.2f\n", st.rows, st.bytes,
	       (double)(edge_now_ms() - t0) / 1000.0);
	return 0;
}
