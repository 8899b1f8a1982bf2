/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_CONTROL_H
#define EDGE_AGENT_CONTROL_H
/*
 * Glue between the daemon (main.c) and the control modules: commands,
 * edge alerts, the edgectl socket and device control (LED, reboot). main.c
 * calls these few functions; everything else stays in the modules.
 */
#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <stdint.h>

#include "agent/config.h"
#include "edge/board.h"

struct edge_agent;

/* After the uplink and sampler exist. A failing control socket is logged
 * and the agent runs without it; other failures return a negative errno. */
int edge_control_start(struct edge_agent *a);
/* Before the uplink and sampler go. */
void edge_control_stop(struct edge_agent *a);
/* After a reload (new config, maybe a new sampler). */
void edge_control_reload(struct edge_agent *a);
void edge_control_connected(struct edge_agent *a);
void edge_control_message(struct edge_agent *a, const struct mosquitto_message *msg,
			  const mosquitto_property *props);
/* Adds alerts {active,total}, certExpiresMs and commands counters. */
void edge_control_status(const struct edge_agent *a, cJSON *root);
/* Applies cfg->sensors overrides (interval_ms, freshness_ms) to the board;
 * unknown sensor names are ignored. */
void edge_control_apply_overrides(const struct edge_config *cfg, struct edge_board *board);

#endif
