/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <mqtt_protocol.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/uplink.h"
#include "edge/backoff.h"
#include "edge/file.h"
#include "edge/log.h"
#include "edge/p11.h"
#include "edge/time.h"
#include "session.h"
#include "token_key.h"

#define MOD "uplink"

/* Upper bound of the one blocking call (mosquitto_connect_bind_v5, see
 * connect_with_session()); the probe has just shown the broker accepts TCP. */
#define BLOCKING_CONNECT_MS 2000

/*
 * Connecting. ST_PROBING exists only for an MQTT 5 persistent session: the
 * TCP probe of session.h runs in the loop before the bounded blocking
 * connect that sends the Session Expiry Interval. The TLS handshake and
 * CONNECT/CONNACK then run in the loop like the async path.
 */
enum state { ST_IDLE, ST_WAIT_RETRY, ST_PROBING, ST_CONNECTING, ST_CONNECTED, ST_STOPPED };

struct slot {
	int mid; /* 0 once acknowledged */
	int64_t seq;
};

struct edge_uplink {
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_config cfg;
	char will_topic[256];
	char *will_payload;
	struct edge_uplink_hooks hooks;
	char password[256];

	struct mosquitto *mosq;
	struct edge_token_key *token_key; /* the client's key in a PKCS#11 token, or NULL */
	int fd;
	enum state state;
	bool saw_writable;
	bool lost; /* set inside libmosquitto callbacks, handled after they return */
	char lost_reason[300];
	uint64_t connect_started_ms;
	struct edge_tcp_probe *probe; /* ST_PROBING */
	struct edge_timer *retry_timer;
	struct edge_timer *misc_timer;
	struct edge_backoff backoff;
	struct edge_ratelimit rl_conn;
	struct edge_ratelimit rl_store;
	struct edge_ratelimit rl_reject;

	/* in-flight window: a ring in publish order */
	struct slot *ring;
	size_t ring_cap, ring_head, ring_len, outstanding;
	int64_t cursor[2]; /* last seq published: [0] all rows, [1] priority rows */

	struct edge_uplink_stats stats;
	char lib_error[200]; /* last error libmosquitto logged */
	/* subscriptions waiting for their SUBACK, by message id (logged then) */
	struct {
		int mid;
		char topic[192];
	} subs[4];
	size_t sub_next;
};

#define describe(rc, buf, len) describe_u(u, rc, buf, len)

static void on_log(struct mosquitto *m, void *arg, int level, const char *str)
{
	struct edge_uplink *u = arg;
	const char *p = strstr(str, "error:");

	(void)m;
	if (!(level & MOSQ_LOG_ERR))
		return;
	/* Keep the first message of an attempt ("Error: Unable to load client key
	 * file ...") and add OpenSSL's first reason ("OpenSSL Error[0]:
	 * error:0A000418:SSL routines::tlsv1 alert unknown ca"). */
	if (p && (p = strstr(p, "::")) != NULL) {
		size_t n = strlen(u->lib_error);

		if (n == 0)
			snprintf(u->lib_error, sizeof(u->lib_error), "%s", p + 2);
		else if (!strchr(u->lib_error, '(') && n + 4 < sizeof(u->lib_error))
			snprintf(u->lib_error + n, sizeof(u->lib_error) - n, " (%s)", p + 2);
	} else if (!*u->lib_error) {
		snprintf(u->lib_error, sizeof(u->lib_error), "%s",
			 strncmp(str, "Error: ", 7) == 0 ? str + 7 : str);
	}
	EDGE_DEBUG(MOD, "libmosquitto: %s", str);
}

static void set_error(struct edge_uplink *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct edge_uplink *u, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->stats.last_error, sizeof(u->stats.last_error), fmt, ap);
	va_end(ap);
}

/* libmosquitto reports TLS failures as one code; the reason is in the
 * OpenSSL error it logs (captured by on_log) or still in the error queue. */
static const char *describe_u(struct edge_uplink *u, int rc, char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	bool tlsish = rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_PROTOCOL;

	if (tlsish && u && *u->lib_error) {
		snprintf(buf, len, "TLS error: %s", u->lib_error);
		u->lib_error[0] = '\0';
		ERR_clear_error();
	} else if (tlsish && e) {
		char ssl[120];

		ERR_error_string_n(e, ssl, sizeof(ssl));
		ERR_clear_error();
		snprintf(buf, len, "TLS error: %s", ssl);
	} else if (rc == MOSQ_ERR_ERRNO) {
		snprintf(buf, len, "%s", strerror(errno));
	} else {
		snprintf(buf, len, "%s", mosquitto_strerror(rc));
	}
	return buf;
}

