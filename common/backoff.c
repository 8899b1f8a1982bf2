/* SPDX-License-Identifier: Apache-2.0 */
#include <unistd.h>

#include "edge/backoff.h"
#include "edge/time.h"

void edge_backoff_init(struct edge_backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed)
{
	b->base_ms = base_ms ? base_ms : 1;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->attempt = 0;
	b->rng = seed ? seed : (edge_wall_ms() << 16) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ull;
}

/* xorshift64*: plenty for jitter, no libc state. */
static uint64_t next_rand(struct edge_backoff *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545F4914F6CDD1Dull;
}

uint32_t edge_backoff_ceiling(const struct edge_backoff *b)
{
	uint64_t c = b->base_ms;

	for (uint32_t i = 0; i < b->attempt && c < b->cap_ms; i++)
		c <<= 1;
	return c > b->cap_ms ? b->cap_ms : (uint32_t)c;
}

uint32_t edge_backoff_next(struct edge_backoff *b)
{
	uint32_t ceil = edge_backoff_ceiling(b);

	if (b->attempt < 64)
		b->attempt++;
	return (uint32_t)(next_rand(b) % ((uint64_t)ceil + 1));
}

void edge_backoff_reset(struct edge_backoff *b)
{
	b->attempt = 0;
}
