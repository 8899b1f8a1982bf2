/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "edge,sim-bp-cuff": a simulated Bluetooth cuff with no bus. Every period
 * (param "period_s=N", default 120; "kpa" makes the cuff report kPa) the
 * cuff model in hal/sim produces a 0x2A35 characteristic value for the
 * current simulated time, which goes through the same decoder as the BlueZ
 * backend's indications.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bp_internal.h"
#include "edge/hal/sim.h"

struct sim_cuff {
	struct edge_bp_latest latest;
	uint64_t period_ms;
	uint64_t last_slot;
	int kpa;
	unsigned seed;
};

static int sim_cuff_init(struct edge_sensor *s)
{
	struct sim_cuff *c = s->priv;
	const char *p = s->bind.param;

	c->period_ms = 120000;
	c->last_slot = UINT64_MAX;
	if (p) {
		const char *ps = strstr(p, "period_s=");

		if (ps) {
			char *end;
			unsigned long v = strtoul(ps + 9, &end, 10);

			if (end == ps + 9 || v < 1 || v > 86400)
				return -EINVAL;
			c->period_ms = v * 1000u;
		}
		c->kpa = strstr(p, "kpa") != NULL;
	}
	for (const char *n = s->name; *n; n++)
		c->seed = c->seed * 31u + (unsigned char)*n;
	return 0;
}

static int sim_cuff_fetch(struct edge_sensor *s)
{
	struct sim_cuff *c = s->priv;
	uint64_t slot = edge_sim_time_ms() / c->period_ms;
	struct edge_sim_bp_reading r;
	uint8_t buf[32];
	size_t n;

	if (slot == c->last_slot)
		return 0;
	c->last_slot = slot;
	edge_sim_bp_cuff_reading(slot * c->period_ms, c->seed, &r);
	r.kpa = c->kpa;
	n = edge_sim_bp_cuff_encode(&r, buf, sizeof(buf));
	return edge_bp_latest_update(&c->latest, buf, n);
}

static int sim_cuff_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	struct sim_cuff *c = s->priv; /* delivery state: see bp_internal.h */

	return edge_bp_latest_get(&c->latest, ch, val);
}

const struct edge_sensor_ops edge_sim_bp_cuff_driver = {
    .compatible = "edge,sim-bp-cuff",
    .description = "simulated Bluetooth blood-pressure cuff (0x2A35 values, no bus)",
    .priv_size = sizeof(struct sim_cuff),
    .channels = edge_bp_channels,
    .n_channels = 4,
    .init = sim_cuff_init,
    .sample_fetch = sim_cuff_fetch,
    .channel_get = sim_cuff_get,
    .bus = EDGE_SENSOR_BUS_NONE,
};
