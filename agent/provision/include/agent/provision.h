/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_PROVISION_GLUE_H
#define EDGE_AGENT_PROVISION_GLUE_H
/*
 * Zero-touch provisioning in the agent (DESIGN 5.3). The HTTP client
 * (libcurl and the ~30 libraries it maps) does not live in the daemon: each
 * registration or renewal runs edge-prov-client (installed beside
 * edge-agent) as a child process started through common/spawn, whose event
 * lines the agent reads on its loop. With a "provisioning" object in the
 * config:
 *  - no certificate yet: the uplink is held, the sampler keeps filling the
 *    outbox, the device registers on the loop; on success the registered
 *    hook starts the uplink with the issued certificate and the broker the
 *    API named;
 *  - 4xx: logged once, no retry, the uplink stays held (readings are kept);
 *  - renewal before expiry; on success the renewed hook reconnects.
 * Freeing stops a running helper within a bound (SIGTERM, wait, SIGKILL,
 * reap), so a waiting helper never holds up the agent's stop.
 */
#include <stdbool.h>

struct edge_board;
struct edge_config;
struct edge_loop;
struct edge_provision;

/* Called on the loop. None of them may free the edge_provision. */
struct edge_provision_hooks {
	void (*registered)(void *arg); /* registration done: state_dir holds the certificate
					  and broker */
	void (*renewed)(void *arg);    /* the certificate file was replaced */
	void (*error)(void *arg, const char *msg); /* text for the status lastError; "" clears it */
	void *arg;
};

/* Applies the broker a previous registration stored in state_dir to cfg
 * (mqtt.host/port). Before the uplink is made, after every config (re)load
 * and in the registered/renewed hooks. No-op without provisioning. */
void edge_provision_apply_state(struct edge_config *cfg);

/* After the uplink is made. Borrows loop (it must outlive the handle);
 * copies what it needs of cfg and board (the sensor compatibles) and of
 * hooks. *hold_uplink: true while registration is pending (do not start the
 * uplink; the registered hook does). *out is NULL when cfg has no
 * provisioning. 0 or a negative errno. Caller frees with
 * edge_provision_free(). */
int edge_provision_new(struct edge_loop *loop, const struct edge_config *cfg,
		       const struct edge_board *board, const struct edge_provision_hooks *hooks,
		       struct edge_provision **out, bool *hold_uplink);

/* After a reload: the next helper runs with these settings. A reload that
 * removes "provisioning" stops the helper and the renewals; one that adds it
 * back resumes them. NULL p is a no-op (adding provisioning to an agent
 * started without it needs a restart). */
void edge_provision_reconfigure(struct edge_provision *p, const struct edge_config *cfg,
				const struct edge_board *board);

/* Stops a running helper (bounded: SIGTERM, wait, SIGKILL, reap; at most
 * EDGE_SPAWN_FREE_STOP_MS + 500 ms) and frees. NULL is a no-op. */
void edge_provision_free(struct edge_provision *p);

#endif
