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
 *   {"op":"tail"}                            -> {"ok":true,"tail":true}, then one line
 *        per reading {"sensor","metric","value","unit","timestamp"} until the client goes
 * Errors: {"ok":false,"error":"..."}.
 *
 * Bounded: at most ctl.max_clients connections, 64 KiB per request line,
 * 256 KiB of pending output per client (a slow tail loses readings, counted
 * in "dropped" lines, never blocks the loop).
 */
#include <stdint.h>

struct edge_agent;
struct edge_ctl;

/* Creates and listens on the socket (replacing a stale one; -EADDRINUSE
 * when another agent answers on it). Caller frees with edge_ctl_free(),
 * which removes the socket file. */
int edge_ctl_new(struct edge_agent *a, struct edge_ctl **out);
void edge_ctl_free(struct edge_ctl *ctl);
/* The socket path in use. */
const char *edge_ctl_path(const struct edge_ctl *ctl);
/* The path configured (or defaulted) for cfg. */
int edge_ctl_default_path(const char *configured, const char *state_dir, char *out, size_t outlen);
/* One reading for tail clients. */
void edge_ctl_reading(struct edge_ctl *ctl, const char *sensor, const char *metric,
		      const char *value, const char *unit, uint64_t ts_ms);

#endif
