/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MAX30102 driver against its chip model: probe/reset/configuration at the
 * register level, FIFO wrap-around and overflow, "no finger", and the
 * heart-rate / SpO2 accuracy sweep (50-150 bpm x 90-100 %), whose figures
 * are printed (docs/hardware.md records them).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/max30102_regs.h"
#include "edge/hal/sim.h"
#include "edge/sensor.h"
#include "edge_check.h"
#include "max30102/ppg.h"

#define ADDR MAX30102_I2C_ADDR

static uint64_t now_ms;

static struct edge_sensor *setup(const char *compatible, struct edge_sim_chip **chip,
				 struct edge_i2c_bus **bus)
{
	struct edge_sensor_binding bind = {.addr = ADDR};
	struct edge_sensor *s = NULL;

	edge_sim_reset();
	now_ms = 5000000;
	edge_sim_time_set(now_ms);
	CHECK_EQ(edge_sim_i2c_attach("ppg", ADDR, compatible, chip), 0);
	CHECK_EQ(edge_i2c_open("sim:ppg", bus), 0);
	bind.i2c = *bus;
	CHECK_EQ(edge_sensor_create(edge_sensor_ops_find(compatible), "ppg", &bind, &s), 0);
	return s;
}

static void teardown(struct edge_sensor *s)
{
	edge_sensor_destroy(s);
	edge_sim_time_set(0);
	edge_sim_reset();
}

/* Advances simulated time in fetch-interval steps, fetching each time. */
static void run(struct edge_sensor *s, unsigned ms, unsigned step)
{
	for (unsigned t = 0; t < ms; t += step) {
		now_ms += step;
		edge_sim_time_set(now_ms);
		CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	}
}

static void test_probe_and_configuration(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = setup("maxim,max30102", &chip, &bus);
	int64_t v;
	uint8_t r;

	CHECK(s != NULL);
	CHECK_EQ(edge_sim_chip_get(chip, "mode", &v), 0);
	CHECK_EQ(v, MAX30102_MODE_SPO2);
	CHECK_EQ(edge_sim_chip_get(chip, "led1_pa", &v), 0);
	CHECK_EQ(v, 0x24);
	CHECK_EQ(edge_sim_chip_get(chip, "rate_hz", &v), 0);
	CHECK_EQ(v, 100);
	CHECK_EQ(edge_i2c_reg_read(bus, ADDR, MAX30102_REG_SPO2_CONFIG, &r, 1), 0);
	CHECK_EQ(r & 3, 3); /* 411 us pulses: 18-bit */
	CHECK_EQ(edge_i2c_reg_read(bus, ADDR, MAX30102_REG_FIFO_CONFIG, &r, 1), 0);
	CHECK(r & MAX30102_FIFO_ROLLOVER_EN);
	/* LED current attribute: 10 mA = 50 * 0.2 mA */
	CHECK_EQ(s->ops->attr_set(s, "led_current_ua", 10000), 0);
	CHECK_EQ(edge_sim_chip_get(chip, "led2_pa", &v), 0);
	CHECK_EQ(v, 50);
	CHECK_EQ(s->ops->attr_set(s, "sample_rate", 400), -EINVAL);
	CHECK_EQ(s->ops->attr_set(s, "sample_rate", 50), 0);
	CHECK_EQ(edge_sim_chip_get(chip, "rate_hz", &v), 0);
	CHECK_EQ(v, 50);
	CHECK_EQ(s->ops->attr_set(s, "bogus", 1), -ENOTSUP);
	/* no value before there is a window */
	{
		int32_t x;

		CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &x), -ENODATA);
		CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &x), -ENOTSUP);
	}
	edge_sensor_destroy(s);
	/* deinit shuts the part down */
	CHECK_EQ(edge_sim_chip_get(chip, "mode", &v), 0);
	CHECK(v & MAX30102_MODE_SHDN);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_wrong_part_id(void)
{
	struct edge_sensor_binding bind = {.addr = ADDR};
	struct edge_sim_chip *chip;
	struct edge_sensor *s = NULL;

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("ppg", ADDR, "maxim,max30102", &chip), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "part_id", 0x11), 0);
	CHECK_EQ(edge_i2c_open("sim:ppg", &bind.i2c), 0);
	CHECK_EQ(edge_sensor_create(&edge_max30102_driver, "ppg", &bind, &s), -ENODEV);
	bind.addr = 0x58; /* nothing there */
	CHECK_EQ(edge_sensor_create(&edge_max30102_driver, "ppg", &bind, &s), -ENXIO);
	edge_sim_reset();
}

