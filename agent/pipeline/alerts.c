/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/alerts.h"
#include "edge/time.h"

struct rule_rt {
	struct edge_alert_rule rule;
	bool pending, firing;
	uint64_t pending_since; /* monotonic */
	uint64_t since_wall;
	double last_value;
	uint64_t episodes;
};

struct edge_alerts {
	char device_id[64];
	char topic_tmpl[128];
	struct rule_rt r[EDGE_ALERTS_MAX];
	size_t n;
	edge_alerts_emit emit;
	void *arg;
	uint64_t total;
};

int edge_alerts_new(const struct edge_config *cfg, edge_alerts_emit emit, void *arg,
		    struct edge_alerts **out)
{
	struct edge_alerts *al = calloc(1, sizeof(*al));

	if (!al)
		return -ENOMEM;
	al->emit = emit;
	al->arg = arg;
	edge_alerts_configure(al, cfg);
	*out = al;
	return 0;
}

void edge_alerts_free(struct edge_alerts *al)
{
	free(al);
}

static bool same_rule(const struct edge_alert_rule *a, const struct edge_alert_rule *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->metric, b->metric) == 0;
}

static void publish(struct edge_alerts *al, const struct rule_rt *rt, const char *state,
		    double value, uint64_t wall_ms);

void edge_alerts_configure(struct edge_alerts *al, const struct edge_config *cfg)
{
	struct rule_rt next[EDGE_ALERTS_MAX];
	size_t n = cfg->n_alerts < EDGE_ALERTS_MAX ? cfg->n_alerts : EDGE_ALERTS_MAX;

	bool kept[EDGE_ALERTS_MAX] = {false};

	memset(next, 0, sizeof(next));
	for (size_t i = 0; i < n; i++) {
		next[i].rule = cfg->alerts[i];
		for (size_t j = 0; j < al->n; j++) {
			if (!same_rule(&al->r[j].rule, &cfg->alerts[i]))
				continue;
			/* the next reading decides with the new threshold */
			next[i] = al->r[j];
			next[i].rule = cfg->alerts[i];
			kept[j] = true;
			break;
		}
	}
	/* A removed rule that was firing ends its episode now. */
	for (size_t j = 0; j < al->n; j++)
		if (!kept[j] && al->r[j].firing)
			publish(al, &al->r[j], "resolved", al->r[j].last_value, edge_wall_ms());
	memcpy(al->r, next, sizeof(next));
	al->n = n;
	snprintf(al->device_id, sizeof(al->device_id), "%s", cfg->device_id);
	snprintf(al->topic_tmpl, sizeof(al->topic_tmpl), "%s", cfg->topics.alerts);
}

static bool holds(const struct edge_alert_rule *r, double v)
{
	switch (r->cmp) {
	case EDGE_CMP_GT:
		return v > r->threshold;
	case EDGE_CMP_GE:
		return v >= r->threshold;
	case EDGE_CMP_LT:
		return v < r->threshold;
	case EDGE_CMP_LE:
		return v <= r->threshold;
	default:
		return false;
	}
}

static void publish(struct edge_alerts *al, const struct rule_rt *rt, const char *state,
		    double value, uint64_t wall_ms)
{
	char topic[192], payload[512];
	int n;

	if (!al->emit || edge_topic_format(topic, sizeof(topic), al->topic_tmpl, al->device_id,
					   rt->rule.metric, rt->rule.severity, NULL) < 0)
		return;
	n = snprintf(payload, sizeof(payload),
		     "{\"deviceId\":\"%s\",\"rule\":\"%s\",\"metric\":\"%s\",\"value\":%.10g,"
		     "\"severity\":\"%s\",\"state\":\"%s\",\"timestamp\":%" PRIu64 "}",
		     al->device_id, rt->rule.name, rt->rule.metric, value, rt->rule.severity, state,
		     wall_ms);
	if (n > 0 && (size_t)n < sizeof(payload))
		al->emit(al->arg, topic, payload, (size_t)n);
}

void edge_alerts_reading(struct edge_alerts *al, const char *metric, double value, uint64_t now_ms,
			 uint64_t wall_ms)
{
	for (size_t i = 0; i < al->n; i++) {
		struct rule_rt *rt = &al->r[i];

		if (strcmp(rt->rule.metric, metric) != 0)
			continue;
		rt->last_value = value;
		if (!holds(&rt->rule, value)) {
			rt->pending = false;
			if (rt->firing) {
				rt->firing = false;
				rt->since_wall = 0;
				publish(al, rt, "resolved", value, wall_ms);
			}
			continue;
		}
		if (rt->firing)
			continue;
		if (!rt->pending) {
			rt->pending = true;
			rt->pending_since = now_ms;
		}
		if (now_ms - rt->pending_since >= (uint64_t)rt->rule.for_s * 1000) {
			rt->pending = false;
			rt->firing = true;
			rt->since_wall = wall_ms;
			rt->episodes++;
			al->total++;
			publish(al, rt, "firing", value, wall_ms);
		}
	}
}

void edge_alerts_counts(const struct edge_alerts *al, uint32_t *active, uint64_t *total)
{
	uint32_t a = 0;

	for (size_t i = 0; al && i < al->n; i++)
		a += al->r[i].firing;
	*active = a;
	*total = al ? al->total : 0;
}

size_t edge_alerts_rule_count(const struct edge_alerts *al)
{
	return al ? al->n : 0;
}

void edge_alerts_rule_state(const struct edge_alerts *al, size_t i, struct edge_alert_state *out)
{
	const struct rule_rt *rt = &al->r[i];

	*out = (struct edge_alert_state){
	    .name = rt->rule.name,
	    .metric = rt->rule.metric,
	    .severity = rt->rule.severity,
	    .firing = rt->firing,
	    .pending = rt->pending,
	    .last_value = rt->last_value,
	    .since_wall_ms = rt->since_wall,
	    .episodes = rt->episodes,
	};
}
