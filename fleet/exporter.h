/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FLEET_EXPORTER_H
#define EDGE_FLEET_EXPORTER_H
/*
 * The exporter's two ends, both driven by one edge_loop on the main thread:
 * the MQTT client (libmosquitto's socket and misc timer) and the HTTP server
 * (libmicrohttpd in external-epoll mode: its epoll fd sits in the loop and
 * MHD_run() is called from it). One thread, so the registry needs no lock.
 */
#include "edge/loop.h"
#include "fleet/config.h"
#include "fleet/registry.h"

struct fleet_mqtt;
struct fleet_http;

/* Connects in the background and keeps reconnecting with backoff. Borrows
 * cfg, loop and fleet for its lifetime. Caller frees with fleet_mqtt_free(). */
int fleet_mqtt_start(const struct edge_fleet_config *cfg, struct edge_loop *loop,
		     struct edge_fleet *fleet, struct fleet_mqtt **out);
void fleet_mqtt_free(struct fleet_mqtt *m);

/* Listens on cfg's address and port. Borrows loop and fleet. Caller frees
 * with fleet_http_free(). */
int fleet_http_start(const struct edge_fleet_config *cfg, struct edge_loop *loop,
		     struct edge_fleet *fleet, struct fleet_http **out);
void fleet_http_free(struct fleet_http *h);

#endif
