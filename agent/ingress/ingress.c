/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ingress module's life: settings, the libcoap context in the agent's
 * loop, the node table, reloads, status. Requests are handled in handler.c,
 * sessions and handshakes watched in guard.c.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/time.h"
#include "ingress_priv.h"

/* ---- libcoap's log through ours --------------------------------------- */

/* libcoap logs to stdout unless given a handler; one handler per process.
 * Its warnings repeat under load (a handshake storm logs one line per
 * failed peer), so they go through a rate limit. */
static struct edge_ratelimit lib_rl = EDGE_RATELIMIT_INIT(10000, 40);

static void lib_log(coap_log_t level, const char *message)
{
	enum edge_log_level l = level <= LOG_ERR       ? EDGE_LOG_ERR
				: level == LOG_WARNING ? EDGE_LOG_WARNING
				: level == LOG_NOTICE  ? EDGE_LOG_NOTICE
				: level == LOG_INFO    ? EDGE_LOG_INFO
						       : EDGE_LOG_DEBUG;
	size_t n = strlen(message);

	while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	if (l == EDGE_LOG_DEBUG && edge_log_get_level() < EDGE_LOG_DEBUG)
		return;
	if (l <= EDGE_LOG_ERR) {
		edge_log(l, "libcoap", "%.*s", (int)n, message);
		return;
	}
	EDGE_LOG_RL(&lib_rl, l, "libcoap", "%.*s", (int)n, message);
}

static void lib_start(void)
{
	static bool started;
	/* libcoap's debug level dumps every PDU: the agent's debug gets its info */
	coap_log_t level = edge_log_get_level() >= EDGE_LOG_DEBUG ? LOG_INFO : LOG_WARNING;

	if (!started) {
		coap_startup();
		coap_set_log_handler(lib_log);
		started = true;
	}
	coap_set_log_level(level);
	coap_dtls_set_log_level(level);
}

/* ---- small helpers ----------------------------------------------------- */

uint64_t ingress_peer_hash(const coap_address_t *a)
{
	const uint8_t *p;
	size_t n;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	uint16_t port;

	if (a->addr.sa.sa_family == AF_INET6) {
		p = a->addr.sin6.sin6_addr.s6_addr;
		n = 16;
		port = a->addr.sin6.sin6_port;
	} else {
		p = (const uint8_t *)&a->addr.sin.sin_addr;
		n = 4;
		port = a->addr.sin.sin_port;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	h = (h ^ (port & 0xff)) * 1099511628211ull;
	return (h ^ (port >> 8)) * 1099511628211ull;
}

bool ingress_addr_loopback(const coap_address_t *a)
{
	if (a->addr.sa.sa_family == AF_INET)
		return (ntohl(a->addr.sin.sin_addr.s_addr) >> 24) == 127;
	if (a->addr.sa.sa_family == AF_INET6) {
		const struct in6_addr *x = &a->addr.sin6.sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(x))
			return true;
		return IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127;
	}
	return false;
}

void ingress_addr_str(const coap_address_t *a, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->addr.sin6.sin6_addr, ip, sizeof(ip));
		snprintf(out, outlen, "[%s]:%u", ip, ntohs(a->addr.sin6.sin6_port));
	} else {
		inet_ntop(AF_INET, &a->addr.sin.sin_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%u", ip, ntohs(a->addr.sin.sin_port));
	}
}

static int addr_parse(const char *text, uint16_t port, coap_address_t *a)
{
	coap_address_init(a);
	if (inet_pton(AF_INET6, text, &a->addr.sin6.sin6_addr) == 1) {
		a->addr.sin6.sin6_family = AF_INET6;
		a->addr.sin6.sin6_port = htons(port);
		a->size = sizeof(a->addr.sin6);
		return 0;
	}
	if (inet_pton(AF_INET, text, &a->addr.sin.sin_addr) == 1) {
		a->addr.sin.sin_family = AF_INET;
		a->addr.sin.sin_port = htons(port);
		a->size = sizeof(a->addr.sin);
		return 0;
	}
	return -EINVAL;
}

int ingress_settings_from(struct ingress_settings *s, const struct edge_config *cfg)
{
#define c (&cfg->ingress.coap)

	memset(s, 0, sizeof(*s));
	s->enabled = c->enabled;
	snprintf(s->address, sizeof(s->address), "%s", c->address);
	s->port = (uint16_t)c->port;
	snprintf(s->plain_address, sizeof(s->plain_address), "%s", c->plain_address);
	s->plain_port = (uint16_t)c->plain_port;
	snprintf(s->keys_file, sizeof(s->keys_file), "%s", c->keys_file);
	s->max_age_s = c->max_age_s;
	s->freshness_ms = c->freshness_ms;
	s->rate_per_min = c->rate_per_min;
	s->burst = c->burst;
	s->max_sessions = c->max_sessions;
	s->max_handshakes = c->max_handshakes;
	s->handshake_timeout_ms = c->handshake_timeout_ms;
	s->session_timeout_s = c->session_timeout_s;
	s->pki_enabled = c->pki.enabled;
	snprintf(s->pki_ca_file, sizeof(s->pki_ca_file), "%s", c->pki.ca_file);
	snprintf(s->pki_cert_file, sizeof(s->pki_cert_file), "%s", c->pki.cert_file);
	snprintf(s->pki_key_file, sizeof(s->pki_key_file), "%s", c->pki.key_file);
	snprintf(s->topic_sensor, sizeof(s->topic_sensor), "%s", cfg->topics.sensor);
	snprintf(s->topic_data, sizeof(s->topic_data), "%s", cfg->topics.device_data);
	s->static_location = cfg->record.static_location;
	s->latitude = cfg->record.latitude;
	s->longitude = cfg->record.longitude;
#undef c
	if (!s->enabled)
		return 0;
	/* one port each: the guard finds the coaps:// socket by its port */
	if (s->plain_port && s->plain_port == s->port)
		return -EINVAL;
	return 0;
}

