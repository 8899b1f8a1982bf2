/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chip model of the MAX30102 / MAX30101 pulse oximeter front end: the real
 * register map (edge/hal/max30102_regs.h), a 32-sample FIFO with write/read
 * pointers, wrap-around, overflow counter and roll-over, sample averaging,
 * 15..18-bit left-justified ADC words, and a synthetic photoplethysmogram.
 *
 * The PPG: each beat is a systolic wave plus a smaller diastolic wave (two
 * periodic Gaussians in beat phase), riding on the DC level set by the LED
 * current, with respiration-like baseline wander (0.25 Hz) and white noise.
 * Reflected light falls when blood volume rises, so pulses are dips.
 * The red/IR modulation ratio R (ratio of ratios) comes from the SpO2 set
 * point through the calibration line SpO2 = 110 - 25 R that the driver
 * inverts; heart rate sets the beat frequency. Samples are produced at the
 * configured rate as simulated time (edge_sim_time_ms) advances.
 *
 * Knobs (edge_sim_chip_set/get): "heart_rate_bpm", "spo2_pct", "finger"
 * (0: only ambient light reaches the photodiode), "perfusion_ppm" (IR AC/DC,
 * default 20000 = 2 %), "noise" (counts RMS, default 25), "hrv_ppm" (beat-to-
 * beat period variation, uniform +-, default 30000 = 3 %), "part_id"; read-only "mode",
 * "led1_pa", "led2_pa", "rate_hz", "samples" (produced so far).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "edge/hal/max30102_regs.h"
#include "sim_models.h"

#define NCH 3

struct max30102 {
	uint8_t regs[MAX30102_NREGS];
	uint32_t fifo[MAX30102_FIFO_DEPTH][NCH];
	unsigned count;	   /* unread samples (0..32); pointers alone cannot tell full */
	unsigned byte_idx; /* next byte within the sample at RD_PTR */
	/* sample clock */
	uint64_t t0_ms;
	uint64_t produced;
	int running;
	/* physiology */
	double hr_bpm, spo2, perfusion, noise;
	double hrv;	 /* beat-to-beat period variation, fraction (uniform +-) */
	double beat_mul; /* this beat's period multiplier */
	int finger;
	double phase; /* beat phase, cycles */
	uint32_t rng;
	int multi_led; /* MAX30101 */
	uint8_t part_id;
};

static void por(struct max30102 *m)
{
	memset(m->regs, 0, sizeof(m->regs));
	m->regs[MAX30102_REG_INT_STATUS1] = MAX30102_INT_PWR_RDY;
	m->regs[MAX30102_REG_REV_ID] = 0x03;
	m->regs[MAX30102_REG_PART_ID] = m->part_id;
	m->count = 0;
	m->byte_idx = 0;
	m->running = 0;
}

static unsigned active_channels(const struct max30102 *m)
{
	switch (m->regs[MAX30102_REG_MODE_CONFIG] & 7u) {
	case MAX30102_MODE_HR:
		return 1;
	case MAX30102_MODE_SPO2:
		return 2;
	case MAX30102_MODE_MULTI: {
		unsigned n = 0;

		for (unsigned s = 0; s < 4; s++) {
			uint8_t r = m->regs[MAX30102_REG_MULTI_LED1 + s / 2];

			if ((r >> ((s & 1) ? 4 : 0)) & 7u)
				n = s + 1;
		}
		return n < NCH ? n : NCH;
	}
	default:
		return 0;
	}
}

static double output_rate(const struct max30102 *m)
{
	uint8_t spo2 = m->regs[MAX30102_REG_SPO2_CONFIG];
	unsigned ave = 1u << ((m->regs[MAX30102_REG_FIFO_CONFIG] >> 5) & 7u);

	if (ave > 32)
		ave = 32;
	return (double)max30102_sr_hz((spo2 >> MAX30102_SPO2_SR_SHIFT) & 7u) / ave;
}

static double gauss_noise(struct max30102 *m)
{
	/* sum of 4 uniforms: cheap, roughly normal, unit variance */
	double s = 0;

	for (int i = 0; i < 4; i++) {
		m->rng = m->rng * 1664525u + 1013904223u;
		s += (double)(m->rng >> 8) / 16777216.0 - 0.5;
	}
	return s * 1.7320508;
}

