/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_ALERTS_H
#define EDGE_AGENT_ALERTS_H
/*
 * Edge alerts: rules from the config ("alerts") evaluated on every reading.
 *
 * Episode logic per rule: the condition (value <cmp> threshold) must hold
 * on every reading for for_s seconds (0 = at once) before the rule fires;
 * firing sends one "firing" message; the first reading that breaks the
 * condition ends the episode with one "resolved" message. A reading for
 * which the condition does not hold while pending resets the timer.
 *
 * Messages go to topics.alerts ({severity}) as
 * {"deviceId","rule","metric","value","severity","state","timestamp"}
 * through the emit callback (the agent appends them to the outbox with
 * priority 1: kept offline, published ahead of telemetry, dropped last).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"

struct edge_alerts;

typedef void (*edge_alerts_emit)(void *arg, const char *topic, const char *payload, size_t len);

struct edge_alert_state {
	const char *name; /* borrowed */
	const char *metric;
	const char *severity;
	bool firing;
	bool pending;
	double last_value;
	uint64_t since_wall_ms; /* firing since, 0 when not firing */
	uint64_t episodes;
};

/* Caller frees with edge_alerts_free(). */
int edge_alerts_new(const struct edge_config *cfg, edge_alerts_emit emit, void *arg,
		    struct edge_alerts **out);
void edge_alerts_free(struct edge_alerts *al);
/* New rules: a rule keeping its name and metric keeps its episode (the next
 * reading is judged by the new comparison/threshold, which may resolve it);
 * a removed rule that was firing is resolved at once. */
void edge_alerts_configure(struct edge_alerts *al, const struct edge_config *cfg);
/* One reading of metric (a channel name) in its unit. now_ms monotonic. */
void edge_alerts_reading(struct edge_alerts *al, const char *metric, double value, uint64_t now_ms,
			 uint64_t wall_ms);
void edge_alerts_counts(const struct edge_alerts *al, uint32_t *active, uint64_t *total);
size_t edge_alerts_rule_count(const struct edge_alerts *al);
void edge_alerts_rule_state(const struct edge_alerts *al, size_t i, struct edge_alert_state *out);

#endif