static void mark_lost(struct edge_uplink *u, const char *reason)
{
	if (!u->lost)
		snprintf(u->lost_reason, sizeof(u->lost_reason), "%.299s", reason);
	u->lost = true;
}

static void ring_reset(struct edge_uplink *u)
{
	u->ring_head = u->ring_len = u->outstanding = 0;
	u->cursor[0] = u->cursor[1] = 0;
	u->stats.inflight = 0;
}

static void retry_cb(void *arg);

/* Forgets the probe, the socket and the client (no DISCONNECT sent). */
static void drop_client(struct edge_uplink *u)
{
	edge_tcp_probe_free(u->probe);
	u->probe = NULL;
	if (u->fd >= 0)
		edge_loop_fd_del(u->loop, u->fd);
	u->fd = -1;
	if (u->mosq)
		mosquitto_destroy(u->mosq);
	u->mosq = NULL;
	/* after the SSL_CTX that signs with it is gone */
	edge_token_key_free(u->token_key);
	u->token_key = NULL;
}

/* Drops the client; everything unacknowledged will be published again. */
static void handle_lost(struct edge_uplink *u)
{
	struct edge_store_stats st;
	uint32_t delay;

	u->lost = false;
	drop_client(u);
	ring_reset(u);
	if (u->state == ST_STOPPED)
		return;
	u->stats.connected = false;
	set_error(u, "%.159s", u->lost_reason);
	delay = edge_backoff_next(&u->backoff);
	EDGE_DEBUG(MOD, "next connection attempt in %u ms (%s)", delay, u->lost_reason);
	edge_store_stats(u->store, &st);
	EDGE_LOG_RL(&u->rl_conn, EDGE_LOG_WARNING, MOD,
		    "broker %s:%u: %s; retrying in %u ms (backlog %" PRIu64 ")", u->cfg.mqtt.host,
		    u->cfg.mqtt.port, u->lost_reason, delay, st.rows);
	u->state = ST_WAIT_RETRY;
	edge_loop_timer_set(u->loop, u->retry_timer, delay, 0);
}

static struct slot *ring_at(struct edge_uplink *u, size_t i)
{
	return &u->ring[(u->ring_head + i) % u->ring_cap];
}

static void on_publish(struct mosquitto *m, void *arg, int mid, int reason,
		       const mosquitto_property *props)
{
	struct edge_uplink *u = arg;

	(void)m;
	(void)props;
	for (size_t i = 0; i < u->ring_len; i++) {
		struct slot *s = ring_at(u, i);

		if (s->mid != mid)
			continue;
		if (reason >= 0x80) {
			/* The broker refused it (ACL, quota, bad topic): retrying cannot
			 * help, and holding it would stall everything behind it. */
			u->stats.rejected++;
			EDGE_LOG_RL(&u->rl_reject, EDGE_LOG_ERR, MOD,
				    "broker refused seq %" PRId64 ": %s (%" PRIu64
				    " refused in total)",
				    s->seq, mosquitto_reason_string(reason), u->stats.rejected);
		} else {
			u->stats.acked++;
		}
		edge_store_ack(u->store, s->seq);
		u->stats.last_publish_ms = edge_wall_ms();
		s->mid = 0;
		u->outstanding--;
		while (u->ring_len && ring_at(u, 0)->mid == 0) {
			u->ring_head = (u->ring_head + 1) % u->ring_cap;
			u->ring_len--;
		}
		u->stats.inflight = u->outstanding;
		return;
	}
	/* status or command results: not outbox rows */
}

/* An MQTT 5 session the broker keeps after a disconnect was asked for. */
static bool want_session(const struct edge_config *c)
{
	return c->mqtt.protocol == EDGE_MQTT_V5 && !c->mqtt.clean_start &&
	       c->mqtt.session_expiry_s > 0;
}

