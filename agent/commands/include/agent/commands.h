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
#include <mosquitto.h>
#include <stdint.h>

struct edge_agent;
struct edge_commands;

struct edge_commands_hooks {
	/* Re-reads the configuration (file + overlay) and applies it. */
	void (*reload)(void *arg);
	/* Stops the agent gracefully; the process exits with exit_code. */
	void (*stop)(void *arg, int exit_code, const char *why);
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

/* Borrows a (its loop, uplink, sampler, store, config). Caller frees with
 * edge_commands_free(). */
int edge_commands_new(struct edge_agent *a, const struct edge_commands_hooks *hooks,
		      struct edge_commands **out);
void edge_commands_free(struct edge_commands *c);
/* After a reload: limits, signing key, board. */
void edge_commands_reconfigure(struct edge_commands *c);
/* Subscribes commands/{device_id}/+ (QoS 1). */
void edge_commands_connected(struct edge_commands *c);
void edge_commands_message(struct edge_commands *c, const struct mosquitto_message *msg,
			   const mosquitto_property *props);
/* Runs action locally (edgectl: trusted by the socket's permissions, no
 * signature, no dedup). params_json may be NULL. Returns the result JSON;
 * caller frees with free(). */
char *edge_commands_run_local(struct edge_commands *c, const char *action, const char *params_json);
void edge_commands_stats(const struct edge_commands *c, struct edge_commands_stats *out);

#endif