static void test_fifo_pointers_wrap_and_overflow(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = setup("maxim,max30102", &chip, &bus);
	uint8_t p[3], raw[6];
	uint32_t ovf = 0;
	int64_t v;

	/* 250 ms at 100 Hz: 25 samples, pointers 25 apart */
	now_ms += 250;
	edge_sim_time_set(now_ms);
	CHECK_EQ(edge_i2c_burst_read(bus, ADDR, MAX30102_REG_FIFO_WR_PTR, p, 3), 0);
	CHECK_EQ((p[0] - p[2]) & 0x1f, 25);
	CHECK_EQ(p[1], 0);
	/* one sample by hand: 6 bytes, RD_PTR moves by one */
	CHECK_EQ(edge_i2c_burst_read(bus, ADDR, MAX30102_REG_FIFO_DATA, raw, 6), 0);
	CHECK(raw[0] <= 3 && raw[3] <= 3); /* bits 23:18 are zero */
	CHECK(((uint32_t)raw[3] << 16 | (uint32_t)raw[4] << 8 | raw[5]) > 50000);
	CHECK_EQ(edge_i2c_reg_read(bus, ADDR, MAX30102_REG_FIFO_RD_PTR, p, 1), 0);
	CHECK_EQ(p[0], 1);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0); /* drains the other 24 */
	CHECK_EQ(edge_sim_chip_get(chip, "unread", &v), 0);
	CHECK_EQ(v, 0);
	/* many fetches: the 5-bit pointers wrap many times, nothing is lost */
	run(s, 3000, 200);
	CHECK_EQ(edge_max30102_overflows(s, &ovf), 0);
	CHECK_EQ(ovf, 0);
	CHECK_EQ(edge_sim_chip_get(chip, "unread", &v), 0);
	CHECK_EQ(v, 0);
	/* a 1 s gap: 100 samples into a 32-deep FIFO; roll-over keeps the
	 * newest 32 and counts the 68 lost (the counter saturates at 31) */
	now_ms += 1000;
	edge_sim_time_set(now_ms);
	CHECK_EQ(edge_i2c_reg_read(bus, ADDR, MAX30102_REG_OVF_COUNTER, p, 1), 0);
	CHECK_EQ(p[0], 31);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_max30102_overflows(s, &ovf), 0);
	CHECK_EQ(ovf, 31);
	CHECK_EQ(edge_sim_chip_get(chip, "unread", &v), 0);
	CHECK_EQ(v, 0);
	/* the counter clears once a sample is popped */
	CHECK_EQ(edge_i2c_reg_read(bus, ADDR, MAX30102_REG_OVF_COUNTER, p, 1), 0);
	CHECK_EQ(p[0], 0);
	teardown(s);
}

static void test_fifo_without_rollover(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = setup("maxim,max30102", &chip, &bus);
	uint8_t p[3];

	/* roll-over off: a full FIFO freezes, new samples are lost */
	CHECK_EQ(edge_i2c_reg_write(bus, ADDR, MAX30102_REG_FIFO_CONFIG, 0x0f), 0);
	now_ms += 400; /* 40 samples */
	edge_sim_time_set(now_ms);
	CHECK_EQ(edge_i2c_burst_read(bus, ADDR, MAX30102_REG_FIFO_WR_PTR, p, 3), 0);
	CHECK_EQ(p[0], p[2]); /* full: pointers equal ... */
	CHECK_EQ(p[1], 8);    /* ... and 8 samples lost */
	CHECK_EQ(p[2], 0);    /* the oldest sample is still at the read pointer */
	teardown(s);
}

struct acc {
	double hr_max, hr_sum, spo2_max, spo2_sum;	   /* reported integers */
	double hr10_max, hr10_sq, spo2_10_max, spo2_10_sq; /* 0.1-resolution analysis */
	unsigned n, missing;
};

static void fine(struct acc *a, const struct edge_sensor *s, int hr, int spo2)
{
	struct edge_ppg_result r;
	double eh, eo;

	CHECK_EQ(edge_max30102_result(s, &r), 0);
	eh = fabs(r.hr_x10 / 10.0 - hr);
	eo = fabs(r.spo2_x10 / 10.0 - spo2);
	a->hr10_sq += eh * eh;
	a->spo2_10_sq += eo * eo;
	if (eh > a->hr10_max)
		a->hr10_max = eh;
	if (eo > a->spo2_10_max)
		a->spo2_10_max = eo;
}

/* One set point: 8 s settle, then 10 readings 200 ms apart. */
static void measure(struct edge_sensor *s, struct edge_sim_chip *chip, int hr, int spo2,
		    struct acc *a, unsigned step)
{
	CHECK_EQ(edge_sim_chip_set(chip, "heart_rate_bpm", hr), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "spo2_pct", spo2), 0);
	run(s, 8000, step);
	for (int k = 0; k < 10; k++) {
		int32_t h = 0, o = 0;
		int rh, ro;

		run(s, step, step);
		rh = edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &h);
		ro = edge_sensor_channel_get(s, EDGE_CH_SPO2, &o);
		if (rh || ro) {
			a->missing++;
			continue;
		}
		a->n++;
		fine(a, s, hr, spo2);
		a->hr_sum += fabs((double)h - hr);
		a->spo2_sum += fabs((double)o - spo2);
		if (fabs((double)h - hr) > a->hr_max)
			a->hr_max = fabs((double)h - hr);
		if (fabs((double)o - spo2) > a->spo2_max)
			a->spo2_max = fabs((double)o - spo2);
	}
}

