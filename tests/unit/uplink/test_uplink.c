/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The uplink's state machine (agent/uplink/uplink.c, session.c) against the
 * fake libmosquitto of fake_mosquitto.h: the real outbox (SQLite in a
 * temporary directory), the real event loop and clock. What the broker
 * answers is scripted per test; what the client sent is read back from the
 * fake's records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "edge/time.h"
#include "edge_test.h"
#include "fake_mosquitto.h"

#define WILL_TOPIC   "devices/dev-1/status"
#define WILL_PAYLOAD "{\"state\":\"offline\"}"
#define BACKOFF_CAP  150

struct inbound {
	char topic[128];
	char payload[256];
	size_t len;
	bool has_response_topic;
	char response_topic[128];
	bool has_correlation;
	unsigned char correlation[64];
	size_t correlation_len;
};

struct fx {
	char dir[256];
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_config cfg;
	struct edge_uplink *u;
	int connected_hooks;
	int messages;
	struct inbound last;
};

static void on_connected(void *arg)
{
	struct fx *f = arg;

	f->connected_hooks++;
}

/* Copies what the hook sees: the pointers are borrowed for the call only. */
static void on_message(void *arg, const struct edge_mqtt_message *m)
{
	struct fx *f = arg;
	struct inbound *in = &f->last;

	memset(in, 0, sizeof(*in));
	f->messages++;
	snprintf(in->topic, sizeof(in->topic), "%s", m->topic);
	in->len = m->len;
	snprintf(in->payload, sizeof(in->payload), "%.*s", (int)m->len, (const char *)m->payload);
	in->has_response_topic = m->response_topic != NULL;
	if (m->response_topic)
		snprintf(in->response_topic, sizeof(in->response_topic), "%s", m->response_topic);
	in->has_correlation = m->correlation != NULL;
	in->correlation_len = m->correlation_len;
	if (m->correlation && m->correlation_len <= sizeof(in->correlation))
		memcpy(in->correlation, m->correlation, m->correlation_len);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct edge_store_cfg scfg = {.max_rows = 10000, .max_bytes = 1 << 24};

	if (!f)
		return -1;
	fake_reset();
	if (edge_test_env_open("uplink", f->dir, sizeof(f->dir), &f->loop))
		return -1;
	scfg.dir = f->dir;
	if (edge_store_open(&scfg, &f->store, NULL, 0))
		return -1;
	edge_config_defaults(&f->cfg);
	snprintf(f->cfg.device_id, sizeof(f->cfg.device_id), "dev-1");
	snprintf(f->cfg.mqtt.client_id, sizeof(f->cfg.mqtt.client_id), "dev-1");
	snprintf(f->cfg.mqtt.host, sizeof(f->cfg.mqtt.host), "broker.test");
	f->cfg.mqtt.port = 8883;
	f->cfg.mqtt.protocol = EDGE_MQTT_V5;
	f->cfg.mqtt.clean_start = true; /* no persistent session: the async connect */
	f->cfg.mqtt.inflight = 4;
	f->cfg.mqtt.connect_timeout_s = 1;
	f->cfg.mqtt.backoff.base_ms = BACKOFF_CAP;
	f->cfg.mqtt.backoff.cap_ms = BACKOFF_CAP;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_uplink_free(f->u);
	edge_store_close(f->store);
	edge_test_env_close(f->dir, f->loop);
	free(f);
	return 0;
}

/* Makes the uplink with f->cfg as the test left it. */
static void make(struct fx *f)
{
	struct edge_uplink_hooks hooks = {
	    .connected = on_connected, .message = on_message, .arg = f};

	assert_int_equal(
	    edge_uplink_new(f->loop, f->store, &f->cfg, WILL_TOPIC, WILL_PAYLOAD, &hooks, &f->u),
	    0);
}

static bool has_socket(void *arg)
{
	(void)arg;
	return fake_connected_socket();
}

static bool up(void *arg)
{
	struct fx *f = arg;

	return edge_uplink_connected(f->u);
}

