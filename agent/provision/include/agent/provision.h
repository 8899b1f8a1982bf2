/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_PROVISION_GLUE_H
#define EDGE_AGENT_PROVISION_GLUE_H
/*
 * Zero-touch provisioning in the agent (DESIGN 5.3). The HTTP client
 * (libcurl and the ~30 libraries it maps) does not live in the daemon: each
 * registration or renewal runs edge-prov-client (installed beside
 * edge-agent) as a child process whose event lines the agent reads on its
 * loop. With a "provisioning" object in the config:
 *  - no certificate yet: the uplink is held, the sampler keeps filling the
 *    outbox, the device registers on the loop; on success the uplink starts
 *    with the issued certificate and the broker the API named;
 *  - 4xx: logged once, no retry, the uplink stays held (readings are kept);
 *  - renewal before expiry; on success the uplink reconnects with it.
 */
#include <stdbool.h>

struct edge_agent;

/* Before edge_uplink_new() and after every config (re)load: applies the broker
 * settings a previous registration stored in state_dir to a->cfg. */
void edge_agent_prov_apply_state(struct edge_agent *a);
/* After edge_uplink_new(). *hold_uplink: true while registration is pending
 * (do not start the uplink; the glue starts it). */
int edge_agent_prov_start(struct edge_agent *a, bool *hold_uplink);
void edge_agent_prov_stop(struct edge_agent *a);

#endif
