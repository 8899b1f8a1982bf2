/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "agent/ingress_cache.h"

/* The slot of a live entry for this exchange, or -1. */
static int find_slot(const struct edge_mid_cache *c, uint64_t peer, uint16_t mid,
		     const uint8_t *tok, size_t toklen, uint64_t now_ms)
{
	for (size_t i = 0; i < EDGE_MID_CACHE_SLOTS; i++) {
		const struct edge_mid_entry *e = &c->e[i];

		if (!e->used || e->peer != peer || e->mid != mid || e->toklen != toklen)
			continue;
		if (toklen && memcmp(e->tok, tok, toklen) != 0)
			continue;
		if (now_ms - e->at_ms >= EDGE_EXCHANGE_LIFETIME_MS)
			continue;
		return (int)i;
	}
	return -1;
}

const struct edge_coap_answer *edge_mid_cache_find(const struct edge_mid_cache *c, uint64_t peer,
						   uint16_t mid, const uint8_t *tok, size_t toklen,
						   uint64_t now_ms)
{
	int i = find_slot(c, peer, mid, tok, toklen, now_ms);

	return i >= 0 ? &c->e[i].ans : NULL;
}

void edge_mid_cache_put(struct edge_mid_cache *c, uint64_t peer, uint16_t mid, const uint8_t *tok,
			size_t toklen, const struct edge_coap_answer *ans, uint64_t now_ms)
{
	struct edge_mid_entry *e;
	int i;

	if (toklen > sizeof(e->tok))
		return;
	/* the same exchange again (a held answer now final): its own entry */
	i = find_slot(c, peer, mid, tok, toklen, now_ms);
	if (i >= 0) {
		e = &c->e[i];
		e->at_ms = now_ms;
		e->ans = *ans;
		return;
	}
	e = &c->e[c->next % EDGE_MID_CACHE_SLOTS];
	c->next = (c->next + 1) % EDGE_MID_CACHE_SLOTS;
	e->used = true;
	e->peer = peer;
	e->mid = mid;
	e->toklen = (uint8_t)toklen;
	if (toklen)
		memcpy(e->tok, tok, toklen);
	e->at_ms = now_ms;
	e->ans = *ans;
}

void edge_mid_cache_forget_peer(struct edge_mid_cache *c, uint64_t peer)
{
	for (size_t i = 0; i < EDGE_MID_CACHE_SLOTS; i++)
		if (c->e[i].used && c->e[i].peer == peer)
			c->e[i].used = false;
}

uint64_t edge_token_bucket_take(struct edge_token_bucket *b, double rate_per_s, double burst,
				uint64_t now_ms)
{
	if (!b->started) {
		b->started = true;
		b->tokens = burst;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * rate_per_s / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	if (rate_per_s <= 0)
		return UINT64_MAX;
	/* whole milliseconds, rounded up: never "0 ms" while still empty */
	return (uint64_t)((1.0 - b->tokens) * 1000.0 / rate_per_s) + 1;
}

bool edge_seen_has(const struct edge_seen_ring *r, uint64_t t_ms)
{
	for (size_t i = 0; i < EDGE_SEEN_SLOTS; i++)
		if (r->t[i] == t_ms && t_ms)
			return true;
	return false;
}

void edge_seen_add(struct edge_seen_ring *r, uint64_t t_ms)
{
	r->t[r->next % EDGE_SEEN_SLOTS] = t_ms;
	r->next = (uint8_t)((r->next + 1) % EDGE_SEEN_SLOTS);
}
