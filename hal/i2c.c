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
