/* SPDX-License-Identifier: Apache-2.0 */
/* The fake libmosquitto of fake_mosquitto.h. */
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_mosquitto.h"

struct fake_broker fake;

struct mqtt5__property {
	struct mqtt5__property *next;
	int identifier;
	char *name;  /* string pair: name */
	char *value; /* string, or the string pair's value */
	void *bin;
	uint16_t bin_len;
	uint32_t i32;
};

enum ev_kind { EV_CONNACK, EV_PUBACK, EV_DROP, EV_MESSAGE };

struct event {
	struct event *next;
	enum ev_kind kind;
	int a, b; /* connack rc/flags, puback mid/reason, drop rc */
	char *topic, *payload, *response_topic;
	void *corr;
	size_t corr_len;
};

struct mosquitto {
	void *obj;
	int number; /* fake.clients_made when made */
	int fds[2]; /* [0] the client's socket, [1] the broker's end */
	bool want_write;
	int next_mid;
	struct event *events, **events_tail;
	void (*on_connect)(struct mosquitto *, void *, int, int, const mosquitto_property *);
	void (*on_disconnect)(struct mosquitto *, void *, int, const mosquitto_property *);
	void (*on_publish)(struct mosquitto *, void *, int, int, const mosquitto_property *);
	void (*on_message)(struct mosquitto *, void *, const struct mosquitto_message *,
			   const mosquitto_property *);
	void (*on_log)(struct mosquitto *, void *, int, const char *);
};

/* The client alive now (the uplink keeps at most one). */
static struct mosquitto *live;

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void free_event(struct event *e)
{
	free(e->topic);
	free(e->payload);
	free(e->response_topic);
	free(e->corr);
	free(e);
}

static void close_socket(struct mosquitto *m)
{
	for (int i = 0; i < 2; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
}

void fake_reset(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.protocol = MQTT_PROTOCOL_V311;
}

bool fake_connected_socket(void)
{
	return live && live->fds[0] >= 0;
}

const struct fake_pub *fake_pub_at(int i)
{
	return i >= 0 && i < fake.n_pubs ? &fake.pubs[i] : NULL;
}

static void push(struct event *e)
{
	if (!live || live->fds[1] < 0) {
		free_event(e);
		return;
	}
	*live->events_tail = e;
	live->events_tail = &e->next;
	/* one byte makes the client's socket readable */
	if (write(live->fds[1], "e", 1) != 1)
		perror("fake_mosquitto: write");
}

static struct event *new_event(enum ev_kind kind, int a, int b)
{
	struct event *e = calloc(1, sizeof(*e));

	if (!e)
		abort();
	e->kind = kind;
	e->a = a;
	e->b = b;
	return e;
}

void fake_connack(int rc, int flags)
{
	push(new_event(EV_CONNACK, rc, flags));
}

void fake_puback(int mid, int reason)
{
	push(new_event(EV_PUBACK, mid, reason));
}

void fake_drop(int rc)
{
	push(new_event(EV_DROP, rc, 0));
}

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();
	return d;
}

void fake_message(const char *topic, const char *payload, const char *response_topic,
		  const void *corr, size_t corr_len)
{
	struct event *e = new_event(EV_MESSAGE, 0, 0);

	e->topic = dup_or_null(topic);
	e->payload = dup_or_null(payload);
	e->response_topic = dup_or_null(response_topic);
	if (corr) {
		e->corr = malloc(corr_len ? corr_len : 1);
		if (!e->corr)
			abort();
		memcpy(e->corr, corr, corr_len);
		e->corr_len = corr_len;
	}
	push(e);
}

/* ---- properties ----------------------------------------------------------- */

