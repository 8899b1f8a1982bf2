/* SPDX-License-Identifier: Apache-2.0 */
/* GPIO character device backend, v2 uAPI (Linux >= 5.10). */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../hal_internal.h"

struct linux_line {
	struct edge_gpio_line line;
	int fd; /* line request fd: values ioctls and edge events */
};

static int linux_set(struct edge_gpio_line *l, int value)
{
	struct linux_line *ll = (struct linux_line *)l;
	struct gpio_v2_line_values v = {.bits = value ? 1u : 0u, .mask = 1};

	return ioctl(ll->fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v) < 0 ? -errno : 0;
}

static int linux_get(struct edge_gpio_line *l, int *value)
{
	struct linux_line *ll = (struct linux_line *)l;
	struct gpio_v2_line_values v = {.mask = 1};

	if (ioctl(ll->fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v) < 0)
		return -errno;
	*value = (int)(v.bits & 1u);
	return 0;
}

static int linux_event_read(struct edge_gpio_line *l, struct edge_gpio_event *ev)
{
	struct linux_line *ll = (struct linux_line *)l;
	struct gpio_v2_line_event ke;
	ssize_t n;

	do {
		n = read(ll->fd, &ke, sizeof(ke));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	if ((size_t)n != sizeof(ke))
		return -EIO;
	ev->timestamp_ns = ke.timestamp_ns;
	ev->rising = ke.id == GPIO_V2_LINE_EVENT_RISING_EDGE;
	ev->seqno = ke.line_seqno;
	return 1;
}

static int linux_fd(const struct edge_gpio_line *l)
{
	return ((const struct linux_line *)l)->fd;
}

static void linux_release(struct edge_gpio_line *l)
{
	struct linux_line *ll = (struct linux_line *)l;

	close(ll->fd);
	free(ll);
}

static const struct edge_gpio_ops linux_gpio_ops = {
    .set = linux_set,
    .get = linux_get,
    .event_read = linux_event_read,
    .fd = linux_fd,
    .release = linux_release,
};

static uint64_t kernel_flags(unsigned flags)
{
	uint64_t f = 0;

	f |= (flags & EDGE_GPIO_OUTPUT) ? GPIO_V2_LINE_FLAG_OUTPUT : GPIO_V2_LINE_FLAG_INPUT;
	if (flags & EDGE_GPIO_ACTIVE_LOW)
		f |= GPIO_V2_LINE_FLAG_ACTIVE_LOW;
	if (flags & EDGE_GPIO_EDGE_RISING)
		f |= GPIO_V2_LINE_FLAG_EDGE_RISING;
	if (flags & EDGE_GPIO_EDGE_FALLING)
		f |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
	if (flags & EDGE_GPIO_PULL_UP)
		f |= GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
	if (flags & EDGE_GPIO_PULL_DOWN)
		f |= GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
	return f;
}

int edge_hal_linux_gpio_request(const char *chip, unsigned offset, unsigned flags, int initial,
				const char *consumer, struct edge_gpio_line **out)
{
	struct gpio_v2_line_request req;
	struct linux_line *ll;
	char path[128];
	int cfd, fl, err;

	if (chip[0] == '/')
		snprintf(path, sizeof(path), "%s", chip);
	else
		snprintf(path, sizeof(path), "/dev/%s", chip);
	memset(&req, 0, sizeof(req));
	req.offsets[0] = offset;
	req.num_lines = 1;
	snprintf(req.consumer, sizeof(req.consumer), "%s", consumer ? consumer : "edge-agent");
	req.config.flags = kernel_flags(flags);
	if (flags & EDGE_GPIO_OUTPUT) {
		req.config.num_attrs = 1;
		req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
		req.config.attrs[0].attr.values = initial ? 1u : 0u;
		req.config.attrs[0].mask = 1;
	}
	if (flags & (EDGE_GPIO_EDGE_RISING | EDGE_GPIO_EDGE_FALLING))
		req.event_buffer_size = 16;

	cfd = open(path, O_RDWR | O_CLOEXEC);
	if (cfd < 0)
		return -errno;
	if (ioctl(cfd, GPIO_V2_GET_LINE_IOCTL, &req) < 0) {
		err = -errno;
		goto err_chip;
	}
	fl = fcntl(req.fd, F_GETFL);
	if (fl < 0 || fcntl(req.fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		goto err_req;
	}
	ll = calloc(1, sizeof(*ll));
	if (!ll) {
		err = -ENOMEM;
		goto err_req;
	}
	ll->line.ops = &linux_gpio_ops;
	ll->line.flags = flags;
	ll->line.offset = offset;
	ll->fd = req.fd;
	close(cfd); /* the line request fd stays valid on its own */
	*out = &ll->line;
	return 0;

err_req:
	close(req.fd);
err_chip:
	close(cfd);
	return err;
}
