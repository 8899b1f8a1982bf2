/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BP_INTERNAL_H
#define EDGE_BP_INTERNAL_H
#include "../drivers_internal.h"
#include "edge/bp.h"

/* What both cuff backends report. A measurement is reported by the fetch
 * that received it (fresh), then -ENODATA until the next one: a cuff
 * measures every few minutes and the agent's freshness window decides how
 * long a reading stays usable. */
struct edge_bp_latest {
	struct edge_bp_measurement m;
	int fresh;
	uint32_t received, rejected;
};

extern const enum edge_channel edge_bp_channels[4];

/* Decodes a characteristic value into l (fresh on success). */
int edge_bp_latest_update(struct edge_bp_latest *l, const uint8_t *buf, size_t len);
int edge_bp_latest_get(const struct edge_bp_latest *l, enum edge_channel ch, int32_t *val);

#endif
