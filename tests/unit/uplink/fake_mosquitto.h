/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FAKE_MOSQUITTO_H
#define EDGE_FAKE_MOSQUITTO_H
/*
 * A fake libmosquitto for the uplink's unit tests: fake_mosquitto.c defines
 * every mosquitto_* function agent/uplink calls, so a test built with it
 * links no real libmosquitto. Behind it sits a scriptable broker:
 *
 *  - it records what the client did: each CONNECT (async or the blocking
 *    v5 one with its Session Expiry Interval), the will, every PUBLISH with
 *    its properties, SUBSCRIBEs, DISCONNECTs, clients made and destroyed;
 *  - mosquitto_socket() is one end of a real socketpair, so the agent's
 *    loop polls it; events a test queues (CONNACK, PUBACK, an inbound
 *    message, the connection dropping) make that socket readable and are
 *    delivered from mosquitto_loop_read() through the callbacks the client
 *    registered, as libmosquitto does;
 *  - a test chooses the return codes of connect, publish and loop_misc.
 *
 * Like libmosquitto 2.0, publishing with properties on an MQTT 3.1.1 client
 * fails with MOSQ_ERR_NOT_SUPPORTED and subscribe without a socket with
 * MOSQ_ERR_NO_CONN.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_PUBS_MAX	512
#define FAKE_SUBS_MAX	8
#define FAKE_WRITES_MAX 64

struct fake_pub {
	char topic[256];
	char payload[2048];
	int len;
	int qos;
	bool retain;
	int mid;
	int client;    /* 1 for the first client made, 2 for the next, ... */
	int n_props;   /* properties passed, whatever they were */
	char seq[24];  /* user property "seq", "" when absent */
	char boot[24]; /* user property "boot", "" when absent */
	unsigned char corr[128];
	int corr_len; /* Correlation Data length, -1 when absent */
	int step;     /* position in the order of calls (fake.step) */
};

struct fake_broker {
	/* scripted return codes (MOSQ_ERR_*) */
	int connect_rc;
	int publish_rc;
	int misc_rc;

	/* records */
	int step; /* counts recorded calls: orders publish/write/disconnect */
	int clients_made, clients_destroyed;
	int connect_async_calls, connect_bind_calls;
	char host[256];
	int port, keepalive;
	bool clean_start;
	char client_id[128];
	int protocol; /* MQTT_PROTOCOL_V311 / V5 as set by the client */
	int send_maximum;
	bool has_session_expiry;
	uint32_t session_expiry;
	char will_topic[256];
	char will_payload[256];
	int will_qos;
	bool will_retain;
	bool log_cb; /* a log callback is set */
	struct fake_pub pubs[FAKE_PUBS_MAX];
	int n_pubs;
	char subs[FAKE_SUBS_MAX][256];
	int sub_qos[FAKE_SUBS_MAX];
	int n_subs;
	int disconnects;
	int disconnect_step;
	int loop_writes;
	int write_step[FAKE_WRITES_MAX]; /* fake.step of each loop_write, the first ones */
	/* QoS>0 publishes of the current client not answered by fake_puback() */
	int unacked, max_unacked;
};

extern struct fake_broker fake;

/* Forgets everything (no client may be alive). */
void fake_reset(void);
/* True while a client made by mosquitto_new() is alive and has a socket. */
bool fake_connected_socket(void);

/* Events for the live client, delivered from its next mosquitto_loop_read()
 * (they make its socket readable). Without a live client they are lost. */
void fake_connack(int rc, int flags);
void fake_puback(int mid, int reason);
/* The connection breaks: on_disconnect(rc), loop_read fails with
 * MOSQ_ERR_CONN_LOST. */
void fake_drop(int rc);
/* A PUBLISH from the broker. response_topic and corr may be NULL (no
 * property). */
void fake_message(const char *topic, const char *payload, const char *response_topic,
		  const void *corr, size_t corr_len);

/* The i-th recorded publish, NULL beyond. */
const struct fake_pub *fake_pub_at(int i);

#endif
