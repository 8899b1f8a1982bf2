/* SPDX-License-Identifier: Apache-2.0 */
/* Hardware watchdog feeder: see hwdog.h. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/hal/watchdog.h"
#include "edge/log.h"
#include "edge/time.h"
#include "hwdog.h"

#define MOD "watchdog"
/* Feeding period when the driver will not tell its timeout: short enough for
 * any timeout a driver offers (the kernel's minimum is 1 s, ours 2 s). */
#define UNKNOWN_TIMEOUT_PERIOD_MS 1000

struct edge_hwdog {
	struct edge_loop *loop;
	struct edge_timer *timer;
	struct edge_watchdog *wdt; /* NULL while not armed */
	edge_hwdog_health_fn healthy;
	void *arg;
	bool enabled;
	char device[64];
	int asked_s;   /* watchdog.timeout_s */
	int timeout_s; /* in force; 0 unknown */
	uint64_t period_ms;
	uint64_t last_tick_ms;
	uint64_t last_feed_ms;
	uint64_t keepalives;
	bool feeding;
	char last_unhealthy[160];
	int error;
	struct edge_ratelimit rl_unhealthy, rl_healthy, rl_error, rl_late;
};

static const char *open_hint(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENODEV:
	case -ENXIO:
		return " (no such device: is the driver loaded, e.g. dtparam=watchdog=on?)";
	case -EBUSY:
		return " (in use: systemd's RuntimeWatchdogSec= or another watchdog daemon holds "
		       "it)";
	case -EACCES:
	case -EPERM:
		return " (permission: a udev rule for the agent's group, and DeviceAllow= in the "
		       "unit; docs/hardware.md)";
	default:
		return "";
	}
}

static void resolve_device(const struct edge_config *cfg, const char *board_device, char *out,
			   size_t len)
{
	const char *dev = cfg->watchdog.device[0] ? cfg->watchdog.device : board_device;

	snprintf(out, len, "%s", dev ? dev : "");
}

static void feed(struct edge_hwdog *d, uint64_t now)
{
	int rc = edge_watchdog_keepalive(d->wdt);

	if (rc) {
		d->error = rc;
		EDGE_LOG_RL(&d->rl_error, EDGE_LOG_ERR, MOD, "%s: keepalive failed: %s", d->device,
			    strerror(-rc));
		return;
	}
	d->keepalives++;
	d->last_feed_ms = now;
}

static void tick(void *arg)
{
	struct edge_hwdog *d = arg;
	uint64_t now = edge_now_ms();
	char why[sizeof(d->last_unhealthy)] = "";

	/* Condition one, the loop turns over, holds by construction: a stalled
	 * loop never gets here. A late tick tells how long it stood still. */
	if (d->last_tick_ms && now - d->last_tick_ms > 2 * d->period_ms)
		EDGE_LOG_RL(&d->rl_late, EDGE_LOG_WARNING, MOD,
			    "the event loop stood still for %" PRIu64 " ms (watchdog timeout %d s)",
			    now - d->last_tick_ms, d->timeout_s);
	d->last_tick_ms = now;
	if (!d->wdt)
		return;
	if (d->healthy && !d->healthy(d->arg, why, sizeof(why))) {
		uint64_t since = now - d->last_feed_ms, limit = (uint64_t)d->timeout_s * 1000u;
		int t;

		if (!why[0])
			snprintf(why, sizeof(why), "unhealthy");
		d->feeding = false;
		memcpy(d->last_unhealthy, why, sizeof(why));
		EDGE_LOG_RL(&d->rl_unhealthy, EDGE_LOG_ERR, MOD,
			    "not feeding %s: %s; the board resets in about %" PRIu64
			    " s unless this clears",
			    d->device, why, since < limit ? (limit - since + 999) / 1000 : 0);
		/* Reads the timeout in force; it is also when the sim, which has
		 * no clock of its own, notices that it ran out. */
		(void)edge_watchdog_get_timeout(d->wdt, &t);
		return;
	}
	if (!d->feeding) {
		d->feeding = true;
		EDGE_LOG_RL(&d->rl_healthy, EDGE_LOG_NOTICE, MOD,
			    "healthy again (was: %s): feeding %s", d->last_unhealthy, d->device);
	}
	feed(d, now);
}

/* Applies asked_s: the timeout in force and the feeding period. */
static void set_timeout(struct edge_hwdog *d)
{
	int rc = edge_watchdog_set_timeout(d->wdt, d->asked_s), t = 0;

	if (rc > 0) {
		d->timeout_s = rc;
	} else if (edge_watchdog_get_timeout(d->wdt, &t) == 0 && t > 0) {
		EDGE_WARN(MOD, "%s refused a %d s timeout (%s): keeping the driver's %d s",
			  d->device, d->asked_s, strerror(-rc), t);
		d->timeout_s = t;
	} else {
		EDGE_WARN(MOD, "%s refused a %d s timeout (%s) and does not tell its own",
			  d->device, d->asked_s, strerror(-rc));
		d->timeout_s = 0;
	}
	d->period_ms =
	    d->timeout_s ? (uint64_t)d->timeout_s * 1000u / 3 : UNKNOWN_TIMEOUT_PERIOD_MS;
	edge_loop_timer_set(d->loop, d->timer, d->period_ms, d->period_ms);
}

