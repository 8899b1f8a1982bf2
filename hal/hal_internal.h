/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_INTERNAL_H
#define EDGE_HAL_INTERNAL_H
#include "edge/hal/i2c.h"

/* Backend entry points used by the generic open functions. */
int edge_hal_sim_i2c_open(const char *bus, struct edge_i2c_bus **out);
int edge_hal_linux_i2c_open(const char *path, struct edge_i2c_bus **out);

#endif