/* Starts the uplink and answers its CONNECT with a successful CONNACK. */
static void connect_ok(struct fx *f)
{
	if (!f->u)
		make(f);
	edge_uplink_start(f->u);
	assert_true(edge_test_run_until(f->loop, has_socket, NULL, 2000));
	fake_connack(0, 0);
	assert_true(edge_test_run_until(f->loop, up, f, 2000));
}

static int target_pubs;

static bool enough_pubs(void *arg)
{
	(void)arg;
	return fake.n_pubs >= target_pubs;
}

/* Runs until n publishes were recorded, then a little longer so that one
 * too many would show. */
static void expect_pubs(struct fx *f, int n)
{
	target_pubs = n;
	assert_true(edge_test_run_until(f->loop, enough_pubs, NULL, 2000));
	edge_test_run_until(f->loop, NULL, NULL, 50);
	assert_int_equal(fake.n_pubs, n);
}

static void append(struct fx *f, int n, uint8_t prio)
{
	for (int i = 0; i < n; i++) {
		char p[64];
		struct edge_store_msg m = {
		    .topic = prio ? "alerts/high" : "health/device_data",
		    .payload = p,
		    .qos = 1,
		    .prio = prio,
		};

		m.len = (size_t)snprintf(p, sizeof(p), "{\"n\":%d}", i);
		assert_int_equal(edge_store_append(f->store, &m, 1), 0);
	}
}

static int64_t next_seq(struct fx *f)
{
	struct edge_store_stats st;

	edge_store_stats(f->store, &st);
	return st.next_seq;
}

static uint64_t rows(struct fx *f)
{
	struct edge_store_stats st;

	edge_store_stats(f->store, &st);
	return st.rows;
}

static void assert_seq(const struct fake_pub *p, int64_t seq)
{
	char want[24];

	snprintf(want, sizeof(want), "%" PRId64, seq);
	assert_string_equal(p->seq, want);
}

/* n telemetry rows in the outbox, connected, the first `published` of them
 * handed to the broker. */
static void online_with_rows(struct fx *f, int n, int published)
{
	append(f, n, 0);
	connect_ok(f);
	expect_pubs(f, published);
}

static void v5_outbox_in_seq_order_with_properties(void **state)
{
	struct fx *f = *state;
	struct edge_store_stats st;
	int64_t first = next_seq(f);
	char boot[24];
	struct edge_uplink_stats us;

	edge_store_stats(f->store, &st);
	snprintf(boot, sizeof(boot), "%" PRId64, st.boot);
	online_with_rows(f, 3, 3);
	for (int i = 0; i < 3; i++) {
		const struct fake_pub *p = fake_pub_at(i);
		char payload[32];

		snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
		assert_string_equal(p->topic, "health/device_data");
		assert_string_equal(p->payload, payload);
		assert_int_equal(p->qos, 1);
		assert_false(p->retain);
		assert_int_equal(p->n_props, 2); /* seq and boot, nothing else */
		assert_seq(p, first + i);
		assert_string_equal(p->boot, boot);
		assert_int_equal(p->corr_len, -1);
	}
	/* the CONNECT: async (no session asked for), v5, the retained will */
	assert_int_equal(fake.connect_async_calls, 1);
	assert_int_equal(fake.connect_bind_calls, 0);
	assert_string_equal(fake.host, "broker.test");
	assert_int_equal(fake.port, 8883);
	assert_int_equal(fake.protocol, MQTT_PROTOCOL_V5);
	assert_string_equal(fake.client_id, "dev-1");
	assert_int_equal(fake.keepalive, (int)f->cfg.mqtt.keepalive_s);
	assert_int_equal(fake.send_maximum, 4); /* the in-flight window */
	assert_false(fake.log_cb);		/* dropped once connected */
	assert_string_equal(fake.will_topic, WILL_TOPIC);
	assert_string_equal(fake.will_payload, WILL_PAYLOAD);
	assert_int_equal(fake.will_qos, 1);
	assert_true(fake.will_retain);
	assert_int_equal(f->connected_hooks, 1);
	edge_uplink_stats(f->u, &us);
	assert_true(us.connected);
	assert_int_equal(us.connects, 1);
	assert_int_equal(us.reconnects, 0);
	assert_int_equal(us.published, 3);
	assert_int_equal(us.inflight, 3);
	assert_false(edge_uplink_idle(f->u));
}

