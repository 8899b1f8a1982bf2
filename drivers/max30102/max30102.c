/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MAX30102 / MAX30101 pulse oximeter and heart-rate sensor.
 *
 * init: part id, soft reset, FIFO (no averaging, roll-over on), SpO2 mode
 * (red + IR), 100 samples/s, 411 us pulses (18-bit ADC), 4096 nA range,
 * 7.2 mA LED current, FIFO pointers cleared.
 * sample_fetch: reads FIFO_WR_PTR / OVF_COUNTER / FIFO_RD_PTR, then every
 * unread sample in one burst from FIFO_DATA (wrap-around of the 5-bit
 * pointers; a non-zero overflow counter means the FIFO filled and samples
 * were lost: the analysis window restarts). The window (5 s) lives in priv;
 * heart rate and SpO2 come from ppg.c after every fetch.
 *
 * Fetch at least every 320 ms at 100 samples/s (the FIFO holds 32 samples).
 */
#include <errno.h>
#include <string.h>

#include "../drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/max30102_regs.h"
#include "ppg.h"

#define WINDOW_S      5
#define LED_UA_PER_PA 200

struct max30102 {
	uint8_t raw[MAX30102_FIFO_DEPTH * 6];
	uint32_t red[EDGE_PPG_MAX_SAMPLES];
	uint32_t ir[EDGE_PPG_MAX_SAMPLES];
	size_t fill;
	unsigned fs;
	uint8_t sr_field;
	uint8_t led_pa;
	uint32_t overflows; /* samples lost to FIFO overflow, total */
	struct edge_ppg_work work;
	struct edge_ppg_result res;
};

static const enum edge_channel channels[] = {EDGE_CH_HEART_RATE, EDGE_CH_SPO2};

static int wr(const struct edge_sensor *s, uint8_t reg, uint8_t val)
{
	return edge_i2c_reg_write(s->bind.i2c, s->bind.addr, reg, val);
}

static int configure(struct edge_sensor *s)
{
	struct max30102 *m = s->priv;
	int err;

	if ((err = wr(s, MAX30102_REG_MODE_CONFIG, MAX30102_MODE_SHDN)) ||
	    (err = wr(s, MAX30102_REG_FIFO_CONFIG, MAX30102_FIFO_ROLLOVER_EN | 0x0f)) ||
	    (err = wr(s, MAX30102_REG_SPO2_CONFIG,
		      (uint8_t)(1u << MAX30102_SPO2_ADC_RGE_SHIFT |
				m->sr_field << MAX30102_SPO2_SR_SHIFT | 0x03))) ||
	    (err = wr(s, MAX30102_REG_LED1_PA, m->led_pa)) ||
	    (err = wr(s, MAX30102_REG_LED2_PA, m->led_pa)) ||
	    (err = wr(s, MAX30102_REG_FIFO_WR_PTR, 0)) ||
	    (err = wr(s, MAX30102_REG_OVF_COUNTER, 0)) ||
	    (err = wr(s, MAX30102_REG_FIFO_RD_PTR, 0)) ||
	    (err = wr(s, MAX30102_REG_MODE_CONFIG, MAX30102_MODE_SPO2)))
		return err;
	m->fs = max30102_sr_hz(m->sr_field);
	m->fill = 0;
	memset(&m->res, 0, sizeof(m->res));
	return 0;
}

static int max30102_init(struct edge_sensor *s)
{
	struct max30102 *m = s->priv;
	uint8_t id, mode = MAX30102_MODE_RESET;
	int err;

	if (!s->bind.i2c)
		return -EINVAL;
	err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30102_REG_PART_ID, &id, 1);
	if (err)
		return err;
	if (id != MAX30102_PART_ID)
		return -ENODEV;
	err = wr(s, MAX30102_REG_MODE_CONFIG, MAX30102_MODE_RESET);
	if (err)
		return err;
	/* RESET self-clears within 1 ms; a few reads are plenty */
	for (int i = 0; i < 10 && (mode & MAX30102_MODE_RESET); i++) {
		err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30102_REG_MODE_CONFIG, &mode,
					1);
		if (err)
			return err;
	}
	if (mode & MAX30102_MODE_RESET)
		return -ETIMEDOUT;
	/* reading the status clears PWR_RDY */
	err = edge_i2c_reg_read(s->bind.i2c, s->bind.addr, MAX30102_REG_INT_STATUS1, &id, 1);
	if (err)
		return err;
	m->sr_field = 1; /* 100 samples/s */
	m->led_pa = 0x24;
	return configure(s);
}

static void unpack(struct max30102 *m, const uint8_t *p, size_t n)
{
	if (m->fill + n > EDGE_PPG_MAX_SAMPLES) {
		size_t drop = m->fill + n - EDGE_PPG_MAX_SAMPLES;

		memmove(m->red, m->red + drop, (m->fill - drop) * sizeof(m->red[0]));
		memmove(m->ir, m->ir + drop, (m->fill - drop) * sizeof(m->ir[0]));
		m->fill -= drop;
	}
	for (size_t i = 0; i < n; i++, p += 6) {
		/* 3 bytes per LED, MSB first, the 18-bit value in bits 17:0 */
		m->red[m->fill] =
		    ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) & MAX30102_SAMPLE_MAX;
		m->ir[m->fill] =
		    ((uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5]) & MAX30102_SAMPLE_MAX;
		m->fill++;
	}
}

