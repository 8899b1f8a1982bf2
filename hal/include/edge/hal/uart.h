/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_UART_H
#define EDGE_HAL_UART_H
/*
 * Serial ports for drivers (GPS receivers, serial sensors). A port is opened
 * by name from the board descriptor: "/dev/serial0" on Linux (termios, raw
 * mode, non-blocking) or "sim:NAME" on the sim backend (see edge/hal/sim.h).
 *
 * Reads never block: edge_uart_read() returns what is available now, 0 when
 * nothing is. edge_uart_fd() is a descriptor the agent adds to its poll()
 * set (POLLIN); when it is readable, edge_uart_read() returns data.
 *
 * All functions return 0 (or a byte count) or a negative errno. The HAL never
 * logs and never allocates after open.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum edge_uart_parity {
	EDGE_UART_PARITY_NONE,
	EDGE_UART_PARITY_EVEN,
	EDGE_UART_PARITY_ODD,
};

struct edge_uart_config {
	uint32_t baud; /* 1200 ... 4000000; must be a rate termios knows */
	enum edge_uart_parity parity;
	uint8_t data_bits; /* 5..8; 0 means 8 */
	uint8_t stop_bits; /* 1 or 2; 0 means 1 */
};

struct edge_uart;

struct edge_uart_ops {
	ssize_t (*read)(struct edge_uart *u, uint8_t *buf, size_t len);
	ssize_t (*write)(struct edge_uart *u, const uint8_t *buf, size_t len);
	int (*fd)(const struct edge_uart *u);
	void (*close)(struct edge_uart *u);
};

/* Backends embed this as their first member. */
struct edge_uart {
	const struct edge_uart_ops *ops;
	char name[64];
};

/* Opens a port. cfg may be NULL for 9600 8N1. Caller frees with
 * edge_uart_close(). -EINVAL for a baud rate termios does not support. */
int edge_uart_open(const char *name, const struct edge_uart_config *cfg, struct edge_uart **out);
void edge_uart_close(struct edge_uart *u);

/* Up to len bytes that are available now; 0 when none (never blocks). */
ssize_t edge_uart_read(struct edge_uart *u, uint8_t *buf, size_t len);
/* Bytes accepted (may be fewer than len when the output buffer is full). */
ssize_t edge_uart_write(struct edge_uart *u, const uint8_t *buf, size_t len);
/* Pollable descriptor (POLLIN = data to read), owned by the port. */
int edge_uart_fd(const struct edge_uart *u);

#ifdef __cplusplus
}
#endif
#endif