static double wrapped_gauss(double phase, double mu, double sigma)
{
	double d = phase - mu;

	d -= floor(d + 0.5); /* distance on the unit circle */
	return exp(-0.5 * (d / sigma) * (d / sigma));
}

/* One synthetic sample per LED: counts at 18 bits before justification. */
static void synth(struct max30102 *m, double t_s, double out[NCH])
{
	static const double led_gain[NCH] = {2700.0, 3000.0, 1500.0}; /* counts per PA LSB */
	static const uint8_t pa_reg[NCH] = {MAX30102_REG_LED1_PA, MAX30102_REG_LED2_PA,
					    MAX30102_REG_LED3_PA};
	double pulse, wander, ratio = (110.0 - m->spo2) / 25.0;

	pulse = wrapped_gauss(m->phase, 0.20, 0.07) + 0.35 * wrapped_gauss(m->phase, 0.45, 0.10);
	wander = 1.0 + 0.004 * sin(2.0 * M_PI * 0.25 * t_s);
	for (int c = 0; c < NCH; c++) {
		double dc = led_gain[c] * m->regs[pa_reg[c]];
		double ac = m->perfusion * (c == 0 ? ratio : 1.0);

		if (!m->finger)
			out[c] = 600.0 + 0.01 * dc; /* ambient + a little LED leakage */
		else
			out[c] = dc * (1.0 - ac * pulse) * wander;
		out[c] += m->noise * gauss_noise(m);
	}
}

static uint32_t adc_word(const struct max30102 *m, double v)
{
	unsigned pw = m->regs[MAX30102_REG_SPO2_CONFIG] & 3u;
	unsigned shift = 3 - pw; /* 15/16/17/18 bits, left-justified in 18 */
	uint32_t w;

	if (v < 0)
		v = 0;
	if (v > MAX30102_SAMPLE_MAX)
		v = MAX30102_SAMPLE_MAX;
	w = (uint32_t)lround(v);
	return w & ~((1u << shift) - 1u);
}

static void fifo_push(struct max30102 *m, const uint32_t s[NCH])
{
	uint8_t *wr = &m->regs[MAX30102_REG_FIFO_WR_PTR];
	uint8_t *rd = &m->regs[MAX30102_REG_FIFO_RD_PTR];
	uint8_t *ovf = &m->regs[MAX30102_REG_OVF_COUNTER];
	unsigned a_full = m->regs[MAX30102_REG_FIFO_CONFIG] & 0x0fu;

	if (m->count == MAX30102_FIFO_DEPTH) {
		if (*ovf < 0x1f)
			(*ovf)++;
		if (!(m->regs[MAX30102_REG_FIFO_CONFIG] & MAX30102_FIFO_ROLLOVER_EN))
			return; /* FIFO frozen until read: the new sample is lost */
		/* roll over: the oldest sample is overwritten */
		*rd = (uint8_t)((*rd + 1) & 0x1f);
		m->count--;
		m->byte_idx = 0;
	}
	memcpy(m->fifo[*wr], s, sizeof(m->fifo[0]));
	*wr = (uint8_t)((*wr + 1) & 0x1f);
	m->count++;
	m->regs[MAX30102_REG_INT_STATUS1] |= MAX30102_INT_PPG_RDY;
	if (m->count >= MAX30102_FIFO_DEPTH - a_full)
		m->regs[MAX30102_REG_INT_STATUS1] |= MAX30102_INT_A_FULL;
}

/* Produces every sample due by now. */
static void advance(struct max30102 *m)
{
	uint64_t now = edge_sim_time_ms();
	double rate;
	uint64_t due, first;

	if (!active_channels(m) || (m->regs[MAX30102_REG_MODE_CONFIG] & MAX30102_MODE_SHDN)) {
		m->running = 0;
		return;
	}
	rate = output_rate(m);
	if (!m->running) {
		m->running = 1;
		m->t0_ms = now;
		m->produced = 0;
		return;
	}
	if (now < m->t0_ms)
		return;
	due = (uint64_t)((double)(now - m->t0_ms) * rate / 1000.0);
	first = m->produced;
	if (due > first + 4096) /* a long gap: only the last part matters */
		first = due - 4096;
	for (uint64_t k = first; k < due; k++) {
		double t_s = (double)m->t0_ms / 1000.0 + (double)k / rate;
		double v[NCH];
		uint32_t s[NCH];

		m->phase += m->hr_bpm / 60.0 / rate / m->beat_mul;
		if (m->phase >= 1.0) { /* a new beat: draw its length */
			m->phase -= floor(m->phase);
			m->rng = m->rng * 1664525u + 1013904223u;
			m->beat_mul = 1.0 + m->hrv * ((double)(m->rng >> 8) / 8388608.0 - 1.0);
		}
		synth(m, t_s, v);
		for (int c = 0; c < NCH; c++)
			s[c] = adc_word(m, v[c]);
		if (active_channels(m) == 1) /* HR mode: red only, in slot 1 */
			s[1] = s[2] = 0;
		fifo_push(m, s);
	}
	m->produced = due;
}