/* ---- nodes ------------------------------------------------------------- */

struct node *ingress_node_find(struct edge_ingress *in, const char *id, size_t len)
{
	size_t lo = 0, hi = in->n_nodes;

	if (!edge_node_id_valid(id, len))
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(in->nodes[mid]->id, id, len);

		if (c == 0 && in->nodes[mid]->id[len])
			c = 1;
		if (c == 0)
			return in->nodes[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	if (n->live)
		free(n->live->blk);
	free(n->live);
	free(n);
}

static ptrdiff_t node_index(const struct edge_ingress *in, const char *id)
{
	size_t lo = 0, hi = in->n_nodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(in->nodes[mid]->id, id);

		if (c == 0)
			return (ptrdiff_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Swaps in a new key set; nodes keep their counters across reloads. Nothing
 * changes when it fails. */
static int apply_keys(struct edge_ingress *in, struct edge_node_keys *keys)
{
	struct node **nodes = calloc(keys->n ? keys->n : 1, sizeof(*nodes));
	bool *kept = calloc(in->n_nodes ? in->n_nodes : 1, sizeof(*kept));
	size_t closed = 0;

	if (!nodes || !kept)
		goto err;
	for (size_t i = 0; i < keys->n; i++) {
		if (node_index(in, keys->v[i].id) >= 0)
			continue;
		nodes[i] = calloc(1, sizeof(**nodes));
		if (!nodes[i])
			goto err;
		memcpy(nodes[i]->id, keys->v[i].id, sizeof(keys->v[i].id));
	}
	for (size_t i = 0; i < keys->n; i++) {
		const struct edge_node_key *k = &keys->v[i], *ok;
		ptrdiff_t j;

		if (!nodes[i]) {
			j = node_index(in, k->id);
			nodes[i] = in->nodes[j];
			kept[j] = true;
			/* a new key: the old sessions must not live on */
			ok = edge_node_keys_find(&in->keys, k->id, strlen(k->id));
			if (ok && (ok->key_len != k->key_len ||
				   memcmp(ok->key, k->key, k->key_len) != 0)) {
				ingress_sess_close_node(in, k->id);
				closed++;
			}
		}
		nodes[i]->revoked = k->revoked;
	}
	for (size_t j = 0; j < in->n_nodes; j++) {
		if (kept[j])
			continue;
		ingress_sess_close_node(in, in->nodes[j]->id); /* removed from the file */
		node_free(in->nodes[j]);
		closed++;
	}
	free(kept);
	free(in->nodes);
	in->nodes = nodes;
	in->n_nodes = keys->n;
	edge_node_keys_free(&in->keys);
	in->keys = *keys;
	keys->v = NULL;
	keys->n = 0;
	if (closed)
		EDGE_NOTICE(MOD, "closed the sessions of %zu node(s) removed or re-keyed", closed);
	return 0;
err:
	for (size_t i = 0; nodes && i < keys->n; i++)
		if (nodes[i] && node_index(in, nodes[i]->id) < 0)
			free(nodes[i]);
	free(nodes);
	free(kept);
	return -ENOMEM;
}

int edge_ingress_reload_keys(struct edge_ingress *in, char *err, size_t errlen)
{
	struct edge_node_keys keys;
	size_t revoked = 0;
	int rc;

	if (!in->set.enabled) {
		snprintf(err, errlen, "ingress.coap is not configured");
		return -ENOTCONN;
	}
	rc = edge_node_keys_load(in->set.keys_file, &keys, err, errlen);
	if (rc) {
		in->st.keys_errors++;
		snprintf(in->keys_error, sizeof(in->keys_error), "%s", err);
		return rc;
	}
	rc = apply_keys(in, &keys);
	if (rc) {
		edge_node_keys_free(&keys);
		snprintf(err, errlen, "%s: out of memory", in->set.keys_file);
		return rc;
	}
	in->keys_error[0] = '\0';
	in->st.keys_reloads++;
	for (size_t i = 0; i < in->n_nodes; i++)
		revoked += in->nodes[i]->revoked;
	EDGE_NOTICE(MOD, "node keys from %s: %zu node(s), %zu revoked", in->set.keys_file,
		    in->n_nodes, revoked);
	return 0;
}

/* ---- the loop ------------------------------------------------------------ */

static void on_readable(int fd, short revents, void *arg)
{
	struct edge_ingress *in = arg;

	(void)fd;
	(void)revents;
	/* libcoap reads one datagram per endpoint and pass. The first pass runs
	 * whatever woke us (a datagram or libcoap's timer); more passes only
	 * while the guard sees another datagram waiting (each pass costs
	 * libcoap an epoll_wait and a timerfd_settime), at most BATCH_PACKS,
	 * then back to the loop: other descriptors wait otherwise. The packs
	 * of these passes share one COMMIT, and their answers wait for it. */
	for (int i = 0; i < BATCH_PACKS && in->ctx; i++) {
		bool waiting = ingress_guard_inspect(in);

		if (i > 0 && !waiting)
			break;
		coap_io_process(in->ctx, COAP_IO_NO_WAIT);
	}
	ingress_batch_flush(in);
	if (in->ctx)
		ingress_guard_sweep(in, edge_now_ms());
}

static void on_tick(void *arg)
{
	struct edge_ingress *in = arg;

	if (!in->ctx)
		return;
	/* retransmissions, DTLS timers, session timeouts */
	ingress_guard_inspect(in);
	coap_io_process(in->ctx, COAP_IO_NO_WAIT);
	ingress_batch_flush(in);
	ingress_guard_sweep(in, edge_now_ms());
}

static int on_event(coap_session_t *s, const coap_event_t ev)
{
	struct edge_ingress *in = coap_get_app_data(coap_session_get_context(s));

	return in ? ingress_guard_event(in, s, ev) : 0;
}

static const coap_bin_const_t *psk_for(coap_bin_const_t *identity, coap_session_t *s, void *arg)
{
	struct edge_ingress *in = arg;
	const struct edge_node_key *k = NULL;

	(void)s;
	if (identity && edge_node_id_valid((const char *)identity->s, identity->length))
		k = edge_node_keys_find(&in->keys, (const char *)identity->s, identity->length);
	if (k && !k->key_len)
		k = NULL; /* a certificate-only node: no PSK handshake */
	if (!k) {
		char shown[EDGE_NODE_ID_MAX + 1];
		size_t n = identity ? identity->length : 0;

		in->st.unknown_identity++;
		if (n > EDGE_NODE_ID_MAX)
			n = EDGE_NODE_ID_MAX;
		for (size_t i = 0; i < n; i++) {
			char c = (char)identity->s[i];

			shown[i] = c >= 0x20 && c < 0x7f ? c : '?';
		}
		shown[n] = '\0';
		EDGE_LOG_RL(&in->rl_hs, EDGE_LOG_WARNING, MOD,
			    "handshake refused: unknown node identity \"%s\"", shown);
		return NULL;
	}
	/* libcoap copies the key at once */
	in->psk_out.s = k->key;
	in->psk_out.length = k->key_len;
	return &in->psk_out;
}

static void stop(struct edge_ingress *in)
{
	if (in->timer)
		edge_loop_timer_del(in->loop, in->timer);
	in->timer = NULL;
	if (in->coap_fd >= 0)
		edge_loop_fd_del(in->loop, in->coap_fd);
	in->coap_fd = -1;
	if (in->ctx) {
		coap_set_app_data(in->ctx, NULL);
		coap_free_context(in->ctx);
	}
	in->ctx = NULL;
	in->dtls_fd = -1;
	ingress_pki_free(&in->pki); /* libcoap pointed at it: only after the context */
	ingress_guard_reset(in);
	for (size_t i = 0; i < in->n_nodes; i++) {
		struct node_live *l = in->nodes[i]->live;

		if (l && l->blk) {
			free(l->blk);
			l->blk = NULL;
		}
	}
}

static int endpoint(struct edge_ingress *in, const char *address, uint16_t port, coap_proto_t proto)
{
	coap_address_t a;

	if (addr_parse(address, port, &a)) {
		EDGE_ERR(MOD, "ingress.coap: \"%s\" is not an IPv4 or IPv6 address", address);
		return -EINVAL;
	}
	if (!coap_new_endpoint(in->ctx, &a, proto)) {
		EDGE_ERR(MOD, "cannot listen on %s%s%s:%u (UDP)", strchr(address, ':') ? "[" : "",
			 address, strchr(address, ':') ? "]" : "", port);
		return -EADDRINUSE;
	}
	return 0;
}

static int start(struct edge_ingress *in)
{
	coap_dtls_spsk_t spsk;
	coap_resource_t *r;
	char err[320];
	int rc;

	if (!in->set.enabled)
		return 0;
	lib_start();
	if (!coap_dtls_is_supported()) {
		EDGE_ERR(MOD, "libcoap has no DTLS: the coaps:// endpoint cannot run");
		return -ENOTSUP;
	}
	in->ctx = coap_new_context(NULL);
	if (!in->ctx)
		return -ENOMEM;
	coap_set_app_data(in->ctx, in);
	/* our own caps (guard.c): libcoap's idle cap evicts silently, and its
	 * handshake cap ignores new peers - a storm would lock nodes out */
	coap_context_set_max_idle_sessions(in->ctx, 0);
	coap_context_set_max_handshake_sessions(in->ctx, in->set.max_handshakes * 2 + 16);
	coap_context_set_session_timeout(in->ctx, in->set.session_timeout_s);
	coap_register_event_handler(in->ctx, on_event);
	memset(&spsk, 0, sizeof(spsk));
	spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
	spsk.validate_id_call_back = psk_for;
	spsk.id_call_back_arg = in;
	/* PKI beside PSK on the same endpoint: libcoap picks per ClientHello
	 * (PSK ciphers offered or not). PEM files that cannot be used leave the
	 * endpoint to the PSK nodes, said in the log and the status (pki.error),
	 * until a reload reads usable ones */
	in->pki.on = false;
	in->pki.error[0] = '\0';
	if (in->set.pki_enabled && ingress_pki_prepare(in, &spsk)) {
		rc = -EIO;
		EDGE_ERR(MOD, "no random default PSK for the PKI set-up");
		goto err;
	}
	if (!coap_context_set_psk2(in->ctx, &spsk)) {
		rc = -EIO;
		EDGE_ERR(MOD, "libcoap refused the PSK set-up");
		goto err;
	}
	if (ingress_pki_reload(in, err, sizeof(err)))
		EDGE_ERR(MOD, "%s; PKI mode off, PSK nodes only", err);
	rc = endpoint(in, in->set.address, in->set.port, COAP_PROTO_DTLS);
	if (!rc && in->set.plain_port)
		rc = endpoint(in, in->set.plain_address, in->set.plain_port, COAP_PROTO_UDP);
	if (rc)
		goto err;
	r = coap_resource_init(coap_make_str_const("v1/readings"), 0);
	if (!r) {
		rc = -ENOMEM;
		goto err;
	}
	coap_register_request_handler(r, COAP_REQUEST_POST, ingress_handle_post);
	coap_register_request_handler(r, COAP_REQUEST_GET, ingress_handle_other);
	coap_register_request_handler(r, COAP_REQUEST_PUT, ingress_handle_other);
	coap_register_request_handler(r, COAP_REQUEST_DELETE, ingress_handle_other);
	coap_register_request_handler(r, COAP_REQUEST_FETCH, ingress_handle_other);
	coap_register_request_handler(r, COAP_REQUEST_PATCH, ingress_handle_other);
	coap_register_request_handler(r, COAP_REQUEST_IPATCH, ingress_handle_other);
	coap_add_resource(in->ctx, r);
	in->coap_fd = coap_context_get_coap_fd(in->ctx);
	if (in->coap_fd < 0) {
		rc = -ENOTSUP;
		EDGE_ERR(MOD, "libcoap was built without epoll: no descriptor for the loop");
		goto err;
	}
	rc = edge_loop_fd_add(in->loop, in->coap_fd, POLLIN, on_readable, in);
	if (rc) {
		in->coap_fd = -1;
		goto err;
	}
	rc = edge_loop_timer_add(in->loop, TICK_MS, TICK_MS, on_tick, in, &in->timer);
	if (rc)
		goto err;
	if (ingress_guard_find_socket(in))
		EDGE_WARN(MOD, "coaps:// socket not found: a node rebooting onto its old port "
			       "waits for its old session to time out");
	if (edge_ingress_reload_keys(in, err, sizeof(err)))
		EDGE_ERR(MOD, "node keys: %s; every handshake is refused until a reload works",
			 err);
	EDGE_NOTICE(MOD, "coaps://%s%s%s:%u/v1/readings for %zu node(s)%s%s",
		    strchr(in->set.address, ':') ? "[" : "", in->set.address,
		    strchr(in->set.address, ':') ? "]" : "", in->set.port, in->n_nodes,
		    in->pki.on ? "; PSK and certificates" : "",
		    in->set.plain_port ? "; plain coap:// for loopback peers" : "");
	return 0;
err:
	stop(in);
	return rc;
}

/* ---- endpoints that cannot be bound (yet) ---------------------------------- */

/* A busy port after a reload is usually another program that will go away
 * (an old agent still stopping, a lab server): retried from 1 s, backing
 * off to a minute, as long as the configuration asks for it. */
#define REBIND_BASE_MS 1000
#define REBIND_CAP_MS  60000
#define REBIND_MIN_MS  250

/* Turning PKI on or off counts as an endpoint change (a new context: the
 * PSK set-up differs). The PKI files do not: a reload reads them again,
 * under the same paths or new ones, onto the running context
 * (ingress_pki_reload()), and sessions stay. */
static bool endpoints_differ(const struct ingress_settings *a, const struct ingress_settings *b)
{
	return a->enabled != b->enabled || strcmp(a->address, b->address) != 0 ||
	       a->port != b->port || strcmp(a->plain_address, b->plain_address) != 0 ||
	       a->plain_port != b->plain_port || a->pki_enabled != b->pki_enabled;
}

/* The endpoint fields of from into to (the rest of to stays). */
static void keep_endpoints(struct ingress_settings *to, const struct ingress_settings *from)
{
	to->enabled = from->enabled;
	memcpy(to->address, from->address, sizeof(to->address));
	to->port = from->port;
	memcpy(to->plain_address, from->plain_address, sizeof(to->plain_address));
	to->plain_port = from->plain_port;
	to->pki_enabled = from->pki_enabled;
}

static void endpoint_str(const char *address, uint16_t port, bool dtls, char *out, size_t outlen)
{
	bool v6 = strchr(address, ':') != NULL;

	snprintf(out, outlen, "%s://%s%s%s:%u", dtls ? "coaps" : "coap", v6 ? "[" : "", address,
		 v6 ? "]" : "", port);
}

/* Would libcoap's bind of address:port work? Made with the options libcoap
 * 4.3.1 sets on its UDP sockets (SO_REUSEADDR, IPv6 dual-stack; checked with
 * strace): our own running sockets, which have SO_REUSEADDR too, do not
 * conflict with it, another program's socket does. 0 or a negative errno. */
static int probe_bind(const char *address, uint16_t port)
{
	coap_address_t a;
	int fd, on = 1, off = 0, rc = 0;

	if (addr_parse(address, port, &a))
		return -EINVAL;
	fd = socket(a.addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    (a.addr.sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0) ||
	    bind(fd, &a.addr.sa, a.size) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Probes an endpoint the running context does not hold already. */
static int probe_new(const struct edge_ingress *in, const char *address, uint16_t port, bool dtls,
		     char *err, size_t errlen)
{
	const struct ingress_settings *r = &in->set;
	char ep[96];
	int rc;

	if (in->ctx &&
	    ((port == r->port && strcmp(address, r->address) == 0) ||
	     (r->plain_port && port == r->plain_port && strcmp(address, r->plain_address) == 0)))
		return 0;
	rc = probe_bind(address, port);
	if (rc) {
		endpoint_str(address, port, dtls, ep, sizeof(ep));
		snprintf(err, errlen, "cannot listen on %s: %s", ep, strerror(-rc));
	}
	return rc;
}

/* Moves the ingress onto the endpoints of want. The new addresses are
 * probed first, so that a busy port costs the running endpoints nothing
 * (their sessions stay open); only then are the old ones closed and the
 * new ones bound, and should that still fail (a race, a DTLS set-up
 * error), the old ones come back. 0, or a negative errno with the reason
 * in err. */
static int move_to(struct edge_ingress *in, const struct ingress_settings *want, char *err,
		   size_t errlen)
{
	struct ingress_settings prev = in->set;
	char ep[96];
	int rc = 0;

	if (want->enabled) {
		rc = probe_new(in, want->address, want->port, true, err, errlen);
		if (!rc && want->plain_port)
			rc = probe_new(in, want->plain_address, want->plain_port, false, err,
				       errlen);
		if (rc)
			return rc;
	}
	stop(in);
	in->set = *want;
	rc = start(in);
	if (!rc)
		return 0;
	endpoint_str(want->address, want->port, true, ep, sizeof(ep));
	snprintf(err, errlen, "%s: %s", ep, strerror(-rc));
	in->set = prev;
	if (start(in)) {
		EDGE_ERR(MOD, "the old endpoints failed too: no CoAP endpoint until a retry works");
		snprintf(err + strlen(err), errlen - strlen(err), "; the old endpoints failed too");
	}
	return rc;
}

static void on_rebind(void *arg);

static void rebind_clear(struct edge_ingress *in)
{
	struct ingress_rebind *r = &in->rebind;

	r->pending = false;
	r->error[0] = '\0';
	r->attempts = 0;
	r->next_wall_ms = 0;
	edge_backoff_reset(&r->backoff);
	if (r->timer)
		edge_loop_timer_set(in->loop, r->timer, UINT64_MAX, 0);
}

/* Records a failed attempt and schedules the next one. */
static void rebind_fail(struct edge_ingress *in, const struct ingress_settings *want,
			const char *err)
{
	struct ingress_rebind *r = &in->rebind;
	uint32_t delay;
	char run[96] = "no endpoint";

	if (!r->pending)
		edge_backoff_init(&r->backoff, REBIND_BASE_MS, REBIND_CAP_MS, 0);
	r->pending = true;
	r->want = *want;
	snprintf(r->error, sizeof(r->error), "%s", err);
	r->attempts++;
	delay = edge_backoff_next(&r->backoff);
	if (delay < REBIND_MIN_MS)
		delay = REBIND_MIN_MS;
	r->next_wall_ms = edge_wall_ms() + delay;
	if (!r->timer) {
		if (edge_loop_timer_add(in->loop, delay, 0, on_rebind, in, &r->timer)) {
			r->timer = NULL;
			EDGE_ERR(MOD,
				 "no timer for the rebind retry: %s (retried at the next reload)",
				 err);
			return;
		}
	} else {
		edge_loop_timer_set(in->loop, r->timer, delay, 0);
	}
	if (in->ctx)
		endpoint_str(in->set.address, in->set.port, true, run, sizeof(run));
	/* first attempt, then at powers of two: a busy port for hours logs ~12 lines */
	if ((r->attempts & (r->attempts - 1)) == 0)
		EDGE_WARN(MOD, "%s; still on %s, attempt %u, next in %u ms", err, run, r->attempts,
			  delay);
}

static void on_rebind(void *arg)
{
	struct edge_ingress *in = arg;
	struct ingress_settings want;
	char err[160];
	uint32_t attempts = in->rebind.attempts;

	if (!in->rebind.pending)
		return;
	want = in->rebind.want;
	if (move_to(in, &want, err, sizeof(err))) {
		rebind_fail(in, &want, err);
		return;
	}
	rebind_clear(in);
	EDGE_NOTICE(MOD, "rebind done after %u failed attempt(s)", attempts);
}

/* Limits, log level, keys and certificates onto the running context (a
 * reload). */
static void apply_running(struct edge_ingress *in)
{
	char err[320];

	if (!in->ctx)
		return;
	lib_start(); /* the log level may have changed */
	coap_context_set_max_handshake_sessions(in->ctx, in->set.max_handshakes * 2 + 16);
	coap_context_set_session_timeout(in->ctx, in->set.session_timeout_s);
	if (edge_ingress_reload_keys(in, err, sizeof(err)))
		EDGE_ERR(MOD, "reload: node keys: %s; keeping the previous keys", err);
	if (ingress_pki_reload(in, err, sizeof(err)))
		EDGE_ERR(MOD, "reload: certificates: %s; %s", err,
			 in->pki.on ? "keeping the running ones" : "PKI mode stays off");
}

int edge_ingress_new(const struct edge_ingress_deps *deps, const struct edge_ingress_hooks *hooks,
		     struct edge_ingress **out)
{
	struct edge_ingress *in = calloc(1, sizeof(*in));
	int rc;

	if (!in)
		return -ENOMEM;
	in->loop = deps->loop;
	in->store = deps->store;
	if (hooks)
		in->hooks = *hooks;
	in->coap_fd = -1;
	in->dtls_fd = -1;
	in->rl_refuse = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 20);
	in->rl_hs = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 10);
	in->rl_store = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 3);
	in->rl_lib = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 10);
	rc = ingress_settings_from(&in->set, deps->cfg);
	if (rc) {
		EDGE_ERR(MOD, "ingress.coap.plain_port: must differ from ingress.coap.port");
		free(in);
		return rc;
	}
	rc = start(in);
	if (rc == -EADDRINUSE) {
		/* a port still held at start (an old agent still stopping): the
		 * ingress exists, reports it and retries, like after a reload */
		struct ingress_settings want = in->set;
		char err[160];

		endpoint_str(want.address, want.port, true, err, sizeof(err));
		snprintf(err + strlen(err), sizeof(err) - strlen(err), ": cannot listen");
		in->set.enabled = false;
		rebind_fail(in, &want, err);
		rc = 0;
	}
	if (rc) {
		free(in);
		return rc;
	}
	*out = in;
	return 0;
}

void edge_ingress_free(struct edge_ingress *in)
{
	if (!in)
		return;
	stop(in);
	if (in->rebind.timer)
		edge_loop_timer_del(in->loop, in->rebind.timer);
	for (size_t i = 0; i < in->n_nodes; i++)
		node_free(in->nodes[i]);
	free(in->nodes);
	free(in->sess);
	edge_node_keys_free(&in->keys);
	free(in);
}

/* The daemon's reload: limits, topics and keys apply at once; endpoints
 * that differ move (move_to), and when they cannot be bound the running
 * ones stay and the wanted ones are retried with backoff. */
int edge_ingress_reconfigure(struct edge_ingress *in, const struct edge_config *cfg)
{
	struct ingress_settings next, run;
	char err[160];
	int rc = ingress_settings_from(&next, cfg);

	if (rc) {
		EDGE_ERR(MOD, "reload: ingress.coap.plain_port equals the coaps:// port; keeping "
			      "the running ingress");
		return rc;
	}
	/* other endpoints supersede a pending rebind; the same ones keep its backoff */
	if (in->rebind.pending && endpoints_differ(&next, &in->rebind.want))
		rebind_clear(in);
	run = next;
	keep_endpoints(&run, &in->set);
	in->set = run;
	if (!endpoints_differ(&next, &in->set)) {
		if (in->rebind.pending) {
			EDGE_NOTICE(MOD, "reload: the configured endpoints are the running ones "
					 "again; no rebind pending");
			rebind_clear(in);
		}
		apply_running(in);
		return 0;
	}
	rc = move_to(in, &next, err, sizeof(err));
	if (!rc) {
		rebind_clear(in);
		return 0;
	}
	apply_running(in); /* the limits and keys of the endpoints still running */
	rebind_fail(in, &next, err);
	return rc;
}

/* ---- status -------------------------------------------------------------- */

static const char *const code_names[] = {"4.00", "4.01", "4.03", "4.04", "4.05", "4.08",
					 "4.13", "4.15", "4.29", "5.00", "5.03"};

int code_slot(uint8_t code)
{
	static const uint8_t codes[] = {
	    EDGE_COAP_CODE(4, 0),  EDGE_COAP_CODE(4, 1),  EDGE_COAP_CODE(4, 3),
	    EDGE_COAP_CODE(4, 4),  EDGE_COAP_CODE(4, 5),  EDGE_COAP_CODE(4, 8),
	    EDGE_COAP_CODE(4, 13), EDGE_COAP_CODE(4, 15), EDGE_COAP_CODE(4, 29),
	    EDGE_COAP_CODE(5, 0),  EDGE_COAP_CODE(5, 3)};

	for (size_t i = 0; i < sizeof(codes); i++)
		if (codes[i] == code)
			return (int)i;
	return -1;
}

static int by_last_seen(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;

	return x->last_seen_ms < y->last_seen_ms ? 1 : x->last_seen_ms > y->last_seen_ms ? -1 : 0;
}

static void node_counters(cJSON *o, const struct node *n)
{
	cJSON_AddNumberToObject(o, "lastSeenMs", (double)n->last_seen_ms);
	cJSON_AddNumberToObject(o, "accepted", (double)n->accepted);
	cJSON_AddNumberToObject(o, "readings", (double)n->readings);
	cJSON_AddNumberToObject(o, "refused", (double)n->refused);
	cJSON_AddNumberToObject(o, "rateLimited", (double)n->rate_limited);
	cJSON_AddNumberToObject(o, "duplicates", (double)n->duplicates);
	cJSON_AddNumberToObject(o, "records", (double)n->records);
	if (n->revoked)
		cJSON_AddBoolToObject(o, "revoked", true);
}

/* Nodes active in the last session timeout: what "nodes per gateway" shows. */
static size_t active_nodes(const struct edge_ingress *in)
{
	uint64_t now = edge_wall_ms(), window = (uint64_t)in->set.session_timeout_s * 1000;
	size_t n = 0;

	for (size_t i = 0; i < in->n_nodes; i++)
		n += in->nodes[i]->last_seen_ms && now - in->nodes[i]->last_seen_ms <= window;
	return n;
}

/* "endpoint": what listens now ("" when nothing does); "bind": only while
 * configured endpoints could not be bound and are being retried. */
static void add_endpoint(cJSON *o, const struct edge_ingress *in)
{
	const struct ingress_rebind *r = &in->rebind;
	char ep[96] = "";
	cJSON *b;

	if (in->ctx)
		endpoint_str(in->set.address, in->set.port, true, ep, sizeof(ep));
	cJSON_AddStringToObject(o, "endpoint", ep);
	if (!r->pending)
		return;
	b = cJSON_AddObjectToObject(o, "bind");
	if (!b)
		return;
	endpoint_str(r->want.address, r->want.port, true, ep, sizeof(ep));
	cJSON_AddStringToObject(b, "want", r->want.enabled ? ep : "");
	cJSON_AddStringToObject(b, "error", r->error);
	cJSON_AddNumberToObject(b, "attempts", r->attempts);
	cJSON_AddNumberToObject(b, "nextRetryMs", (double)r->next_wall_ms);
}

struct cJSON *edge_ingress_status(const struct edge_ingress *in)
{
	const struct ingress_stats *s = &in->st;
	struct node **seen;
	cJSON *o, *a, *h, *per;
	size_t n_seen = 0;

