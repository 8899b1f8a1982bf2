/* SPDX-License-Identifier: Apache-2.0 */
/* The driver registry and channel table are consistent. */
#include <errno.h>

#include "edge/sensor.h"
#include "edge_check.h"

static void test_drivers_complete(void)
{
	size_t n;
	const struct edge_sensor_ops *const *all = edge_sensor_ops_all(&n);
	static const char *const expected[] = {
	    "edge,sim-vitals",	"maxim,max30102", "maxim,max30101",   "maxim,max30205",
	    "melexis,mlx90614", "nmea,gps",	  "edge,sim-bp-cuff", "bluetooth,blood-pressure",
	};

	CHECK_EQ(n, sizeof(expected) / sizeof(expected[0]));
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		CHECK(edge_sensor_ops_find(expected[i]) != NULL);
	CHECK(edge_sensor_ops_find("maxim,max30100") == NULL);
	for (size_t i = 0; i < n; i++) {
		const struct edge_sensor_ops *o = all[i];

		CHECK(o->compatible && strchr(o->compatible, ',') != NULL);
		CHECK(o->description && *o->description);
		CHECK(o->channels && o->n_channels > 0);
		CHECK(o->init && o->sample_fetch && o->channel_get);
		CHECK(o->bus != EDGE_SENSOR_BUS_ANY);
		CHECK(o->bus != EDGE_SENSOR_BUS_I2C || o->default_addr != 0);
		for (size_t j = 0; j < o->n_channels; j++)
			CHECK((unsigned)o->channels[j] < EDGE_CH__COUNT);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(all[j]->compatible, o->compatible) != 0);
	}
}

static void test_channel_names(void)
{
	for (int c = 0; c < EDGE_CH__COUNT; c++) {
		CHECK(strcmp(edge_channel_name((enum edge_channel)c), "unknown") != 0);
		CHECK_EQ(edge_channel_from_name(edge_channel_name((enum edge_channel)c)), c);
		CHECK(edge_channel_scale((enum edge_channel)c) >= 1);
	}
	CHECK_STR(edge_channel_name(EDGE_CH_MEAN_ARTERIAL_PRESSURE), "mean_arterial_pressure");
	CHECK_STR(edge_channel_unit(EDGE_CH_MEAN_ARTERIAL_PRESSURE), "mmHg");
	CHECK_EQ(edge_channel_from_name("no_such_channel"), -EINVAL);
	CHECK_STR(edge_channel_name(EDGE_CH__COUNT), "unknown");
}

EDGE_CHECK_MAIN(test_drivers_complete, test_channel_names)
