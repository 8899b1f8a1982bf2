/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_MAX30205_REGS_H
#define EDGE_MAX30205_REGS_H
/* MAX30205 human body temperature sensor (Maxim datasheet). 16-bit registers
 * are MSB first; temperature is two's complement, 1/256 degC per LSB. */
#define MAX30205_I2C_ADDR 0x48 /* 0x48..0x4F and more, set by A0-A2 */

#define MAX30205_REG_TEMP   0x00
#define MAX30205_REG_CONFIG 0x01 /* 8 bits */
#define MAX30205_REG_THYST  0x02 /* POR 0x4B00 = 75 degC */
#define MAX30205_REG_TOS    0x03 /* POR 0x5000 = 80 degC */

#define MAX30205_CFG_SHUTDOWN  0x01
#define MAX30205_CFG_INTERRUPT 0x02
#define MAX30205_CFG_OS_POL    0x04
#define MAX30205_CFG_FAULT_Q   0x18
#define MAX30205_CFG_EXTENDED  0x20 /* temperature = register + 64 degC */
#define MAX30205_CFG_TIMEOUT   0x40
#define MAX30205_CFG_ONE_SHOT  0x80
#define MAX30205_THYST_POR     0x4B00
#define MAX30205_TOS_POR       0x5000
#define MAX30205_CONVERSION_MS 50 /* t_CONV max */
#endif