static uint8_t fifo_byte(struct max30102 *m)
{
	unsigned nch = active_channels(m);
	uint8_t *rd = &m->regs[MAX30102_REG_FIFO_RD_PTR];
	uint32_t w;
	uint8_t b;

	if (!nch)
		return 0;
	w = m->fifo[*rd][m->byte_idx / 3];
	b = (uint8_t)(w >> (8 * (2 - m->byte_idx % 3)));
	if (m->byte_idx % 3 == 0)
		b &= 0x03; /* bits 23:18 read as zero */
	if (++m->byte_idx == 3 * nch) {
		m->byte_idx = 0;
		if (m->count) { /* reading an empty FIFO does not move the pointer */
			*rd = (uint8_t)((*rd + 1) & 0x1f);
			m->count--;
			/* a popped sample clears the overflow counter */
			m->regs[MAX30102_REG_OVF_COUNTER] = 0;
		}
	}
	return b;
}

static uint8_t read_reg(struct max30102 *m, uint8_t reg)
{
	uint8_t v;

	if (reg == MAX30102_REG_FIFO_DATA)
		return fifo_byte(m);
	v = m->regs[reg];
	if (reg == MAX30102_REG_INT_STATUS1 || reg == MAX30102_REG_INT_STATUS2)
		m->regs[reg] = 0; /* cleared by reading */
	return v;
}

static int write_reg(struct max30102 *m, uint8_t reg, uint8_t val)
{
	switch (reg) {
	case MAX30102_REG_INT_ENABLE1:
	case MAX30102_REG_INT_ENABLE2:
	case MAX30102_REG_FIFO_CONFIG:
	case MAX30102_REG_LED1_PA:
	case MAX30102_REG_LED2_PA:
	case MAX30102_REG_MULTI_LED1:
	case MAX30102_REG_MULTI_LED2:
		m->regs[reg] = val;
		break;
	case MAX30102_REG_LED3_PA:
		if (!m->multi_led)
			return -EIO;
		m->regs[reg] = val;
		break;
	case MAX30102_REG_SPO2_CONFIG:
		m->regs[reg] = val & 0x7f;
		m->running = 0; /* sample clock restarts at the new rate */
		break;
	case MAX30102_REG_FIFO_WR_PTR:
	case MAX30102_REG_FIFO_RD_PTR:
	case MAX30102_REG_OVF_COUNTER:
		m->regs[reg] = val & 0x1f;
		m->count =
		    (m->regs[MAX30102_REG_FIFO_WR_PTR] - m->regs[MAX30102_REG_FIFO_RD_PTR]) & 0x1fu;
		m->byte_idx = 0;
		break;
	case MAX30102_REG_MODE_CONFIG:
		if (val & MAX30102_MODE_RESET) {
			por(m); /* RESET self-clears once the POR state is loaded */
			break;
		}
		if (!m->multi_led && (val & 7u) == MAX30102_MODE_MULTI)
			val = (uint8_t)(val & ~7u); /* not on the MAX30102's mode list */
		m->regs[reg] = val & 0x87;
		m->running = 0;
		break;
	case MAX30102_REG_TEMP_CONFIG:
		if (val & 1u) { /* die temperature conversion: immediate in the model */
			m->regs[MAX30102_REG_TINT] = 31;
			m->regs[MAX30102_REG_TFRAC] = 4; /* 31.25 degC */
			m->regs[MAX30102_REG_INT_STATUS2] |= MAX30102_INT_DIE_TEMP_RDY;
		}
		break;
	default:
		return -EIO; /* read-only or reserved: the part NACKs */
	}
	return 0;
}