static void v311_publishes_without_properties(void **state)
{
	struct fx *f = *state;

	f->cfg.mqtt.protocol = EDGE_MQTT_V311;
	online_with_rows(f, 3, 3);
	assert_int_equal(fake.protocol, MQTT_PROTOCOL_V311);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fake_pub_at(i)->n_props, 0);
		assert_string_equal(fake_pub_at(i)->seq, "");
	}
	/* outbox rows still go in seq order */
	assert_string_equal(fake_pub_at(0)->payload, "{\"n\":0}");
	assert_string_equal(fake_pub_at(2)->payload, "{\"n\":2}");
}

static void alerts_go_first(void **state)
{
	struct fx *f = *state;
	int64_t first = next_seq(f);

	append(f, 2, 0);
	append(f, 1, 1);
	connect_ok(f);
	expect_pubs(f, 3);
	assert_string_equal(fake_pub_at(0)->topic, "alerts/high");
	assert_seq(fake_pub_at(0), first + 2);
	assert_seq(fake_pub_at(1), first);
	assert_seq(fake_pub_at(2), first + 1);
}

static void inflight_window_never_exceeded(void **state)
{
	struct fx *f = *state;
	int64_t first = next_seq(f);
	struct edge_uplink_stats us;
	int acked = 0;

	online_with_rows(f, 10, 4);
	edge_uplink_stats(f->u, &us);
	assert_int_equal(us.inflight, 4);
	/* an acknowledgement out of order frees no slot: the head is still out */
	fake_puback(fake_pub_at(1)->mid, 0);
	expect_pubs(f, 4);
	/* the head's frees both */
	fake_puback(fake_pub_at(0)->mid, 0);
	expect_pubs(f, 6);
	acked = 2;
	while (acked < 10) {
		fake_puback(fake_pub_at(acked)->mid, 0);
		acked++;
		expect_pubs(f, acked + 4 < 10 ? acked + 4 : 10);
	}
	assert_int_equal(fake.max_unacked, 4);
	for (int i = 0; i < 10; i++)
		assert_seq(fake_pub_at(i), first + i);
	edge_test_run_until(f->loop, NULL, NULL, 30);
	edge_uplink_stats(f->u, &us);
	assert_int_equal(us.acked, 10);
	assert_int_equal(us.inflight, 0);
	assert_int_equal(rows(f), 0);
	assert_true(edge_uplink_idle(f->u));
}

static void puback_deletes_the_row_at_the_flush(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;

	online_with_rows(f, 2, 2);
	fake_puback(fake_pub_at(0)->mid, 0);
	/* the iteration that reads the PUBACK queues the delete... */
	assert_int_equal(edge_loop_run_once(f->loop, 500), 0);
	assert_int_equal(edge_store_ack_pending(f->store), 1);
	assert_int_equal(rows(f), 2);
	edge_uplink_stats(f->u, &us);
	assert_int_equal(us.acked, 1);
	assert_int_equal(us.inflight, 1);
	assert_true(us.last_publish_ms > 0);
	/* ...and the next one commits it */
	assert_int_equal(edge_loop_run_once(f->loop, 0), 0);
	assert_int_equal(edge_store_ack_pending(f->store), 0);
	assert_int_equal(rows(f), 1);
}

static bool offline(void *arg)
{
	struct fx *f = arg;

	return !edge_uplink_connected(f->u);
}

