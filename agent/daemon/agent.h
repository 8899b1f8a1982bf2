/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_AGENT_H
#define EDGE_AGENT_AGENT_H
/*
 * The daemon's state: one of each module, wired together by agent.c and
 * driven by one event loop. Modules added later (commands, alerts, control
 * socket, provisioning) hang off this struct.
 */
#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "edge/board.h"
#include "edge/loop.h"
#include "agent/sampler.h"
#include "agent/store.h"
#include "agent/uplink.h"

#define EDGE_AGENT_VERSION_STR "0.1.0"

struct edge_commands;
struct edge_alerts;
struct edge_ctl;
struct edge_devctl;
struct edge_provision;

struct edge_agent {
	char config_path[EDGE_PATH_MAX];
	struct edge_config cfg;
	struct edge_board board;
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_uplink *uplink;
	struct edge_sampler *sampler;
	char boot[24];
	uint64_t started_ms;
	int sigfd;
	struct edge_timer *status_timer;
	struct edge_timer *watchdog_timer;
	struct edge_timer *stop_timer;
	bool stopping;
	char status_topic[160];
	char last_error[256];
	char recovered[512]; /* where a corrupt outbox was moved at start, or "" */
	/* control (control.h): commands, edge alerts, edgectl, LED/reboot */
	struct edge_commands *commands;
	struct edge_alerts *alerts;
	struct edge_ctl *ctl;
	struct edge_devctl *devctl;
	int exit_code; /* process exit status after a clean stop */
	void (*reload)(struct edge_agent *a);
	void (*request_stop)(struct edge_agent *a, int exit_code, const char *why);
	struct edge_provision *prov; /* provisioning (agent/provision.h), or NULL */
};

/* Builds the retained status JSON (online, or the offline Last Will when
 * online is false). Caller frees with free(). */
char *edge_status_json(const struct edge_agent *a, bool online, const char *reason);

#endif
