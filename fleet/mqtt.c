/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/backoff.h"
#include "edge/file.h"
#include "edge/log.h"
#include "edge/notify.h"
#include "edge/time.h"
#include "exporter.h"
#include "fleet/status.h"
#include "fleet/topic.h"

#define MOD "mqtt"

struct fleet_mqtt {
	const struct edge_fleet_config *cfg;
	struct edge_loop *loop;
	struct edge_fleet *fleet;
	struct mosquitto *mosq;
	char *status_filter;
	char *alert_filter;
	char *ota_filter;
	int fd;	     /* registered with the loop, -1 when none */
	int dead_fd; /* a failed attempt's socket, left to libmosquitto to close */
	uint64_t attempt_ms;
	bool connected;
	bool reconnect_due;
	bool stopping;
	struct edge_timer *misc_timer;
	struct edge_timer *reconnect_timer;
	struct edge_timer *resync_timer;
	struct edge_backoff backoff;
	struct edge_ratelimit rl_down;
	struct edge_ratelimit rl_bad;
};

static void schedule_reconnect(struct fleet_mqtt *m);

static void on_io(int fd, short revents, void *arg);

/* libmosquitto opens and closes its socket itself; follow it. */
static void sync_fd(struct fleet_mqtt *m)
{
	int s = mosquitto_socket(m->mosq);

	if (s >= 0 && s == m->dead_fd)
		s = -1;
	if (s != m->fd) {
		if (m->fd >= 0)
			edge_loop_fd_del(m->loop, m->fd);
		m->fd = -1;
		if (s >= 0 && !edge_loop_fd_add(m->loop, s, POLLIN, on_io, m))
			m->fd = s;
	}
	if (m->fd < 0 && !m->reconnect_due)
		schedule_reconnect(m);
}

static void connect_now(void *arg)
{
	struct fleet_mqtt *m = arg;
	int rc;

	m->reconnect_due = false;
	m->dead_fd = -1;
	m->attempt_ms = edge_now_ms();
	/* closes the previous socket, if any, before opening a new one */
	rc = mosquitto_connect_async(m->mosq, m->cfg->mqtt_host, (int)m->cfg->mqtt_port,
				     (int)m->cfg->mqtt_keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS)
		EDGE_LOG_RL(&m->rl_down, EDGE_LOG_WARNING, MOD, "connect to %s:%u: %s",
			    m->cfg->mqtt_host, m->cfg->mqtt_port,
			    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	sync_fd(m);
}

static void schedule_reconnect(struct fleet_mqtt *m)
{
	uint32_t delay = edge_backoff_next(&m->backoff);

	m->reconnect_due = true;
	EDGE_DEBUG(MOD, "reconnecting in %u ms", delay);
	edge_loop_timer_set(m->loop, m->reconnect_timer, delay, 0);
}

/*
 * libmosquitto 2.0.11 does not notice a non-blocking TLS connect that fails
 * (refused, reset during the handshake) when driven by loop_read/loop_write:
 * it reports success and the socket polls as hung up forever. Until the
 * CONNACK, a hang-up or a silent broker ends the attempt here: stop watching
 * the socket and retry after a backoff delay (connect_async closes it).
 */
static void drop_attempt(struct fleet_mqtt *m, const char *why)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (m->fd >= 0) {
		getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		edge_loop_fd_del(m->loop, m->fd);
		m->dead_fd = m->fd;
		m->fd = -1;
	}
	EDGE_LOG_RL(&m->rl_down, EDGE_LOG_WARNING, MOD, "connect to %s:%u failed: %s",
		    m->cfg->mqtt_host, m->cfg->mqtt_port, err ? strerror(err) : why);
	if (!m->reconnect_due)
		schedule_reconnect(m);
}

static void on_io(int fd, short revents, void *arg)
{
	struct fleet_mqtt *m = arg;
	int rc = MOSQ_ERR_SUCCESS;

	(void)fd;
	if (!m->connected && (revents & (POLLERR | POLLHUP))) {
		/* let libmosquitto read what is there (a CONNACK refusal) first */
		mosquitto_loop_read(m->mosq, 1);
		if (!m->connected && mosquitto_socket(m->mosq) == m->fd) {
			drop_attempt(m, "connection closed during the handshake");
			return;
		}
	}
	if (revents & (POLLIN | POLLERR | POLLHUP))
		rc = mosquitto_loop_read(m->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && (revents & POLLOUT))
		rc = mosquitto_loop_write(m->mosq, 1);
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		EDGE_LOG_RL(&m->rl_down, EDGE_LOG_WARNING, MOD, "connection to %s:%u: %s",
			    m->cfg->mqtt_host, m->cfg->mqtt_port,
			    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	sync_fd(m);
}

static void prepare(void *arg)
{
	struct fleet_mqtt *m = arg;

	if (m->fd >= 0)
		edge_loop_fd_events(
		    m->loop, m->fd,
		    (short)(POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0)));
}

