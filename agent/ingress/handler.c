/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /v1/readings: who is asking, the message-id cache, Content-Format,
 * Block1 per block, the rate limit, the pack into the outbox, and the
 * answer - 2.04 only after the COMMIT.
 *
 * The batch: packs that arrive in one wake-up of the loop share one COMMIT.
 * A confirmable request's answer is held (libcoap sends nothing from the
 * handler, see hold()) and sent, piggybacked on the ACK, once the COMMIT is
 * done (ingress_batch_flush(), called by the loop after each round of
 * coap_io_process()). A retransmission meanwhile finds its exchange cached
 * with code 0 and gets nothing; after the COMMIT it gets the answer from the
 * cache. Non-confirmable requests, a second pack of a node whose first is
 * still held, and a pack with no other datagram waiting behind it (a lone
 * node in lock-step) commit at once. One COMMIT per pack was most of the
 * module's cost with several nodes sending (docs/ingress.md, section 7).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "edge/time.h"
#include "ingress_priv.h"

#define C(c, d) EDGE_COAP_CODE(c, d)

static void set_answer(struct edge_coap_answer *a, uint8_t code, const char *diag)
{
	a->code = code;
	snprintf(a->diag, sizeof(a->diag), "%s", diag ? diag : "");
}

static void reply(coap_pdu_t *resp, const struct edge_coap_answer *a)
{
	uint8_t buf[4];

	coap_pdu_set_code(resp, (coap_pdu_code_t)a->code);
	/* options in ascending number: Max-Age 14, Block1 27, Size1 60 */
	if (a->has_max_age)
		coap_add_option(resp, COAP_OPTION_MAXAGE,
				coap_encode_var_safe(buf, sizeof(buf), a->max_age), buf);
	if (a->has_block1)
		coap_add_option(resp, COAP_OPTION_BLOCK1,
				coap_encode_var_safe(buf, sizeof(buf), a->block1), buf);
	if (a->has_size1)
		coap_add_option(resp, COAP_OPTION_SIZE1,
				coap_encode_var_safe(buf, sizeof(buf), a->size1), buf);
	/* RFC 7252 5.5.2: a diagnostic payload on errors */
	if (a->code >= C(4, 0) && a->diag[0])
		coap_add_data(resp, strlen(a->diag), (const uint8_t *)a->diag);
}

/* Sends nothing now: libcoap 4.3.1 drops an empty non-confirmable response
 * (net.c no_response()). The answer goes later, piggybacked on the ACK
 * (send_held()), before the node's first retransmission is due. */
static void hold(coap_pdu_t *resp)
{
	coap_pdu_set_type(resp, COAP_MESSAGE_NON);
	coap_pdu_set_code(resp, COAP_EMPTY_CODE);
}

/* Another datagram already waits on the coaps:// socket (libcoap has read
 * this one): its pack may share the COMMIT. A lone request (a node in
 * lock-step with nobody else sending) commits at once: holding its answer
 * only costs. Plain CoAP (labs) always holds. */