static void on_connect(struct mosquitto *m, void *arg, int rc, int flags,
		       const mosquitto_property *props)
{
	struct edge_uplink *u = arg;
	const char *resumed = (flags & 1) ? "session resumed" : "new session";
	char why[300], session[80] = "";

	if (rc != 0) {
		snprintf(why, sizeof(why), "broker refused the connection: %s",
			 u->cfg.mqtt.protocol == EDGE_MQTT_V5 ? mosquitto_reason_string(rc)
							      : mosquitto_connack_string(rc));
		mark_lost(u, why);
		return;
	}
	/* libmosquitto formats every log line (a malloc and a vsnprintf for each
	 * PUBLISH and PUBACK) whenever a log callback is set. The callback is
	 * only there to capture TLS handshake errors, so drop it once connected:
	 * later failures are still described from mosquitto_strerror(). */
	mosquitto_log_callback_set(m, NULL);
	u->state = ST_CONNECTED;
	u->stats.connected = true;
	if (u->stats.connects++)
		u->stats.reconnects++;
	edge_backoff_reset(&u->backoff);
	u->stats.last_error[0] = '\0';
	if (want_session(&u->cfg)) {
		/* CONNACK carries the interval when the broker chose another one. */
		uint32_t expiry = u->cfg.mqtt.session_expiry_s;

		mosquitto_property_read_int32(props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, &expiry,
					      false);
		if (expiry == UINT32_MAX)
			snprintf(session, sizeof(session), ", %s, expiry never", resumed);
		else
			snprintf(session, sizeof(session), ", %s, expiry %" PRIu32 " s", resumed,
				 expiry);
	} else if (u->cfg.mqtt.protocol != EDGE_MQTT_V5 && !u->cfg.mqtt.clean_start) {
		snprintf(session, sizeof(session), ", %s", resumed);
	}
	EDGE_NOTICE(MOD, "connected to %s:%u (MQTT %s, TLS%s)", u->cfg.mqtt.host, u->cfg.mqtt.port,
		    u->cfg.mqtt.protocol == EDGE_MQTT_V5 ? "5" : "3.1.1", session);
	if (u->hooks.connected)
		u->hooks.connected(u->hooks.arg);
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc, const mosquitto_property *props)
{
	struct edge_uplink *u = arg;
	char why[300];

	(void)m;
	(void)props;
	if (u->state == ST_STOPPED)
		return;
	if (u->cfg.mqtt.protocol == EDGE_MQTT_V5 && rc >= 0x80)
		snprintf(why, sizeof(why), "broker disconnected us: %s",
			 mosquitto_reason_string(rc));
	else
		describe(rc, why, sizeof(why));
	mark_lost(u, why);
}

/* Translates the message to the plain struct of uplink.h: the Response
 * Topic and Correlation Data are the only properties anyone reads. */
static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct edge_uplink *u = arg;
	struct edge_mqtt_message in = {
	    .topic = msg->topic,
	    .payload = msg->payload,
	    .len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
	};
	char *resp_topic = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;

	(void)m;
	if (!u->hooks.message)
		return;
	if (props) {
		mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &resp_topic, false);
		mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					       false);
	}
	in.response_topic = resp_topic;
	in.correlation = corr;
	in.correlation_len = corr ? corr_len : 0;
	u->hooks.message(u->hooks.arg, &in);
	free(resp_topic);
	free(corr);
}

/* The SUBACK: from here on the broker routes the topic to us. */
static void on_subscribe(struct mosquitto *m, void *arg, int mid, int qos_count, const int *granted,
			 const mosquitto_property *props)
{
	struct edge_uplink *u = arg;

	(void)m;
	(void)props;
	for (size_t i = 0; i < sizeof(u->subs) / sizeof(u->subs[0]); i++) {
		if (u->subs[i].mid != mid || !mid)
			continue;
		if (qos_count > 0 && granted[0] >= 0x80)
			EDGE_WARN(MOD, "broker refused the subscription %s: %s", u->subs[i].topic,
				  mosquitto_reason_string(granted[0]));
		else
			EDGE_DEBUG(MOD, "subscribed %s", u->subs[i].topic);
		u->subs[i].mid = 0;
		return;
	}
}

/* Decimal text of v >= 0 into buf (24 bytes); cheaper than snprintf, which
 * ran twice per published message. */
