/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MAX30205 clinical body temperature sensor (+-0.1 degC, 37-39 degC).
 *
 * The part has no ID register: probe = write CONFIG and read it back, then
 * check THYST/TOS are readable. One-shot mode (default): the part stays
 * shut down; each fetch collects the conversion started by the previous
 * fetch (ONE_SHOT reads 0 when it is done) and starts the next, so the bus
 * is never waited on and a reading is at most one interval old. The first
 * fetch has no result yet (-ENODATA). param "continuous" keeps the part
 * converting instead. Extended format (+64 degC offset) is understood.
 */
#include <errno.h>
#include <string.h>

#include "../drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/max30205_regs.h"

struct max30205 {
	int one_shot;
	int pending; /* a one-shot conversion was started */
	int valid;
	int16_t raw;
	uint8_t config;
};

static const enum edge_channel channels[] = {EDGE_CH_BODY_TEMP};

int32_t edge_max30205_to_mdegc(int16_t raw, int extended)
{
	/* 1/256 degC per LSB; round half away from zero */
	int32_t v = (int32_t)raw * 1000;
	int32_t md = v >= 0 ? (v + 128) / 256 : -((-v + 128) / 256);

	return extended ? md + 64000 : md;
}

static int max30205_init(struct edge_sensor *s)
{
	struct max30205 *t = s->priv;
	uint8_t cfg, th[2];
	int err;

	if (!s->bind.i2c)
		return -EINVAL;
	t->one_shot = !(s->bind.param && strstr(s->bind.param, "continuous"));
	t->config = t->one_shot ? MAX30205_CFG_SHUTDOWN : 0;
	err = edge_i2c_reg_write(s->bind.i2c, s->bind.addr, MAX30205_REG_CONFIG, t->config);
	if (err)
		return err;
	err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30205_REG_CONFIG, &cfg, 1);
	if (err)
		return err;
	if ((cfg & (uint8_t)~MAX30205_CFG_ONE_SHOT) != t->config)
		return -ENODEV;
	err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30205_REG_TOS, th, 2);
	if (err)
		return err;
	return 0;
}

static int start(struct edge_sensor *s)
{
	struct max30205 *t = s->priv;
	int err = edge_i2c_reg_write(s->bind.i2c, s->bind.addr, MAX30205_REG_CONFIG,
				     (uint8_t)(t->config | MAX30205_CFG_ONE_SHOT));

	t->pending = !err;
	return err;
}

static int read_temp(struct edge_sensor *s)
{
	struct max30205 *t = s->priv;
	uint8_t b[2];
	int err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30205_REG_TEMP, b, 2);

	if (err)
		return err;
	t->raw = (int16_t)(uint16_t)(b[0] << 8 | b[1]);
	t->valid = 1;
	return 0;
}

static int max30205_fetch(struct edge_sensor *s)
{
	struct max30205 *t = s->priv;
	uint8_t cfg;
	int err;

	t->valid = 0;
	if (!t->one_shot)
		return read_temp(s);
	if (t->pending) {
		err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30205_REG_CONFIG, &cfg, 1);
		if (err)
			return err;
		if (cfg & MAX30205_CFG_ONE_SHOT)
			return 0; /* still converting (interval < 50 ms): no new value */
		t->config = (uint8_t)(cfg & ~MAX30205_CFG_ONE_SHOT);
		err = read_temp(s);
		if (err)
			return err;
	}
	return start(s);
}

static int max30205_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	const struct max30205 *t = s->priv;

	if (ch != EDGE_CH_BODY_TEMP)
		return -ENOTSUP;
	if (!t->valid)
		return -ENODATA;
	*val = edge_max30205_to_mdegc(t->raw, !!(t->config & MAX30205_CFG_EXTENDED));
	return 0;
}

const struct edge_sensor_ops edge_max30205_driver = {
    .compatible = "maxim,max30205",
    .description = "MAX30205 clinical body temperature (I2C)",
    .priv_size = sizeof(struct max30205),
    .channels = channels,
    .n_channels = sizeof(channels) / sizeof(channels[0]),
    .init = max30205_init,
    .sample_fetch = max30205_fetch,
    .channel_get = max30205_get,
    .bus = EDGE_SENSOR_BUS_I2C,
    .default_addr = MAX30205_I2C_ADDR,
};
