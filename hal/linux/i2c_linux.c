/* SPDX-License-Identifier: Apache-2.0 */
/* i2c-dev backend: every transaction is one I2C_RDWR ioctl. */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../hal_internal.h"

struct linux_i2c {
	struct edge_i2c_bus bus;
	int fd;
};

static int linux_transfer(struct edge_i2c_bus *bus, uint16_t addr, const uint8_t *w, size_t wlen,
			  uint8_t *r, size_t rlen)
{
	struct linux_i2c *li = (struct linux_i2c *)bus;
	struct i2c_msg msgs[2];
	struct i2c_rdwr_ioctl_data xfer = {.msgs = msgs, .nmsgs = 0};

	if (wlen > UINT16_MAX || rlen > UINT16_MAX)
		return -EINVAL;
	if (wlen) {
		msgs[xfer.nmsgs++] = (struct i2c_msg){.addr = addr,
						      .flags = 0,
						      .len = (uint16_t)wlen,
						      .buf = (uint8_t *)(uintptr_t)w};
	}
	if (rlen) {
		msgs[xfer.nmsgs++] = (struct i2c_msg){
		    .addr = addr, .flags = I2C_M_RD, .len = (uint16_t)rlen, .buf = r};
	}
	if (ioctl(li->fd, I2C_RDWR, &xfer) < 0)
		return -errno;
	return 0;
}

static void linux_close(struct edge_i2c_bus *bus)
{
	struct linux_i2c *li = (struct linux_i2c *)bus;

	close(li->fd);
	free(li);
}

static const struct edge_i2c_bus_ops linux_ops = {
    .transfer = linux_transfer,
    .close = linux_close,
};

int edge_hal_linux_i2c_open(const char *path, struct edge_i2c_bus **out)
{
	struct linux_i2c *li;
	unsigned long funcs = 0;
	int fd, err;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, I2C_FUNCS, &funcs) < 0) {
		err = -errno;
		goto err_fd;
	}
	if (!(funcs & I2C_FUNC_I2C)) {
		err = -ENOTSUP;
		goto err_fd;
	}
	li = calloc(1, sizeof(*li));
	if (!li) {
		err = -ENOMEM;
		goto err_fd;
	}
	li->bus.ops = &linux_ops;
	snprintf(li->bus.name, sizeof(li->bus.name), "%s", path);
	li->fd = fd;
	*out = &li->bus;
	return 0;

err_fd:
	close(fd);
	return err;
}
