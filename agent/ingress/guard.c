/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guarding the coaps:// endpoint against what locks real nodes out with
 * libcoap 4.3.1 (all reproduced on these machines):
 *
 * - a peer with a wrong key completes the cookie exchange, then its
 *   Finished fails to decrypt and DTLS drops it silently: the half-open
 *   session stays ~30 s, and once libcoap's handshake cap is reached every
 *   new peer is ignored. Here: a handshake has handshake_timeout_ms; beyond
 *   max_handshakes at once, those that have gone quiet for a second (a
 *   wrong-key peer waits for a Finished that never comes) are dropped,
 *   oldest first, while handshakes still in progress are left to finish;
 *   libcoap's own cap is set well above ours so that it never is the one
 *   that refuses;
 * - libcoap's idle-session cap frees the oldest session without a word,
 *   handshakes in progress included: ours closes the least recently active
 *   established session with a close_notify, and never a handshake;
 * - a node that reboots and reconnects from the same source port sends a
 *   ClientHello into its old, established session, which ignores it: the
 *   node is locked out until the old session times out (and each retry
 *   keeps it alive). Here: a ClientHello (epoch 0) for an established
 *   session closes that session first, so libcoap starts a new one with
 *   its usual cookie exchange.
 *
 * libcoap reads one datagram per endpoint and pass, so looking at the head
 * of the socket's queue (MSG_PEEK) just before each pass sees exactly what
 * libcoap is about to read.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/time.h"
#include "ingress_priv.h"

#define VALIDATE_MS 10000 /* re-check the table against libcoap's sessions */
#define HS_QUIET_MS 1000  /* over the cap, only handshakes quiet this long are dropped */
#define VICTIMS_MAX 64

/* ---- the session table --------------------------------------------------- */

struct sess *ingress_sess_find(struct edge_ingress *in, const coap_address_t *a)
{
	for (size_t i = 0; i < in->n_sess; i++)
		if (coap_address_equals(&in->sess[i].addr, a))
			return &in->sess[i];
	return NULL;
}

static struct sess *sess_add(struct edge_ingress *in, const coap_address_t *a, uint64_t now)
{
	struct sess *e;

	if (in->n_sess == in->cap_sess) {
		size_t cap = in->cap_sess ? in->cap_sess * 2 : 64;
		struct sess *n = realloc(in->sess, cap * sizeof(*n));

		if (!n)
			return NULL;
		in->sess = n;
		in->cap_sess = cap;
	}
	e = &in->sess[in->n_sess++];
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->st = SESS_HELLO;
	e->created_ms = e->last_ms = now;
	return e;
}

static void sess_del(struct edge_ingress *in, struct sess *e)
{
	size_t i = (size_t)(e - in->sess);

	if (i >= in->n_sess)
		return;
	in->sess[i] = in->sess[--in->n_sess];
}

size_t ingress_sess_count(const struct edge_ingress *in, enum sess_state st)
{
	size_t n = 0;

	for (size_t i = 0; i < in->n_sess; i++)
		n += in->sess[i].st == st;
	return n;
}

void ingress_guard_reset(struct edge_ingress *in)
{
	in->n_sess = 0;
}

/* Closes a live session (sends close_notify when established); libcoap
 * frees it on its next pass. The table entry goes now. */
static bool close_peer(struct edge_ingress *in, const coap_address_t *a, int ifindex,
		       bool handshake_only)
{
	coap_session_t *s = in->ctx ? coap_session_get_by_peer(in->ctx, a, ifindex) : NULL;
	struct sess *e;
	bool closed = false;

	if (s && coap_session_get_type(s) == COAP_SESSION_TYPE_SERVER &&
	    coap_session_get_proto(s) == COAP_PROTO_DTLS &&
	    (!handshake_only || coap_session_get_state(s) == COAP_SESSION_STATE_HANDSHAKE)) {
		coap_session_disconnected(s, COAP_NACK_TLS_FAILED);
		closed = true;
	}
	/* a HELLO-type session (cookie exchange) cannot be freed from outside:
	 * libcoap drops it after 30 s; it stays in the table until then */
	e = ingress_sess_find(in, a);
	if (e && (closed || !s))
		sess_del(in, e);
	return closed;
}

void ingress_sess_close_node(struct edge_ingress *in, const char *node)
{
	for (size_t i = 0; i < in->n_sess;) {
		struct sess *e = &in->sess[i];

		if (e->st == SESS_ESTABLISHED && strcmp(e->node, node) == 0) {
			coap_address_t a = e->addr;
			size_t before = in->n_sess;

			close_peer(in, &a, e->ifindex, false);
			if (in->n_sess < before)
				continue; /* the entry at i is a new one now */
		}
		i++;
	}
}

