/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_HWDOG_H
#define EDGE_AGENT_HWDOG_H
/*
 * Hardware watchdog feeder. When watchdog.enabled and a device is named
 * (watchdog.device, else the board descriptor's "watchdog"), it opens the
 * device through the HAL (which arms it), asks for watchdog.timeout_s and
 * keeps it alive from a loop timer every third of the timeout in force, but
 * only while the daemon is healthy:
 *   - the loop turns over: a stalled loop never runs the timer;
 *   - the health hook agrees (the daemon checks that the outbox is writable).
 * While unhealthy it withholds keepalives and logs why (rate-limited), so the
 * board resets when the timeout runs out, unless health returns first.
 * edge_hwdog_free() disarms it (magic close): a clean stop never resets.
 * An open failure (no device, EBUSY, EACCES) is logged and the agent runs on
 * without a watchdog. The module logs; the HAL under it does not.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config.h"
#include "edge/loop.h"

struct edge_hwdog;

/* Returns false, with a one-line reason in why, when the board should no
 * longer be kept alive. Runs on the loop, once per feeding period. */
typedef bool (*edge_hwdog_health_fn)(void *arg, char *why, size_t len);

/* Reads cfg->watchdog; board_device is the board's "watchdog" ("" or NULL:
 * none) and is copied. healthy (optional) and arg are borrowed and must
 * outlive the feeder, like loop. Returns 0 also when nothing was armed (the
 * reason is logged and in the status), -ENOMEM or -EINVAL otherwise.
 * Caller frees with edge_hwdog_free(), before edge_loop_free(). */
int edge_hwdog_new(struct edge_loop *loop, const struct edge_config *cfg, const char *board_device,
		   edge_hwdog_health_fn healthy, void *arg, struct edge_hwdog **out);

/* After a configuration reload: arms, disarms (magic close), applies a new
 * timeout, moves to another device, or retries an open that failed. */
void edge_hwdog_reconfigure(struct edge_hwdog *d, const struct edge_config *cfg,
			    const char *board_device);

/* Magic close (disarms), then frees d. NULL is a no-op. */
void edge_hwdog_free(struct edge_hwdog *d);

struct edge_hwdog_status {
	bool armed;		  /* the device is open: the board resets without keepalives */
	bool feeding;		  /* false while the health hook withholds keepalives */
	char device[64];	  /* "" when none is named (or watchdog.enabled is false) */
	int timeout_s;		  /* in force, after the driver's rounding; 0 unknown / unarmed */
	uint64_t keepalives;	  /* since edge_hwdog_new() */
	char last_unhealthy[160]; /* why keepalives were last withheld, "" never */
	int error;		  /* negative errno of the last failed open or keepalive, or 0 */
};

/* Fills out (d NULL: an all-zero status). */
void edge_hwdog_status(const struct edge_hwdog *d, struct edge_hwdog_status *out);

/* Adds "watchdog": {"armed", "timeoutS", "feeds"} to the status object
 * (agent/daemon/status.c); d NULL: not armed, 0, 0. Returns 0 or -ENOMEM. */
struct cJSON;
int edge_hwdog_status_json(const struct edge_hwdog *d, struct cJSON *status);

#endif
