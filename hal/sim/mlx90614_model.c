/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chip model of the MLX90614 IR thermometer on SMBus: "read word" returns
 * LSB, MSB and the PEC (CRC-8 over address+W, command, address+R and the
 * data) for RAM (0x00-0x1F) and EEPROM (0x20 | addr) commands; EEPROM words
 * can be written with a valid PEC (a bad one is NACKed). Temperatures are
 * 0.02 K per LSB; an object reading has bit 15 as an error flag.
 *
 * Knobs: "object_mk", "ambient_mk" (milli-kelvin), "corrupt_pec" (the next N
 * PEC bytes sent are wrong; -1 = all), "error_flag" (object reads flag an
 * error); read-only "reads".
 */
#include <errno.h>
#include <string.h>

#include "edge/hal/i2c.h"
#include "edge/hal/mlx90614_regs.h"
#include "sim_models.h"

struct mlx90614 {
	int64_t object_mk, ambient_mk;
	int64_t corrupt_pec;
	int error_flag;
	int64_t reads;
	uint16_t eeprom[32];
};

static uint16_t kelvin_word(int64_t mk)
{
	int64_t raw = (mk + MLX90614_LSB_MK / 2) / MLX90614_LSB_MK;

	if (raw < 0)
		raw = 0;
	if (raw > 0x7fff)
		raw = 0x7fff;
	return (uint16_t)raw;
}

static int word_for(const struct mlx90614 *m, uint8_t cmd, uint16_t *v)
{
	if (cmd & MLX90614_EEPROM) {
		if (cmd > (MLX90614_EEPROM | 0x1f))
			return -EIO;
		*v = m->eeprom[cmd & 0x1f];
		return 0;
	}
	switch (cmd) {
	case MLX90614_RAM_TA:
		*v = kelvin_word(m->ambient_mk);
		return 0;
	case MLX90614_RAM_TOBJ1:
	case MLX90614_RAM_TOBJ2:
		*v = m->error_flag ? (uint16_t)(MLX90614_ERROR_FLAG | 0x7fff)
				   : kelvin_word(m->object_mk);
		return 0;
	case MLX90614_RAM_RAW_IR1:
		*v = (uint16_t)((m->object_mk - m->ambient_mk) / 10 & 0x7fff);
		return 0;
	default:
		if (cmd < 0x20) {
			*v = 0;
			return 0;
		}
		return -EIO; /* other commands (flags 0xF0, sleep 0xFF) not modelled */
	}
}

static int mlx_transfer(struct edge_sim_chip *chip, const uint8_t *w, size_t wlen, uint8_t *r,
			size_t rlen)
{
	struct mlx90614 *m = chip->priv;
	uint8_t a = (uint8_t)(chip->addr << 1);
	uint16_t v;
	int err;

	if (wlen == 4 && rlen == 0) { /* write word: cmd, LSB, MSB, PEC */
		if (!(w[0] & MLX90614_EEPROM) || w[0] > (MLX90614_EEPROM | 0x1f))
			return -EIO;
		if (edge_smbus_pec(edge_smbus_pec(0, &a, 1), w, 3) != w[3])
			return -EIO; /* the part NACKs a bad PEC */
		m->eeprom[w[0] & 0x1f] = (uint16_t)(w[1] | w[2] << 8);
		return 0;
	}
	if (wlen != 1 || rlen < 2 || rlen > 3)
		return -EIO;
	err = word_for(m, w[0], &v);
	if (err)
		return err;
	r[0] = (uint8_t)v;
	r[1] = (uint8_t)(v >> 8);
	if (rlen == 3) {
		uint8_t hdr[3] = {a, w[0], (uint8_t)(a | 1)};

		r[2] = edge_smbus_pec(edge_smbus_pec(0, hdr, 3), r, 2);
		if (m->corrupt_pec) {
			r[2] ^= 0x5a;
			if (m->corrupt_pec > 0)
				m->corrupt_pec--;
		}
	}
	m->reads++;
	return 0;
}

static int mlx_init(struct edge_sim_chip *chip)
{
	struct mlx90614 *m = chip->priv;

	m->object_mk = 309950; /* 36.8 degC */
	m->ambient_mk = 296150;
	m->eeprom[0x04] = 0xffff; /* emissivity 1.0 */
	m->eeprom[0x05] = 0x9fb4;
	m->eeprom[0x0e] = (uint16_t)(0xbe00 | chip->addr);
	m->eeprom[0x1c] = 0x1234;
	m->eeprom[0x1d] = 0x5678;
	return 0;
}

static int mlx_set(struct edge_sim_chip *chip, const char *key, int64_t val)
{
	struct mlx90614 *m = chip->priv;

	if (strcmp(key, "object_mk") == 0 || strcmp(key, "ambient_mk") == 0) {
		if (val < 0 || val > 0x7fff * MLX90614_LSB_MK)
			return -ERANGE;
		*(key[0] == 'o' ? &m->object_mk : &m->ambient_mk) = val;
	} else if (strcmp(key, "corrupt_pec") == 0) {
		m->corrupt_pec = val;
	} else if (strcmp(key, "error_flag") == 0) {
		m->error_flag = val != 0;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int mlx_get(const struct edge_sim_chip *chip, const char *key, int64_t *val)
{
	const struct mlx90614 *m = chip->priv;

	if (strcmp(key, "reads") == 0)
		*val = m->reads;
	else if (strcmp(key, "emissivity") == 0)
		*val = m->eeprom[0x04];
	else
		return -ENOENT;
	return 0;
}

const struct edge_sim_chip_ops edge_sim_mlx90614_model = {
    .compatible = "melexis,mlx90614",
    .priv_size = sizeof(struct mlx90614),
    .init = mlx_init,
    .transfer = mlx_transfer,
    .set = mlx_set,
    .get = mlx_get,
};
