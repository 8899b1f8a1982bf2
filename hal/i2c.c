/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "edge/hal/i2c.h"
#include "hal_internal.h"

int edge_i2c_open(const char *name, struct edge_i2c_bus **out)
{
	if (!name || !out)
		return -EINVAL;
	if (strncmp(name, "sim:", 4) == 0)
		return edge_hal_sim_i2c_open(name + 4, out);
	return edge_hal_linux_i2c_open(name, out);
}

void edge_i2c_close(struct edge_i2c_bus *bus)
{
	if (bus && bus->ops->close)
		bus->ops->close(bus);
}

int edge_i2c_transfer(struct edge_i2c_bus *bus, uint16_t addr, const uint8_t *w, size_t wlen,
		      uint8_t *r, size_t rlen)
{
	if (!bus || (wlen && !w) || (rlen && !r) || (!wlen && !rlen))
		return -EINVAL;
	return bus->ops->transfer(bus, addr, w, wlen, r, rlen);
}

int edge_i2c_reg_read(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t *buf,
		      size_t len)
{
	return edge_i2c_transfer(bus, addr, &reg, 1, buf, len);
}

int edge_i2c_reg_write(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t val)
{
	uint8_t w[2] = {reg, val};

	return edge_i2c_transfer(bus, addr, w, sizeof(w), NULL, 0);
}

int edge_i2c_reg_write_buf(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, const uint8_t *buf,
			   size_t len)
{
	uint8_t w[64];

	if (len + 1 > sizeof(w))
		return -EINVAL;
	w[0] = reg;
	memcpy(w + 1, buf, len);
	return edge_i2c_transfer(bus, addr, w, len + 1, NULL, 0);
}

int edge_i2c_burst_read(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t *buf,
			size_t len)
{
	return edge_i2c_transfer(bus, addr, &reg, 1, buf, len);
}

int edge_i2c_reg_update(struct edge_i2c_bus *bus, uint16_t addr, uint8_t reg, uint8_t mask,
			uint8_t val)
{
	uint8_t cur;
	int err = edge_i2c_reg_read(bus, addr, reg, &cur, 1);

	if (err)
		return err;
	return edge_i2c_reg_write(bus, addr, reg, (uint8_t)((cur & ~mask) | (val & mask)));
}

uint8_t edge_smbus_pec(uint8_t crc, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int b = 0; b < 8; b++)
			crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
	}
	return crc;
}

int edge_smbus_read_word(struct edge_i2c_bus *bus, uint16_t addr, uint8_t cmd, uint16_t *val,
			 int pec)
{
	uint8_t r[3];
	int err;

	if (!val || addr > 0x7f)
		return -EINVAL;
	err = edge_i2c_transfer(bus, addr, &cmd, 1, r, pec ? 3 : 2);
	if (err)
		return err;
	if (pec) {
		uint8_t hdr[3] = {(uint8_t)(addr << 1), cmd, (uint8_t)(addr << 1 | 1)};
		uint8_t crc = edge_smbus_pec(0, hdr, sizeof(hdr));

		if (edge_smbus_pec(crc, r, 2) != r[2])
			return -EBADMSG;
	}
	*val = (uint16_t)(r[0] | r[1] << 8);
	return 0;
}

int edge_smbus_write_word(struct edge_i2c_bus *bus, uint16_t addr, uint8_t cmd, uint16_t val,
			  int pec)
{
	uint8_t w[4] = {cmd, (uint8_t)(val & 0xff), (uint8_t)(val >> 8), 0};

	if (addr > 0x7f)
		return -EINVAL;
	if (pec) {
		uint8_t a = (uint8_t)(addr << 1);

		w[3] = edge_smbus_pec(edge_smbus_pec(0, &a, 1), w, 3);
	}
	return edge_i2c_transfer(bus, addr, w, pec ? 4 : 3, NULL, 0);
}
