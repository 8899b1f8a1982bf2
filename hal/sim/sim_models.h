/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_SIM_MODELS_H
#define EDGE_SIM_MODELS_H
#include "edge/hal/sim.h"

/* The static tables of chip and stream models (sim_models.c). */
const struct edge_sim_chip_ops *const *edge_sim_models(size_t *n);
const struct edge_sim_stream_ops *const *edge_sim_streams(size_t *n);

extern const struct edge_sim_chip_ops edge_sim_vitals_model;
extern const struct edge_sim_chip_ops edge_sim_max30102_model;
extern const struct edge_sim_chip_ops edge_sim_max30101_model;
extern const struct edge_sim_chip_ops edge_sim_max30205_model;
extern const struct edge_sim_chip_ops edge_sim_mlx90614_model;
extern const struct edge_sim_stream_ops edge_sim_gps_stream;

#endif