static void test_accuracy_sweep(void)
{
	static const int hrs[] = {50, 60, 72, 85, 100, 115, 130, 150};
	static const int spo2s[] = {90, 92, 94, 96, 98, 100};
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = setup("maxim,max30102", &chip, &bus);
	struct acc all = {0};

	for (size_t i = 0; i < sizeof(hrs) / sizeof(hrs[0]); i++) {
		for (size_t j = 0; j < sizeof(spo2s) / sizeof(spo2s[0]); j++) {
			struct acc a = {0};

			measure(s, chip, hrs[i], spo2s[j], &a, 200);
			CHECK_EQ(a.missing, 0);
			CHECK(a.n == 10);
			CHECK(a.hr_max <= 3.0);
			CHECK(a.spo2_max <= 2.0);
			if (a.hr_max > 3.0 || a.spo2_max > 2.0 || a.missing)
				fprintf(stderr,
					"  at %d bpm / %d %%: max error %.0f bpm, %.0f %%, "
					"%u missing\n",
					hrs[i], spo2s[j], a.hr_max, a.spo2_max, a.missing);
			all.n += a.n;
			all.missing += a.missing;
			all.hr_sum += a.hr_sum;
			all.hr10_sq += a.hr10_sq;
			all.spo2_10_sq += a.spo2_10_sq;
			if (a.hr10_max > all.hr10_max)
				all.hr10_max = a.hr10_max;
			if (a.spo2_10_max > all.spo2_10_max)
				all.spo2_10_max = a.spo2_10_max;
			all.spo2_sum += a.spo2_sum;
			if (a.hr_max > all.hr_max)
				all.hr_max = a.hr_max;
			if (a.spo2_max > all.spo2_max)
				all.spo2_max = a.spo2_max;
		}
	}
	printf("ACCURACY max30102 @100 Hz, 48 set points (50-150 bpm x 90-100 %%), %u readings: "
	       "heart rate max |err| %.0f bpm, mean %.2f bpm; SpO2 max |err| %.0f %%, mean %.2f "
	       "%%; %u readings missing\n",
	       all.n, all.hr_max, all.hr_sum / (all.n ? all.n : 1), all.spo2_max,
	       all.spo2_sum / (all.n ? all.n : 1), all.missing);
	printf("ACCURACY max30102 analysis at 0.1 resolution: heart rate max |err| %.1f bpm, RMS "
	       "%.2f bpm; SpO2 max |err| %.1f %%, RMS %.2f %%\n",
	       all.hr10_max, sqrt(all.hr10_sq / (all.n ? all.n : 1)), all.spo2_10_max,
	       sqrt(all.spo2_10_sq / (all.n ? all.n : 1)));
	teardown(s);
}

static void test_accuracy_at_50hz_and_noisy(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = setup("maxim,max30101", &chip, &bus);
	struct acc a = {0};

	CHECK_EQ(s->ops->attr_set(s, "sample_rate", 50), 0);
	measure(s, chip, 55, 91, &a, 400);
	measure(s, chip, 145, 99, &a, 400);
	/* weak perfusion (0.5 %) and 4x the noise */
	CHECK_EQ(edge_sim_chip_set(chip, "perfusion_ppm", 5000), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "noise", 100), 0);
	measure(s, chip, 80, 95, &a, 400);
	CHECK_EQ(a.missing, 0);
	CHECK(a.hr_max <= 3.0);
	CHECK(a.spo2_max <= 2.0);
	printf("ACCURACY max30101 @50 Hz (55/91, 145/99, and 80/95 with 0.5 %% perfusion + 100 "
	       "counts noise), %u readings: heart rate max |err| %.0f bpm (analysis %.1f); SpO2 "
	       "max |err| %.0f %% (analysis %.1f)\n",
	       a.n, a.hr_max, a.hr10_max, a.spo2_max, a.spo2_10_max);
	teardown(s);
}

static void test_no_finger(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = setup("maxim,max30102", &chip, &bus);
	int32_t v;

	CHECK_EQ(edge_sim_chip_set(chip, "heart_rate_bpm", 75), 0);
	run(s, 8000, 200);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &v), 0);
	CHECK_NEAR(v, 75, 3);
	/* finger off: no value at all, not the last one nor a made-up one */
	CHECK_EQ(edge_sim_chip_set(chip, "finger", 0), 0);
	for (int i = 0; i < 40; i++) {
		run(s, 200, 200);
		CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &v), -ENODATA);
		CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SPO2, &v), -ENODATA);
	}
	/* finger back: readings return once a clean window has filled */
	CHECK_EQ(edge_sim_chip_set(chip, "finger", 1), 0);
	run(s, 8000, 200);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &v), 0);
	CHECK_NEAR(v, 75, 3);
	teardown(s);
}

EDGE_CHECK_MAIN(test_probe_and_configuration, test_wrong_part_id,
		test_fifo_pointers_wrap_and_overflow, test_fifo_without_rollover,
		test_accuracy_sweep, test_accuracy_at_50hz_and_noisy, test_no_finger)