static void misc(void *arg)
{
	struct fleet_mqtt *m = arg;

	if (m->fd >= 0 && !m->connected &&
	    edge_now_ms() - m->attempt_ms > 1000u * m->cfg->mqtt_keepalive_s) {
		drop_attempt(m, "no CONNACK within the keepalive interval");
		return;
	}
	if (m->fd >= 0)
		mosquitto_loop_misc(m->mosq); /* keepalive; closes a dead link */
	sync_fd(m);
}

static void resync_end(void *arg)
{
	struct fleet_mqtt *m = arg;
	size_t n;

	if (!m->connected)
		return;
	n = edge_fleet_resync_end(m->fleet);
	if (n)
		EDGE_NOTICE(MOD, "forgot %zu devices whose retained status is gone", n);
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct fleet_mqtt *m = arg;
	int mid;

	if (rc) {
		EDGE_LOG_RL(&m->rl_down, EDGE_LOG_ERR, MOD,
			    "broker %s:%u refused the connection: %s", m->cfg->mqtt_host,
			    m->cfg->mqtt_port, mosquitto_connack_string(rc));
		return; /* the broker closes; sync_fd schedules the retry */
	}
	m->connected = true;
	edge_backoff_reset(&m->backoff);
	edge_fleet_set_mqtt_connected(m->fleet, true);
	EDGE_NOTICE(MOD, "connected to %s:%u, subscribing %s, %s and %s", m->cfg->mqtt_host,
		    m->cfg->mqtt_port, m->status_filter, m->alert_filter, m->ota_filter);
	edge_notifyf("STATUS=connected to %s:%u", m->cfg->mqtt_host, m->cfg->mqtt_port);
	/* a clean session: the broker sends every retained status again */
	if (m->cfg->resync_s) {
		edge_fleet_resync_begin(m->fleet);
		edge_loop_timer_set(m->loop, m->resync_timer, 1000u * m->cfg->resync_s, 0);
	}
	if (mosquitto_subscribe(mosq, &mid, m->status_filter, 1) ||
	    mosquitto_subscribe(mosq, &mid, m->alert_filter, 1) ||
	    mosquitto_subscribe(mosq, &mid, m->ota_filter, 1)) {
		EDGE_ERR(MOD, "subscribe failed; dropping the connection to retry");
		mosquitto_disconnect(mosq);
	}
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct fleet_mqtt *m = arg;

	(void)mosq;
	if (m->stopping) {
		EDGE_INFO(MOD, "disconnected from %s:%u", m->cfg->mqtt_host, m->cfg->mqtt_port);
	} else if (m->connected) {
		EDGE_WARN(MOD, "disconnected from %s:%u: %s", m->cfg->mqtt_host, m->cfg->mqtt_port,
			  mosquitto_strerror(rc));
		edge_notifyf("STATUS=disconnected from %s:%u, reconnecting", m->cfg->mqtt_host,
			     m->cfg->mqtt_port);
	}
	m->connected = false;
	edge_fleet_set_mqtt_connected(m->fleet, false);
	edge_loop_timer_set(m->loop, m->resync_timer, UINT64_MAX, 0);
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted)
{
	struct fleet_mqtt *m = arg;

	(void)mosq;
	(void)mid;
	for (int i = 0; i < n; i++)
		if (granted[i] > 2)
			EDGE_ERR(MOD, "the broker refused a subscription (code %d): check its ACL",
				 granted[i]);
	(void)m;
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg)
{
	struct fleet_mqtt *m = arg;
	char level[EDGE_FLEET_ID_MAX + 2];
	int rc;

	(void)mosq;
	if (edge_fleet_topic_match(m->cfg->status_topic, msg->topic, level, sizeof(level))) {
		rc = edge_fleet_on_status(m->fleet, level, msg->payload, (size_t)msg->payloadlen,
					  msg->retain, edge_wall_ms());
	} else if (edge_fleet_topic_match(m->cfg->alert_topic, msg->topic, level, sizeof(level))) {
		rc = edge_fleet_on_alert(m->fleet, level, msg->payload, (size_t)msg->payloadlen);
	} else if (edge_fleet_topic_match(m->cfg->ota_topic, msg->topic, level, sizeof(level))) {
		rc = edge_fleet_on_ota(m->fleet, level, msg->payload, (size_t)msg->payloadlen,
				       msg->retain);
	} else {
		EDGE_DEBUG(MOD, "ignoring message on %s", msg->topic);
		return;
	}
	if (rc < 0)
		EDGE_LOG_RL(&m->rl_bad, EDGE_LOG_WARNING, MOD,
			    "ignored message on %s (%d bytes): %s", msg->topic, msg->payloadlen,
			    rc == -ENOSPC ? "max_devices reached" : strerror(-rc));
}

static void on_log(struct mosquitto *mosq, void *arg, int level, const char *str)
{
	(void)mosq;
	(void)arg;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		EDGE_DEBUG(MOD, "libmosquitto: %s", str);
}

