/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chip model of the MAX30205 body temperature sensor: pointer register,
 * 16-bit MSB-first TEMP/THYST/TOS, 8-bit CONFIG, continuous conversions or
 * shutdown + one-shot (the ONE_SHOT bit reads 1 until the 50 ms conversion
 * completes, then TEMP holds the new result), normal and extended (+64 degC)
 * data formats. Temperature is two's complement, 1/256 degC per LSB.
 *
 * Knobs: "temp_mdegc" (the temperature the die sees); read-only
 * "conversions" (completed one-shot conversions), "config".
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "edge/hal/max30205_regs.h"
#include "sim_models.h"

struct max30205 {
	uint8_t ptr;
	uint8_t config;
	uint16_t thyst, tos, temp_reg;
	int64_t temp_mdegc;
	int converting;
	uint64_t conv_done_ms;
	int64_t conversions;
};

static uint16_t encode(const struct max30205 *m)
{
	double t = (double)m->temp_mdegc / 1000.0;
	long raw;

	if (m->config & MAX30205_CFG_EXTENDED)
		t -= 64.0;
	raw = lround(t * 256.0);
	if (raw > INT16_MAX)
		raw = INT16_MAX;
	if (raw < INT16_MIN)
		raw = INT16_MIN;
	return (uint16_t)(int16_t)raw;
}

static void update(struct max30205 *m)
{
	if (m->converting && edge_sim_time_ms() >= m->conv_done_ms) {
		m->converting = 0;
		m->temp_reg = encode(m);
		m->conversions++;
	}
	if (!(m->config & MAX30205_CFG_SHUTDOWN))
		m->temp_reg = encode(m); /* continuous: always the latest */
}

static uint8_t config_read(const struct max30205 *m)
{
	uint8_t c = (uint8_t)(m->config & ~MAX30205_CFG_ONE_SHOT);

	return m->converting ? (uint8_t)(c | MAX30205_CFG_ONE_SHOT) : c;
}

static int max30205_transfer(struct edge_sim_chip *chip, const uint8_t *w, size_t wlen, uint8_t *r,
			     size_t rlen)
{
	struct max30205 *m = chip->priv;

	update(m);
	if (wlen) {
		if (w[0] > MAX30205_REG_TOS)
			return -EIO;
		m->ptr = w[0];
	}
	if (wlen == 2 && m->ptr == MAX30205_REG_CONFIG) {
		uint8_t v = w[1];

		/* one-shot only starts from shutdown, and the bit self-clears */
		if ((v & MAX30205_CFG_ONE_SHOT) && (v & MAX30205_CFG_SHUTDOWN) && !m->converting) {
			m->converting = 1;
			m->conv_done_ms = edge_sim_time_ms() + MAX30205_CONVERSION_MS;
		}
		m->config = (uint8_t)(v & ~MAX30205_CFG_ONE_SHOT);
	} else if (wlen == 3 && (m->ptr == MAX30205_REG_THYST || m->ptr == MAX30205_REG_TOS)) {
		uint16_t v = (uint16_t)(w[1] << 8 | w[2]);

		if (m->ptr == MAX30205_REG_THYST)
			m->thyst = v;
		else
			m->tos = v;
	} else if (wlen > 1) {
		return -EIO; /* wrong length for the register, or TEMP (read-only) */
	}
	for (size_t i = 0; i < rlen; i++) {
		uint16_t v;

		switch (m->ptr) {
		case MAX30205_REG_CONFIG:
			r[i] = config_read(m);
			continue;
		case MAX30205_REG_TEMP:
			v = m->temp_reg;
			break;
		case MAX30205_REG_THYST:
			v = m->thyst;
			break;
		default:
			v = m->tos;
			break;
		}
		r[i] = (i % 2 == 0) ? (uint8_t)(v >> 8) : (uint8_t)v;
	}
	return 0;
}

static int max30205_init(struct edge_sim_chip *chip)
{
	struct max30205 *m = chip->priv;

	m->thyst = MAX30205_THYST_POR;
	m->tos = MAX30205_TOS_POR;
	m->temp_mdegc = 36600;
	m->temp_reg = encode(m);
	return 0;
}

static int max30205_set(struct edge_sim_chip *chip, const char *key, int64_t val)
{
	struct max30205 *m = chip->priv;

	if (strcmp(key, "temp_mdegc") != 0)
		return -ENOENT;
	if (val < -64000 || val > 191000)
		return -ERANGE;
	m->temp_mdegc = val;
	return 0;
}

static int max30205_get(const struct edge_sim_chip *chip, const char *key, int64_t *val)
{
	const struct max30205 *m = chip->priv;

	if (strcmp(key, "conversions") == 0)
		*val = m->conversions;
	else if (strcmp(key, "config") == 0)
		*val = config_read(m);
	else
		return -ENOENT;
	return 0;
}

const struct edge_sim_chip_ops edge_sim_max30205_model = {
    .compatible = "maxim,max30205",
    .priv_size = sizeof(struct max30205),
    .init = max30205_init,
    .transfer = max30205_transfer,
    .set = max30205_set,
    .get = max30205_get,
};