size_t ingress_sess_close_if(struct edge_ingress *in, bool (*refuse)(coap_session_t *s, void *arg),
			     void *arg)
{
	size_t closed = 0;

	for (size_t i = 0; in->ctx && i < in->n_sess;) {
		struct sess *e = &in->sess[i];
		coap_session_t *s = e->st == SESS_ESTABLISHED
					? coap_session_get_by_peer(in->ctx, &e->addr, e->ifindex)
					: NULL;

		if (s && refuse(s, arg)) {
			coap_address_t a = e->addr;
			size_t before = in->n_sess;

			closed += close_peer(in, &a, e->ifindex, false);
			if (in->n_sess < before)
				continue; /* the entry at i is a new one now */
		}
		i++;
	}
	return closed;
}

/* ---- libcoap's events ------------------------------------------------------ */

int ingress_guard_event(struct edge_ingress *in, coap_session_t *s, coap_event_t ev)
{
	const coap_address_t *a = coap_session_get_addr_remote(s);
	uint64_t now = edge_now_ms();
	struct sess *e;
	char where[80];

	if (coap_session_get_proto(s) != COAP_PROTO_DTLS || !a)
		return 0;
	e = ingress_sess_find(in, a);
	switch (ev) {
	case COAP_EVENT_SERVER_SESSION_NEW:
		if (!e)
			e = sess_add(in, a, now);
		if (e) {
			e->st = SESS_HELLO;
			e->created_ms = e->last_ms = now;
			e->node[0] = '\0';
			e->ifindex = coap_session_get_ifindex(s);
		}
		break;
	case COAP_EVENT_DTLS_CONNECTED: {
		struct node *n = ingress_session_node(in, s); /* PSK identity or certificate CN */

		if (!e)
			e = sess_add(in, a, now);
		in->st.handshakes++;
		if (!e)
			break;
		e->st = SESS_ESTABLISHED;
		e->last_ms = now;
		e->ifindex = coap_session_get_ifindex(s);
		snprintf(e->node, sizeof(e->node), "%s", n ? n->id : "");
		if (n) {
			n->handshakes++;
			/* a new association: exchanges of the old one are over */
			if (n->live)
				edge_mid_cache_forget_peer(&n->live->cache, ingress_peer_hash(a));
		}
		ingress_addr_str(a, where, sizeof(where));
		EDGE_INFO(MOD, "node %s connected from %s (handshake %llu ms)", e->node, where,
			  (unsigned long long)(now - e->created_ms));
		break;
	}
	case COAP_EVENT_DTLS_ERROR:
		if (e && e->st == SESS_HELLO) {
			in->st.handshake_errors++;
			ingress_addr_str(a, where, sizeof(where));
			EDGE_LOG_RL(&in->rl_hs, EDGE_LOG_WARNING, MOD,
				    "DTLS handshake with %s failed (wrong key or identity?)",
				    where);
		}
		if (e)
			sess_del(in, e);
		break;
	case COAP_EVENT_DTLS_CLOSED:
	case COAP_EVENT_SERVER_SESSION_DEL:
		if (e)
			sess_del(in, e);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- the sweep ----------------------------------------------------------- */

struct victim {
	coap_address_t addr;
	int ifindex;
};

/* Picks the k entries of state st with the smallest key (created_ms for
 * handshakes, last_ms for sessions). */
static size_t pick_oldest(struct edge_ingress *in, enum sess_state st, size_t k, bool by_created,
			  uint64_t now, struct victim *v, size_t nv)
{
	size_t n = 0;
	bool *taken = calloc(in->n_sess ? in->n_sess : 1, sizeof(*taken));

	if (!taken)
		return 0;
	while (n < k && nv + n < VICTIMS_MAX) {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < in->n_sess; i++) {
			const struct sess *e = &in->sess[i];
			uint64_t key = by_created ? e->created_ms : e->last_ms;

			if (taken[i] || e->st != st)
				continue;
			if (by_created && now - e->last_ms < HS_QUIET_MS)
				continue;
			if (best == SIZE_MAX ||
			    key < (by_created ? in->sess[best].created_ms : in->sess[best].last_ms))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		taken[best] = true;
		v[nv + n].addr = in->sess[best].addr;
		v[nv + n].ifindex = in->sess[best].ifindex;
		n++;
	}
	free(taken);
	return n;
}

void ingress_guard_sweep(struct edge_ingress *in, uint64_t now)
{
	struct victim v[VICTIMS_MAX];
	size_t nv = 0, n_timeout = 0, n_hs_cap = 0, hs = 0, est = 0;

	for (size_t i = 0; i < in->n_sess; i++) {
		const struct sess *e = &in->sess[i];

		if (e->st == SESS_HELLO) {
			hs++;
			if (now - e->created_ms > in->set.handshake_timeout_ms &&
			    nv < VICTIMS_MAX) {
				v[nv].addr = e->addr;
				v[nv++].ifindex = e->ifindex;
				n_timeout++;
			}
		} else {
			est++;
		}
	}
	if (hs > in->set.max_handshakes)
		nv += n_hs_cap =
		    pick_oldest(in, SESS_HELLO, hs - in->set.max_handshakes, true, now, v, nv);
	if (est > in->set.max_sessions)
		nv += pick_oldest(in, SESS_ESTABLISHED, est - in->set.max_sessions, false, now, v,
				  nv);
	for (size_t i = 0; i < nv; i++) {
		bool idle = i >= n_timeout + n_hs_cap;
		char where[80];

		if (!close_peer(in, &v[i].addr, v[i].ifindex, !idle))
			continue;
		ingress_addr_str(&v[i].addr, where, sizeof(where));
		if (idle) {
			in->st.evicted_idle++;
			EDGE_LOG_RL(
			    &in->rl_hs, EDGE_LOG_NOTICE, MOD,
			    "session cap (%u): closed the least recently active session, %s",
			    in->set.max_sessions, where);
		} else if (i < n_timeout) {
			in->st.handshake_timeouts++;
			EDGE_LOG_RL(&in->rl_hs, EDGE_LOG_INFO, MOD,
				    "DTLS handshake with %s not finished in %u ms: dropped", where,
				    in->set.handshake_timeout_ms);
		} else {
			in->st.evicted_handshakes++;
			EDGE_LOG_RL(&in->rl_hs, EDGE_LOG_NOTICE, MOD,
				    "%zu handshakes at once (cap %u): dropped the oldest, %s", hs,
				    in->set.max_handshakes, where);
		}
	}
	/* sessions libcoap freed without an event */
	if (now - in->validate_ms >= VALIDATE_MS) {
		in->validate_ms = now;
		for (size_t i = 0; i < in->n_sess;) {
			if (!coap_session_get_by_peer(in->ctx, &in->sess[i].addr,
						      in->sess[i].ifindex)) {
				in->sess[i] = in->sess[--in->n_sess];
				continue;
			}
			i++;
		}
	}
}

/* ---- same-port reboots ------------------------------------------------------ */

bool ingress_guard_inspect(struct edge_ingress *in)
{
	uint8_t buf[32];
	struct sockaddr_storage ss;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {
	    .msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov, .msg_iovlen = 1};
	coap_address_t a;
	coap_session_t *s;
	struct sess *e;
	char node[EDGE_NODE_ID_MAX + 1], where[80];
	int ifindex;
	ssize_t n;

	if (in->dtls_fd < 0)
		return false;
	n = recvmsg(in->dtls_fd, &mh, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return false;
	coap_address_init(&a);
	memcpy(&a.addr, &ss, mh.msg_namelen < sizeof(a.addr) ? mh.msg_namelen : sizeof(a.addr));
	a.size = mh.msg_namelen;
	e = ingress_sess_find(in, &a);
	if (e)
		e->last_ms = edge_now_ms(); /* activity: handshakes that go quiet are dropped */
	/* record: handshake (22), epoch 0; message: client_hello (1) */
	if (n < 14 || buf[0] != 22 || buf[3] || buf[4] || buf[13] != 1)
		return true;
	if (!e || e->st != SESS_ESTABLISHED)
		return true; /* a new peer or a handshake in progress: libcoap's */
	s = coap_session_get_by_peer(in->ctx, &a, e->ifindex);
	if (!s || coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED) {
		if (!s)
			sess_del(in, e);
		return true;
	}
	/* a ClientHello in epoch 0 never belongs to an established session:
	 * the node started over (rebooted) from the same port */
	snprintf(node, sizeof(node), "%s", e->node);
	ifindex = e->ifindex;
	close_peer(in, &a, ifindex, false);
	in->st.reassociations++;
	ingress_addr_str(&a, where, sizeof(where));
	EDGE_NOTICE(MOD,
		    "node %s starts a new handshake from %s, the port of its open session "
		    "(rebooted?): old session closed",
		    node, where);
	return true;
}

/* libcoap keeps its sockets to itself; its epoll set (/proc/self/fdinfo of
 * the context's fd) names them, and ours is the datagram socket bound to
 * the coaps:// port. */
int ingress_guard_find_socket(struct edge_ingress *in)
{
	char path[64], line[256];
	FILE *f;

	in->dtls_fd = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", in->coap_fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd, type;
		socklen_t tl = sizeof(type);
		uint16_t port;

		if (sscanf(line, "tfd: %d", &fd) != 1)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else
			continue;
		if (port == in->set.port) {
			in->dtls_fd = fd;
			break;
		}
	}
	fclose(f);
	return in->dtls_fd >= 0 ? 0 : -ENOENT;
}
