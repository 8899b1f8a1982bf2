/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_INTERNAL_H
#define EDGE_HAL_INTERNAL_H
#include "edge/hal/gpio.h"
#include "edge/hal/i2c.h"
#include "edge/hal/uart.h"
#include "edge/hal/watchdog.h"

/* Backend entry points used by the generic open functions. */
int edge_hal_sim_i2c_open(const char *bus, struct edge_i2c_bus **out);
int edge_hal_linux_i2c_open(const char *path, struct edge_i2c_bus **out);

/* cfg is validated and has its defaults filled in. */
int edge_hal_sim_uart_open(const char *name, const struct edge_uart_config *cfg,
			   struct edge_uart **out);
int edge_hal_linux_uart_open(const char *path, const struct edge_uart_config *cfg,
			     struct edge_uart **out);

int edge_hal_sim_gpio_request(const char *chip, unsigned offset, unsigned flags, int initial,
			      struct edge_gpio_line **out);
int edge_hal_linux_gpio_request(const char *chip, unsigned offset, unsigned flags, int initial,
				const char *consumer, struct edge_gpio_line **out);

int edge_hal_sim_watchdog_open(const char *name, struct edge_watchdog **out);
int edge_hal_linux_watchdog_open(const char *path, struct edge_watchdog **out);

int edge_hal_sim_reboot(void);
int edge_hal_linux_reboot(void);
int edge_hal_sim_reboot_arg(const char *arg);
int edge_hal_linux_reboot_arg(const char *arg);

/* sim_reset.c calls these from edge_sim_reset(). */
void edge_hal_sim_uart_reset(void);
void edge_hal_sim_gpio_reset(void);
void edge_hal_sim_misc_reset(void);
void edge_hal_sim_i2c_reset(void);

#endif
