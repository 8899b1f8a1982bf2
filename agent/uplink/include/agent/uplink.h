/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_UPLINK_H
#define EDGE_AGENT_UPLINK_H
/*
 * The MQTT side: one libmosquitto client driven by the agent's poll loop.
 *
 * Delivery: the uplink publishes outbox rows in seq order with QoS 1, at most
 * `inflight` unacknowledged at once, and acknowledges each row to the store
 * on PUBACK (deletes are batched into one transaction per loop iteration).
 * On a disconnect the client is discarded and a new one is made after a
 * full-jitter backoff; everything not acknowledged is published again from
 * the outbox, so duplicates are bounded by the in-flight window and carry
 * the same seq. Alerts (priority rows) go ahead of telemetry.
 *
 * With MQTT v5 every outbox message carries user properties seq and boot.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/store.h"
#include "edge/loop.h"

struct edge_uplink;

/* An inbound message as the rest of the agent sees it: no libmosquitto type
 * crosses this header. Every pointer is borrowed for the callback's
 * duration. */
struct edge_mqtt_message {
	const char *topic;
	const void *payload;
	size_t len;
	/* MQTT v5 Response Topic, or NULL (MQTT 3.1.1, or not sent) */
	const char *response_topic;
	/* MQTT v5 Correlation Data, or NULL with correlation_len 0 */
	const void *correlation;
	size_t correlation_len;
};

struct edge_uplink_hooks {
	/* Connected (CONNACK success): publish status, subscribe. */
	void (*connected)(void *arg);
	/* A message arrived on a subscription. */
	void (*message)(void *arg, const struct edge_mqtt_message *msg);
	void *arg;
};

struct edge_uplink_stats {
	bool connected;
	uint64_t reconnects;	  /* successful connections after the first */
	uint64_t connects;	  /* successful connections */
	uint64_t published;	  /* outbox messages handed to the broker */
	uint64_t acked;		  /* outbox messages acknowledged */
	uint64_t rejected;	  /* PUBACK with an error reason: dropped, counted */
	uint64_t last_publish_ms; /* wall clock of the last PUBACK */
	size_t inflight;
	char last_error[160];
};

/* will_topic/will_payload: the retained Last Will. Caller frees with
 * edge_uplink_free(). */
int edge_uplink_new(struct edge_loop *loop, struct edge_store *store, const struct edge_config *cfg,
		    const char *will_topic, const char *will_payload,
		    const struct edge_uplink_hooks *hooks, struct edge_uplink **out);
void edge_uplink_free(struct edge_uplink *u);

/* Starts connecting (no-op when already started). */
void edge_uplink_start(struct edge_uplink *u);
/* New settings: reconnects when the connection settings changed. */
int edge_uplink_reconfigure(struct edge_uplink *u, const struct edge_config *cfg,
			    const char *will_topic, const char *will_payload);
/* Drops the connection and connects again at once (e.g. a renewed
 * certificate); no-op before edge_uplink_start(). */
void edge_uplink_reconnect(struct edge_uplink *u);
/* Publishes outside the outbox (status, command results). -ENOTCONN when
 * offline. correlation (MQTT v5 Correlation Data, ignored on 3.1.1) may be
 * NULL. */
int edge_uplink_publish(struct edge_uplink *u, const char *topic, const void *payload, size_t len,
			int qos, bool retain, const void *correlation, size_t correlation_len);
int edge_uplink_subscribe(struct edge_uplink *u, const char *topic, int qos);
/* True when the broker answered CONNACK and the connection is up. */
bool edge_uplink_connected(const struct edge_uplink *u);
void edge_uplink_stats(const struct edge_uplink *u, struct edge_uplink_stats *out);
/* Nothing published and unacknowledged, nothing in the outbox. */
bool edge_uplink_idle(const struct edge_uplink *u);
/* Publishes final_topic/final_payload (retained) when connected, then
 * disconnects cleanly. */
void edge_uplink_shutdown(struct edge_uplink *u, const char *final_topic,
			  const char *final_payload);

#endif
