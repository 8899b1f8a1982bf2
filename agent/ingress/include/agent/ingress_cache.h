/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_INGRESS_CACHE_H
#define EDGE_AGENT_INGRESS_CACHE_H
/*
 * The ingress module's per-node bookkeeping, free of libcoap types (unit
 * tested on their own):
 *
 * - the message-id cache: libcoap 4.3.1 runs the resource handler again for
 *   every retransmission of a confirmable request, so each node remembers
 *   its last EDGE_MID_CACHE_SLOTS answers by (peer, message id, token) for
 *   the exchange lifetime (RFC 7252 4.8.2: 247 s) and a retransmission gets
 *   the same answer without a second append. With NSTART = 1 a node has one
 *   exchange outstanding, the newest, which is always still cached. An
 *   answer held until its pack's COMMIT is cached with code 0 (a
 *   retransmission meanwhile gets nothing: the answer is on its way), and
 *   putting the same exchange again replaces that entry;
 * - a token bucket per node (rate limit, 4.29 with Max-Age);
 * - a small ring of absolute reading times per node and metric: a reading
 *   whose (node, metric, t) was accepted before is not stored again.
 *
 * Plain structs embedded in the node state; no allocation, no logging.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_MID_CACHE_SLOTS	  8
#define EDGE_EXCHANGE_LIFETIME_MS 247000u
#define EDGE_ANSWER_DIAG_MAX	  64

/* What was answered to one request; replayed as is to a retransmission. */
struct edge_coap_answer {
	uint8_t code; /* class << 5 | detail: 0x44 = 2.04; 0 = held until the COMMIT */
	bool has_max_age, has_size1, has_block1;
	uint32_t max_age; /* seconds */
	uint32_t size1;	  /* bytes */
	uint32_t block1;  /* the Block1 option value echoed */
	char diag[EDGE_ANSWER_DIAG_MAX];
};

#define EDGE_COAP_CODE(c, d) ((uint8_t)((c) << 5 | (d)))

struct edge_mid_entry {
	uint64_t peer; /* hash of the source address and port */
	uint64_t at_ms;
	uint16_t mid;
	uint8_t toklen;
	bool used;
	uint8_t tok[8];
	struct edge_coap_answer ans;
};

struct edge_mid_cache {
	struct edge_mid_entry e[EDGE_MID_CACHE_SLOTS];
	unsigned next;
};

/* The answer to (peer, mid, token) given less than the exchange lifetime
 * ago, or NULL. Borrowed until the next put. */
const struct edge_coap_answer *edge_mid_cache_find(const struct edge_mid_cache *c, uint64_t peer,
						   uint16_t mid, const uint8_t *tok, size_t toklen,
						   uint64_t now_ms);
/* Remembers an answer, replacing the oldest entry. Tokens over 8 bytes are
 * not cached (CoAP tokens are 0-8 bytes). */
void edge_mid_cache_put(struct edge_mid_cache *c, uint64_t peer, uint16_t mid, const uint8_t *tok,
			size_t toklen, const struct edge_coap_answer *ans, uint64_t now_ms);
/* A new DTLS session from peer: its old exchanges cannot be retransmitted. */
void edge_mid_cache_forget_peer(struct edge_mid_cache *c, uint64_t peer);

struct edge_token_bucket {
	double tokens;
	uint64_t last_ms;
	bool started;
};

/* Takes one token from a bucket refilled at rate_per_s up to burst (a new
 * bucket starts full). Returns 0, or the milliseconds until a token will be
 * there (nothing taken). */
uint64_t edge_token_bucket_take(struct edge_token_bucket *b, double rate_per_s, double burst,
				uint64_t now_ms);

#define EDGE_SEEN_SLOTS 16
/* Absolute reading times (ms) of one node and metric, newest last. */
struct edge_seen_ring {
	uint64_t t[EDGE_SEEN_SLOTS];
	uint8_t next;
};

bool edge_seen_has(const struct edge_seen_ring *r, uint64_t t_ms);
void edge_seen_add(struct edge_seen_ring *r, uint64_t t_ms);

#endif
