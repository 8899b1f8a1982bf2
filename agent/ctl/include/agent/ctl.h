/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_CTL_H
#define EDGE_AGENT_CTL_H
/*
 * The local control socket (edgectl): a UNIX stream socket, mode 0660
 * (owner and ctl.group), served non-blocking from the agent's poll loop.
 *
 * Protocol: one JSON object per line each way.
 *   {"op":"status"}                          -> {"ok":true,"status":{...},"alerts":[...]}
 *   {"op":"cmd","action":A,"params":{...}}   -> {"ok":true,"result":{...}}
 *   {"op":"flush"}                           -> {"ok":true,"result":{...}}  (= cmd flush)
 *   {"op":"nodes","action":"list"|"reload"}  -> {"ok":true,"result":{...}}  (CoAP nodes)
 *   {"op":"tail"}                            -> {"ok":true,"tail":true}, then one line
 *        per reading {"sensor","metric","value","unit","timestamp"} until the client goes
 * Errors: {"ok":false,"error":"..."}.
 *
 * Bounded: at most ctl.max_clients connections, 64 KiB per request line,
 * 256 KiB of pending output per client. A slow tail client loses readings
 * rather than blocking the loop; the next line it gets after a loss is
 * {"dropped":N}, the number of readings it missed.
 *
 * The module knows only the socket and the line protocol: what a status or a
 * command answers comes from the hooks.
 */
#include <stddef.h>
#include <stdint.h>

#include "edge/loop.h"

struct edge_ctl;

struct edge_ctl_cfg {
	const char *path;  /* socket file */
	const char *group; /* "" keeps the agent's group */
	uint32_t max_clients;
};

struct edge_ctl_hooks {
	/* The fields of the status answer as a JSON object text
	 * ({"status":{...},"alerts":[...],...}); "ok" is added here. Caller
	 * (this module) frees with free(); NULL answers "out of memory". */
	char *(*status)(void *arg);
	/* Runs a command locally (trusted by the socket's permissions);
	 * params_json may be NULL. Returns the result JSON, freed here. */
	char *(*command)(void *arg, const char *action, const char *params_json);
	/* Optional: lists the CoAP nodes or reloads their keys (action "list",
	 * NULL, or "reload"); the result JSON is freed here. NULL answers
	 * "no CoAP ingress". */
	char *(*nodes)(void *arg, const char *action);
	void *arg;
};

/* Creates and listens on the socket (replacing a stale one; -EADDRINUSE
 * when another agent answers on it). Borrows loop; copies cfg and hooks.
 * Caller frees with edge_ctl_free(), which removes the socket file. */
int edge_ctl_new(struct edge_loop *loop, const struct edge_ctl_cfg *cfg,
		 const struct edge_ctl_hooks *hooks, struct edge_ctl **out);
void edge_ctl_free(struct edge_ctl *ctl);
/* The path configured (or defaulted) for cfg. */
int edge_ctl_default_path(const char *configured, const char *state_dir, char *out, size_t outlen);
/* One reading for tail clients. */
void edge_ctl_reading(struct edge_ctl *ctl, const char *sensor, const char *metric,
		      const char *value, const char *unit, uint64_t ts_ms);

#endif
