/* SPDX-License-Identifier: Apache-2.0 */
/* Build-time registry of chip models: add a model here and to CMakeLists.txt. */
#include "sim_models.h"

static const struct edge_sim_chip_ops *const models[] = {
    &edge_sim_vitals_model,
};

const struct edge_sim_chip_ops *const *edge_sim_models(size_t *n)
{
	*n = sizeof(models) / sizeof(models[0]);
	return models;
}