static const char *i64_text(int64_t v, char *buf)
{
	char *p = buf + 23;
	uint64_t x = v < 0 ? 0 : (uint64_t)v;

	*p = '\0';
	do {
		*--p = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	return p;
}

static int publish_row(const struct edge_store_row *row, void *arg)
{
	struct edge_uplink *u = arg;
	mosquitto_property *props = NULL;
	struct slot *s;
	int mid = 0, rc;

	if (u->ring_len == u->ring_cap)
		return 1;
	if (u->cfg.mqtt.protocol == EDGE_MQTT_V5) {
		char seq[24], boot[24];

		if (mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "seq",
						       i64_text(row->seq, seq)) ||
		    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "boot",
						       i64_text(row->boot, boot))) {
			mosquitto_property_free_all(&props);
			return 1;
		}
	}
	rc = mosquitto_publish_v5(u->mosq, &mid, row->topic, (int)row->len, row->payload, row->qos,
				  row->retain, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		char why[300];

		mark_lost(u, describe(rc, why, sizeof(why)));
		return 1;
	}
	s = ring_at(u, u->ring_len++);
	s->mid = mid;
	s->seq = row->seq;
	u->outstanding++;
	u->stats.published++;
	u->stats.inflight = u->outstanding;
	return 0;
}

static int publish_lo(const struct edge_store_row *row, void *arg)
{
	struct edge_uplink *u = arg;

	int rc = 0;

	if (!row->prio) /* priority rows are sent by the priority pass */
		rc = publish_row(row, u);
	if (rc == 0) /* only past what was really handed to libmosquitto */
		u->cursor[0] = row->seq;
	return rc;
}

static int publish_hi(const struct edge_store_row *row, void *arg)
{
	struct edge_uplink *u = arg;
	int rc = publish_row(row, u);

	if (rc == 0)
		u->cursor[1] = row->seq;
	return rc;
}

static void fill(struct edge_uplink *u)
{
	size_t room;
	int n;

	if (u->state != ST_CONNECTED || u->lost)
		return;
	/* Deletes are failing (disk full): hold new publishes until they land. */
	if (edge_store_ack_pending(u->store) > u->ring_cap)
		return;
	while (edge_store_last_seq(u->store, 1) > u->cursor[1] && u->ring_len < u->ring_cap) {
		room = u->ring_cap - u->ring_len;
		n = edge_store_fetch(u->store, 1, u->cursor[1], room, publish_hi, u);
		if (n <= 0 || u->lost)
			break;
	}
	while (edge_store_last_seq(u->store, 0) > u->cursor[0] && u->ring_len < u->ring_cap) {
		int64_t before = u->cursor[0];

		room = u->ring_cap - u->ring_len;
		n = edge_store_fetch(u->store, 0, u->cursor[0], room, publish_lo, u);
		if (n < 0) {
			EDGE_LOG_RL(&u->rl_store, EDGE_LOG_ERR, MOD, "outbox read failed: %s",
				    strerror(-n));
			break;
		}
		if (n == 0) { /* rows below last_seq were dropped or acked */
			u->cursor[0] = edge_store_last_seq(u->store, 0);
			break;
		}
		if (u->lost || u->cursor[0] == before)
			break;
	}
}

static void prepare_cb(void *arg)
{
	struct edge_uplink *u = arg;
	short events;

	if (edge_store_ack_pending(u->store)) {
		int rc = edge_store_ack_flush(u->store);

		if (rc)
			EDGE_LOG_RL(&u->rl_store, EDGE_LOG_ERR, MOD,
				    "cannot delete acknowledged messages: %s (will retry)",
				    strerror(-rc));
	}
	fill(u);
	if (u->lost)
		handle_lost(u);
	if (!u->mosq || u->fd < 0)
		return;
	events = POLLIN;
	if (mosquitto_want_write(u->mosq) || (u->state == ST_CONNECTING && !u->saw_writable))
		events |= POLLOUT;
	edge_loop_fd_events(u->loop, u->fd, events);
}

