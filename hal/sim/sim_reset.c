/* SPDX-License-Identifier: Apache-2.0 */
/* edge_sim_reset(): the one place that knows every part of the sim backend. */
#include "../hal_internal.h"
#include "edge/hal/sim.h"

void edge_sim_reset(void)
{
	edge_hal_sim_uart_reset();
	edge_hal_sim_gpio_reset();
	edge_hal_sim_misc_reset();
	edge_hal_sim_i2c_reset();
}
