/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BACKOFF_H
#define EDGE_BACKOFF_H
#include <stdint.h>

/*
 * Exponential backoff with full jitter: the n-th delay is uniform in
 * [0, min(cap, base * 2^n)], so a fleet that lost its broker at the same
 * moment does not come back in lockstep.
 */
struct edge_backoff {
	uint32_t base_ms;
	uint32_t cap_ms;
	uint32_t attempt;
	uint64_t rng;
};

/* seed 0 picks one from the clock and pid. */
void edge_backoff_init(struct edge_backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);
/* The next delay; advances the attempt counter. */
uint32_t edge_backoff_next(struct edge_backoff *b);
/* The upper bound the next call will draw from. */
uint32_t edge_backoff_ceiling(const struct edge_backoff *b);
void edge_backoff_reset(struct edge_backoff *b);

#endif