	if (!in->set.enabled && !in->rebind.pending)
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "port", in->set.port);
	add_endpoint(o, in);
	cJSON_AddNumberToObject(o, "nodes", (double)in->n_nodes);
	cJSON_AddNumberToObject(o, "nodesActive", (double)active_nodes(in));
	cJSON_AddNumberToObject(o, "sessions", (double)ingress_sess_count(in, SESS_ESTABLISHED));
	cJSON_AddNumberToObject(o, "handshaking", (double)ingress_sess_count(in, SESS_HELLO));
	cJSON_AddNumberToObject(o, "accepted", (double)s->accepted);
	cJSON_AddNumberToObject(o, "readings", (double)s->readings);
	cJSON_AddNumberToObject(o, "refused", (double)s->refused);
	cJSON_AddNumberToObject(o, "rateLimited", (double)s->rate_limited);
	cJSON_AddNumberToObject(o, "duplicates", (double)s->duplicates);
	cJSON_AddNumberToObject(o, "duplicateReadings", (double)s->duplicate_readings);
	cJSON_AddNumberToObject(o, "records", (double)s->records);
	cJSON_AddNumberToObject(o, "recordsIncomplete", (double)s->records_incomplete);
	cJSON_AddNumberToObject(o, "storeErrors", (double)s->store_errors);
	/* answers held for a shared COMMIT: how many COMMITs, how many packs */
	cJSON_AddNumberToObject(o, "commits", (double)in->batches);
	cJSON_AddNumberToObject(o, "heldPacks", (double)in->batched_packs);
	a = cJSON_AddObjectToObject(o, "answers");
	for (size_t i = 0; a && i < sizeof(code_names) / sizeof(code_names[0]); i++)
		if (s->by_code[i])
			cJSON_AddNumberToObject(a, code_names[i], (double)s->by_code[i]);
	h = cJSON_AddObjectToObject(o, "handshakes");
	if (h) {
		cJSON_AddNumberToObject(h, "ok", (double)s->handshakes);
		cJSON_AddNumberToObject(h, "failed", (double)s->handshake_errors);
		cJSON_AddNumberToObject(h, "unknownIdentity", (double)s->unknown_identity);
		cJSON_AddNumberToObject(h, "timedOut", (double)s->handshake_timeouts);
		cJSON_AddNumberToObject(h, "evicted", (double)s->evicted_handshakes);
		cJSON_AddNumberToObject(h, "reassociations", (double)s->reassociations);
	}
	cJSON_AddNumberToObject(o, "evictedIdle", (double)s->evicted_idle);
	cJSON_AddStringToObject(o, "keysError", in->keys_error);
	if (in->set.pki_enabled) {
		cJSON *p = cJSON_AddObjectToObject(o, "pki");

		if (p) {
			cJSON_AddBoolToObject(p, "on", in->pki.on);
			cJSON_AddStringToObject(p, "error", in->pki.error);
			cJSON_AddNumberToObject(p, "badCn", (double)s->pki_bad_cn);
		}
	}
	/* per node: the nodes seen, most recent first, at most PERNODE_STATUS_MAX
	 * (the status is a retained MQTT message) */
	seen = malloc((in->n_nodes ? in->n_nodes : 1) * sizeof(*seen));
	per = cJSON_AddObjectToObject(o, "perNode");
	if (seen && per) {
		for (size_t i = 0; i < in->n_nodes; i++)
			if (in->nodes[i]->last_seen_ms || in->nodes[i]->handshakes)
				seen[n_seen++] = in->nodes[i];
		qsort(seen, n_seen, sizeof(*seen), by_last_seen);
		for (size_t i = 0; i < n_seen && i < PERNODE_STATUS_MAX; i++) {
			cJSON *e = cJSON_AddObjectToObject(per, seen[i]->id);

			if (e)
				node_counters(e, seen[i]);
		}
		if (n_seen > PERNODE_STATUS_MAX)
			cJSON_AddNumberToObject(o, "perNodeOmitted",
						(double)(n_seen - PERNODE_STATUS_MAX));
	}
	free(seen);
	return o;
}

