/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BENCH_WORKLOAD_H
#define EDGE_BENCH_WORKLOAD_H
/*
 * The benchmark's message stream, shared by every benchmark program so that
 * they all send the same bytes: the sim board's tick (seven sim-vitals
 * readings on sensors/{device_id}/{metric}) followed by one HealthData record
 * on health/device_data, encoded by the agent's own record module
 * (edge_record_reading / edge_record_build). Values wander deterministically
 * so payload lengths vary like real ones (≈120-230 bytes).
 */
#include <stddef.h>
#include <stdint.h>

#include "agent/record.h"
#include "agent/store.h"

#define BENCH_MSGS_PER_TICK 8
#define BENCH_PAYLOAD_MAX   512
#define BENCH_TOPIC_MAX	    160

struct bench_workload {
	char device_id[64];
	char topic_data[BENCH_TOPIC_MAX];
	char topics[BENCH_MSGS_PER_TICK - 1][BENCH_TOPIC_MAX];
	enum edge_channel ch[BENCH_MSGS_PER_TICK - 1];
	struct edge_record_builder builder;
	uint64_t n;    /* messages produced so far */
	uint32_t rng;  /* xorshift state */
	int32_t value; /* the reading of the current tick's channel */
};

/* Topics from the agent's default templates for device_id. */
void bench_workload_init(struct bench_workload *w, const char *device_id);
/* Encodes the next message of the stream into payload (BENCH_PAYLOAD_MAX
 * bytes). Returns its length; *topic is borrowed from w. */
size_t bench_workload_next(struct bench_workload *w, uint64_t wall_ms, const char **topic,
			   char *payload);
/* The next n messages of the stream as outbox rows (QoS 1): msgs[i] borrows
 * payloads[i] and a topic from w. */
void bench_workload_msgs(struct bench_workload *w, uint64_t wall_ms, struct edge_store_msg *msgs,
			 char (*payloads)[BENCH_PAYLOAD_MAX], size_t n);

#endif
