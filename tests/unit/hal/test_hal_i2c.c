/* SPDX-License-Identifier: Apache-2.0 */
/* I2C helpers and SMBus PEC, against the sim bus and its chip models. */
#include <errno.h>

#include "edge/hal/i2c.h"
#include "edge/hal/mlx90614_regs.h"
#include "edge/hal/sim.h"
#include "edge/hal/sim_vitals_regs.h"
#include "edge_check.h"

static void test_pec_known_vectors(void)
{
	/* CRC-8/SMBUS check value over "123456789" */
	const uint8_t digits[] = "123456789";
	/* Melexis MLX90614 datasheet example: read of RAM 0x07 from 0x5A
	 * returns 0x3AD2 with PEC 0x30 */
	const uint8_t mlx[] = {0xB4, 0x07, 0xB5, 0xD2, 0x3A};

	CHECK_EQ(edge_smbus_pec(0, digits, 9), 0xF4);
	CHECK_EQ(edge_smbus_pec(0, mlx, sizeof(mlx)), 0x30);
	/* incremental == one shot */
	CHECK_EQ(edge_smbus_pec(edge_smbus_pec(0, mlx, 2), mlx + 2, 3), 0x30);
	CHECK_EQ(edge_smbus_pec(0, NULL, 0), 0);
}

static void test_smbus_word_with_pec(void)
{
	struct edge_i2c_bus *bus;
	struct edge_sim_chip *chip;
	uint16_t v = 0xdead;

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("smb", MLX90614_I2C_ADDR, "melexis,mlx90614", &chip), 0);
	CHECK_EQ(edge_i2c_open("sim:smb", &bus), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "object_mk", 310160), 0);
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 1), 0);
	CHECK_EQ(v, 310160 / 20);
	/* a corrupted PEC is an error and leaves the value untouched */
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", 1), 0);
	v = 0x1111;
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 1), -EBADMSG);
	CHECK_EQ(v, 0x1111);
	/* a read without PEC carries no PEC byte: the corruption stays pending
	 * and hits the next read that asks for one */
	CHECK_EQ(edge_sim_chip_set(chip, "corrupt_pec", 1), 0);
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 0), 0);
	CHECK_EQ(v, 310160 / 20);
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 1), -EBADMSG);
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_RAM_TOBJ1, &v, 1), 0);
	/* write word with PEC reaches EEPROM; a bad PEC would be NACKed */
	CHECK_EQ(edge_smbus_write_word(bus, MLX90614_I2C_ADDR, MLX90614_EE_EMISSIVITY, 0xF332, 1),
		 0);
	CHECK_EQ(edge_smbus_read_word(bus, MLX90614_I2C_ADDR, MLX90614_EE_EMISSIVITY, &v, 1), 0);
	CHECK_EQ(v, 0xF332);
	{
		uint8_t bad[4] = {MLX90614_EE_EMISSIVITY, 0x00, 0x10, 0x00};

		CHECK_EQ(edge_i2c_transfer(bus, MLX90614_I2C_ADDR, bad, 4, NULL, 0), -EIO);
	}
	CHECK_EQ(edge_smbus_read_word(bus, 0x80, 0x07, &v, 1), -EINVAL);
	/* nothing at that address: no ACK */
	CHECK_EQ(edge_smbus_read_word(bus, 0x11, 0x07, &v, 1), -ENXIO);
	edge_i2c_close(bus);
	edge_sim_reset();
}

static void test_reg_helpers(void)
{
	struct edge_i2c_bus *bus;
	uint8_t b[4] = {0};

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("i2c9", 0x50, "edge,sim-vitals", NULL), 0);
	CHECK_EQ(edge_sim_i2c_attach("i2c9", 0x50, "edge,sim-vitals", NULL), -EEXIST);
	CHECK_EQ(edge_sim_i2c_attach("i2c9", 0x51, "no,such-part", NULL), -ENOENT);
	CHECK_EQ(edge_i2c_open("sim:i2c9", &bus), 0);
	CHECK_EQ(edge_i2c_reg_read(bus, 0x50, SIM_VITALS_REG_PART_ID, b, 1), 0);
	CHECK_EQ(b[0], SIM_VITALS_PART_ID);
	CHECK_EQ(edge_i2c_reg_write(bus, 0x50, SIM_VITALS_REG_SEED, 0x0f), 0);
	CHECK_EQ(edge_i2c_reg_update(bus, 0x50, SIM_VITALS_REG_SEED, 0xf0, 0xa5), 0);
	CHECK_EQ(edge_i2c_reg_read(bus, 0x50, SIM_VITALS_REG_SEED, b, 1), 0);
	CHECK_EQ(b[0], 0xaf);
	CHECK_EQ(edge_i2c_burst_read(bus, 0x50, SIM_VITALS_REG_PART_ID, b, 2), 0);
	CHECK_EQ(b[0], SIM_VITALS_PART_ID);
	CHECK_EQ(b[1] & SIM_VITALS_STATUS_PROBE, SIM_VITALS_STATUS_PROBE);
	CHECK_EQ(edge_i2c_transfer(bus, 0x50, NULL, 0, NULL, 0), -EINVAL);
	CHECK_EQ(edge_i2c_reg_write_buf(bus, 0x50, 0, b, 100), -EINVAL);
	edge_i2c_close(bus);
	/* the Linux backend reports the missing device node */
	CHECK_EQ(edge_i2c_open("/dev/i2c-no-such-bus", &bus), -ENOENT);
	edge_sim_reset();
}

static void test_chip_knobs(void)
{
	struct edge_sim_chip *chip;
	int64_t v = 0;

	edge_sim_reset();
	CHECK_EQ(edge_sim_i2c_attach("k", 0x48, "maxim,max30205", &chip), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "temp_mdegc", 37000), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "temp_mdegc", 500000), -ERANGE);
	CHECK_EQ(edge_sim_chip_set(chip, "no_such_knob", 1), -ENOENT);
	CHECK_EQ(edge_sim_chip_get(chip, "conversions", &v), 0);
	CHECK_EQ(v, 0);
	CHECK(edge_sim_i2c_chip("k", 0x48) == chip);
	CHECK(edge_sim_i2c_chip("k", 0x49) == NULL);
	/* the vitals model has no knobs */
	CHECK_EQ(edge_sim_i2c_attach("k", 0x50, "edge,sim-vitals", &chip), 0);
	CHECK_EQ(edge_sim_chip_set(chip, "x", 1), -ENOENT);
	edge_sim_reset();
}

EDGE_CHECK_MAIN(test_pec_known_vectors, test_smbus_word_with_pec, test_reg_helpers, test_chip_knobs)
