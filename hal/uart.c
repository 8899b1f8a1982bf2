/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "edge/hal/uart.h"
#include "hal_internal.h"

int edge_uart_open(const char *name, const struct edge_uart_config *cfg, struct edge_uart **out)
{
	static const struct edge_uart_config def = {.baud = 9600};
	struct edge_uart_config c;

	if (!name || !out)
		return -EINVAL;
	c = cfg ? *cfg : def;
	if (!c.data_bits)
		c.data_bits = 8;
	if (!c.stop_bits)
		c.stop_bits = 1;
	if (c.data_bits < 5 || c.data_bits > 8 || c.stop_bits > 2 ||
	    c.parity > EDGE_UART_PARITY_ODD || !c.baud)
		return -EINVAL;
	if (strncmp(name, "sim:", 4) == 0)
		return edge_hal_sim_uart_open(name + 4, &c, out);
	return edge_hal_linux_uart_open(name, &c, out);
}

void edge_uart_close(struct edge_uart *u)
{
	if (u && u->ops->close)
		u->ops->close(u);
}

ssize_t edge_uart_read(struct edge_uart *u, uint8_t *buf, size_t len)
{
	if (!u || (len && !buf))
		return -EINVAL;
	if (!len)
		return 0;
	return u->ops->read(u, buf, len);
}

ssize_t edge_uart_write(struct edge_uart *u, const uint8_t *buf, size_t len)
{
	if (!u || (len && !buf))
		return -EINVAL;
	if (!len)
		return 0;
	return u->ops->write(u, buf, len);
}

int edge_uart_fd(const struct edge_uart *u)
{
	return u ? u->ops->fd(u) : -EINVAL;
}