static char *ctl_answer(const char *status, const char *message)
{
	cJSON *o = cJSON_CreateObject();
	char *out;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddStringToObject(o, "message", message);
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

char *edge_ingress_ctl(struct edge_ingress *in, const char *action)
{
	cJSON *o, *arr;
	char *out, msg[720];

	if (!in->set.enabled && !in->rebind.pending)
		return ctl_answer("error", "ingress.coap is not configured");
	if (action && strcmp(action, "reload") == 0) {
		char err[320], perr[320];
		int krc = edge_ingress_reload_keys(in, err, sizeof(err));
		int prc = ingress_pki_reload(in, perr, sizeof(perr));

		if (prc)
			EDGE_ERR(MOD, "reload: certificates: %s; %s", perr,
				 in->pki.on ? "keeping the running ones" : "PKI mode stays off");
		if (krc || prc) {
			snprintf(msg, sizeof(msg), "%s%s%s%s%s", krc ? err : "",
				 krc && prc ? "; " : "", prc ? "certificates: " : "",
				 prc ? perr : "",
				 !prc	      ? ""
				 : in->pki.on ? " (the running ones stay)"
					      : " (PKI mode stays off)");
			return ctl_answer("error", msg);
		}
		snprintf(msg, sizeof(msg), "%zu node(s) from %s%s", in->n_nodes, in->set.keys_file,
			 in->pki.on ? "; certificates re-read" : "");
		return ctl_answer("ok", msg);
	}
	if (action && strcmp(action, "list") != 0)
		return ctl_answer("error", "nodes: list or reload");
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "keysFile", in->set.keys_file);
	cJSON_AddStringToObject(o, "keysError", in->keys_error);
	if (in->set.pki_enabled) {
		cJSON_AddStringToObject(o, "pkiCaFile", in->set.pki_ca_file);
		cJSON_AddBoolToObject(o, "pkiOn", in->pki.on);
		cJSON_AddStringToObject(o, "pkiError", in->pki.error);
	}
	add_endpoint(o, in);
	arr = cJSON_AddArrayToObject(o, "nodes");
	for (size_t i = 0; arr && i < in->n_nodes; i++) {
		const struct node *n = in->nodes[i];
		cJSON *e = cJSON_CreateObject();
		bool session = false;

		if (!e)
			break;
		for (size_t j = 0; j < in->n_sess; j++)
			session |= in->sess[j].st == SESS_ESTABLISHED &&
				   strcmp(in->sess[j].node, n->id) == 0;
		cJSON_AddStringToObject(e, "id", n->id);
		cJSON_AddBoolToObject(e, "session", session);
		node_counters(e, n);
		if (!n->revoked)
			cJSON_AddBoolToObject(e, "revoked", false);
		cJSON_AddItemToArray(arr, e);
	}
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}
