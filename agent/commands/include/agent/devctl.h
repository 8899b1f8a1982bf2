/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_DEVCTL_H
#define EDGE_AGENT_DEVCTL_H
/*
 * The device-control actions of commands (identify LED, reboot) behind one
 * small seam, so they reach the hardware through the HAL:
 *
 *  - status LED: the board's status_led (chip, line) through the GPIO HAL
 *    (edge/hal/gpio.h); on sim boards a "sim:" chip whose pin tests read;
 *  - reboot: edge_system_reboot() of the system HAL (edge/hal/system.h),
 *    backend "sim" on sim boards (records the request, never reboots).
 *
 * This is the only code that drives the LED or reboots: the LED line is
 * requested here on first use and held until edge_devctl_free(), so it
 * outlives the sampler's board runtime across reloads and is never contended.
 */
#include <stdbool.h>
#include <stdint.h>

#include "edge/board.h"

struct edge_devctl;

/* Caller frees with edge_devctl_free() (releases the LED line). */
int edge_devctl_new(const struct edge_board *board, struct edge_devctl **out);
void edge_devctl_free(struct edge_devctl *d);
/* Logical LED level (1 = on). -ENODEV when the board has no status_led,
 * -ENOTSUP when no backend can drive it. */
int edge_devctl_led(struct edge_devctl *d, int on);
/* "gpio-hal", or "none" when the board has no status LED. */
const char *edge_devctl_led_backend(const struct edge_devctl *d);
uint64_t edge_devctl_led_toggles(const struct edge_devctl *d);
/* The LED's level as the backend sees it (on a sim board the simulated pin). */
int edge_devctl_led_level(const struct edge_devctl *d);
/* 0 when reboot() can be attempted (the system HAL is always built in). */
int edge_devctl_can_reboot(const struct edge_devctl *d);
/* Reboots (never returns on success on a real board) or records the
 * request on a sim board. arg: NULL, or the kernel's RESTART2 argument
 * ("0 tryboot": the Raspberry Pi firmware's one-time boot of the trial
 * partition). */
int edge_devctl_reboot(struct edge_devctl *d, const char *arg);
const char *edge_devctl_reboot_backend(const struct edge_devctl *d);
unsigned edge_devctl_reboot_requests(const struct edge_devctl *d);

#endif