static void io_cb(int fd, short revents, void *arg)
{
	struct edge_uplink *u = arg;
	int rc = MOSQ_ERR_SUCCESS;
	char why[300];

	(void)fd;
	if (revents & (POLLIN | POLLERR | POLLHUP))
		rc = mosquitto_loop_read(u->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && !u->lost && (revents & POLLOUT)) {
		u->saw_writable = true;
		rc = mosquitto_loop_write(u->mosq, 1);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		mark_lost(u, describe(rc, why, sizeof(why)));
	} else if (!u->lost && u->state == ST_CONNECTING && (revents & (POLLERR | POLLHUP))) {
		/* A refused or reset connect: libmosquitto stays "pending" and
		 * poll() would report the hang-up forever. */
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = 0;
		snprintf(why, sizeof(why), "%s",
			 soerr ? strerror(soerr) : "connection refused or closed by the broker");
		if (*u->lib_error)
			snprintf(why, sizeof(why), "TLS error: %s", u->lib_error);
		mark_lost(u, why);
	}
	if (u->lost)
		handle_lost(u);
}

static void misc_cb(void *arg)
{
	struct edge_uplink *u = arg;
	char why[300];

	if (!u->mosq)
		return;
	if ((u->state == ST_CONNECTING || u->state == ST_PROBING) &&
	    edge_now_ms() - u->connect_started_ms > u->cfg.mqtt.connect_timeout_s * 1000ull) {
		if (u->state == ST_PROBING)
			snprintf(why, sizeof(why), "no TCP connection within %u s",
				 u->cfg.mqtt.connect_timeout_s);
		else
			snprintf(why, sizeof(why), "no CONNACK within %u s",
				 u->cfg.mqtt.connect_timeout_s);
		mark_lost(u, why);
	} else if (u->state != ST_PROBING) {
		int rc = mosquitto_loop_misc(u->mosq);

		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
			mark_lost(u, describe(rc, why, sizeof(why)));
	}
	if (u->lost)
		handle_lost(u);
}

static int read_password(struct edge_uplink *u)
{
	char *buf;
	size_t len;
	int rc;

	u->password[0] = '\0';
	if (!*u->cfg.mqtt.password_file)
		return 0;
	rc = edge_file_read(u->cfg.mqtt.password_file, sizeof(u->password) - 1, &buf, &len);
	if (rc)
		return rc;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	memcpy(u->password, buf, len + 1);
	free(buf);
	return 0;
}

/* Makes a fresh client with every option, will and TLS file set. 0, or -1
 * with the reason marked lost. */