static void refused_puback_is_counted_and_dropped(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;

	online_with_rows(f, 2, 2);
	fake_puback(fake_pub_at(0)->mid, MQTT_RC_NOT_AUTHORIZED);
	edge_test_run_until(f->loop, NULL, NULL, 50);
	edge_uplink_stats(f->u, &us);
	assert_int_equal(us.rejected, 1);
	assert_int_equal(us.acked, 0);
	assert_int_equal(rows(f), 1);
	/* not published again after a reconnect: only the unacknowledged one is */
	fake_drop(MOSQ_ERR_CONN_LOST);
	assert_true(edge_test_run_until(f->loop, offline, f, 1000));
	assert_true(edge_test_run_until(f->loop, has_socket, NULL, BACKOFF_CAP + 2000));
	fake_connack(0, 0);
	expect_pubs(f, 3);
	assert_string_equal(fake_pub_at(2)->payload, "{\"n\":1}");
	assert_int_equal(fake_pub_at(2)->client, 2);
}

static int clients_target;

static bool new_client(void *arg)
{
	(void)arg;
	return fake.connect_async_calls >= clients_target;
}

static void disconnect_republishes_unacked_after_backoff(void **state)
{
	struct fx *f = *state;
	int64_t first = next_seq(f);
	struct edge_uplink_stats us;
	uint64_t t0;

	online_with_rows(f, 3, 3);
	fake_puback(fake_pub_at(0)->mid, 0);
	edge_test_run_until(f->loop, NULL, NULL, 30);
	assert_int_equal(rows(f), 2);

	fake_drop(MOSQ_ERR_CONN_LOST);
	assert_int_equal(edge_loop_run_once(f->loop, 500), 0);
	t0 = edge_now_ms();
	/* the client is discarded, the reason kept, the new attempt waits for
	 * the backoff timer instead of happening inside the drop */
	assert_false(edge_uplink_connected(f->u));
	assert_int_equal(fake.clients_destroyed, 1);
	assert_int_equal(fake.connect_async_calls, 1);
	edge_uplink_stats(f->u, &us);
	assert_false(us.connected);
	assert_int_equal(us.inflight, 0);
	assert_string_equal(us.last_error, "The connection was lost.");
	clients_target = 2;
	assert_true(edge_test_run_until(f->loop, new_client, NULL, BACKOFF_CAP + 1000));
	assert_true(edge_now_ms() - t0 <= BACKOFF_CAP + 250);
	assert_int_equal(fake.clients_made, 2);
	/* nothing is published before the broker accepted the connection */
	edge_test_run_until(f->loop, NULL, NULL, 30);
	assert_int_equal(fake.n_pubs, 3);
	fake_connack(0, 0);
	expect_pubs(f, 5);
	/* the two unacknowledged rows again, same seq, in order */
	assert_int_equal(fake_pub_at(3)->client, 2);
	assert_seq(fake_pub_at(3), first + 1);
	assert_seq(fake_pub_at(4), first + 2);
	edge_uplink_stats(f->u, &us);
	assert_int_equal(us.connects, 2);
	assert_int_equal(us.reconnects, 1);
	assert_string_equal(us.last_error, "");
	assert_int_equal(f->connected_hooks, 2);
}

static void broker_disconnect_reason_is_kept(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;

	connect_ok(f);
	fake_drop(MQTT_RC_SESSION_TAKEN_OVER);
	assert_true(edge_test_run_until(f->loop, offline, f, 1000));
	edge_uplink_stats(f->u, &us);
	assert_string_equal(us.last_error, "broker disconnected us: Session taken over");
}

static bool has_error(void *arg)
{
	struct fx *f = arg;
	struct edge_uplink_stats us;

	edge_uplink_stats(f->u, &us);
	return us.last_error[0] != '\0';
}

/* Starts, answers CONNACK with rc, waits until the uplink has taken it. */
static struct edge_uplink_stats refused_with(struct fx *f, int rc)
{
	struct edge_uplink_stats us;

	make(f);
	edge_uplink_start(f->u);
	assert_true(edge_test_run_until(f->loop, has_socket, NULL, 2000));
	fake_connack(rc, 0);
	assert_true(edge_test_run_until(f->loop, has_error, f, 1000));
	edge_uplink_stats(f->u, &us);
	return us;
}

