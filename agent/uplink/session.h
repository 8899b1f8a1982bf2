/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_UPLINK_SESSION_H
#define EDGE_UPLINK_SESSION_H
/*
 * Connecting with an MQTT 5 persistent session (private to agent/uplink).
 *
 * libmosquitto 2.0 sends CONNECT properties (the Session Expiry Interval)
 * only from the blocking mosquitto_connect_bind_v5(), whose TCP connect()
 * would stall the whole loop (sampling included) for as long as the kernel
 * retries SYNs to a dead or unreachable broker. So the uplink first runs a
 * non-blocking TCP connect of its own in the loop (the probe); only once the
 * probe succeeded does it make the blocking call, and a timer signal bounds
 * even that. The TLS handshake and CONNECT/CONNACK then run in the loop.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#include "edge/loop.h"

struct edge_tcp_probe;

/* The probe's outcome: err 0 when some address of the host accepted a TCP
 * connection, otherwise a positive errno (the last address's) and why
 * describes it. It is the probe's last action: the callback may free it. */
typedef void (*edge_tcp_probe_cb)(void *arg, int err, const char *why);

/* Resolves host and tries its addresses one after another with
 * non-blocking connects in loop. On a resolution failure returns a negative
 * errno with why filled and never calls cb. Caller frees with
 * edge_tcp_probe_free() (also to cancel). */
int edge_tcp_probe_start(struct edge_loop *loop, const char *host, unsigned port,
			 edge_tcp_probe_cb cb, void *arg, struct edge_tcp_probe **out, char *why,
			 size_t whylen);
void edge_tcp_probe_free(struct edge_tcp_probe *p);

/*
 * mosquitto_connect_bind_v5() with a Session Expiry Interval of expiry_s, its
 * blocking TCP connect() bounded by bound_ms (then every further address by
 * 50 ms). Returns the MOSQ_ERR_* of the call; *timed_out tells whether the
 * bound cut it. errno is kept from the call for MOSQ_ERR_ERRNO.
 */
int edge_uplink_connect_session(struct mosquitto *mosq, const char *host, unsigned port,
				unsigned keepalive_s, uint32_t expiry_s, unsigned bound_ms,
				bool *timed_out);

#endif
