/* SPDX-License-Identifier: Apache-2.0 */
/* Sim watchdog (records what the agent does) and sim reboot requests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hal_internal.h"
#include "edge/hal/sim.h"

struct sim_wdt {
	struct edge_watchdog wdt;
	struct sim_wdt *next;
	char name[32];
	int is_open;
	struct edge_sim_watchdog_state st;
};

static struct sim_wdt *wdts;
static unsigned reboots;

static struct sim_wdt *wdt_find(const char *name)
{
	for (struct sim_wdt *w = wdts; w; w = w->next)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

static int sim_keepalive(struct edge_watchdog *w)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;

	if (!sw->is_open)
		return -EBADF;
	sw->st.keepalives++;
	return 0;
}

static int sim_set_timeout(struct edge_watchdog *w, int seconds)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;

	if (!sw->is_open)
		return -EBADF;
	if (seconds > 3600) /* a hardware limit, like the BCM2835's ~15 s */
		return -EINVAL;
	sw->st.timeout_s = seconds;
	return seconds;
}

static int sim_get_timeout(struct edge_watchdog *w, int *seconds)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;

	*seconds = sw->st.timeout_s;
	return 0;
}

static void sim_close(struct edge_watchdog *w, int magic)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;

	sw->is_open = 0;
	sw->st.magic_closed = magic;
	/* without the magic character the watchdog keeps running */
	sw->st.armed = !magic;
}

static const struct edge_watchdog_ops sim_wdt_ops = {
    .keepalive = sim_keepalive,
    .set_timeout = sim_set_timeout,
    .get_timeout = sim_get_timeout,
    .close = sim_close,
};

int edge_hal_sim_watchdog_open(const char *name, struct edge_watchdog **out)
{
	struct sim_wdt *w = wdt_find(name);

	if (strlen(name) >= sizeof(w->name))
		return -ENAMETOOLONG;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->wdt.ops = &sim_wdt_ops;
		snprintf(w->name, sizeof(w->name), "%s", name);
		w->st.timeout_s = 60;
		w->next = wdts;
		wdts = w;
	} else if (w->is_open) {
		return -EBUSY; /* /dev/watchdog is single-open */
	}
	w->is_open = 1;
	w->st.opens++;
	w->st.armed = 1;
	w->st.magic_closed = 0;
	*out = &w->wdt;
	return 0;
}

int edge_sim_watchdog_state(const char *name, struct edge_sim_watchdog_state *st)
{
	struct sim_wdt *w = name ? wdt_find(name) : NULL;

	if (!w || !st)
		return -ENOENT;
	*st = w->st;
	return 0;
}

int edge_hal_sim_reboot(void)
{
	reboots++;
	return 0;
}

unsigned edge_sim_reboot_requests(void)
{
	return reboots;
}

void edge_hal_sim_misc_reset(void)
{
	while (wdts) {
		struct sim_wdt *w = wdts;

		wdts = w->next;
		free(w);
	}
	reboots = 0;
}
