/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_INGRESS_H
#define EDGE_AGENT_INGRESS_H
/*
 * CoAP/DTLS ingress for constrained nodes (DESIGN 5.6, docs/ingress.md).
 *
 * Battery nodes POST SenML packs to coaps://<gateway>:5684/v1/readings,
 * authenticated by DTLS-PSK with a key of their own (node id = PSK
 * identity, keys from ingress.coap.keys_file). Each pack is appended to the
 * outbox in one transaction - a sensors/{node}/{metric} message per record
 * and a HealthData record when the node's vitals are all fresh - and
 * answered 2.04 only after the COMMIT; every refusal has its CoAP code.
 *
 * The only module that includes libcoap. It runs in the daemon's poll loop
 * (libcoap's epoll fd and a timer for retransmissions, session timeouts and
 * the handshake sweep); no thread.
 */
#include <stdint.h>

#include "agent/config.h"
#include "agent/store.h"
#include "edge/loop.h"
#include "edge/sensor.h"

struct edge_ingress;
struct cJSON;

struct edge_ingress_deps {
	struct edge_loop *loop;	       /* borrowed; outlives the ingress */
	struct edge_store *store;      /* borrowed; outlives the ingress */
	const struct edge_config *cfg; /* read during the call (ingress.coap.*, topics, record) */
};

struct edge_ingress_hooks {
	/* Optional: each reading once it is committed (edgectl tail). */
	void (*reading)(void *arg, const char *node, enum edge_channel ch, int32_t value,
			uint64_t ts_ms);
	void *arg;
};

/* Creates the ingress; when ingress.coap is configured it binds the
 * endpoints and loads the node keys (a keys file that cannot be used is
 * logged and counted: the endpoint then refuses every handshake until a
 * reload succeeds). An endpoint that cannot be bound (port in use) is
 * retried with backoff and reported (status "bind"), the ingress exists
 * meanwhile; other failures (no DTLS in libcoap, out of memory) return a
 * negative errno. Caller frees with edge_ingress_free(). */
int edge_ingress_new(const struct edge_ingress_deps *deps, const struct edge_ingress_hooks *hooks,
		     struct edge_ingress **out);
void edge_ingress_free(struct edge_ingress *in);

/* A reload (SIGHUP): new limits apply at once, the keys file and the PKI
 * files (ingress.coap.pki, new paths or new contents) are read again - files
 * that cannot be used are logged and reported (status ingress.pki.error)
 * and the running ones stay - and a changed address or port, or PKI turned
 * on or off, rebinds (sessions are dropped then). When
 * the new endpoints cannot be bound the running ones stay untouched (their
 * sessions too), the new ones are retried with backoff and the status and
 * edgectl nodes say so; returns that bind error. */
int edge_ingress_reconfigure(struct edge_ingress *in, const struct edge_config *cfg);
/* Reads the keys file again (edgectl nodes reload). Sessions of removed
 * nodes and of nodes whose key changed are closed; revoked nodes are
 * answered 4.03. 0, or a negative errno with the reason in err. */
int edge_ingress_reload_keys(struct edge_ingress *in, char *err, size_t errlen);

/* The "ingress" object of the status document (totals, answers by code,
 * handshake and session figures, per-node counters of the nodes seen), or
 * NULL when ingress is off. Caller owns the result (cJSON_Delete, or attach
 * it to a tree). */
struct cJSON *edge_ingress_status(const struct edge_ingress *in);
/* edgectl nodes: action NULL or "list" -> {"status":"ok","keysFile",
 * "keysError",["pkiCaFile","pkiOn","pkiError",]"nodes":[{"id","session",
 * "lastSeenMs","accepted","readings","refused","rateLimited","duplicates",
 * "records","revoked"}...]}; "reload" (the keys file and the PKI files) ->
 * {"status":"ok"|"error","message"}. Caller frees with free(). */
char *edge_ingress_ctl(struct edge_ingress *in, const char *action);

#endif
