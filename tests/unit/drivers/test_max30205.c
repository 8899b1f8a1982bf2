/* SPDX-License-Identifier: Apache-2.0 */
/* MAX30205 driver against its chip model. */
#include <errno.h>

#include "drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/max30205_regs.h"
#include "edge/hal/sim.h"
#include "edge_check.h"

#define ADDR MAX30205_I2C_ADDR

static void test_conversion_vectors(void)
{
	/* datasheet-style codes: 1/256 degC per LSB, two's complement */
	CHECK_EQ(edge_max30205_to_mdegc(0x0000, 0), 0);
	CHECK_EQ(edge_max30205_to_mdegc(0x2500, 0), 37000);
	CHECK_EQ(edge_max30205_to_mdegc(0x2540, 0), 37250);
	CHECK_EQ(edge_max30205_to_mdegc(0x2580, 0), 37500);
	CHECK_EQ(edge_max30205_to_mdegc(0x0001, 0), 4); /* 3.906 mdegC */
	CHECK_EQ(edge_max30205_to_mdegc((int16_t)0xFFFF, 0), -4);
	CHECK_EQ(edge_max30205_to_mdegc((int16_t)0xFF00, 0), -1000);
	CHECK_EQ(edge_max30205_to_mdegc((int16_t)0xE700, 0), -25000);
	CHECK_EQ(edge_max30205_to_mdegc((int16_t)0xF580, 0), -10500);
	CHECK_EQ(edge_max30205_to_mdegc(0x7FFF, 0), 127996);
	CHECK_EQ(edge_max30205_to_mdegc((int16_t)0x8000, 0), -128000);
	/* extended format: +64 degC */
	CHECK_EQ(edge_max30205_to_mdegc(0x0000, 1), 64000);
	CHECK_EQ(edge_max30205_to_mdegc((int16_t)0xDB00, 1), 27000);
}

static struct edge_sensor *make(const char *param, struct edge_sim_chip **chip,
				struct edge_i2c_bus **bus)
{
	struct edge_sensor_binding bind = {.addr = ADDR, .param = param};
	struct edge_sensor *s = NULL;

	edge_sim_reset();
	edge_sim_time_set(1000);
	CHECK_EQ(edge_sim_i2c_attach("t", ADDR, "maxim,max30205", chip), 0);
	CHECK_EQ(edge_i2c_open("sim:t", bus), 0);
	bind.i2c = *bus;
	CHECK_EQ(edge_sensor_create(&edge_max30205_driver, "temp", &bind, &s), 0);
	return s;
}

static void test_one_shot(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = make(NULL, &chip, &bus);
	int64_t conv = -1, cfg = -1;
	int32_t v = 0;

	CHECK_EQ(edge_sim_chip_get(chip, "config", &cfg), 0);
	CHECK(cfg & MAX30205_CFG_SHUTDOWN);
	CHECK_EQ(edge_sim_chip_set(chip, "temp_mdegc", 37250), 0);
	/* first fetch starts a conversion: nothing to report yet */
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), -ENODATA);
	CHECK_EQ(edge_sim_chip_get(chip, "config", &cfg), 0);
	CHECK(cfg & MAX30205_CFG_ONE_SHOT); /* converting */
	/* 20 ms later the conversion is not done: still no value */
	edge_sim_time_set(1020);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), -ENODATA);
	edge_sim_time_set(1100);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_EQ(v, 37250);
	CHECK_EQ(edge_sim_chip_get(chip, "conversions", &conv), 0);
	CHECK_EQ(conv, 1);
	/* negative temperatures (a sensor left outside in winter) */
	CHECK_EQ(edge_sim_chip_set(chip, "temp_mdegc", -10500), 0);
	edge_sim_time_set(2100);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0); /* collects the 37.25 conversion */
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	edge_sim_time_set(3100);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_EQ(v, -10500);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &v), -ENOTSUP);
	edge_sensor_destroy(s);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_continuous_and_resolution(void)
{
	struct edge_sim_chip *chip;
	struct edge_i2c_bus *bus;
	struct edge_sensor *s = make("continuous", &chip, &bus);
	int64_t cfg;
	int32_t v;

	CHECK_EQ(edge_sim_chip_get(chip, "config", &cfg), 0);
	CHECK_EQ(cfg & MAX30205_CFG_SHUTDOWN, 0);
	/* 36.8 degC is not a multiple of 1/256: the part rounds to 36.80078 */
	CHECK_EQ(edge_sim_chip_set(chip, "temp_mdegc", 36800), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_NEAR(v, 36800, 2);
	/* continuous: no one-shot conversions were needed */
	CHECK_EQ(edge_sim_chip_get(chip, "conversions", &cfg), 0);
	CHECK_EQ(cfg, 0);
	edge_sensor_destroy(s);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_absent_part(void)
{
	struct edge_sensor_binding bind = {.addr = ADDR};
	struct edge_sensor *s = NULL;

	edge_sim_reset();
	CHECK_EQ(edge_i2c_open("sim:empty", &bind.i2c), 0);
	CHECK_EQ(edge_sensor_create(&edge_max30205_driver, "temp", &bind, &s), -ENXIO);
	bind.i2c = NULL;
	CHECK_EQ(edge_sensor_create(&edge_max30205_driver, "temp", &bind, &s), -EINVAL);
	edge_sim_reset();
}

EDGE_CHECK_MAIN(test_conversion_vectors, test_one_shot, test_continuous_and_resolution,
		test_absent_part)