static int client_setup(struct edge_uplink *u)
{
	const struct edge_config *c = &u->cfg;
	const char *cert = *c->mqtt.tls.cert_file ? c->mqtt.tls.cert_file : NULL;
	const char *key = *c->mqtt.tls.key_file ? c->mqtt.tls.key_file : NULL;
	char why[300];
	int rc = MOSQ_ERR_SUCCESS;

	u->mosq = mosquitto_new(c->mqtt.client_id, c->mqtt.clean_start, u);
	if (!u->mosq) {
		mark_lost(u, "out of memory");
		return -1;
	}
	mosquitto_int_option(u->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     c->mqtt.protocol == EDGE_MQTT_V5 ? MQTT_PROTOCOL_V5
							      : MQTT_PROTOCOL_V311);
	mosquitto_int_option(u->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(u->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)c->mqtt.inflight);
	mosquitto_connect_v5_callback_set(u->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(u->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(u->mosq, on_publish);
	mosquitto_message_v5_callback_set(u->mosq, on_message);
	mosquitto_subscribe_v5_callback_set(u->mosq, on_subscribe);
	mosquitto_log_callback_set(u->mosq, on_log);
	u->lib_error[0] = '\0';
	if (edge_p11_is_uri(key)) {
		SSL_CTX *ctx;

		/* token_key.h: the whole TLS context is ours (certificate, token
		 * key, CA, verification); libmosquitto only runs it. */
		if (edge_token_key_load(c, &u->token_key, &ctx, why, sizeof(why)) != 0) {
			mark_lost(u, why);
			return -1;
		}
		rc = mosquitto_int_option(u->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_void_option(u->mosq, MOSQ_OPT_SSL_CTX, ctx);
		SSL_CTX_free(ctx); /* libmosquitto holds its own reference */
	} else {
		rc = mosquitto_tls_set(u->mosq, c->mqtt.tls.ca_file, NULL, cert, key, NULL);
	}
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(u->mosq, 1, c->mqtt.tls.version, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_insecure_set(u->mosq, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(why, sizeof(why),
			 "TLS set-up failed (%s): check mqtt.tls files %.80s, %.80s, %.80s",
			 mosquitto_strerror(rc), c->mqtt.tls.ca_file, cert ? cert : "-",
			 key ? key : "-");
		mark_lost(u, why);
		return -1;
	}
	if (*c->mqtt.username) {
		rc = read_password(u);
		if (rc) {
			snprintf(why, sizeof(why), "mqtt.password_file %.100s: %s",
				 c->mqtt.password_file, strerror(-rc));
			mark_lost(u, why);
			return -1;
		}
		mosquitto_username_pw_set(u->mosq, c->mqtt.username,
					  *u->password ? u->password : NULL);
	}
	rc = mosquitto_will_set_v5(u->mosq, u->will_topic, (int)strlen(u->will_payload),
				   u->will_payload, 1, true, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		mark_lost(u, describe(rc, why, sizeof(why)));
		return -1;
	}
	return 0;
}

/* The client's socket joins the loop; the TLS handshake, CONNECT and CONNACK
 * run from io_cb (libmosquitto made the socket non-blocking). */
static void attach(struct edge_uplink *u)
{
	u->fd = mosquitto_socket(u->mosq);
	if (u->fd < 0 || edge_loop_fd_add(u->loop, u->fd, POLLIN | POLLOUT, io_cb, u)) {
		u->fd = -1;
		mark_lost(u, "no socket after connect");
		return;
	}
	u->state = ST_CONNECTING;
	u->saw_writable = false;
	EDGE_DEBUG(MOD, "connecting to %s:%u", u->cfg.mqtt.host, u->cfg.mqtt.port);
}

/* The blocking connect that sends the Session Expiry Interval (session.h). */
static void connect_with_session(struct edge_uplink *u)
{
	const struct edge_config *c = &u->cfg;
	uint64_t t0 = edge_now_ms();
	bool timed_out;
	char why[300];
	int rc;

	rc = edge_uplink_connect_session(u->mosq, c->mqtt.host, c->mqtt.port, c->mqtt.keepalive_s,
					 c->mqtt.session_expiry_s, BLOCKING_CONNECT_MS, &timed_out);
	if (rc != MOSQ_ERR_SUCCESS) {
		if (timed_out)
			snprintf(why, sizeof(why), "TCP connect took longer than %u ms",
				 BLOCKING_CONNECT_MS);
		else
			describe(rc, why, sizeof(why));
		mark_lost(u, why);
		return;
	}
	EDGE_DEBUG(MOD, "blocking connect with session expiry %" PRIu32 " s took %" PRIu64 " ms",
		   c->mqtt.session_expiry_s, edge_now_ms() - t0);
	attach(u);
}

static void probe_done(void *arg, int err, const char *why)
{
	struct edge_uplink *u = arg;

	edge_tcp_probe_free(u->probe);
	u->probe = NULL;
	if (err) {
		mark_lost(u, why);
	} else {
		EDGE_DEBUG(MOD, "TCP probe of %s:%u succeeded after %" PRIu64 " ms",
			   u->cfg.mqtt.host, u->cfg.mqtt.port,
			   edge_now_ms() - u->connect_started_ms);
		connect_with_session(u);
	}
	if (u->lost)
		handle_lost(u);
}

static void probe_start(struct edge_uplink *u)
{
	char why[300];

	u->state = ST_PROBING;
	EDGE_DEBUG(MOD, "probing %s:%u (TCP) before connecting with a session", u->cfg.mqtt.host,
		   u->cfg.mqtt.port);
	if (edge_tcp_probe_start(u->loop, u->cfg.mqtt.host, u->cfg.mqtt.port, probe_done, u,
				 &u->probe, why, sizeof(why)))
		mark_lost(u, why);
}

/* Makes a fresh client and starts connecting without blocking the loop. */
static void connect_now(struct edge_uplink *u)
{
	char why[300];
	int rc;

	u->connect_started_ms = edge_now_ms();
	if (client_setup(u))
		goto out;
	if (want_session(&u->cfg)) {
		probe_start(u);
		goto out;
	}
	rc = mosquitto_connect_async(u->mosq, u->cfg.mqtt.host, (int)u->cfg.mqtt.port,
				     (int)u->cfg.mqtt.keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		mark_lost(u, describe(rc, why, sizeof(why)));
		goto out;
	}
	attach(u);
out:
	if (u->lost)
		handle_lost(u);
}

static void retry_cb(void *arg)
{
	struct edge_uplink *u = arg;

	if (u->state == ST_WAIT_RETRY)
		connect_now(u);
}

static int set_will(struct edge_uplink *u, const char *topic, const char *payload)
{
	char *p = strdup(payload);

	if (!p)
		return -ENOMEM;
	free(u->will_payload);
	u->will_payload = p;
	snprintf(u->will_topic, sizeof(u->will_topic), "%s", topic);
	return 0;
}

static int ring_alloc(struct edge_uplink *u, size_t cap)
{
	struct slot *r = calloc(cap, sizeof(*r));

	if (!r)
		return -ENOMEM;
	free(u->ring);
	u->ring = r;
	u->ring_cap = cap;
	ring_reset(u);
	return 0;
}

int edge_uplink_new(struct edge_loop *loop, struct edge_store *store, const struct edge_config *cfg,
		    const char *will_topic, const char *will_payload,
		    const struct edge_uplink_hooks *hooks, struct edge_uplink **out)
{
	static bool lib_ready;
	struct edge_uplink *u;
	int rc;

	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->loop = loop;
	u->store = store;
	u->cfg = *cfg;
	u->fd = -1;
	u->hooks = *hooks;
	u->rl_conn = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 5);
	u->rl_store = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 3);
	u->rl_reject = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 3);
	edge_backoff_init(&u->backoff, cfg->mqtt.backoff.base_ms, cfg->mqtt.backoff.cap_ms, 0);
	rc = set_will(u, will_topic, will_payload);
	if (rc)
		goto err_u;
	rc = ring_alloc(u, cfg->mqtt.inflight);
	if (rc)
		goto err_will;
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, retry_cb, u, &u->retry_timer);
	if (rc)
		goto err_ring;
	rc = edge_loop_timer_add(loop, 1000, 1000, misc_cb, u, &u->misc_timer);
	if (rc)
		goto err_retry;
	rc = edge_loop_prepare_add(loop, prepare_cb, u);
	if (rc)
		goto err_misc;
	*out = u;
	return 0;

err_misc:
	edge_loop_timer_del(loop, u->misc_timer);
err_retry:
	edge_loop_timer_del(loop, u->retry_timer);
err_ring:
	free(u->ring);
err_will:
	free(u->will_payload);
err_u:
	free(u);
	return rc;
}

