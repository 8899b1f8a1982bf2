/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_DRIVERS_INTERNAL_H
#define EDGE_DRIVERS_INTERNAL_H
#include "edge/sensor.h"

extern const struct edge_sensor_ops edge_sim_vitals_driver;

#endif
