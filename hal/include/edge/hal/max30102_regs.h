/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_MAX30102_REGS_H
#define EDGE_MAX30102_REGS_H
/* MAX30102 / MAX30101 register map (Maxim datasheet, "Register Map"). */
#define MAX30102_I2C_ADDR 0x57

#define MAX30102_REG_INT_STATUS1 0x00 /* A_FULL b7, PPG_RDY b6, ALC_OVF b5, PWR_RDY b0 */
#define MAX30102_REG_INT_STATUS2 0x01 /* DIE_TEMP_RDY b1 */
#define MAX30102_REG_INT_ENABLE1 0x02
#define MAX30102_REG_INT_ENABLE2 0x03
#define MAX30102_REG_FIFO_WR_PTR 0x04 /* 5 bits */
#define MAX30102_REG_OVF_COUNTER 0x05 /* 5 bits, saturates at 31 */
#define MAX30102_REG_FIFO_RD_PTR 0x06 /* 5 bits */
#define MAX30102_REG_FIFO_DATA	 0x07 /* reads stream samples, no auto-increment */
#define MAX30102_REG_FIFO_CONFIG 0x08 /* SMP_AVE[7:5] ROLLOVER_EN[4] A_FULL[3:0] */
#define MAX30102_REG_MODE_CONFIG 0x09 /* SHDN[7] RESET[6] MODE[2:0] */
#define MAX30102_REG_SPO2_CONFIG 0x0A /* ADC_RGE[6:5] SR[4:2] LED_PW[1:0] */
#define MAX30102_REG_LED1_PA	 0x0C /* red, 0.2 mA/LSB */
#define MAX30102_REG_LED2_PA	 0x0D /* IR */
#define MAX30102_REG_LED3_PA	 0x0E /* green (MAX30101 only) */
#define MAX30102_REG_MULTI_LED1	 0x11 /* SLOT2[6:4] SLOT1[2:0] */
#define MAX30102_REG_MULTI_LED2	 0x12 /* SLOT4[6:4] SLOT3[2:0] */
#define MAX30102_REG_TINT	 0x1F /* die temperature, integer degC (s8) */
#define MAX30102_REG_TFRAC	 0x20 /* 0.0625 degC LSB, [3:0] */
#define MAX30102_REG_TEMP_CONFIG 0x21 /* TEMP_EN b0, self-clearing */
#define MAX30102_REG_REV_ID	 0xFE
#define MAX30102_REG_PART_ID	 0xFF
#define MAX30102_NREGS		 0x100

#define MAX30102_PART_ID 0x15 /* MAX30101 reads the same */

#define MAX30102_INT_A_FULL	    0x80
#define MAX30102_INT_PPG_RDY	    0x40
#define MAX30102_INT_ALC_OVF	    0x20
#define MAX30102_INT_PWR_RDY	    0x01
#define MAX30102_INT_DIE_TEMP_RDY   0x02
#define MAX30102_FIFO_ROLLOVER_EN   0x10
#define MAX30102_FIFO_SMP_AVE_SHIFT 5
#define MAX30102_MODE_SHDN	    0x80
#define MAX30102_MODE_RESET	    0x40
#define MAX30102_MODE_HR	    0x02 /* red only */
#define MAX30102_MODE_SPO2	    0x03 /* red + IR */
#define MAX30102_MODE_MULTI	    0x07
#define MAX30102_SPO2_ADC_RGE_SHIFT 5
#define MAX30102_SPO2_SR_SHIFT	    2
#define MAX30102_FIFO_DEPTH	    32
#define MAX30102_SAMPLE_MAX	    0x3FFFF /* 18-bit ADC */

/* SPO2_SR field (0..7) -> samples per second */
static inline unsigned max30102_sr_hz(unsigned field)
{
	static const unsigned hz[8] = {50, 100, 200, 400, 800, 1000, 1600, 3200};

	return hz[field & 7u];
}
#endif
