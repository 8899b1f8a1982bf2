/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chip model of "edge,sim-vitals" (register map in
 * edge/hal/sim_vitals_regs.h). Values vary smoothly with simulated time as
 * sums of slow sinusoids, inside physiological ranges:
 *   heart rate 55-110 bpm, SpO2 93-100 %, 100-140 / 60-90 mmHg,
 *   36.0-37.8 degC, a location wandering a few metres around a fixed point.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "edge/hal/sim_vitals_regs.h"
#include "sim_models.h"

struct vitals {
	uint8_t regs[SIM_VITALS_NREGS];
};

static double wave(double t_s, double period_s, double phase)
{
	return sin(2.0 * M_PI * t_s / period_s + phase);
}

/* Midpoint +- half-range, mixing two periods so the curve is not periodic-looking. */
static double vary(double t_s, double lo, double hi, double p1, double p2, double phase)
{
	double mid = (lo + hi) / 2.0, half = (hi - lo) / 2.0;

	return mid + half * (0.7 * wave(t_s, p1, phase) + 0.3 * wave(t_s, p2, phase * 1.7));
}

static void put_be(uint8_t *p, uint32_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static void latch(struct vitals *v)
{
	double t = (double)edge_sim_time_ms() / 1000.0;
	double ph = (double)v->regs[SIM_VITALS_REG_SEED] * 0.1;
	uint8_t *r = v->regs;

	r[SIM_VITALS_REG_HR] = (uint8_t)lround(vary(t, 55, 110, 97, 31, ph));
	r[SIM_VITALS_REG_SPO2] = (uint8_t)lround(vary(t, 93, 100, 173, 41, ph + 1));
	r[SIM_VITALS_REG_SYS] = (uint8_t)lround(vary(t, 100, 140, 301, 67, ph + 2));
	r[SIM_VITALS_REG_DIA] = (uint8_t)lround(vary(t, 60, 90, 301, 53, ph + 2));
	put_be(&r[SIM_VITALS_REG_TEMP],
	       (uint32_t)(int32_t)lround(vary(t, 3600, 3780, 613, 89, ph + 3)), 2);
	/* ~50 m around 48.8566 N, 2.3522 E */
	put_be(&r[SIM_VITALS_REG_LAT],
	       (uint32_t)(int32_t)lround(488566000.0 + 4500.0 * wave(t, 211, ph)), 4);
	put_be(&r[SIM_VITALS_REG_LON],
	       (uint32_t)(int32_t)lround(23522000.0 + 6500.0 * wave(t, 263, ph + 0.5)), 4);
}

static int vitals_init(struct edge_sim_chip *chip)
{
	struct vitals *v = chip->priv;

	v->regs[SIM_VITALS_REG_PART_ID] = SIM_VITALS_PART_ID;
	v->regs[SIM_VITALS_REG_STATUS] = SIM_VITALS_STATUS_PROBE;
	v->regs[SIM_VITALS_REG_SEED] = (uint8_t)(chip->addr * 37u);
	return 0;
}

static int vitals_transfer(struct edge_sim_chip *chip, const uint8_t *w, size_t wlen, uint8_t *r,
			   size_t rlen)
{
	struct vitals *v = chip->priv;
	uint8_t reg;

	if (wlen == 0)
		return -EIO; /* this part needs a register pointer first */
	reg = w[0];
	for (size_t i = 1; i < wlen; i++, reg++) {
		if (reg >= SIM_VITALS_NREGS)
			return -EIO;
		if (reg == SIM_VITALS_REG_CTRL) {
			if (w[i] & SIM_VITALS_CTRL_RESET) {
				uint8_t seed = v->regs[SIM_VITALS_REG_SEED];

				memset(v->regs, 0, sizeof(v->regs));
				vitals_init(chip);
				v->regs[SIM_VITALS_REG_SEED] = seed;
				continue;
			}
			v->regs[reg] = w[i] & SIM_VITALS_CTRL_EN;
		} else if (reg == SIM_VITALS_REG_SEED) {
			v->regs[reg] = w[i];
		} else {
			return -EIO; /* read-only register */
		}
	}
	reg = w[0];
	if (rlen) {
		if ((size_t)reg + rlen > SIM_VITALS_NREGS)
			return -EIO;
		if (v->regs[SIM_VITALS_REG_CTRL] & SIM_VITALS_CTRL_EN) {
			v->regs[SIM_VITALS_REG_STATUS] |= SIM_VITALS_STATUS_DRDY;
			if (reg <= SIM_VITALS_REG_HR && (size_t)reg + rlen > SIM_VITALS_REG_HR)
				latch(v);
		}
		memcpy(r, &v->regs[reg], rlen);
	}
	return 0;
}

const struct edge_sim_chip_ops edge_sim_vitals_model = {
    .compatible = "edge,sim-vitals",
    .priv_size = sizeof(struct vitals),
    .init = vitals_init,
    .transfer = vitals_transfer,
};
