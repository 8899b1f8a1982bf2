/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_MLX90614_REGS_H
#define EDGE_MLX90614_REGS_H
/* MLX90614 infra-red thermometer (Melexis datasheet): SMBus "read word" with
 * PEC. RAM at commands 0x00-0x1F, EEPROM at 0x20 | address. Temperatures are
 * 0.02 K per LSB; bit 15 of an object temperature is an error flag. */
#define MLX90614_I2C_ADDR 0x5A

#define MLX90614_RAM_RAW_IR1   0x04
#define MLX90614_RAM_TA	       0x06
#define MLX90614_RAM_TOBJ1     0x07
#define MLX90614_RAM_TOBJ2     0x08
#define MLX90614_EEPROM	       0x20
#define MLX90614_EE_TOMAX      (MLX90614_EEPROM | 0x00)
#define MLX90614_EE_TOMIN      (MLX90614_EEPROM | 0x01)
#define MLX90614_EE_EMISSIVITY (MLX90614_EEPROM | 0x04) /* 0xFFFF = 1.0 */
#define MLX90614_EE_CONFIG1    (MLX90614_EEPROM | 0x05)
#define MLX90614_EE_SMBUS_ADDR (MLX90614_EEPROM | 0x0E)
#define MLX90614_EE_ID0	       (MLX90614_EEPROM | 0x1C)
#define MLX90614_ERROR_FLAG    0x8000
#define MLX90614_LSB_MK	       20 /* milli-kelvin per LSB */
#endif