static int max30102_transfer(struct edge_sim_chip *chip, const uint8_t *w, size_t wlen, uint8_t *r,
			     size_t rlen)
{
	struct max30102 *m = chip->priv;
	uint8_t reg;
	int err;

	if (!wlen)
		return -EIO; /* needs a register address first */
	advance(m);
	reg = w[0];
	for (size_t i = 1; i < wlen; i++) {
		err = write_reg(m, reg, w[i]);
		if (err)
			return err;
		advance(m);
		if (reg != MAX30102_REG_FIFO_DATA)
			reg++;
	}
	for (size_t i = 0; i < rlen; i++) {
		r[i] = read_reg(m, reg);
		if (reg != MAX30102_REG_FIFO_DATA)
			reg++;
	}
	return 0;
}

static int init_common(struct edge_sim_chip *chip, int multi)
{
	struct max30102 *m = chip->priv;

	m->multi_led = multi;
	m->part_id = MAX30102_PART_ID;
	m->hr_bpm = 72;
	m->spo2 = 98;
	m->perfusion = 0.02;
	m->noise = 25;
	m->hrv = 0.03;
	m->beat_mul = 1.0;
	m->finger = 1;
	m->rng = 0x1234567u + chip->addr;
	m->phase = 0.37;
	por(m);
	return 0;
}

static int max30102_init(struct edge_sim_chip *chip)
{
	return init_common(chip, 0);
}

static int max30101_init(struct edge_sim_chip *chip)
{
	return init_common(chip, 1);
}

static int max30102_set(struct edge_sim_chip *chip, const char *key, int64_t val)
{
	struct max30102 *m = chip->priv;

	if (strcmp(key, "heart_rate_bpm") == 0) {
		if (val < 20 || val > 300)
			return -ERANGE;
		m->hr_bpm = (double)val;
	} else if (strcmp(key, "spo2_pct") == 0) {
		if (val < 50 || val > 100)
			return -ERANGE;
		m->spo2 = (double)val;
	} else if (strcmp(key, "finger") == 0) {
		m->finger = val != 0;
	} else if (strcmp(key, "perfusion_ppm") == 0) {
		if (val <= 0 || val > 200000)
			return -ERANGE;
		m->perfusion = (double)val / 1e6;
	} else if (strcmp(key, "noise") == 0) {
		if (val < 0 || val > 100000)
			return -ERANGE;
		m->noise = (double)val;
	} else if (strcmp(key, "hrv_ppm") == 0) {
		if (val < 0 || val > 300000)
			return -ERANGE;
		m->hrv = (double)val / 1e6;
	} else if (strcmp(key, "part_id") == 0) {
		if (val < 0 || val > 0xff)
			return -ERANGE;
		m->part_id = (uint8_t)val;
		m->regs[MAX30102_REG_PART_ID] = m->part_id;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int max30102_get(const struct edge_sim_chip *chip, const char *key, int64_t *val)
{
	const struct max30102 *m = chip->priv;

	if (strcmp(key, "mode") == 0)
		*val = m->regs[MAX30102_REG_MODE_CONFIG];
	else if (strcmp(key, "led1_pa") == 0)
		*val = m->regs[MAX30102_REG_LED1_PA];
	else if (strcmp(key, "led2_pa") == 0)
		*val = m->regs[MAX30102_REG_LED2_PA];
	else if (strcmp(key, "rate_hz") == 0)
		*val = (int64_t)output_rate(m);
	else if (strcmp(key, "samples") == 0)
		*val = (int64_t)m->produced;
	else if (strcmp(key, "unread") == 0)
		*val = m->count;
	else
		return -ENOENT;
	return 0;
}

const struct edge_sim_chip_ops edge_sim_max30102_model = {
    .compatible = "maxim,max30102",
    .priv_size = sizeof(struct max30102),
    .init = max30102_init,
    .transfer = max30102_transfer,
    .set = max30102_set,
    .get = max30102_get,
};

const struct edge_sim_chip_ops edge_sim_max30101_model = {
    .compatible = "maxim,max30101",
    .priv_size = sizeof(struct max30102),
    .init = max30101_init,
    .transfer = max30102_transfer,
    .set = max30102_set,
    .get = max30102_get,
};
