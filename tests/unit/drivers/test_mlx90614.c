/* SPDX-License-Identifier: Apache-2.0 */
/* MLX90614 driver against its SMBus chip model, PEC included. */
#include <errno.h>

#include "drivers_internal.h"
#include "edge/hal/i2c.h"
#include "edge/hal/mlx90614_regs.h"
#include "edge/hal/sim.h"
#include "edge_check.h"

#define ADDR MLX90614_I2C_ADDR

static struct edge_sensor *make(struct edge_sim_chip **chip)
{
	struct edge_sensor_binding bind = {.addr = ADDR};
	struct edge_sensor *s = NULL;

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("ir", ADDR, "melexis,mlx90614", chip), 0);
	CHECK_EQ(edge_i2c_open("sim:ir", &bind.i2c), 0);
	CHECK_EQ(edge_sensor_create(&edge_mlx90614_driver, "ir", &bind, &s), 0);
	return s;
}

static void test_conversion(void)
{
	/* datasheet example word 0x3AD2 = 15058 * 0.02 K = 301.16 K = 28.01 degC */
	CHECK_EQ(edge_mlx90614_to_mdegc(0x3AD2), 28010);
	CHECK_EQ(edge_mlx90614_to_mdegc(0x0000), -273150);
	CHECK_EQ(edge_mlx90614_to_mdegc(13658), 10);	      /* 273.16 K */
	CHECK_EQ(edge_mlx90614_to_mdegc(0x8000 | 13658), 10); /* the flag is not data */
}

static void test_object_and_ambient(void)
{
	struct edge_sim_chip *chip;
	struct edge_sensor *s = make(&chip);
	int32_t v = 0;

	CHECK_EQ(edge_sim_chip_set(chip, "object_mk", 310150), 0); /* 37.00 degC */
	CHECK_EQ(edge_sim_chip_set(chip, "ambient_mk", 295150), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_NEAR(v, 37000, 10); /* 0.02 K resolution */
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_AMBIENT_TEMP, &v), 0);
	CHECK_NEAR(v, 22000, 10);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SPO2, &v), -ENOTSUP);
	/* below zero */
	CHECK_EQ(edge_sim_chip_set(chip, "object_mk", 263150), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_NEAR(v, -10000, 10);
	edge_sensor_destroy(s);
	edge_sim_reset();
}

static void test_bad_pec_is_eio_never_a_value(void)
{
	struct edge_sim_chip *chip;
	struct edge_sensor *s = make(&chip);
	int32_t v = 12345;

	CHECK_EQ(edge_sim_chip_set(chip, "object_mk", 310150), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	/* the next PEC is wrong: the fetch fails and the old value is gone */
	CHECK_EQ(edge_sim_chip_set(chip, "object_mk", 400000), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", 1), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), -EIO);
	v = 12345;
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), -ENODATA);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_AMBIENT_TEMP, &v), -ENODATA);
	CHECK_EQ(v, 12345);
	/* every PEC wrong: every fetch fails */
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", -1), 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(edge_sensor_sample_fetch(s), -EIO);
	/* clean again: values return */
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", 0), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_NEAR(v, 400000 - 273150, 10);
	edge_sensor_destroy(s);
	edge_sim_reset();
}

static void test_error_flag(void)
{
	struct edge_sim_chip *chip;
	struct edge_sensor *s = make(&chip);
	int32_t v;

	CHECK_EQ(edge_sim_chip_set(chip, "error_flag", 1), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), -ENODATA);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_AMBIENT_TEMP, &v), 0);
	edge_sensor_destroy(s);
	edge_sim_reset();
}

static void test_probe_failures(void)
{
	struct edge_sensor_binding bind = {.addr = ADDR};
	struct edge_sim_chip *chip;
	struct edge_sensor *s = NULL;

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("ir", ADDR, "melexis,mlx90614", &chip), 0);
	CHECK_EQ(edge_i2c_open("sim:ir", &bind.i2c), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", 1), 0);
	CHECK_EQ(edge_sensor_create(&edge_mlx90614_driver, "ir", &bind, &s), -EIO);
	bind.addr = 0x5B;
	CHECK_EQ(edge_sensor_create(&edge_mlx90614_driver, "ir", &bind, &s), -ENXIO);
	edge_sim_reset();
}

EDGE_CHECK_MAIN(test_conversion, test_object_and_ambient, test_bad_pec_is_eio_never_a_value,
		test_error_flag, test_probe_failures)
