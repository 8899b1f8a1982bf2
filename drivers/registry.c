/* SPDX-License-Identifier: Apache-2.0 */
/* Build-time driver registry: add a driver here and to CMakeLists.txt. */
#include "drivers_internal.h"

static const struct edge_sensor_ops *const drivers[] = {
    &edge_sim_vitals_driver, &edge_max30102_driver, &edge_max30101_driver,    &edge_max30205_driver,
    &edge_mlx90614_driver,   &edge_nmea_gps_driver, &edge_sim_bp_cuff_driver, &edge_bluez_bp_driver,
};

const struct edge_sensor_ops *const *edge_sensor_ops_all(size_t *n)
{
	*n = sizeof(drivers) / sizeof(drivers[0]);
	return drivers;
}