void edge_uplink_free(struct edge_uplink *u)
{
	if (!u)
		return;
	u->state = ST_STOPPED;
	drop_client(u);
	edge_loop_timer_del(u->loop, u->retry_timer);
	edge_loop_timer_del(u->loop, u->misc_timer);
	free(u->ring);
	free(u->will_payload);
	free(u);
}

void edge_uplink_start(struct edge_uplink *u)
{
	if (u->state == ST_IDLE)
		connect_now(u);
}

static int restart_connection(struct edge_uplink *u);

static bool conn_changed(const struct edge_config *a, const struct edge_config *b)
{
	return strcmp(a->mqtt.host, b->mqtt.host) || a->mqtt.port != b->mqtt.port ||
	       a->mqtt.protocol != b->mqtt.protocol || a->mqtt.keepalive_s != b->mqtt.keepalive_s ||
	       strcmp(a->mqtt.client_id, b->mqtt.client_id) ||
	       a->mqtt.clean_start != b->mqtt.clean_start ||
	       a->mqtt.session_expiry_s != b->mqtt.session_expiry_s ||
	       memcmp(&a->mqtt.tls, &b->mqtt.tls, sizeof(a->mqtt.tls)) ||
	       memcmp(&a->pkcs11, &b->pkcs11, sizeof(a->pkcs11)) ||
	       strcmp(a->mqtt.username, b->mqtt.username) ||
	       strcmp(a->mqtt.password_file, b->mqtt.password_file) ||
	       a->mqtt.inflight != b->mqtt.inflight;
}

int edge_uplink_reconfigure(struct edge_uplink *u, const struct edge_config *cfg,
			    const char *will_topic, const char *will_payload)
{
	bool reconnect = conn_changed(&u->cfg, cfg) || strcmp(u->will_topic, will_topic) != 0;
	int rc = set_will(u, will_topic, will_payload);

	if (rc)
		return rc;
	u->cfg = *cfg;
	edge_backoff_init(&u->backoff, cfg->mqtt.backoff.base_ms, cfg->mqtt.backoff.cap_ms, 0);
	if (!reconnect)
		return 0;
	EDGE_NOTICE(MOD, "connection settings changed: reconnecting");
	return restart_connection(u);
}

