/* SPDX-License-Identifier: Apache-2.0 */
/* Build-time registry of chip models: add a model here and to CMakeLists.txt. */
#include "sim_models.h"

static const struct edge_sim_chip_ops *const models[] = {
    &edge_sim_vitals_model,   &edge_sim_max30102_model, &edge_sim_max30101_model,
    &edge_sim_max30205_model, &edge_sim_mlx90614_model,
};

static const struct edge_sim_stream_ops *const streams[] = {
    &edge_sim_gps_stream,
};

const struct edge_sim_chip_ops *const *edge_sim_models(size_t *n)
{
	*n = sizeof(models) / sizeof(models[0]);
	return models;
}

const struct edge_sim_stream_ops *const *edge_sim_streams(size_t *n)
{
	*n = sizeof(streams) / sizeof(streams[0]);
	return streams;
}