/* Mean IR of the newest 100 ms: the finger test that gates the analysis. */
static int finger_present(const struct max30102 *m)
{
	size_t n = m->fill < m->fs / 10 ? m->fill : m->fs / 10;
	uint64_t sum = 0;

	if (!n)
		return 0;
	for (size_t i = m->fill - n; i < m->fill; i++)
		sum += m->ir[i];
	return sum / n >= EDGE_PPG_MIN_IR_DC;
}

static int max30102_fetch(struct edge_sensor *s)
{
	struct max30102 *m = s->priv;
	uint8_t ptr[3];
	size_t n, win;
	int err;

	err = edge_i2c_burst_read(s->bind.i2c, s->bind.addr, MAX30102_REG_FIFO_WR_PTR, ptr, 3);
	if (err)
		goto invalid;
	n = (size_t)((ptr[0] - ptr[2]) & 0x1f);
	if (ptr[1]) {
		/* samples were lost: the window has a gap, start it again */
		m->overflows += ptr[1];
		m->fill = 0;
		if (n == 0)
			n = MAX30102_FIFO_DEPTH; /* full: WR_PTR caught up with RD_PTR */
	}
	if (n) {
		err = edge_i2c_burst_read(s->bind.i2c, s->bind.addr, MAX30102_REG_FIFO_DATA, m->raw,
					  n * 6);
		if (err)
			goto invalid;
		unpack(m, m->raw, n);
	}
	if (!finger_present(m)) {
		m->fill = 0; /* a finger put back starts a clean window */
		memset(&m->res, 0, sizeof(m->res));
		return 0;
	}
	win = (size_t)m->fs * WINDOW_S;
	if (win > m->fill)
		win = m->fill;
	return edge_ppg_analyze(m->red + m->fill - win, m->ir + m->fill - win, win, m->fs, &m->work,
				&m->res);

invalid:
	memset(&m->res, 0, sizeof(m->res));
	return err;
}

static int max30102_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	const struct max30102 *m = s->priv;

	switch (ch) {
	case EDGE_CH_HEART_RATE:
		if (!m->res.hr_valid)
			return -ENODATA;
		*val = (m->res.hr_x10 + 5) / 10;
		return 0;
	case EDGE_CH_SPO2:
		if (!m->res.spo2_valid)
			return -ENODATA;
		*val = (m->res.spo2_x10 + 5) / 10;
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* "led_current_ua" (0..51000, 200 uA steps), "sample_rate" (50 or 100). */
static int max30102_attr_set(struct edge_sensor *s, const char *attr, int32_t val)
{
	struct max30102 *m = s->priv;

	if (strcmp(attr, "led_current_ua") == 0) {
		if (val < 0 || val > 255 * LED_UA_PER_PA)
			return -EINVAL;
		m->led_pa = (uint8_t)(val / LED_UA_PER_PA);
	} else if (strcmp(attr, "sample_rate") == 0) {
		if (val != 50 && val != 100)
			return -EINVAL; /* the 5 s window must fit EDGE_PPG_MAX_SAMPLES */
		m->sr_field = val == 50 ? 0 : 1;
	} else {
		return -ENOTSUP;
	}
	return configure(s);
}

static void max30102_deinit(struct edge_sensor *s)
{
	/* power down the LEDs; nothing to do if the part is gone */
	(void)wr(s, MAX30102_REG_MODE_CONFIG, MAX30102_MODE_SHDN);
}

int edge_max30102_overflows(const struct edge_sensor *s, uint32_t *count)
{
	const struct max30102 *m = s->priv;

	if (s->ops != &edge_max30102_driver && s->ops != &edge_max30101_driver)
		return -EINVAL;
	*count = m->overflows;
	return 0;
}

int edge_max30102_result(const struct edge_sensor *s, struct edge_ppg_result *out)
{
	const struct max30102 *m = s->priv;

	if (s->ops != &edge_max30102_driver && s->ops != &edge_max30101_driver)
		return -EINVAL;
	*out = m->res;
	return 0;
}

const struct edge_sensor_ops edge_max30102_driver = {
    .compatible = "maxim,max30102",
    .description = "MAX30102 pulse oximeter / heart-rate (I2C)",
    .priv_size = sizeof(struct max30102),
    .channels = channels,
    .n_channels = sizeof(channels) / sizeof(channels[0]),
    .init = max30102_init,
    .sample_fetch = max30102_fetch,
    .channel_get = max30102_get,
    .attr_set = max30102_attr_set,
    .deinit = max30102_deinit,
    .bus = EDGE_SENSOR_BUS_I2C,
    .default_addr = MAX30102_I2C_ADDR,
};

const struct edge_sensor_ops edge_max30101_driver = {
    .compatible = "maxim,max30101",
    .description = "MAX30101 pulse oximeter / heart-rate (I2C; red + IR used)",
    .priv_size = sizeof(struct max30102),
    .channels = channels,
    .n_channels = sizeof(channels) / sizeof(channels[0]),
    .init = max30102_init,
    .sample_fetch = max30102_fetch,
    .channel_get = max30102_get,
    .attr_set = max30102_attr_set,
    .deinit = max30102_deinit,
    .bus = EDGE_SENSOR_BUS_I2C,
    .default_addr = MAX30102_I2C_ADDR,
};
