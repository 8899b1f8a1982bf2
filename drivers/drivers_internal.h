/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_DRIVERS_INTERNAL_H
#define EDGE_DRIVERS_INTERNAL_H
#include <stddef.h>

#include "edge/nmea.h"
#include "edge/sensor.h"

extern const struct edge_sensor_ops edge_sim_vitals_driver;
extern const struct edge_sensor_ops edge_max30102_driver;
extern const struct edge_sensor_ops edge_max30101_driver;
extern const struct edge_sensor_ops edge_max30205_driver;
extern const struct edge_sensor_ops edge_mlx90614_driver;
extern const struct edge_sensor_ops edge_nmea_gps_driver;
extern const struct edge_sensor_ops edge_sim_bp_cuff_driver;
extern const struct edge_sensor_ops edge_bluez_bp_driver;

/* Driver-specific helpers, exposed for tests and diagnostics. */
int32_t edge_max30205_to_mdegc(int16_t raw, int extended);
int32_t edge_mlx90614_to_mdegc(uint16_t raw);
int edge_max30102_overflows(const struct edge_sensor *s, uint32_t *count);
struct edge_ppg_result;
/* The last analysis (0.1 bpm / 0.1 % resolution), for tests and tuning. */
int edge_max30102_result(const struct edge_sensor *s, struct edge_ppg_result *out);
int edge_gps_stats(const struct edge_sensor *s, struct edge_nmea_stats *out);
int edge_bluez_cuff_param(const char *param, char *dev_path, size_t len);

#endif
