/* SPDX-License-Identifier: Apache-2.0 */
/* termios backend: raw mode, non-blocking, close-on-exec. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "../hal_internal.h"

struct linux_uart {
	struct edge_uart uart;
	int fd;
};

static const struct {
	uint32_t baud;
	speed_t speed;
} rates[] = {
    {1200, B1200},	 {2400, B2400},	      {4800, B4800},	   {9600, B9600},
    {19200, B19200},	 {38400, B38400},     {57600, B57600},	   {115200, B115200},
    {230400, B230400},	 {460800, B460800},   {921600, B921600},   {1000000, B1000000},
    {2000000, B2000000}, {3000000, B3000000}, {4000000, B4000000},
};

static int baud_to_speed(uint32_t baud, speed_t *out)
{
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		if (rates[i].baud == baud) {
			*out = rates[i].speed;
			return 0;
		}
	}
	return -EINVAL;
}

static ssize_t linux_read(struct edge_uart *u, uint8_t *buf, size_t len)
{
	struct linux_uart *lu = (struct linux_uart *)u;
	ssize_t n;

	do {
		n = read(lu->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n;
}

static ssize_t linux_write(struct edge_uart *u, const uint8_t *buf, size_t len)
{
	struct linux_uart *lu = (struct linux_uart *)u;
	ssize_t n;

	do {
		n = write(lu->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n;
}

static int linux_fd(const struct edge_uart *u)
{
	return ((const struct linux_uart *)u)->fd;
}

static void linux_close(struct edge_uart *u)
{
	struct linux_uart *lu = (struct linux_uart *)u;

	close(lu->fd);
	free(lu);
}

static const struct edge_uart_ops linux_uart_ops = {
    .read = linux_read,
    .write = linux_write,
    .fd = linux_fd,
    .close = linux_close,
};

int edge_hal_linux_uart_open(const char *path, const struct edge_uart_config *cfg,
			     struct edge_uart **out)
{
	static const tcflag_t csize[] = {CS5, CS6, CS7, CS8};
	struct linux_uart *lu;
	struct termios tio;
	speed_t speed;
	int fd, err;

	err = baud_to_speed(cfg->baud, &speed);
	if (err)
		return err;
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!isatty(fd)) {
		err = -ENOTTY;
		goto err_fd;
	}
	if (tcgetattr(fd, &tio) < 0) {
		err = -errno;
		goto err_fd;
	}
	cfmakeraw(&tio);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
	tio.c_cflag |= CLOCAL | CREAD | csize[cfg->data_bits - 5];
	if (cfg->parity != EDGE_UART_PARITY_NONE) {
		tio.c_cflag |= PARENB;
		if (cfg->parity == EDGE_UART_PARITY_ODD)
			tio.c_cflag |= PARODD;
		tio.c_iflag |= INPCK;
	}
	if (cfg->stop_bits == 2)
		tio.c_cflag |= CSTOPB;
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	if (cfsetispeed(&tio, speed) < 0 || cfsetospeed(&tio, speed) < 0 ||
	    tcsetattr(fd, TCSANOW, &tio) < 0) {
		err = -errno;
		goto err_fd;
	}
	tcflush(fd, TCIOFLUSH);
	lu = calloc(1, sizeof(*lu));
	if (!lu) {
		err = -ENOMEM;
		goto err_fd;
	}
	lu->uart.ops = &linux_uart_ops;
	snprintf(lu->uart.name, sizeof(lu->uart.name), "%s", path);
	lu->fd = fd;
	*out = &lu->uart;
	return 0;

err_fd:
	close(fd);
	return err;
}