static int prop_append(mosquitto_property **list, struct mqtt5__property *p)
{
	while (*list)
		list = &(*list)->next;
	*list = p;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_property_add_int32(mosquitto_property **proplist, int identifier, uint32_t value)
{
	struct mqtt5__property *p = calloc(1, sizeof(*p));

	if (!proplist || !p) {
		free(p);
		return MOSQ_ERR_INVAL;
	}
	p->identifier = identifier;
	p->i32 = value;
	return prop_append(proplist, p);
}

int mosquitto_property_add_binary(mosquitto_property **proplist, int identifier, const void *value,
				  uint16_t len)
{
	struct mqtt5__property *p = calloc(1, sizeof(*p));

	if (!proplist || !p)
		goto err;
	p->identifier = identifier;
	p->bin = malloc(len ? len : 1);
	if (!p->bin)
		goto err;
	if (len)
		memcpy(p->bin, value, len);
	p->bin_len = len;
	return prop_append(proplist, p);
err:
	free(p);
	return MOSQ_ERR_NOMEM;
}

int mosquitto_property_add_string_pair(mosquitto_property **proplist, int identifier,
				       const char *name, const char *value)
{
	struct mqtt5__property *p = calloc(1, sizeof(*p));

	if (!proplist || !p || !name || !value) {
		free(p);
		return MOSQ_ERR_INVAL;
	}
	p->identifier = identifier;
	p->name = dup_or_null(name);
	p->value = dup_or_null(value);
	return prop_append(proplist, p);
}

static int add_string(mosquitto_property **proplist, int identifier, const char *value)
{
	struct mqtt5__property *p = calloc(1, sizeof(*p));

	if (!p)
		return MOSQ_ERR_NOMEM;
	p->identifier = identifier;
	p->value = dup_or_null(value);
	return prop_append(proplist, p);
}

void mosquitto_property_free_all(mosquitto_property **properties)
{
	struct mqtt5__property *p;

	if (!properties)
		return;
	while ((p = *properties) != NULL) {
		*properties = p->next;
		free(p->name);
		free(p->value);
		free(p->bin);
		free(p);
	}
}

static const mosquitto_property *prop_find(const mosquitto_property *list, int identifier,
					   bool skip_first)
{
	if (list && skip_first)
		list = list->next;
	for (; list; list = list->next)
		if (list->identifier == identifier)
			return list;
	return NULL;
}

const mosquitto_property *mosquitto_property_read_int32(const mosquitto_property *proplist,
							int identifier, uint32_t *value,
							bool skip_first)
{
	const mosquitto_property *p = prop_find(proplist, identifier, skip_first);

	if (p && value)
		*value = p->i32;
	return p;
}

const mosquitto_property *mosquitto_property_read_binary(const mosquitto_property *proplist,
							 int identifier, void **value,
							 uint16_t *len, bool skip_first)
{
	const mosquitto_property *p = prop_find(proplist, identifier, skip_first);

	if (p && value) {
		*value = malloc(p->bin_len ? p->bin_len : 1);
		if (!*value)
			return NULL;
		memcpy(*value, p->bin, p->bin_len);
		if (len)
			*len = p->bin_len;
	}
	return p;
}

const mosquitto_property *mosquitto_property_read_string(const mosquitto_property *proplist,
							 int identifier, char **value,
							 bool skip_first)
{
	const mosquitto_property *p = prop_find(proplist, identifier, skip_first);

	if (p && value)
		*value = dup_or_null(p->value);
	return p;
}

/* ---- the client ----------------------------------------------------------- */

int mosquitto_lib_init(void)
{
	return MOSQ_ERR_SUCCESS;
}

struct mosquitto *mosquitto_new(const char *id, bool clean_session, void *obj)
{
	struct mosquitto *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (live) {
		fprintf(stderr, "fake_mosquitto: a second client while one is alive\n");
		abort();
	}
	m->obj = obj;
	m->fds[0] = m->fds[1] = -1;
	m->events_tail = &m->events;
	m->number = ++fake.clients_made;
	copy_str(fake.client_id, sizeof(fake.client_id), id);
	fake.clean_start = clean_session;
	fake.protocol = MQTT_PROTOCOL_V311; /* libmosquitto's default */
	fake.unacked = 0;
	live = m;
	return m;
}

void mosquitto_destroy(struct mosquitto *m)
{
	if (!m)
		return;
	close_socket(m);
	while (m->events) {
		struct event *e = m->events;

		m->events = e->next;
		free_event(e);
	}
	if (live == m)
		live = NULL;
	fake.clients_destroyed++;
	free(m);
}

int mosquitto_int_option(struct mosquitto *m, enum mosq_opt_t option, int value)
{
	(void)m;
	if (option == MOSQ_OPT_PROTOCOL_VERSION)
		fake.protocol = value;
	else if (option == MOSQ_OPT_SEND_MAXIMUM)
		fake.send_maximum = value;
	return MOSQ_ERR_SUCCESS;
}

/* MOSQ_OPT_SSL_CTX (a key in a PKCS#11 token): accepted, not used by the
 * fake broker. */
int mosquitto_void_option(struct mosquitto *m, enum mosq_opt_t option, void *value)
{
	(void)m;
	(void)option;
	(void)value;
	return MOSQ_ERR_SUCCESS;
}

void mosquitto_connect_v5_callback_set(struct mosquitto *m,
				       void (*cb)(struct mosquitto *, void *, int, int,
						  const mosquitto_property *))
{
	m->on_connect = cb;
}

void mosquitto_disconnect_v5_callback_set(struct mosquitto *m,
					  void (*cb)(struct mosquitto *, void *, int,
						     const mosquitto_property *))
{
	m->on_disconnect = cb;
}

void mosquitto_publish_v5_callback_set(struct mosquitto *m,
				       void (*cb)(struct mosquitto *, void *, int, int,
						  const mosquitto_property *))
{
	m->on_publish = cb;
}

void mosquitto_message_v5_callback_set(struct mosquitto *m,
				       void (*cb)(struct mosquitto *, void *,
						  const struct mosquitto_message *,
						  const mosquitto_property *))
{
	m->on_message = cb;
}

/* SUBACKs are not modelled: the uplink only logs them. */
void mosquitto_subscribe_v5_callback_set(struct mosquitto *m,
					 void (*cb)(struct mosquitto *, void *, int, int,
						    const int *, const mosquitto_property *))
{
	(void)m;
	(void)cb;
}

void mosquitto_log_callback_set(struct mosquitto *m,
				void (*cb)(struct mosquitto *, void *, int, const char *))
{
	m->on_log = cb;
	fake.log_cb = cb != NULL;
}

int mosquitto_tls_set(struct mosquitto *m, const char *cafile, const char *capath,
		      const char *certfile, const char *keyfile,
		      int (*pw_callback)(char *buf, int size, int rwflag, void *userdata))
{
	(void)m;
	(void)cafile;
	(void)capath;
	(void)certfile;
	(void)keyfile;
	(void)pw_callback;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_tls_opts_set(struct mosquitto *m, int cert_reqs, const char *tls_version,
			   const char *ciphers)
{
	(void)m;
	(void)cert_reqs;
	(void)tls_version;
	(void)ciphers;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_tls_insecure_set(struct mosquitto *m, bool value)
{
	(void)m;
	return value ? MOSQ_ERR_INVAL : MOSQ_ERR_SUCCESS; /* the uplink never allows it */
}

int mosquitto_username_pw_set(struct mosquitto *m, const char *username, const char *password)
{
	(void)m;
	(void)username;
	(void)password;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_will_set_v5(struct mosquitto *m, const char *topic, int payloadlen,
			  const void *payload, int qos, bool retain, mosquitto_property *properties)
{
	(void)m;
	if (!topic || payloadlen < 0 || (payloadlen && !payload))
		return MOSQ_ERR_INVAL;
	copy_str(fake.will_topic, sizeof(fake.will_topic), topic);
	snprintf(fake.will_payload, sizeof(fake.will_payload), "%.*s", payloadlen,
		 (const char *)payload);
	fake.will_qos = qos;
	fake.will_retain = retain;
	mosquitto_property_free_all(&properties); /* libmosquitto takes ownership */
	return MOSQ_ERR_SUCCESS;
}

static int open_socket(struct mosquitto *m, const char *host, int port, int keepalive)
{
	copy_str(fake.host, sizeof(fake.host), host);
	fake.port = port;
	fake.keepalive = keepalive;
	if (fake.connect_rc != MOSQ_ERR_SUCCESS)
		return fake.connect_rc;
	close_socket(m);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, m->fds) < 0)
		return MOSQ_ERR_ERRNO;
	m->want_write = true; /* CONNECT is queued */
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_connect_async(struct mosquitto *m, const char *host, int port, int keepalive)
{
	fake.connect_async_calls++;
	fake.has_session_expiry = false;
	return open_socket(m, host, port, keepalive);
}

int mosquitto_connect_bind_v5(struct mosquitto *m, const char *host, int port, int keepalive,
			      const char *bind_address, const mosquitto_property *properties)
{
	(void)bind_address;
	fake.connect_bind_calls++;
	if (properties && fake.protocol != MQTT_PROTOCOL_V5)
		return MOSQ_ERR_NOT_SUPPORTED;
	fake.has_session_expiry =
	    mosquitto_property_read_int32(properties, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
					  &fake.session_expiry, false) != NULL;
	return open_socket(m, host, port, keepalive);
}

int mosquitto_disconnect_v5(struct mosquitto *m, int reason_code,
			    const mosquitto_property *properties)
{
	(void)reason_code;
	(void)properties;
	if (m->fds[0] < 0)
		return MOSQ_ERR_NO_CONN;
	fake.disconnects++;
	fake.disconnect_step = ++fake.step;
	m->want_write = true;
	return MOSQ_ERR_SUCCESS;
}

static void record_props(struct fake_pub *p, const mosquitto_property *props)
{
	p->corr_len = -1;
	for (const mosquitto_property *it = props; it; it = it->next) {
		p->n_props++;
		if (it->identifier == MQTT_PROP_USER_PROPERTY && strcmp(it->name, "seq") == 0)
			copy_str(p->seq, sizeof(p->seq), it->value);
		else if (it->identifier == MQTT_PROP_USER_PROPERTY && strcmp(it->name, "boot") == 0)
			copy_str(p->boot, sizeof(p->boot), it->value);
		else if (it->identifier == MQTT_PROP_CORRELATION_DATA &&
			 it->bin_len <= sizeof(p->corr)) {
			memcpy(p->corr, it->bin, it->bin_len);
			p->corr_len = it->bin_len;
		}
	}
}

int mosquitto_publish_v5(struct mosquitto *m, int *mid, const char *topic, int payloadlen,
			 const void *payload, int qos, bool retain,
			 const mosquitto_property *properties)
{
	struct fake_pub *p;

	if (!m || !topic || !*topic || qos < 0 || qos > 2 || payloadlen < 0)
		return MOSQ_ERR_INVAL;
	if (properties && fake.protocol != MQTT_PROTOCOL_V5)
		return MOSQ_ERR_NOT_SUPPORTED;
	if (fake.publish_rc != MOSQ_ERR_SUCCESS)
		return fake.publish_rc;
	if (fake.n_pubs == FAKE_PUBS_MAX) {
		fprintf(stderr, "fake_mosquitto: more than %d publishes\n", FAKE_PUBS_MAX);
		abort();
	}
	p = &fake.pubs[fake.n_pubs++];
	memset(p, 0, sizeof(*p));
	copy_str(p->topic, sizeof(p->topic), topic);
	p->len = payloadlen;
	snprintf(p->payload, sizeof(p->payload), "%.*s", payloadlen, (const char *)payload);
	p->qos = qos;
	p->retain = retain;
	p->mid = ++m->next_mid;
	p->client = m->number;
	p->step = ++fake.step;
	record_props(p, properties);
	if (mid)
		*mid = p->mid;
	if (qos > 0 && ++fake.unacked > fake.max_unacked)
		fake.max_unacked = fake.unacked;
	m->want_write = true;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_subscribe_v5(struct mosquitto *m, int *mid, const char *sub, int qos, int options,
			   const mosquitto_property *properties)
{
	(void)options;
	(void)properties;
	if (m->fds[0] < 0)
		return MOSQ_ERR_NO_CONN;
	if (fake.n_subs < FAKE_SUBS_MAX) {
		copy_str(fake.subs[fake.n_subs], sizeof(fake.subs[0]), sub);
		fake.sub_qos[fake.n_subs++] = qos;
	}
	if (mid)
		*mid = ++m->next_mid;
	m->want_write = true;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_socket(struct mosquitto *m)
{
	return m->fds[0];
}

bool mosquitto_want_write(struct mosquitto *m)
{
	return m->want_write;
}

int mosquitto_loop_write(struct mosquitto *m, int max_packets)
{
	(void)max_packets;
	if (m->fds[0] < 0)
		return MOSQ_ERR_NO_CONN;
	m->want_write = false;
	if (fake.loop_writes < FAKE_WRITES_MAX)
		fake.write_step[fake.loop_writes] = fake.step + 1;
	fake.loop_writes++;
	fake.step++;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_loop_misc(struct mosquitto *m)
{
	(void)m;
	return fake.misc_rc;
}

static void deliver_message(struct mosquitto *m, const struct event *e)
{
	struct mosquitto_message msg = {
	    .mid = 0,
	    .topic = e->topic,
	    .payload = e->payload,
	    .payloadlen = e->payload ? (int)strlen(e->payload) : 0,
	    .qos = 1,
	};
	mosquitto_property *props = NULL;

	if (e->response_topic)
		add_string(&props, MQTT_PROP_RESPONSE_TOPIC, e->response_topic);
	if (e->corr)
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, e->corr,
					      (uint16_t)e->corr_len);
	if (m->on_message)
		m->on_message(m, m->obj, &msg, props);
	mosquitto_property_free_all(&props);
}

/* Delivers every queued event, as libmosquitto's packet handlers would. */
int mosquitto_loop_read(struct mosquitto *m, int max_packets)
{
	char buf[64];
	int rc = MOSQ_ERR_SUCCESS;

	(void)max_packets;
	if (m->fds[0] < 0)
		return MOSQ_ERR_NO_CONN;
	while (read(m->fds[0], buf, sizeof(buf)) > 0)
		;
	while (m->events && rc == MOSQ_ERR_SUCCESS) {
		struct event *e = m->events;

		m->events = e->next;
		if (!m->events)
			m->events_tail = &m->events;
		switch (e->kind) {
		case EV_CONNACK:
			if (m->on_connect)
				m->on_connect(m, m->obj, e->a, e->b, NULL);
			break;
		case EV_PUBACK:
			if (fake.unacked > 0)
				fake.unacked--;
			if (m->on_publish)
				m->on_publish(m, m->obj, e->a, e->b, NULL);
			break;
		case EV_DROP:
			close_socket(m);
			if (m->on_disconnect)
				m->on_disconnect(m, m->obj, e->a, NULL);
			rc = MOSQ_ERR_CONN_LOST;
			break;
		case EV_MESSAGE:
			deliver_message(m, e);
			break;
		}
		free_event(e);
	}
	return rc;
}

/* ---- texts ---------------------------------------------------------------- */

const char *mosquitto_strerror(int mosq_errno)
{
	switch (mosq_errno) {
	case MOSQ_ERR_SUCCESS:
		return "No error.";
	case MOSQ_ERR_NOMEM:
		return "Out of memory.";
	case MOSQ_ERR_PROTOCOL:
		return "A network protocol error occurred when communicating with the broker.";
	case MOSQ_ERR_INVAL:
		return "Invalid function arguments provided.";
	case MOSQ_ERR_NO_CONN:
		return "The client is not currently connected.";
	case MOSQ_ERR_CONN_REFUSED:
		return "The connection was refused.";
	case MOSQ_ERR_CONN_LOST:
		return "The connection was lost.";
	case MOSQ_ERR_NOT_SUPPORTED:
		return "This feature is not supported.";
	case MOSQ_ERR_PAYLOAD_SIZE:
		return "Payload too large.";
	default:
		return "Unknown error.";
	}
}

const char *mosquitto_connack_string(int connack_code)
{
	static const char *const texts[] = {
	    "Connection Accepted.",
	    "Connection Refused: unacceptable protocol version.",
	    "Connection Refused: identifier rejected.",
	    "Connection Refused: broker unavailable.",
	    "Connection Refused: bad user name or password.",
	    "Connection Refused: not authorised.",
	};

	return connack_code >= 0 && connack_code <= 5 ? texts[connack_code]
						      : "Connection Refused: unknown reason.";
}

const char *mosquitto_reason_string(int reason_code)
{
	switch (reason_code) {
	case MQTT_RC_SUCCESS:
		return "Success";
	case MQTT_RC_UNSPECIFIED:
		return "Unspecified error";
	case MQTT_RC_NOT_AUTHORIZED:
		return "Not authorized";
	case MQTT_RC_SESSION_TAKEN_OVER:
		return "Session taken over";
	case MQTT_RC_QUOTA_EXCEEDED:
		return "Quota exceeded";
	case MQTT_RC_BAD_USERNAME_OR_PASSWORD:
		return "Bad User Name or Password";
	default:
		return "Unknown reason";
	}
}
