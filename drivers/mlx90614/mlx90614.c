/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MLX90614 infra-red thermometer over SMBus. Every word is read with its
 * PEC and checked: a mismatch fails the fetch with -EIO and leaves no value
 * behind. Object temperature (RAM 0x07) -> body_temperature, ambient (RAM
 * 0x06) -> ambient_temperature, both 0.02 K per LSB. An object word with
 * the error flag (bit 15) set is not a reading (-ENODATA).
 */
#include <errno.h>

#include "../drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/mlx90614_regs.h"

struct mlx90614 {
	uint16_t obj, amb;
	int valid;
};

static const enum edge_channel channels[] = {EDGE_CH_BODY_TEMP, EDGE_CH_AMBIENT_TEMP};

int32_t edge_mlx90614_to_mdegc(uint16_t raw)
{
	return (int32_t)(raw & 0x7fff) * MLX90614_LSB_MK - 273150;
}

static int read_word(const struct edge_sensor *s, uint8_t cmd, uint16_t *v)
{
	int err = edge_smbus_read_word(s->bind.i2c, s->bind.addr, cmd, v, 1);

	return err == -EBADMSG ? -EIO : err;
}

static int mlx_init(struct edge_sensor *s)
{
	uint16_t v;

	if (!s->bind.i2c)
		return -EINVAL;
	/* the ambient reading is always valid on a live part */
	return read_word(s, MLX90614_RAM_TA, &v);
}

static int mlx_fetch(struct edge_sensor *s)
{
	struct mlx90614 *m = s->priv;
	uint16_t obj, amb;
	int err;

	m->valid = 0;
	if ((err = read_word(s, MLX90614_RAM_TOBJ1, &obj)) ||
	    (err = read_word(s, MLX90614_RAM_TA, &amb)))
		return err;
	m->obj = obj;
	m->amb = amb;
	m->valid = 1;
	return 0;
}

static int mlx_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	const struct mlx90614 *m = s->priv;

	switch (ch) {
	case EDGE_CH_BODY_TEMP:
		if (!m->valid || (m->obj & MLX90614_ERROR_FLAG))
			return -ENODATA;
		*val = edge_mlx90614_to_mdegc(m->obj);
		return 0;
	case EDGE_CH_AMBIENT_TEMP:
		if (!m->valid)
			return -ENODATA;
		*val = edge_mlx90614_to_mdegc(m->amb);
		return 0;
	default:
		return -ENOTSUP;
	}
}

const struct edge_sensor_ops edge_mlx90614_driver = {
    .compatible = "melexis,mlx90614",
    .description = "MLX90614 IR thermometer (SMBus with PEC)",
    .priv_size = sizeof(struct mlx90614),
    .channels = channels,
    .n_channels = sizeof(channels) / sizeof(channels[0]),
    .init = mlx_init,
    .sample_fetch = mlx_fetch,
    .channel_get = mlx_get,
    .bus = EDGE_SENSOR_BUS_I2C,
    .default_addr = MLX90614_I2C_ADDR,
};
