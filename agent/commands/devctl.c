/* SPDX-License-Identifier: Apache-2.0 */
/* The identify LED and reboot through the HAL (devctl.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/devctl.h"
#include "edge/hal/gpio.h"
#include "edge/hal/sim.h"
#include "edge/hal/system.h"

struct edge_devctl {
	bool sim;
	char chip[64];
	int line; /* -1: the board has no status LED */
	int level;
	uint64_t toggles;
	unsigned reboots;
	struct edge_gpio_line *led; /* requested on first use */
};

int edge_devctl_new(const struct edge_board *board, struct edge_devctl **out)
{
	struct edge_devctl *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->sim = board->sim;
	snprintf(d->chip, sizeof(d->chip), "%s", board->status_led_chip);
	d->line = *d->chip && board->status_led_line >= 0 ? board->status_led_line : -1;
	*out = d;
	return 0;
}

void edge_devctl_free(struct edge_devctl *d)
{
	if (!d)
		return;
	if (d->led)
		edge_gpio_release(d->led);
	free(d);
}

const char *edge_devctl_led_backend(const struct edge_devctl *d)
{
	return d->line < 0 ? "none" : "gpio-hal";
}

int edge_devctl_led(struct edge_devctl *d, int on)
{
	int rc = 0;

	if (d->line < 0)
		return -ENODEV;
	if (!d->led)
		rc = edge_gpio_request(d->chip, (unsigned)d->line, EDGE_GPIO_OUTPUT, 0,
				       "edge-agent status", &d->led);
	if (!rc)
		rc = edge_gpio_set(d->led, on ? 1 : 0);
	if (!rc && d->level != !!on) {
		d->level = !!on;
		d->toggles++;
	}
	return rc;
}

uint64_t edge_devctl_led_toggles(const struct edge_devctl *d)
{
	return d->toggles;
}

const char *edge_devctl_reboot_backend(const struct edge_devctl *d)
{
	return d->sim ? "system-hal:sim" : "system-hal:linux";
}

int edge_devctl_can_reboot(const struct edge_devctl *d)
{
	(void)d;
	return 0;
}

int edge_devctl_reboot(struct edge_devctl *d, const char *arg)
{
	int rc = edge_system_reboot_arg(d->sim ? "sim" : "linux", arg);

	if (!rc)
		d->reboots++;
	return rc;
}

unsigned edge_devctl_reboot_requests(const struct edge_devctl *d)
{
	if (d->sim)
		return edge_sim_reboot_requests(); /* what the sim HAL recorded */
	return d->reboots;
}

int edge_devctl_led_level(const struct edge_devctl *d)
{
	if (d->sim && d->line >= 0 && strncmp(d->chip, "sim:", 4) == 0)
		return edge_sim_gpio_level(d->chip + 4, (unsigned)d->line); /* the pin itself */
	return d->line >= 0 ? d->level : -ENODEV;
}
