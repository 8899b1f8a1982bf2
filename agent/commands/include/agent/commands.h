/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_COMMANDS_H
#define EDGE_AGENT_COMMANDS_H
/*
 * Remote commands (docs/commands.md): commands/{device_id}/{action} at QoS 1,
 * answered on the MQTT v5 Response Topic with its Correlation Data when the
 * request has one, otherwise on topics.responses. The same handlers serve
 * edgectl (edge_commands_run_local()).
 *
 * Every answered id is remembered (cmd_dedup.h): a repeated id gets the
 * stored result and the action does not run again. reboot, restart and
 * config.set need a JWS ES256 signature when commands.require_signed is on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/sampler.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "edge/board.h"
#include "edge/loop.h"

struct edge_commands;

/* What the dispatcher works on; every pointer is borrowed and must outlive
 * the dispatcher. cfg and board are the daemon's live copies (a reload
 * rewrites them in place, then calls edge_commands_reconfigure()). */
struct edge_commands_deps {
	struct edge_loop *loop;
	struct edge_store *store;     /* flush; checkpoint before a reboot */
	struct edge_uplink *uplink;   /* subscribe, answers, link figures */
	struct edge_sampler *sampler; /* may be NULL; replaced by reconfigure */
	const struct edge_config *cfg;
	const struct edge_board *board;
	const char *config_path; /* config.set validates the file + overlay */
};

/* What only the daemon can do. */
struct edge_commands_hooks {
	/* Re-reads the configuration (file + overlay) and applies it. */
	void (*reload)(void *arg);
	/* Stops the agent gracefully; the process exits with exit_code. */
	void (*stop)(void *arg, int exit_code, const char *why);
	/* The status document (status command); caller frees with free(). */
	char *(*status_json)(void *arg);
	/* The ota command (the OTA engine, ota/include/edge/ota/ota.h): params
	 * and data are cJSON objects; fills msg; true = accepted. NULL: the
	 * command answers that OTA is not available. */
	bool (*ota)(void *arg, const char *cmd_id, const void *params, void *data, char *msg,
		    size_t msglen);
	void *arg;
};

struct edge_commands_stats {
	uint64_t received;
	uint64_t executed;
	uint64_t duplicates;
	uint64_t rejected;
	uint64_t expired;
	uint64_t malformed;
	uint64_t unknown;
};

/* Exit status of the restart command: non-zero so that systemd's
 * Restart=on-failure starts the agent again (EX_TEMPFAIL). */
#define EDGE_EXIT_RESTART 75

/* Opens the dedup store in cfg->state_dir and the device control (LED,
 * reboot) of board. Caller frees with edge_commands_free(). */
int edge_commands_new(const struct edge_commands_deps *deps,
		      const struct edge_commands_hooks *hooks, struct edge_commands **out);
void edge_commands_free(struct edge_commands *c);
/* After a reload (cfg and board rewritten in place): limits, signing key,
 * subscription topic and the new sampler (may be NULL). */
void edge_commands_reconfigure(struct edge_commands *c, struct edge_sampler *sampler);
/* Subscribes commands/{device_id}/+ (QoS 1). */
void edge_commands_connected(struct edge_commands *c);
/* A message on the subscription: runs it and publishes the answer (on the
 * Response Topic with its Correlation Data when the request has one). */
void edge_commands_message(struct edge_commands *c, const struct edge_mqtt_message *msg);
/* Runs action locally (edgectl: trusted by the socket's permissions, no
 * signature, no dedup). params_json may be NULL. Returns the result JSON;
 * caller frees with free(). */
char *edge_commands_run_local(struct edge_commands *c, const char *action, const char *params_json);
void edge_commands_stats(const struct edge_commands *c, struct edge_commands_stats *out);
/* Reboots the gateway through the device control (backlog flushed to the
 * outbox first), after a short delay; for the OTA engine. arg: NULL or the
 * kernel's reboot argument ("0 tryboot"). 0 or -errno. */
int edge_commands_reboot(struct edge_commands *c, const char *why, const char *arg);

#endif
