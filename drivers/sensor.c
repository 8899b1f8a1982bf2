/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/sensor.h"

static const struct {
	const char *name;
	const char *unit;
	int32_t scale;
} channels[EDGE_CH__COUNT] = {
    [EDGE_CH_HEART_RATE] = {"heart_rate", "bpm", 1},
    [EDGE_CH_SPO2] = {"spo2", "%", 1},
    [EDGE_CH_SYSTOLIC] = {"systolic", "mmHg", 1},
    [EDGE_CH_DIASTOLIC] = {"diastolic", "mmHg", 1},
    [EDGE_CH_BODY_TEMP] = {"body_temperature", "degC", 1000},
    [EDGE_CH_LATITUDE] = {"latitude", "deg", 10000000},
    [EDGE_CH_LONGITUDE] = {"longitude", "deg", 10000000},
    [EDGE_CH_AMBIENT_TEMP] = {"ambient_temperature", "degC", 1000},
    [EDGE_CH_PULSE_RATE] = {"pulse_rate", "bpm", 1},
    [EDGE_CH_MEAN_ARTERIAL_PRESSURE] = {"mean_arterial_pressure", "mmHg", 1},
    [EDGE_CH_GPS_FIX_QUALITY] = {"gps_fix_quality", "", 1},
    [EDGE_CH_GPS_SATELLITES] = {"gps_satellites", "", 1},
};

const char *edge_channel_name(enum edge_channel ch)
{
	return (unsigned)ch < EDGE_CH__COUNT ? channels[ch].name : "unknown";
}

const char *edge_channel_unit(enum edge_channel ch)
{
	return (unsigned)ch < EDGE_CH__COUNT ? channels[ch].unit : "";
}

int32_t edge_channel_scale(enum edge_channel ch)
{
	return (unsigned)ch < EDGE_CH__COUNT ? channels[ch].scale : 1;
}

int edge_channel_from_name(const char *name)
{
	for (int i = 0; i < EDGE_CH__COUNT; i++)
		if (strcmp(channels[i].name, name) == 0)
			return i;
	return -EINVAL;
}

const struct edge_sensor_ops *edge_sensor_ops_find(const char *compatible)
{
	size_t n;
	const struct edge_sensor_ops *const *all = edge_sensor_ops_all(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i]->compatible, compatible) == 0)
			return all[i];
	return NULL;
}

int edge_sensor_has_channel(const struct edge_sensor *s, enum edge_channel ch)
{
	for (size_t i = 0; i < s->ops->n_channels; i++)
		if (s->ops->channels[i] == ch)
			return 1;
	return 0;
}

int edge_sensor_create(const struct edge_sensor_ops *ops, const char *name,
		       const struct edge_sensor_binding *bind, struct edge_sensor **out)
{
	struct edge_sensor *s;
	int err;

	if (!ops || !name || !bind || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->bind = *bind;
	if (ops->priv_size) {
		s->priv = calloc(1, ops->priv_size);
		if (!s->priv) {
			err = -ENOMEM;
			goto err_sensor;
		}
	}
	err = ops->init(s);
	if (err)
		goto err_priv;
	*out = s;
	return 0;

err_priv:
	free(s->priv);
err_sensor:
	free(s);
	return err;
}

void edge_sensor_destroy(struct edge_sensor *s)
{
	if (!s)
		return;
	if (s->ops->deinit)
		s->ops->deinit(s);
	free(s->priv);
	free(s);
}
