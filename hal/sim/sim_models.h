/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_SIM_MODELS_H
#define EDGE_SIM_MODELS_H
#include "edge/hal/sim.h"

/* The static table of chip models (sim_models.c). */
const struct edge_sim_chip_ops *const *edge_sim_models(size_t *n);

extern const struct edge_sim_chip_ops edge_sim_vitals_model;

#endif