static void connack_refused(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;

	append(f, 1, 0);
	us = refused_with(f, MQTT_RC_NOT_AUTHORIZED);
	assert_string_equal(us.last_error, "broker refused the connection: Not authorized");
	assert_false(us.connected);
	assert_int_equal(us.connects, 0);
	assert_int_equal(f->connected_hooks, 0);
	assert_int_equal(fake.clients_destroyed, 1);
	assert_int_equal(fake.n_pubs, 0);
	/* and it tries again */
	clients_target = 2;
	assert_true(edge_test_run_until(f->loop, new_client, NULL, BACKOFF_CAP + 1000));
}

static void connack_refused_v311(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;

	f->cfg.mqtt.protocol = EDGE_MQTT_V311;
	us = refused_with(f, CONNACK_REFUSED_NOT_AUTHORIZED);
	assert_string_equal(us.last_error,
			    "broker refused the connection: Connection Refused: not authorised.");
}

static void inbound_message_as_plain_struct(void **state)
{
	struct fx *f = *state;
	static const unsigned char corr[] = {0x00, 0x01, 0xfe, 0xff};

	connect_ok(f);
	fake_message("commands/dev-1/ping", "{\"id\":\"c1\"}", "replies/42", corr, sizeof(corr));
	assert_true(edge_test_run_until(f->loop, NULL, NULL, 50));
	assert_int_equal(f->messages, 1);
	assert_string_equal(f->last.topic, "commands/dev-1/ping");
	assert_string_equal(f->last.payload, "{\"id\":\"c1\"}");
	assert_int_equal(f->last.len, 11);
	assert_true(f->last.has_response_topic);
	assert_string_equal(f->last.response_topic, "replies/42");
	assert_true(f->last.has_correlation);
	assert_int_equal(f->last.correlation_len, sizeof(corr));
	assert_memory_equal(f->last.correlation, corr, sizeof(corr));

	/* without properties: NULL pointers, length 0 */
	fake_message("commands/dev-1/status", "{}", NULL, NULL, 0);
	edge_test_run_until(f->loop, NULL, NULL, 50);
	assert_int_equal(f->messages, 2);
	assert_string_equal(f->last.topic, "commands/dev-1/status");
	assert_false(f->last.has_response_topic);
	assert_false(f->last.has_correlation);
	assert_int_equal(f->last.correlation_len, 0);
}

static void publish_with_correlation_v5(void **state)
{
	struct fx *f = *state;

	make(f);
	assert_int_equal(edge_uplink_publish(f->u, "a/b", "x", 1, 1, false, "c", 1), -ENOTCONN);
	connect_ok(f);
	assert_int_equal(
	    edge_uplink_publish(f->u, "replies/42", "{\"ok\":1}", 8, 1, false, "\x01\x02\x03", 3),
	    0);
	assert_int_equal(fake.n_pubs, 1);
	assert_string_equal(fake_pub_at(0)->topic, "replies/42");
	assert_string_equal(fake_pub_at(0)->payload, "{\"ok\":1}");
	assert_int_equal(fake_pub_at(0)->n_props, 1);
	assert_int_equal(fake_pub_at(0)->corr_len, 3);
	assert_memory_equal(fake_pub_at(0)->corr, "\x01\x02\x03", 3);
	assert_string_equal(fake_pub_at(0)->seq, ""); /* not an outbox row */
	/* without: no property at all; retain passed through */
	assert_int_equal(edge_uplink_publish(f->u, "s/t", "y", 1, 1, true, NULL, 0), 0);
	assert_int_equal(fake_pub_at(1)->n_props, 0);
	assert_true(fake_pub_at(1)->retain);
	/* library errors become errnos */
	fake.publish_rc = MOSQ_ERR_PAYLOAD_SIZE;
	assert_int_equal(edge_uplink_publish(f->u, "s/t", "y", 1, 1, false, NULL, 0), -EMSGSIZE);
	fake.publish_rc = MOSQ_ERR_NO_CONN;
	assert_int_equal(edge_uplink_publish(f->u, "s/t", "y", 1, 1, false, NULL, 0), -ENOTCONN);
}

