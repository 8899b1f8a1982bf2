/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_AGENT_H
#define EDGE_AGENT_AGENT_H
/*
 * The daemon's state (private to agent/daemon): one of each module, wired
 * together by main.c and driven by one event loop. Modules never see this
 * struct: each gets its collaborators as explicit arguments and hooks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/alerts.h"
#include "agent/commands.h"
#include "agent/config.h"
#include "agent/ctl.h"
#include "agent/ingress.h"
#include "agent/sampler.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "edge/board.h"
#include "edge/loop.h"
#include "edge/ota/ota.h"

#ifndef EDGE_AGENT_VERSION_STR
#define EDGE_AGENT_VERSION_STR "0.0.0"
#endif

struct edge_provision;
struct edge_hwdog;

/* The client certificate's notAfter, re-read when the file changes
 * (provisioning and renewals replace it while the agent runs). */
struct edge_cert_cache {
	char path[EDGE_PATH_MAX];
	struct timespec mtime;
	int64_t not_after_ms; /* negative errno when unknown */
};

struct edge_agent {
	char config_path[EDGE_PATH_MAX];
	struct edge_config cfg;
	struct edge_board board;
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_uplink *uplink;
	struct edge_sampler *sampler;
	struct edge_alerts *alerts;
	struct edge_commands *commands;
	struct edge_ctl *ctl;
	struct edge_provision *prov;  /* provisioning, or NULL */
	struct edge_hwdog *hwdog;     /* hardware watchdog feeder (hwdog.h) */
	struct edge_ingress *ingress; /* CoAP nodes; NULL when it could not start */
	struct edge_ota *ota;	      /* updates; NULL when ota.dir is unusable */
	uint64_t status_published;    /* for the OTA trial's health */
	uint64_t records;
	char boot[24];
	/* The version of what is booted: the agent's own until OTA installs
	 * slots with versions of their own. */
	char firmware[32];
	uint64_t started_ms;
	int sigfd;
	struct edge_timer *status_timer;
	struct edge_timer *watchdog_timer;
	struct edge_timer *stop_timer;
	bool stopping;
	int exit_code; /* process exit status after a clean stop */
	char status_topic[160];
	char last_error[256];
	char recovered[512]; /* where a corrupt outbox was moved at start, or "" */
	struct edge_cert_cache cert;
};

/* Builds the retained status JSON (online, or the offline Last Will when
 * online is false). Caller frees with free(). */
char *edge_status_json(struct edge_agent *a, bool online, const char *reason);
/* The body of edgectl's status answer: {"status":..., "connected", "broker",
 * "port", "pid", "config", "alerts":[...]}. Caller frees with free(). */
char *edge_status_ctl_json(struct edge_agent *a);

#endif