static bool more_waiting(const struct edge_ingress *in)
{
	char c;

	if (in->dtls_fd < 0)
		return true;
	return recv(in->dtls_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
}

/* An unsigned option: *present, and the value (0 when absent). Longer than
 * four bytes counts as malformed (returns false). */
static bool opt_uint(const coap_pdu_t *pdu, coap_option_num_t num, bool *present, uint32_t *v)
{
	coap_opt_iterator_t it;
	coap_opt_t *o = coap_check_option(pdu, num, &it);

	*present = o != NULL;
	*v = 0;
	if (!o)
		return true;
	if (coap_opt_length(o) > 4)
		return false;
	*v = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
	return true;
}

/* Counts and logs a refusal (anything but 2.xx). */
static void account(struct edge_ingress *in, struct node *n, const struct edge_coap_answer *a,
		    const char *who)
{
	int slot;

	if (a->code < C(4, 0))
		return;
	slot = code_slot(a->code);
	if (slot >= 0)
		in->st.by_code[slot]++;
	if (a->code == C(4, 29)) {
		in->st.rate_limited++;
		if (n)
			n->rate_limited++;
	} else {
		in->st.refused++;
		if (n)
			n->refused++;
	}
	if (n)
		n->last_refusal = a->code;
	EDGE_LOG_RL(&in->rl_refuse, EDGE_LOG_INFO, MOD, "%s: %u.%02u %s", who, a->code >> 5,
		    a->code & 0x1f, a->diag);
}

/* The node a request comes from: the DTLS PSK identity or certificate CN, or for plain CoAP
 * from loopback the ?node=ID query. NULL with the 4.01 answer set. */
static struct node *identify(struct edge_ingress *in, coap_session_t *s, const coap_string_t *query,
			     struct edge_coap_answer *a)
{
	const coap_address_t *peer = coap_session_get_addr_remote(s);
	const char *q, *end, *id = NULL;
	size_t idlen = 0;
	struct node *n;

	if (coap_session_get_proto(s) == COAP_PROTO_DTLS) {
		/* the PSK identity, or the CN of the verified client certificate */
		n = ingress_session_node(in, s);
		if (!n)
			set_answer(a, C(4, 1), "unknown node");
		return n;
	}
	if (!ingress_addr_loopback(peer)) {
		set_answer(a, C(4, 1), "plain CoAP only from loopback: use coaps://");
		return NULL;
	}
	q = query ? (const char *)query->s : NULL;
	end = q ? q + query->length : NULL;
	while (q && q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *seg_end = amp ? amp : end;

		if (seg_end - q > 5 && memcmp(q, "node=", 5) == 0) {
			id = q + 5;
			idlen = (size_t)(seg_end - id);
		}
		q = amp ? amp + 1 : end;
	}
	if (!id) {
		set_answer(a, C(4, 1), "plain CoAP needs ?node=ID");
		return NULL;
	}
	n = ingress_node_find(in, id, idlen);
	if (!n)
		set_answer(a, C(4, 1), "unknown node");
	return n;
}

static struct node_live *live_of(struct edge_ingress *in, struct node *n)
{
	if (!n->live) {
		n->live = calloc(1, sizeof(*n->live));
		if (n->live)
			edge_record_init(&n->live->builder, in->set.static_location,
					 in->set.latitude, in->set.longitude);
	}
	return n->live;
}

static void drop_upload(struct node_live *l)
{
	free(l->blk);
	l->blk = NULL;
	l->blk_len = 0;
	l->blk_next = 0;
}

/* Reading time (wall) to the monotonic time the record builder judges
 * freshness by: a reading taken 40 s ago is 40 s old. */
static uint64_t mono_of(uint64_t ts_ms, uint64_t wall, uint64_t mono)
{
	uint64_t age = wall > ts_ms ? wall - ts_ms : 0;

	return mono > age ? mono - age : 1;
}

/* The exchange a pack came in: what an answer held until the COMMIT needs. */
struct exchange {
	coap_session_t *s;
	uint64_t peer;
	uint16_t mid;
	coap_bin_const_t tok;
	bool can_hold; /* confirmable, with a token of at most 8 bytes */
};

/* After the COMMIT (rc 0) or its failure: the pack counts, or is refused. */
static void settle(struct edge_ingress *in, struct pending_pack *p, int rc)
{
	struct node *n = p->n;
	struct node_live *l = p->l;

	l->pending = false;
	if (rc) {
		in->st.store_errors++;
		p->a.code = C(5, 3);
		p->a.has_max_age = true;
		p->a.max_age = STORE_RETRY_S;
		p->a.has_block1 = false;
		snprintf(p->a.diag, sizeof(p->a.diag), "outbox: %s", strerror(-rc));
		EDGE_LOG_RL(&in->rl_store, EDGE_LOG_ERR, MOD,
			    "node %s: pack of %zu reading(s) not stored: %s", n->id, p->n_rd,
			    strerror(-rc));
		return;
	}
	/* committed: now the pack counts */
	l->builder = p->next;
	for (size_t i = p->first_rd; i < p->first_rd + p->n_rd; i++) {
		const struct edge_senml_reading *r = &in->batch_rd[i];

		if (r->absolute)
			edge_seen_add(&l->seen[r->vital], r->ts_ms);
		if (in->hooks.reading)
			in->hooks.reading(in->hooks.arg, n->id, r->ch, r->value, r->ts_ms);
	}
	n->accepted++;
	n->readings += p->n_rd;
	in->st.accepted++;
	in->st.readings += p->n_rd;
	if (p->built) {
		n->records++;
		in->st.records++;
	} else {
		n->records_incomplete++;
		in->st.records_incomplete++;
	}
	EDGE_DEBUG(MOD, "node %s: %zu reading(s)%s committed", n->id, p->n_rd,
		   p->built ? " and a HealthData record" : "");
}

/* A held answer, piggybacked on the ACK of the node's confirmable request
 * as libcoap would have sent it from the handler. */
static void send_held(struct pending_pack *p)
{
	coap_pdu_t *pdu =
	    coap_pdu_init(COAP_MESSAGE_ACK, 0, p->mid, coap_session_max_pdu_size(p->s));

	if (!pdu || (p->toklen && !coap_add_token(pdu, p->toklen, p->tok))) {
		/* the node retransmits and gets the cached answer */
		EDGE_WARN(MOD, "node %s: no memory for the answer to mid 0x%04x", p->n->id, p->mid);
		coap_delete_pdu(pdu);
		return;
	}
	reply(pdu, &p->a);
	if (coap_send(p->s, pdu) == COAP_INVALID_MID)
		EDGE_DEBUG(MOD, "node %s: answer to mid 0x%04x not sent", p->n->id, p->mid);
}

/* One COMMIT for every pack in the batch, then their answers. The pack of
 * the handler running now (held == NULL) has its answer copied to *now. */
static void batch_commit(struct edge_ingress *in, struct edge_coap_answer *now)
{
	uint64_t t = edge_now_ms();
	size_t held = 0;
	int rc;

	if (!in->n_pend)
		return;
	rc = edge_store_append(in->store, in->msgs, in->n_msgs);
	for (size_t i = 0; i < in->n_pend; i++) {
		struct pending_pack *p = &in->pend[i];

		settle(in, p, rc);
		if (!p->s) {
			if (now)
				*now = p->a;
			continue;
		}
		held++;
		account(in, p->n, &p->a, p->n->id);
		edge_mid_cache_put(&p->l->cache, p->peer, p->mid, p->tok, p->toklen, &p->a, t);
		send_held(p);
		coap_session_release(p->s);
	}
	if (held) {
		in->batches++;
		in->batched_packs += held;
	}
	in->n_pend = in->n_msgs = in->n_batch_rd = 0;
}

void ingress_batch_flush(struct edge_ingress *in)
{
	batch_commit(in, NULL);
}

/* Decodes and maps one pack into the batch. Its answer is held for the
 * batch's COMMIT (a->code 0) when the exchange allows; otherwise the batch
 * is committed now and the answer filled. Refusals are answered at once. */
static void store_pack(struct edge_ingress *in, struct node *n, struct node_live *l, uint32_t cf,
		       const uint8_t *body, size_t len, const struct exchange *x,
		       struct edge_coap_answer *a)
{
	uint64_t wall = edge_wall_ms(), mono = edge_now_ms();
	struct edge_record_builder next = l->builder;
	unsigned missing = 0;
	size_t k, first, first_rd, readings = 0;
	struct pending_pack *p;
	bool built = false;
	int nr, hl;

	if (len == 0) {
		set_answer(a, C(4, 0), "empty payload");
		return;
	}
	if (edge_senml_decode((int)cf, body, len, &in->pack, a->diag, sizeof(a->diag))) {
		a->code = C(4, 0);
		return;
	}
	nr = edge_senml_map(&in->pack, n->id, wall, in->set.max_age_s, in->rd, a->diag,
			    sizeof(a->diag));
	if (nr < 0) {
		a->code = nr == -EPERM ? C(4, 3) : C(4, 0);
		return;
	}
	/* Room for nr readings and a record; a node's second pack waits for
	 * its first one's COMMIT (its readings and record build on it). */
	if (l->pending || in->n_pend == BATCH_PACKS || in->n_msgs + (size_t)nr + 1 > BATCH_MSGS) {
		batch_commit(in, NULL);
		next = l->builder;
	}
	k = first = in->n_msgs;
	first_rd = in->n_batch_rd;
	for (int i = 0; i < nr; i++) {
		const struct edge_senml_reading *r = &in->rd[i];
		bool dup = r->absolute && edge_seen_has(&l->seen[r->vital], r->ts_ms);
		uint64_t at;
		int pl;

		for (int j = 0; !dup && j < i; j++)
			dup = r->absolute && in->rd[j].absolute && in->rd[j].vital == r->vital &&
			      in->rd[j].ts_ms == r->ts_ms;
		if (dup) {
			in->st.duplicate_readings++;
			continue;
		}
		if (edge_topic_format(in->topics[k], sizeof(in->topics[k]), in->set.topic_sensor,
				      n->id, edge_channel_name(r->ch), NULL, NULL) < 0) {
			set_answer(a, C(5, 0), "topic template too long");
			return;
		}
		pl = edge_record_reading(n->id, r->ch, r->value, r->ts_ms, in->payloads[k],
					 sizeof(in->payloads[k]));
		if (pl < 0) {
			set_answer(a, C(5, 0), "reading too long");
			return;
		}
		in->msgs[k] = (struct edge_store_msg){.topic = in->topics[k],
						      .payload = in->payloads[k],
						      .len = (size_t)pl,
						      .qos = 1};
		in->batch_rd[first_rd + readings] = *r;
		k++;
		readings++;
		at = mono_of(r->ts_ms, wall, mono);
		/* a late reading does not replace a newer one */
		if (at >= next.v[r->vital].at_ms)
			edge_record_update(&next, r->ch, r->value, at, in->set.freshness_ms);
	}
	if (readings == 0) { /* all of it stored before: durable already */
		set_answer(a, C(2, 4), NULL);
		in->st.accepted++;
		n->accepted++;
		return;
	}
	/* HealthData, judged like the gateway's own (agent/pipeline record.c) */
	hl = edge_record_build(&next, n->id, mono, wall, in->payloads[k], sizeof(in->payloads[k]),
			       &missing);
	if (hl > 0 && edge_topic_format(in->topics[k], sizeof(in->topics[k]), in->set.topic_data,
					n->id, NULL, NULL, NULL) >= 0) {
		in->msgs[k] = (struct edge_store_msg){.topic = in->topics[k],
						      .payload = in->payloads[k],
						      .len = (size_t)hl,
						      .qos = 1};
		k++;
		built = true;
	}
	p = &in->pend[in->n_pend++];
	*p = (struct pending_pack){.n = n,
				   .l = l,
				   .peer = x->peer,
				   .mid = x->mid,
				   .a = *a,
				   .next = next,
				   .first_rd = first_rd,
				   .n_rd = readings,
				   .n_msgs = k - first,
				   .built = built};
	set_answer(&p->a, C(2, 4), NULL);
	in->n_msgs = k;
	in->n_batch_rd += readings;
	l->pending = true;
	if (x->can_hold) {
		p->s = coap_session_reference(x->s);
		p->toklen = (uint8_t)x->tok.length;
		if (x->tok.length)
			memcpy(p->tok, x->tok.s, x->tok.length);
		a->code = 0; /* held: ingress_batch_flush() answers */
		return;
	}
	batch_commit(in, a);
}

static bool take_token(struct edge_ingress *in, struct node_live *l, struct edge_coap_answer *a)
{
	uint64_t wait = edge_token_bucket_take(&l->bucket, in->set.rate_per_min / 60.0,
					       in->set.burst, edge_now_ms());

	if (!wait)
		return true;
	set_answer(a, C(4, 29), "rate limit");
	a->has_max_age = true;
	a->max_age = (uint32_t)((wait + 999) / 1000);
	if (a->max_age == 0)
		a->max_age = 1;
	return false;
}

/* Content-Format, Block1 (each block on its own: an oversized body is
 * refused at block 0, never buffered), rate limit, then the pack. */
static void handle(struct edge_ingress *in, struct node *n, struct node_live *l,
		   const coap_pdu_t *req, const struct exchange *x, struct edge_coap_answer *a)
{
	uint32_t cf, b1, size1;
	bool has_cf, has_b1, has_size1;
	const uint8_t *data = NULL;
	size_t len = 0;
	uint64_t now = edge_now_ms();

	if (!opt_uint(req, COAP_OPTION_CONTENT_FORMAT, &has_cf, &cf) || !has_cf ||
	    (cf != EDGE_SENML_JSON && cf != EDGE_SENML_CBOR)) {
		set_answer(a, C(4, 15), "Content-Format 110 (SenML JSON) or 112 (SenML CBOR)");
		return;
	}
	if (!opt_uint(req, COAP_OPTION_BLOCK1, &has_b1, &b1) ||
	    !opt_uint(req, COAP_OPTION_SIZE1, &has_size1, &size1)) {
		set_answer(a, C(4, 0), "malformed option");
		return;
	}
	coap_get_data(req, &len, &data);
	if (!has_b1) {
		if (len > BODY_MAX) {
			set_answer(a, C(4, 13), "body over 1024 bytes: use Block1");
			a->has_size1 = true;
			a->size1 = BODY_MAX;
			return;
		}
		if (take_token(in, l, a))
			store_pack(in, n, l, cf, data, len, x, a);
		return;
	}
	{
		uint32_t num = b1 >> 4, szx = b1 & 7;
		bool more = (b1 & 8) != 0;
		size_t bs = (size_t)16 << szx;

		if (szx == 7) {
			set_answer(a, C(4, 0), "Block1: reserved size");
			return;
		}
		if (num == 0) {
			drop_upload(l); /* a new upload replaces an unfinished one */
			if ((has_size1 && size1 > BODY_BLOCK_MAX) || len > BODY_BLOCK_MAX) {
				set_answer(a, C(4, 13), "body over 2048 bytes");
				a->has_size1 = true;
				a->size1 = BODY_BLOCK_MAX;
				return;
			}
			if (more && len != bs) {
				set_answer(a, C(4, 0), "Block1: a block short of its size");
				return;
			}
			if (!take_token(in, l, a))
				return;
			a->has_block1 = true;
			a->block1 = b1;
			if (!more) { /* the whole body in block 0 */
				store_pack(in, n, l, cf, data, len, x, a);
				return;
			}
			l->blk = malloc(BODY_BLOCK_MAX);
			if (!l->blk) {
				set_answer(a, C(5, 3), "out of memory");
				a->has_block1 = false;
				return;
			}
			memcpy(l->blk, data, len);
			l->blk_len = len;
			l->blk_next = 1;
			l->blk_szx = (uint8_t)szx;
			l->blk_fmt = (uint16_t)cf;
			l->blk_peer = x->peer;
			l->blk_at_ms = now;
			set_answer(a, C(2, 31), NULL);
			return;
		}
		if (!l->blk || l->blk_peer != x->peer || num != l->blk_next || szx != l->blk_szx ||
		    cf != l->blk_fmt || now - l->blk_at_ms > EDGE_EXCHANGE_LIFETIME_MS) {
			drop_upload(l);
			snprintf(a->diag, sizeof(a->diag), "Block1: block %u out of order", num);
			a->code = C(4, 8);
			return;
		}
		if (l->blk_len + len > BODY_BLOCK_MAX) {
			drop_upload(l);
			set_answer(a, C(4, 13), "body over 2048 bytes");
			a->has_size1 = true;
			a->size1 = BODY_BLOCK_MAX;
			return;
		}
		if (more && len != bs) {
			drop_upload(l);
			set_answer(a, C(4, 0), "Block1: a block short of its size");
			return;
		}
		memcpy(l->blk + l->blk_len, data, len);
		l->blk_len += len;
		l->blk_next++;
		l->blk_at_ms = now;
		a->has_block1 = true;
		a->block1 = b1;
		if (more) {
			set_answer(a, C(2, 31), NULL);
			return;
		}
		store_pack(in, n, l, cf, l->blk, l->blk_len, x, a);
		drop_upload(l);
		if (a->code >= C(4, 0))
			a->has_block1 = false;
	}
}

void ingress_handle_post(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
			 const coap_string_t *query, coap_pdu_t *resp)
{
	struct edge_ingress *in = coap_get_app_data(coap_session_get_context(s));
	const coap_address_t *from = coap_session_get_addr_remote(s);
	coap_bin_const_t tok = coap_pdu_get_token(req);
	uint16_t mid = (uint16_t)coap_pdu_get_mid(req);
	const struct edge_coap_answer *cached;
	struct edge_coap_answer a;
	uint64_t now = edge_now_ms(), peer = ingress_peer_hash(from);
	struct node_live *l;
	struct node *n;
	char who[96];

	(void)r;
	if (!in)
		return;
	memset(&a, 0, sizeof(a));
	n = identify(in, s, query, &a);
	if (!n) {
		ingress_addr_str(from, who, sizeof(who));
		account(in, NULL, &a, who);
		reply(resp, &a);
		return;
	}
	n->last_seen_ms = edge_wall_ms();
	l = live_of(in, n);
	if (!l) {
		set_answer(&a, C(5, 3), "out of memory");
		a.has_max_age = true;
		a.max_age = STORE_RETRY_S;
		account(in, n, &a, n->id);
		reply(resp, &a);
		return;
	}
	/* a retransmission: the same answer, nothing done twice */
	cached = edge_mid_cache_find(&l->cache, peer, mid, tok.s, tok.length, now);
	if (cached) {
		n->duplicates++;
		in->st.duplicates++;
		EDGE_DEBUG(MOD, "node %s: retransmission of mid 0x%04x answered from the cache%s",
			   n->id, mid, cached->code ? "" : " (held for the COMMIT: not yet)");
		if (cached->code)
			reply(resp, cached);
		else
			hold(resp);
		return;
	}
	if (n->revoked) {
		set_answer(&a, C(4, 3), "node revoked");
	} else {
		struct exchange x = {
		    .s = s,
		    .peer = peer,
		    .mid = mid,
		    .tok = tok,
		    .can_hold = coap_pdu_get_type(req) == COAP_MESSAGE_CON && tok.length <= 8 &&
				more_waiting(in),
		};

		handle(in, n, l, req, &x, &a);
	}
	edge_mid_cache_put(&l->cache, peer, mid, tok.s, tok.length, &a, now);
	if (!a.code) { /* held until the batch's COMMIT */
		hold(resp);
		return;
	}
	account(in, n, &a, n->id);
	reply(resp, &a);
}

void ingress_handle_other(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
			  const coap_string_t *query, coap_pdu_t *resp)
{
	struct edge_ingress *in = coap_get_app_data(coap_session_get_context(s));
	struct edge_coap_answer a;
	struct node *n;

	(void)r;
	(void)req;
	if (!in)
		return;
	memset(&a, 0, sizeof(a));
	n = identify(in, s, query, &a);
	if (n)
		set_answer(&a, C(4, 5), "POST a SenML pack");
	account(in, n, &a, n ? n->id : "unknown peer");
	reply(resp, &a);
}