static void publish_with_correlation_v311(void **state)
{
	struct fx *f = *state;

	f->cfg.mqtt.protocol = EDGE_MQTT_V311;
	connect_ok(f);
	assert_int_equal(
	    edge_uplink_publish(f->u, "replies/42", "{}", 2, 1, false, "\x01\x02\x03", 3), 0);
	assert_int_equal(fake.n_pubs, 1);
	assert_int_equal(fake_pub_at(0)->n_props, 0);
	assert_int_equal(fake_pub_at(0)->corr_len, -1);
}

static void subscribe_needs_connection(void **state)
{
	struct fx *f = *state;

	make(f);
	assert_int_equal(edge_uplink_subscribe(f->u, "commands/dev-1/+", 1), -ENOTCONN);
	connect_ok(f);
	assert_int_equal(edge_uplink_subscribe(f->u, "commands/dev-1/+", 1), 0);
	assert_int_equal(fake.n_subs, 1);
	assert_string_equal(fake.subs[0], "commands/dev-1/+");
	assert_int_equal(fake.sub_qos[0], 1);
}

static void connect_timeout_without_connack(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;
	uint64_t t0 = edge_now_ms();

	make(f);
	edge_uplink_start(f->u);
	assert_true(edge_test_run_until(f->loop, has_socket, NULL, 2000));
	/* no CONNACK: the 1 s misc timer notices after connect_timeout_s */
	assert_true(edge_test_run_until(f->loop, has_error, f, 3500));
	assert_true(edge_now_ms() - t0 >= 1000);
	edge_uplink_stats(f->u, &us);
	assert_string_equal(us.last_error, "no CONNACK within 1 s");
	assert_false(us.connected);
	assert_int_equal(fake.clients_destroyed, 1);
	clients_target = 2;
	assert_true(edge_test_run_until(f->loop, new_client, NULL, BACKOFF_CAP + 1000));
}

/* True when a loop_write was recorded with a step in (after, before). */
static bool written_between(int after, int before)
{
	for (int i = 0; i < fake.loop_writes && i < FAKE_WRITES_MAX; i++)
		if (fake.write_step[i] > after && fake.write_step[i] < before)
			return true;
	return false;
}

static void loop_misc_failure_drops_the_connection(void **state)
{
	struct fx *f = *state;
	struct edge_uplink_stats us;

	connect_ok(f);
	fake.misc_rc = MOSQ_ERR_PROTOCOL; /* e.g. the keepalive check failed */
	assert_true(edge_test_run_until(f->loop, offline, f, 1500));
	edge_uplink_stats(f->u, &us);
	assert_string_equal(us.last_error, mosquitto_strerror(MOSQ_ERR_PROTOCOL));
	assert_int_equal(fake.clients_destroyed, 1);
}

static void shutdown_publishes_final_status_then_disconnects(void **state)
{
	struct fx *f = *state;
	const struct fake_pub *p;

	connect_ok(f);
	edge_uplink_shutdown(f->u, "devices/dev-1/status", "{\"state\":\"stopped\"}");
	assert_int_equal(fake.n_pubs, 1);
	p = fake_pub_at(0);
	assert_string_equal(p->topic, "devices/dev-1/status");
	assert_string_equal(p->payload, "{\"state\":\"stopped\"}");
	assert_int_equal(p->qos, 1);
	assert_true(p->retain);
	/* written out, then DISCONNECT, then that written out too */
	assert_int_equal(fake.disconnects, 1);
	assert_true(fake.disconnect_step > p->step);
	assert_true(written_between(p->step, fake.disconnect_step));
	assert_true(written_between(fake.disconnect_step, INT32_MAX));
	assert_false(edge_uplink_connected(f->u));
	/* stopped: a publish is refused, a drop reconnects nothing */
	assert_int_equal(edge_uplink_publish(f->u, "a/b", "x", 1, 1, false, NULL, 0), -ENOTCONN);
	fake_drop(MOSQ_ERR_CONN_LOST);
	edge_test_run_until(f->loop, NULL, NULL, BACKOFF_CAP + 50);
	assert_int_equal(fake.clients_made, 1);
}

