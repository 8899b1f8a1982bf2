/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BP_INTERNAL_H
#define EDGE_BP_INTERNAL_H
#include "../drivers_internal.h"
#include "edge/bp.h"

/* What both cuff backends report. Each measurement is delivered once per
 * channel: channel_get returns it the first time a channel is asked for
 * after it arrived, -ENODATA after that (whatever mix of pollfd- and
 * timer-driven fetches the agent does). A cuff measures every few minutes
 * and the agent's freshness window decides how long a reading stays usable;
 * re-reporting an old measurement would make it look new. */
struct edge_bp_latest {
	struct edge_bp_measurement m;
	unsigned unreported; /* bit i: edge_bp_channels[i] not yet delivered */
	uint32_t received, rejected;
};

extern const enum edge_channel edge_bp_channels[4];

/* Decodes a characteristic value into l (fresh on success). */
int edge_bp_latest_update(struct edge_bp_latest *l, const uint8_t *buf, size_t len);
/* Delivers ch once per measurement (clears its unreported bit). */
int edge_bp_latest_get(struct edge_bp_latest *l, enum edge_channel ch, int32_t *val);

#endif
