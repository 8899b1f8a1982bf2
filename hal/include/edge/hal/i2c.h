/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_I2C_H
#define EDGE_HAL_I2C_H
/*
 * I2C bus access for drivers. A bus is opened by name from the board
 * descriptor ("/dev/i2c-1" on Linux, "sim:i2c0" on the sim backend) and is
 * driven through a small ops table, so drivers never see the backend.
 *
 * All functions return 0 or a negative errno. The HAL never logs and never
 * allocates after open.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct edge_i2c_bus;

struct edge_i2c_bus_ops {
	/* Write wlen bytes then (repeated start) read rlen bytes; either may be 0. */
	int (*transfer)(struct edge_i2c_bus *bus, uint16_t addr, const uint8_t *w, size_t wlen,
			uint8_t *r, size_t rlen);
	void (*close)(struct edge_i2c_bus *bus);
};

/* Backends embed this as their first member. */
struct edge_i2c_bus {
	const struct edge_i2c_bus_ops *ops;
	char name[64];
};

/* Opens "/dev/i2c-N" (Linux) or "sim:NAME" (sim backend, see edge/hal/sim.h).
 * Caller frees with edge_i2c_close(). */
int edge_i2c_open(const char *name, struct edge_i2c_bus **out);
void edge_i2c_close(struct edge_i2c_bus *bus);

int edge_i2c_transfer(struct edge_i2c_bus *bus, uint16_t addr, const uint8_t *w, size_t wlen,
		      uint8_t *r, size_t rlen);
int edge_i2c_reg_read(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t *buf,
		      size_t len);
int edge_i2c_reg_write(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t val);
int edge_i2c_reg_write_buf(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, const uint8_t *buf,
			   size_t len);
/* Burst read of len bytes starting at reg (the part auto-increments or, for
 * a FIFO data register, streams). Same transaction as edge_i2c_reg_read(). */
int edge_i2c_burst_read(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t *buf,
			size_t len);
/* Read-modify-write of the bits in mask. */
int edge_i2c_reg_update(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t mask,
			uint8_t val);

/*
 * SMBus Packet Error Code: CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial
 * value 0, no reflection, computed over every byte of the message as it
 * appears on the wire, address bytes included (address<<1 | R/W).
 * Pass the previous result as crc to continue a computation.
 */
uint8_t edge_smbus_pec(uint8_t crc, const uint8_t *data, size_t len);

/* SMBus "read word" (command, repeated start, LSB, MSB[, PEC]). With pec
 * set, the PEC byte is checked and a mismatch is -EBADMSG; *val is left
 * untouched on any error. */
int edge_smbus_read_word(struct edge_i2c_bus *bus, uint16_t addr, uint8_t cmd, uint16_t *val,
			 int pec);
/* SMBus "write word" (command, LSB, MSB[, PEC]). */
int edge_smbus_write_word(struct edge_i2c_bus *bus, uint16_t addr, uint8_t cmd, uint16_t val,
			  int pec);

#ifdef __cplusplus
}
#endif
#endif