static void shutdown_offline_sends_nothing(void **state)
{
	struct fx *f = *state;

	make(f);
	edge_uplink_start(f->u);
	assert_true(edge_test_run_until(f->loop, has_socket, NULL, 2000));
	edge_uplink_shutdown(f->u, "devices/dev-1/status", "{\"state\":\"stopped\"}");
	assert_int_equal(fake.n_pubs, 0);
	assert_int_equal(fake.disconnects, 0);
}

static int listener(unsigned *port)
{
	int fd = edge_test_listen_tcp(4, port);

	assert_true(fd >= 0);
	return fd;
}

static bool bind_called(void *arg)
{
	(void)arg;
	return fake.connect_bind_calls > 0;
}

/* Starts with an MQTT 5 persistent session asked for, the broker at
 * 127.0.0.1:port (the TCP probe goes there for real). */
static void start_with_session(struct fx *f, unsigned port)
{
	f->cfg.mqtt.clean_start = false;
	f->cfg.mqtt.session_expiry_s = 600;
	snprintf(f->cfg.mqtt.host, sizeof(f->cfg.mqtt.host), "127.0.0.1");
	f->cfg.mqtt.port = port;
	make(f);
	edge_uplink_start(f->u);
}

static void persistent_session_probes_then_sends_expiry(void **state)
{
	struct fx *f = *state;
	unsigned port;
	int lfd = listener(&port);

	start_with_session(f, port);
	/* the TCP probe runs in the loop first, then the v5 connect */
	assert_int_equal(fake.connect_bind_calls, 0);
	assert_true(edge_test_run_until(f->loop, bind_called, NULL, 2000));
	assert_int_equal(fake.connect_async_calls, 0);
	assert_true(fake.has_session_expiry);
	assert_int_equal(fake.session_expiry, 600);
	assert_false(fake.clean_start);
	assert_int_equal(fake.port, (int)port);
	fake_connack(0, 1); /* session present */
	assert_true(edge_test_run_until(f->loop, up, f, 1000));
	close(lfd);
}

static void persistent_session_probe_refused(void **state)
{
	struct fx *f = *state;
	unsigned port;
	int lfd = listener(&port);

	close(lfd); /* nobody listens there now */
	start_with_session(f, port);
	assert_true(edge_test_run_until(f->loop, has_error, f, 2000));
	{
		struct edge_uplink_stats us;

		edge_uplink_stats(f->u, &us);
		assert_string_equal(us.last_error, strerror(ECONNREFUSED));
	}
	assert_int_equal(fake.connect_bind_calls, 0);
	assert_int_equal(fake.clients_destroyed, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    EDGE_TEST_CASE(v5_outbox_in_seq_order_with_properties),
	    EDGE_TEST_CASE(v311_publishes_without_properties),
	    EDGE_TEST_CASE(alerts_go_first),
	    EDGE_TEST_CASE(inflight_window_never_exceeded),
	    EDGE_TEST_CASE(puback_deletes_the_row_at_the_flush),
	    EDGE_TEST_CASE(refused_puback_is_counted_and_dropped),
	    EDGE_TEST_CASE(disconnect_republishes_unacked_after_backoff),
	    EDGE_TEST_CASE(broker_disconnect_reason_is_kept),
	    EDGE_TEST_CASE(connack_refused),
	    EDGE_TEST_CASE(connack_refused_v311),
	    EDGE_TEST_CASE(inbound_message_as_plain_struct),
	    EDGE_TEST_CASE(publish_with_correlation_v5),
	    EDGE_TEST_CASE(publish_with_correlation_v311),
	    EDGE_TEST_CASE(subscribe_needs_connection),
	    EDGE_TEST_CASE(connect_timeout_without_connack),
	    EDGE_TEST_CASE(loop_misc_failure_drops_the_connection),
	    EDGE_TEST_CASE(shutdown_publishes_final_status_then_disconnects),
	    EDGE_TEST_CASE(shutdown_offline_sends_nothing),
	    EDGE_TEST_CASE(persistent_session_probes_then_sends_expiry),
	    EDGE_TEST_CASE(persistent_session_probe_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
