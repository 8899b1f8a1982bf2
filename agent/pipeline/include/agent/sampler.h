/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_SAMPLER_H
#define EDGE_AGENT_SAMPLER_H
/*
 * Sampling: one timer per sensor instance of the board (interval_ms), one
 * timer for HealthData records (record.interval_ms). Each sensor tick
 * fetches a sample (bus I/O), reads every channel the driver lists and
 * hands the messages of that tick to the sink in one batch (one outbox
 * transaction). A failing sensor is reported, retried every 30 s, and never
 * stops the others.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/record.h"
#include "agent/store.h"
#include "edge/board.h"
#include "edge/loop.h"

struct edge_sampler;

/* Receives the messages of one tick; returns 0 or a negative errno. */
typedef int (*edge_sampler_sink)(void *arg, const struct edge_store_msg *msgs, size_t n);
/* Sees every accepted reading (alerts, edgectl tail). Optional. */
typedef void (*edge_sampler_observer)(void *arg, const char *sensor, enum edge_channel ch,
				      int32_t value, uint64_t ts_ms);

struct edge_sensor_health {
	const char *name; /* borrowed */
	bool enabled;
	bool healthy;
	int error; /* last negative errno, 0 when fine */
	uint64_t errors;
	uint64_t readings;
	uint64_t last_reading_ms; /* wall clock, 0 = never */
};

struct edge_sampler_stats {
	uint64_t readings;
	uint64_t records;
	uint64_t records_incomplete;
	uint64_t sink_errors; /* messages the outbox refused */
};

/* Caller frees with edge_sampler_free(). err explains a failure. */
int edge_sampler_new(struct edge_loop *loop, const struct edge_config *cfg,
		     const struct edge_board *board, edge_sampler_sink sink, void *sink_arg,
		     struct edge_sampler **out, char *err, size_t errlen);
void edge_sampler_free(struct edge_sampler *s);
void edge_sampler_set_observer(struct edge_sampler *s, edge_sampler_observer cb, void *arg);
/* Stops all timers (shutdown). */
void edge_sampler_pause(struct edge_sampler *s);
/* Takes one sample of every live sensor now. Returns how many succeeded. */
int edge_sampler_sample_now(struct edge_sampler *s);
/* Enables or disables a sensor by name: -ENOENT when unknown. */
int edge_sampler_enable(struct edge_sampler *s, const char *name, bool enable);
size_t edge_sampler_sensor_count(const struct edge_sampler *s);
void edge_sampler_sensor_health(const struct edge_sampler *s, size_t i,
				struct edge_sensor_health *out);
void edge_sampler_stats(const struct edge_sampler *s, struct edge_sampler_stats *out);

#endif
