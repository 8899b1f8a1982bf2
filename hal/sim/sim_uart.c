/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sim UART ports: a socketpair per port (dev end for the driver, sim end fed
 * by tests and stream models), a timerfd for the stream model's next output
 * and an epoll descriptor over both that the driver's poll() sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../hal_internal.h"
#include "edge/hal/sim.h"
#include "sim_models.h"

#define TX_HISTORY 256

struct sim_port {
	struct edge_uart uart;
	struct sim_port *next;
	int dev; /* driver's end */
	int sim; /* feeding end */
	int tfd; /* timerfd: next stream output due */
	int epfd;
	struct edge_sim_stream stream; /* ops == NULL: no model */
	uint64_t next_ms;
	struct edge_uart_config cfg;
	uint8_t tx[TX_HISTORY];
	size_t tx_len;
};

static struct sim_port *ports;

const struct edge_sim_stream_ops *edge_sim_stream_find(const char *compatible)
{
	size_t n;
	const struct edge_sim_stream_ops *const *all = edge_sim_streams(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i]->compatible, compatible) == 0)
			return all[i];
	return NULL;
}

static struct sim_port *port_find(const char *name)
{
	for (struct sim_port *p = ports; p; p = p->next)
		if (strcmp(p->uart.name, name) == 0)
			return p;
	return NULL;
}

static void arm(struct sim_port *p, uint64_t now)
{
	struct itimerspec its = {0};
	uint64_t d = p->next_ms > now ? p->next_ms - now : 1;

	its.it_value.tv_sec = (time_t)(d / 1000);
	its.it_value.tv_nsec = (long)(d % 1000) * 1000000L;
	timerfd_settime(p->tfd, 0, &its, NULL);
}

static long pump(struct sim_port *p)
{
	uint8_t buf[1024];
	uint64_t now, expirations;
	size_t n;
	ssize_t w;

	/* drain the timer; EAGAIN only means it has not fired yet */
	if (read(p->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return -errno;
	if (!p->stream.ops)
		return 0;
	now = edge_sim_time_ms();
	if (now < p->next_ms) {
		arm(p, now);
		return 0;
	}
	n = p->stream.ops->generate(&p->stream, now, buf, sizeof(buf), &p->next_ms);
	arm(p, now);
	if (!n)
		return 0;
	w = send(p->sim, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return w < 0 ? -errno : (long)w;
}

static ssize_t port_read(struct edge_uart *u, uint8_t *buf, size_t len)
{
	struct sim_port *p = (struct sim_port *)u;
	ssize_t n;

	pump(p);
	n = recv(p->dev, buf, len, MSG_DONTWAIT);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n;
}

static ssize_t port_write(struct edge_uart *u, const uint8_t *buf, size_t len)
{
	struct sim_port *p = (struct sim_port *)u;

	/* Bytes the driver sends go to the model and the test-visible history,
	 * not back into the receive direction. */
	for (size_t i = 0; i < len; i++) {
		if (p->tx_len == TX_HISTORY) {
			memmove(p->tx, p->tx + 1, TX_HISTORY - 1);
			p->tx_len--;
		}
		p->tx[p->tx_len++] = buf[i];
	}
	if (p->stream.ops && p->stream.ops->rx)
		p->stream.ops->rx(&p->stream, buf, len);
	return (ssize_t)len;
}

static int port_fd(const struct edge_uart *u)
{
	return ((const struct sim_port *)u)->epfd;
}

/* Ports are owned by the sim registry; closing a handle is a no-op. */
static void port_close(struct edge_uart *u)
{
	(void)u;
}

static const struct edge_uart_ops sim_uart_ops = {
    .read = port_read,
    .write = port_write,
    .fd = port_fd,
    .close = port_close,
};

static void port_free(struct sim_port *p)
{
	if (p->stream.ops)
		free(p->stream.priv);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->tfd >= 0)
		close(p->tfd);
	if (p->dev >= 0)
		close(p->dev);
	if (p->sim >= 0)
		close(p->sim);
	free(p);
}

static int port_get(const char *name, struct sim_port **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct sim_port *p = port_find(name);
	int sv[2], err;

	if (p) {
		*out = p;
		return 0;
	}
	if (strlen(name) >= sizeof(p->uart.name))
		return -ENAMETOOLONG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = p->sim = p->tfd = p->epfd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		goto err_port;
	}
	p->dev = sv[0];
	p->sim = sv[1];
	p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->tfd < 0 || p->epfd < 0) {
		err = -errno;
		goto err_port;
	}
	ev.data.fd = p->dev;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->dev, &ev) < 0) {
		err = -errno;
		goto err_port;
	}
	ev.data.fd = p->tfd;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tfd, &ev) < 0) {
		err = -errno;
		goto err_port;
	}
	p->uart.ops = &sim_uart_ops;
	snprintf(p->uart.name, sizeof(p->uart.name), "%s", name);
	p->cfg.baud = 9600;
	p->next = ports;
	ports = p;
	*out = p;
	return 0;