static void arm(struct edge_hwdog *d)
{
	int rc = edge_watchdog_open(d->device, &d->wdt);

	if (rc) {
		d->wdt = NULL;
		d->error = rc;
		EDGE_ERR(MOD, "cannot open %s: %s%s; running without a hardware watchdog",
			 d->device, strerror(-rc), open_hint(rc));
		return;
	}
	d->error = 0;
	d->feeding = true;
	set_timeout(d);
	feed(d, edge_now_ms());
	d->last_tick_ms = 0;
	if (d->timeout_s)
		EDGE_NOTICE(MOD,
			    "%s armed: timeout %d s (asked %d s), fed every %" PRIu64
			    " ms while the agent is healthy",
			    d->device, d->timeout_s, d->asked_s, d->period_ms);
	else
		EDGE_NOTICE(MOD,
			    "%s armed: timeout unknown, fed every %" PRIu64 " ms while healthy",
			    d->device, d->period_ms);
}

static void disarm(struct edge_hwdog *d, const char *why)
{
	if (!d->wdt)
		return;
	edge_watchdog_close(d->wdt); /* magic close */
	d->wdt = NULL;
	d->timeout_s = 0;
	edge_loop_timer_set(d->loop, d->timer, UINT64_MAX, 0);
	EDGE_NOTICE(MOD, "%s disarmed (%s)", d->device, why);
}

static void configure(struct edge_hwdog *d, const struct edge_config *cfg, const char *board_device)
{
	char dev[sizeof(d->device)];

	resolve_device(cfg, board_device, dev, sizeof(dev));
	if (d->wdt && !cfg->watchdog.enabled)
		disarm(d, "watchdog.enabled is false");
	else if (d->wdt && strcmp(dev, d->device) != 0)
		disarm(d, dev[0] ? "another device configured" : "no device configured");
	else if (!d->wdt && !cfg->watchdog.enabled && dev[0])
		EDGE_INFO(MOD, "watchdog.enabled is false: %s stays unarmed", dev);
	d->enabled = cfg->watchdog.enabled;
	memcpy(d->device, dev, sizeof(dev));
	if (!d->enabled)
		return;
	if (!d->device[0]) {
		EDGE_INFO(MOD, "the board names no watchdog: nothing to arm");
		return;
	}
	if (!d->wdt) {
		d->asked_s = (int)cfg->watchdog.timeout_s;
		arm(d);
	} else if ((int)cfg->watchdog.timeout_s != d->asked_s) {
		int was = d->timeout_s;

		d->asked_s = (int)cfg->watchdog.timeout_s;
		set_timeout(d);
		EDGE_NOTICE(MOD, "%s: timeout %d s -> %d s (asked %d s), fed every %" PRIu64 " ms",
			    d->device, was, d->timeout_s, d->asked_s, d->period_ms);
	}
}

int edge_hwdog_new(struct edge_loop *loop, const struct edge_config *cfg, const char *board_device,
		   edge_hwdog_health_fn healthy, void *arg, struct edge_hwdog **out)
{
	struct edge_hwdog *d;
	int rc;

	if (!loop || !cfg || !out)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->healthy = healthy;
	d->arg = arg;
	d->feeding = true;
	d->rl_unhealthy = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(30000, 2);
	d->rl_healthy = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(30000, 2);
	d->rl_error = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(30000, 2);
	d->rl_late = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(30000, 2);
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, tick, d, &d->timer);
	if (rc)
		goto err_free;
	configure(d, cfg, board_device);
	*out = d;
	return 0;

err_free:
	free(d);
	return rc;
}

void edge_hwdog_reconfigure(struct edge_hwdog *d, const struct edge_config *cfg,
			    const char *board_device)
{
	if (d && cfg)
		configure(d, cfg, board_device);
}

void edge_hwdog_free(struct edge_hwdog *d)
{
	if (!d)
		return;
	disarm(d, "clean stop");
	edge_loop_timer_del(d->loop, d->timer);
	free(d);
}

void edge_hwdog_status(const struct edge_hwdog *d, struct edge_hwdog_status *out)
{
	memset(out, 0, sizeof(*out));
	if (!d)
		return;
	out->armed = d->wdt != NULL;
	out->feeding = d->wdt && d->feeding;
	if (d->enabled)
		memcpy(out->device, d->device, sizeof(out->device));
	out->timeout_s = d->timeout_s;
	out->keepalives = d->keepalives;
	memcpy(out->last_unhealthy, d->last_unhealthy, sizeof(out->last_unhealthy));
	out->error = d->error;
}

int edge_hwdog_status_json(const struct edge_hwdog *d, struct cJSON *status)
{
	struct edge_hwdog_status st;
	cJSON *o = cJSON_AddObjectToObject(status, "watchdog");

	if (!o)
		return -ENOMEM;
	edge_hwdog_status(d, &st);
	if (!cJSON_AddBoolToObject(o, "armed", st.armed) ||
	    !cJSON_AddNumberToObject(o, "timeoutS", st.timeout_s) ||
	    !cJSON_AddNumberToObject(o, "feeds", (double)st.keepalives))
		return -ENOMEM;
	return 0;
}
