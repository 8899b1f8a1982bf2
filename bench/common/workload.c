/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "workload.h"

static const enum edge_channel channels[BENCH_MSGS_PER_TICK - 1] = {
    EDGE_CH_HEART_RATE, EDGE_CH_SPO2,	  EDGE_CH_SYSTOLIC,  EDGE_CH_DIASTOLIC,
    EDGE_CH_BODY_TEMP,	EDGE_CH_LATITUDE, EDGE_CH_LONGITUDE,
};

/* Plausible ranges in channel units (bpm, %, mmHg, milli-degC, 1e-7 deg). */
static const int32_t lo[BENCH_MSGS_PER_TICK - 1] = {55, 92, 105, 65, 36100, 488000000, 23000000};
static const int32_t span[BENCH_MSGS_PER_TICK - 1] = {50, 8, 40, 25, 1500, 1000000, 1000000};

void bench_workload_init(struct bench_workload *w, const char *device_id)
{
	struct edge_config defaults;

	memset(w, 0, sizeof(*w));
	edge_config_defaults(&defaults);
	snprintf(w->device_id, sizeof(w->device_id), "%s", device_id);
	edge_topic_format(w->topic_data, sizeof(w->topic_data), defaults.topics.device_data,
			  device_id, NULL, NULL, NULL);
	for (size_t i = 0; i < BENCH_MSGS_PER_TICK - 1; i++) {
		w->ch[i] = channels[i];
		edge_topic_format(w->topics[i], sizeof(w->topics[i]), defaults.topics.sensor,
				  device_id, edge_channel_name(channels[i]), NULL, NULL);
	}
	edge_record_init(&w->builder, false, 0, 0);
	w->rng = 2463534242u;
}

static uint32_t next_rand(struct bench_workload *w)
{
	uint32_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return w->rng = x;
}

size_t bench_workload_next(struct bench_workload *w, uint64_t wall_ms, const char **topic,
			   char *payload)
{
	size_t k = (size_t)(w->n++ % BENCH_MSGS_PER_TICK);
	int len;

	if (k < BENCH_MSGS_PER_TICK - 1) {
		int32_t v = lo[k] + (int32_t)(next_rand(w) % (uint32_t)span[k]);

		/* now_ms 1 keeps every vital "fresh" for the record of this tick */
		edge_record_update(&w->builder, w->ch[k], v, 1, UINT32_MAX);
		len = edge_record_reading(w->device_id, w->ch[k], v, wall_ms, payload,
					  BENCH_PAYLOAD_MAX);
		*topic = w->topics[k];
	} else {
		len = edge_record_build(&w->builder, w->device_id, 1, wall_ms, payload,
					BENCH_PAYLOAD_MAX, NULL);
		*topic = w->topic_data;
	}
	return len > 0 ? (size_t)len : 0;
}

void bench_workload_msgs(struct bench_workload *w, uint64_t wall_ms, struct edge_store_msg *msgs,
			 char (*payloads)[BENCH_PAYLOAD_MAX], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *topic;
		size_t len = bench_workload_next(w, wall_ms, &topic, payloads[i]);

		msgs[i] = (struct edge_store_msg){
		    .topic = topic, .payload = payloads[i], .len = len, .qos = 1};
	}
}