err_port:
	port_free(p);
	return err;
}

int edge_hal_sim_uart_open(const char *name, const struct edge_uart_config *cfg,
			   struct edge_uart **out)
{
	struct sim_port *p;
	int err = port_get(name, &p);

	if (err)
		return err;
	p->cfg = *cfg;
	*out = &p->uart;
	return 0;
}

int edge_sim_uart_attach(const char *name, const char *compatible, struct edge_sim_stream **out)
{
	const struct edge_sim_stream_ops *ops;
	struct sim_port *p;
	int err;

	if (!name || !compatible)
		return -EINVAL;
	ops = edge_sim_stream_find(compatible);
	if (!ops)
		return -ENOENT;
	err = port_get(name, &p);
	if (err)
		return err;
	if (p->stream.ops)
		return -EEXIST;
	p->stream.priv = ops->priv_size ? calloc(1, ops->priv_size) : NULL;
	if (ops->priv_size && !p->stream.priv)
		return -ENOMEM;
	p->stream.ops = ops;
	if (ops->init) {
		err = ops->init(&p->stream);
		if (err) {
			free(p->stream.priv);
			p->stream.priv = NULL;
			p->stream.ops = NULL;
			return err;
		}
	}
	p->next_ms = 0; /* first output at the next pump */
	arm(p, edge_sim_time_ms());
	if (out)
		*out = &p->stream;
	return 0;
}

struct edge_sim_stream *edge_sim_uart_stream(const char *name)
{
	struct sim_port *p = name ? port_find(name) : NULL;

	return p && p->stream.ops ? &p->stream : NULL;
}

int edge_sim_stream_set(struct edge_sim_stream *st, const char *key, int64_t val)
{
	if (!st || !key)
		return -EINVAL;
	if (!st->ops->set)
		return -ENOENT;
	return st->ops->set(st, key, val);
}

long edge_sim_uart_feed(const char *name, const void *bytes, size_t len)
{
	struct sim_port *p;
	ssize_t n;
	int err;

	if (!name || (len && !bytes))
		return -EINVAL;
	err = port_get(name, &p);
	if (err)
		return err;
	if (!len)
		return 0;
	n = send(p->sim, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return (long)n;
}

long edge_sim_uart_pump(const char *name)
{
	struct sim_port *p = name ? port_find(name) : NULL;

	return p ? pump(p) : -ENOENT;
}

int edge_sim_uart_config(const char *name, struct edge_uart_config *out)
{
	struct sim_port *p = name ? port_find(name) : NULL;

	if (!p || !out)
		return -ENOENT;
	*out = p->cfg;
	return 0;
}

size_t edge_sim_uart_sent(const char *name, void *buf, size_t len)
{
	struct sim_port *p = name ? port_find(name) : NULL;
	size_t n;

	if (!p || !buf)
		return 0;
	n = p->tx_len < len ? p->tx_len : len;
	memcpy(buf, p->tx, n);
	p->tx_len = 0;
	return n;
}

void edge_hal_sim_uart_reset(void)
{
	while (ports) {
		struct sim_port *p = ports;

		ports = p->next;
		port_free(p);
	}
}
