/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_SIM_VITALS_REGS_H
#define EDGE_SIM_VITALS_REGS_H
/*
 * Register map of the "edge,sim-vitals" part: a made-up multi-vital front end
 * that the sim board uses so the whole pipeline runs without hardware.
 * Multi-byte values are big-endian. Reading VITALS_HR latches a snapshot, so
 * a burst read of VITALS_HR..VITALS_LON_0 is consistent.
 */
#define SIM_VITALS_REG_PART_ID	0x00 /* reads SIM_VITALS_PART_ID */
#define SIM_VITALS_REG_STATUS	0x01 /* bit0: data ready, bit1: probe attached */
#define SIM_VITALS_REG_CTRL	0x02 /* bit0: enable, bit7: reset (self-clearing) */
#define SIM_VITALS_REG_HR	0x03 /* u8 bpm */
#define SIM_VITALS_REG_SPO2	0x04 /* u8 percent */
#define SIM_VITALS_REG_SYS	0x05 /* u8 mmHg */
#define SIM_VITALS_REG_DIA	0x06 /* u8 mmHg */
#define SIM_VITALS_REG_TEMP	0x07 /* s16 centi-degC, 2 bytes */
#define SIM_VITALS_REG_LAT	0x09 /* s32 1e-7 deg, 4 bytes */
#define SIM_VITALS_REG_LON	0x0d /* s32 1e-7 deg, 4 bytes */
#define SIM_VITALS_REG_SEED	0x11 /* u8 phase seed (device-specific variation) */
#define SIM_VITALS_NREGS	0x12
#define SIM_VITALS_BURST_LEN	(SIM_VITALS_REG_LON + 4 - SIM_VITALS_REG_HR)
#define SIM_VITALS_PART_ID	0xE5
#define SIM_VITALS_CTRL_EN	0x01
#define SIM_VITALS_CTRL_RESET	0x80
#define SIM_VITALS_STATUS_DRDY	0x01
#define SIM_VITALS_STATUS_PROBE 0x02
#endif
