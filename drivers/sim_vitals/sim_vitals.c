/* SPDX-License-Identifier: Apache-2.0 */
/* Driver for "edge,sim-vitals", the sim board's multi-vital front end. */
#include <errno.h>

#include "../drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/sim_vitals_regs.h"

struct sim_vitals {
	uint8_t raw[SIM_VITALS_BURST_LEN];
	int valid;
};

static const enum edge_channel channels[] = {
    EDGE_CH_HEART_RATE, EDGE_CH_SPO2,	  EDGE_CH_SYSTOLIC,  EDGE_CH_DIASTOLIC,
    EDGE_CH_BODY_TEMP,	EDGE_CH_LATITUDE, EDGE_CH_LONGITUDE,
};

static int sim_vitals_init(struct edge_sensor *s)
{
	uint8_t id;
	int err;

	if (!s->bind.i2c)
		return -EINVAL;
	err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, SIM_VITALS_REG_PART_ID, &id, 1);
	if (err)
		return err;
	if (id != SIM_VITALS_PART_ID)
		return -ENODEV;
	err = edge_i2c_reg_write(s->bind.i2c, s->bind.addr, SIM_VITALS_REG_CTRL,
				 SIM_VITALS_CTRL_RESET);
	if (err)
		return err;
	return edge_i2c_reg_write(s->bind.i2c, s->bind.addr, SIM_VITALS_REG_CTRL,
				  SIM_VITALS_CTRL_EN);
}

static int sim_vitals_fetch(struct edge_sensor *s)
{
	struct sim_vitals *sv = s->priv;
	int err;

	sv->valid = 0;
	err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, SIM_VITALS_REG_HR, sv->raw,
				sizeof(sv->raw));
	if (err)
		return err;
	sv->valid = 1;
	return 0;
}

static int32_t be_signed(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	if (n == 2)
		return (int16_t)(uint16_t)v;
	return (int32_t)v;
}

static int sim_vitals_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	const struct sim_vitals *sv = s->priv;

	switch (ch) {
	case EDGE_CH_HEART_RATE:
	case EDGE_CH_SPO2:
	case EDGE_CH_SYSTOLIC:
	case EDGE_CH_DIASTOLIC:
	case EDGE_CH_BODY_TEMP:
	case EDGE_CH_LATITUDE:
	case EDGE_CH_LONGITUDE:
		break;
	default:
		return -ENOTSUP;
	}
	if (!sv->valid)
		return -ENODATA;
	switch (ch) {
	case EDGE_CH_HEART_RATE:
		*val = sv->raw[0];
		break;
	case EDGE_CH_SPO2:
		*val = sv->raw[1];
		break;
	case EDGE_CH_SYSTOLIC:
		*val = sv->raw[2];
		break;
	case EDGE_CH_DIASTOLIC:
		*val = sv->raw[3];
		break;
	case EDGE_CH_BODY_TEMP:
		*val = be_signed(&sv->raw[SIM_VITALS_REG_TEMP - SIM_VITALS_REG_HR], 2) * 10;
		break;
	case EDGE_CH_LATITUDE:
		*val = be_signed(&sv->raw[SIM_VITALS_REG_LAT - SIM_VITALS_REG_HR], 4);
		break;
	default:
		*val = be_signed(&sv->raw[SIM_VITALS_REG_LON - SIM_VITALS_REG_HR], 4);
		break;
	}
	return 0;
}

const struct edge_sensor_ops edge_sim_vitals_driver = {
    .compatible = "edge,sim-vitals",
    .description = "simulated multi-vital front end (sim board)",
    .priv_size = sizeof(struct sim_vitals),
    .channels = channels,
    .n_channels = sizeof(channels) / sizeof(channels[0]),
    .init = sim_vitals_init,
    .sample_fetch = sim_vitals_fetch,
    .channel_get = sim_vitals_get,
    .bus = EDGE_SENSOR_BUS_I2C,
    .default_addr = 0x50,
};
