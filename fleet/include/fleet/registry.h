/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FLEET_REGISTRY_H
#define EDGE_FLEET_REGISTRY_H
/*
 * The fleet as the exporter knows it: one entry per device id (a hash map
 * over a dense array, so lookups are O(1) and a scrape walks memory in
 * order), updated from status and alert messages, rendered as Prometheus
 * text exposition format (version 0.0.4).
 *
 * Not thread-safe: the exporter touches it from its single event loop.
 * Library-like: it does not log; outcomes are returned and counted in the
 * exporter self-metrics it renders.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/buf.h"

struct edge_fleet;

struct edge_fleet_opts {
	uint32_t max_devices;	/* entries beyond this are refused (counted) */
	uint32_t stale_after_s; /* online but silent this long = not up; 0 = never */
	const char *version;	/* for edge_exporter_build_info */
};

/* Caller frees with edge_fleet_free(). */
int edge_fleet_new(const struct edge_fleet_opts *opts, struct edge_fleet **out);
void edge_fleet_free(struct edge_fleet *f);

/*
 * A message on devices/{device_id}/status. An empty payload removes the
 * device. An "offline" status keeps the last known figures (the Last Will
 * carries few fields) but an offline message naming another boot than the
 * device's current online one is a late will of an earlier connection and
 * is ignored. Returns 0, 1 when the message was ignored on purpose, or a
 * negative errno (-EINVAL bad id/payload, -ENOSPC max_devices reached).
 */
int edge_fleet_on_status(struct edge_fleet *f, const char *device_id, const void *payload,
			 size_t len, bool retained, uint64_t now_wall_ms);

/*
 * A message on devices/{device_id}/ota: the device's retained OTA report
 * (its state, versions, progress and last outcome). An empty payload clears
 * the device's OTA series. An outcome ("result") is counted once per
 * (otaId, result) and device, and only from a live message: a retained one
 * replayed at subscribe time is an outcome from before, already counted or
 * missed while the exporter was away. Returns 0 or a negative errno
 * (-EINVAL bad id/payload, -ENOSPC max_devices reached).
 */
int edge_fleet_on_ota(struct edge_fleet *f, const char *device_id, const void *payload, size_t len,
		      bool retained);

/* A message on alerts/{severity}: counted per device and severity (the topic's
 * severity wins over the payload's). Returns 0 or a negative errno. */
int edge_fleet_on_alert(struct edge_fleet *f, const char *topic_severity, const void *payload,
			size_t len);

/*
 * After a (re)connection the broker sends every retained status again, but
 * says nothing about statuses cleared while the exporter was away. A resync
 * marks the start of that replay; its end (a few seconds later) forgets the
 * devices with a status that did not come back. Returns the number removed.
 */
void edge_fleet_resync_begin(struct edge_fleet *f);
size_t edge_fleet_resync_end(struct edge_fleet *f);

void edge_fleet_set_mqtt_connected(struct edge_fleet *f, bool connected);
bool edge_fleet_mqtt_connected(const struct edge_fleet *f);

/* Number of devices with a status, and of those that are up at now_wall_ms. */
size_t edge_fleet_devices(const struct edge_fleet *f);
size_t edge_fleet_online(const struct edge_fleet *f, uint64_t now_wall_ms);

/* Appends the whole exposition to out. Returns 0 or -ENOMEM. */
int edge_fleet_render(struct edge_fleet *f, struct edge_fleet_buf *out, uint64_t now_wall_ms);

/* The last render's duration, stored for the next scrape's self-metrics. */
void edge_fleet_note_render(struct edge_fleet *f, uint64_t duration_us, size_t bytes);

#endif