static int read_password(const char *path, char **out)
{
	size_t len;
	int rc = edge_file_read(path, 4096, out, &len);

	if (rc)
		return rc;
	(*out)[strcspn(*out, "\r\n")] = '\0';
	return 0;
}

static int configure(struct fleet_mqtt *m)
{
	const struct edge_fleet_config *c = m->cfg;
	int rc;

	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     strcmp(c->mqtt_protocol, "v5") ? MQTT_PROTOCOL_V311
							    : MQTT_PROTOCOL_V5);
	if (c->tls_ca_file[0]) {
		rc = mosquitto_tls_set(m->mosq, c->tls_ca_file, NULL,
				       c->tls_cert_file[0] ? c->tls_cert_file : NULL,
				       c->tls_key_file[0] ? c->tls_key_file : NULL, NULL);
		if (rc) {
			EDGE_ERR(MOD, "TLS setup (ca %s, cert %s, key %s): %s", c->tls_ca_file,
				 c->tls_cert_file, c->tls_key_file, mosquitto_strerror(rc));
			return -EINVAL;
		}
		/* always verify the broker: SSL_VERIFY_PEER */
		mosquitto_tls_opts_set(m->mosq, 1, NULL, NULL);
	} else {
		EDGE_WARN(MOD, "mqtt.tls.ca_file is empty: connecting WITHOUT TLS");
	}
	if (c->mqtt_username[0]) {
		char *pw = NULL;

		if (c->mqtt_password_file[0]) {
			rc = read_password(c->mqtt_password_file, &pw);
			if (rc) {
				EDGE_ERR(MOD, "mqtt.password_file %s: %s", c->mqtt_password_file,
					 strerror(-rc));
				return rc;
			}
		}
		rc = mosquitto_username_pw_set(m->mosq, c->mqtt_username, pw);
		free(pw);
		if (rc)
			return -EINVAL;
	}
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
	mosquitto_message_callback_set(m->mosq, on_message);
	mosquitto_log_callback_set(m->mosq, on_log);
	return 0;
}

int fleet_mqtt_start(const struct edge_fleet_config *cfg, struct edge_loop *loop,
		     struct edge_fleet *fleet, struct fleet_mqtt **out)
{
	struct fleet_mqtt *m = calloc(1, sizeof(*m));
	char client_id[128];
	int rc = -ENOMEM;

	if (!m)
		return -ENOMEM;
	m->cfg = cfg;
	m->loop = loop;
	m->fleet = fleet;
	m->fd = -1;
	m->dead_fd = -1;
	m->rl_down = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 3);
	m->rl_bad = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 5);
	edge_backoff_init(&m->backoff, cfg->backoff_base_ms, cfg->backoff_cap_ms, 0);
	m->status_filter = edge_fleet_topic_filter(cfg->status_topic);
	m->alert_filter = edge_fleet_topic_filter(cfg->alert_topic);
	m->ota_filter = edge_fleet_topic_filter(cfg->ota_topic);
	if (!m->status_filter || !m->alert_filter || !m->ota_filter)
		goto err;
	if (cfg->mqtt_client_id[0]) {
		snprintf(client_id, sizeof(client_id), "%s", cfg->mqtt_client_id);
	} else {
		char host[64] = "host";

		gethostname(host, sizeof(host) - 1);
		snprintf(client_id, sizeof(client_id), "edge-fleet-exporter-%s-%d", host,
			 (int)getpid());
	}
	m->mosq = mosquitto_new(client_id, true, m);
	if (!m->mosq)
		goto err;
	rc = configure(m);
	if (rc)
		goto err;
	rc = edge_loop_timer_add(loop, 1000, 1000, misc, m, &m->misc_timer);
	if (rc)
		goto err;
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, connect_now, m, &m->reconnect_timer);
	if (rc)
		goto err;
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, resync_end, m, &m->resync_timer);
	if (rc)
		goto err;
	rc = edge_loop_prepare_add(loop, prepare, m);
	if (rc)
		goto err;
	EDGE_INFO(MOD, "client %s connecting to %s:%u (%s, %s)", client_id, cfg->mqtt_host,
		  cfg->mqtt_port, cfg->mqtt_protocol,
		  cfg->tls_ca_file[0] ? (cfg->tls_cert_file[0] ? "mutual TLS" : "TLS") : "no TLS");
	connect_now(m);
	*out = m;
	return 0;
err:
	fleet_mqtt_free(m);
	return rc;
}

void fleet_mqtt_free(struct fleet_mqtt *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		edge_loop_fd_del(m->loop, m->fd);
	m->stopping = true;
	if (m->mosq) {
		if (m->connected)
			mosquitto_disconnect(m->mosq);
		mosquitto_destroy(m->mosq);
	}
	edge_loop_timer_del(m->loop, m->misc_timer);
	edge_loop_timer_del(m->loop, m->reconnect_timer);
	edge_loop_timer_del(m->loop, m->resync_timer);
	free(m->status_filter);
	free(m->alert_filter);
	free(m->ota_filter);
	free(m);
}