void edge_uplink_reconnect(struct edge_uplink *u)
{
	if (u->state == ST_IDLE || u->state == ST_STOPPED)
		return;
	EDGE_NOTICE(MOD, "reconnecting on request");
	restart_connection(u);
}

/* Drops the client and connects again from the loop. */
static int restart_connection(struct edge_uplink *u)
{
	int rc;

	if (u->mosq && u->state == ST_CONNECTED)
		mosquitto_disconnect_v5(u->mosq, 0, NULL);
	drop_client(u);
	rc = ring_alloc(u, u->cfg.mqtt.inflight);
	if (rc)
		return rc;
	u->state = ST_WAIT_RETRY;
	u->stats.connected = false;
	edge_loop_timer_set(u->loop, u->retry_timer, 0, 0);
	return 0;
}

int edge_uplink_publish(struct edge_uplink *u, const char *topic, const void *payload, size_t len,
			int qos, bool retain, const void *correlation, size_t correlation_len)
{
	mosquitto_property *props = NULL;
	int rc;

	if (u->state != ST_CONNECTED || !u->mosq)
		return -ENOTCONN;
	if (len > INT_MAX || correlation_len > UINT16_MAX)
		return -EMSGSIZE;
	if (correlation && u->cfg.mqtt.protocol == EDGE_MQTT_V5 &&
	    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation,
					  (uint16_t)correlation_len) != MOSQ_ERR_SUCCESS)
		return -ENOMEM;
	rc = mosquitto_publish_v5(u->mosq, NULL, topic, (int)len, payload, qos, retain, props);
	mosquitto_property_free_all(&props);
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_NO_CONN:
		return -ENOTCONN;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return -EMSGSIZE;
	case MOSQ_ERR_NOMEM:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

int edge_uplink_subscribe(struct edge_uplink *u, const char *topic, int qos)
{
	size_t slot;
	int mid = 0;

	if (u->state != ST_CONNECTED || !u->mosq)
		return -ENOTCONN;
	slot = u->sub_next++ % (sizeof(u->subs) / sizeof(u->subs[0]));
	if (mosquitto_subscribe_v5(u->mosq, &mid, topic, qos, 0, NULL) != MOSQ_ERR_SUCCESS)
		return -EIO;
	u->subs[slot].mid = mid;
	snprintf(u->subs[slot].topic, sizeof(u->subs[slot].topic), "%s", topic);
	return 0;
}

bool edge_uplink_connected(const struct edge_uplink *u)
{
	return u->state == ST_CONNECTED;
}

void edge_uplink_stats(const struct edge_uplink *u, struct edge_uplink_stats *out)
{
	*out = u->stats;
}

bool edge_uplink_idle(const struct edge_uplink *u)
{
	struct edge_store_stats s;

	edge_store_stats(u->store, &s);
	return u->outstanding == 0 && s.rows == 0;
}

void edge_uplink_shutdown(struct edge_uplink *u, const char *final_topic, const char *final_payload)
{
	if (u->state == ST_CONNECTED && u->mosq) {
		mosquitto_publish_v5(u->mosq, NULL, final_topic, (int)strlen(final_payload),
				     final_payload, 1, true, NULL);
		/* Push it out: a few bounded write attempts, then a clean DISCONNECT. */
		for (int i = 0; i < 50 && mosquitto_want_write(u->mosq); i++) {
			struct pollfd p = {.fd = u->fd, .events = POLLOUT};

			if (poll(&p, 1, 20) > 0 && mosquitto_loop_write(u->mosq, 1))
				break;
		}
		mosquitto_disconnect_v5(u->mosq, 0, NULL);
		for (int i = 0; i < 10 && mosquitto_want_write(u->mosq); i++) {
			struct pollfd p = {.fd = u->fd, .events = POLLOUT};

			if (poll(&p, 1, 20) > 0 && mosquitto_loop_write(u->mosq, 1))
				break;
		}
	}
	u->state = ST_STOPPED;
}
