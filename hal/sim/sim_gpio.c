/* SPDX-License-Identifier: Apache-2.0 */
/* Sim GPIO lines: levels in memory, edge events through a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../hal_internal.h"
#include "edge/hal/sim.h"

struct sim_line {
	struct edge_gpio_line line;
	struct sim_line *next;
	char chip[32];
	int level;     /* physical */
	int requested; /* a handle is out */
	int evr, evw;  /* event pipe */
	uint32_t seqno;
};

static struct sim_line *lines;

static struct sim_line *line_find(const char *chip, unsigned offset)
{
	for (struct sim_line *l = lines; l; l = l->next)
		if (l->line.offset == offset && strcmp(l->chip, chip) == 0)
			return l;
	return NULL;
}

static int line_get(const char *chip, unsigned offset, struct sim_line **out)
{
	struct sim_line *l = line_find(chip, offset);
	int fds[2];

	if (l) {
		*out = l;
		return 0;
	}
	if (strlen(chip) >= sizeof(l->chip))
		return -ENAMETOOLONG;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	l->evr = fds[0];
	l->evw = fds[1];
	l->line.offset = offset;
	snprintf(l->chip, sizeof(l->chip), "%s", chip);
	l->next = lines;
	lines = l;
	*out = l;
	return 0;
}

static int active_low(const struct sim_line *l)
{
	return !!(l->line.flags & EDGE_GPIO_ACTIVE_LOW);
}

static int sim_set(struct edge_gpio_line *gl, int value)
{
	struct sim_line *l = (struct sim_line *)gl;

	l->level = value ^ active_low(l);
	return 0;
}

static int sim_get(struct edge_gpio_line *gl, int *value)
{
	struct sim_line *l = (struct sim_line *)gl;

	*value = l->level ^ active_low(l);
	return 0;
}

static int sim_event_read(struct edge_gpio_line *gl, struct edge_gpio_event *ev)
{
	struct sim_line *l = (struct sim_line *)gl;
	ssize_t n = read(l->evr, ev, sizeof(*ev));

	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n == (ssize_t)sizeof(*ev) ? 1 : -EIO;
}

static int sim_fd(const struct edge_gpio_line *gl)
{
	return ((const struct sim_line *)gl)->evr;
}

static void sim_release(struct edge_gpio_line *gl)
{
	struct sim_line *l = (struct sim_line *)gl;
	struct edge_gpio_event ev;

	l->requested = 0;
	while (read(l->evr, &ev, sizeof(ev)) > 0) {
		/* drop queued events with the request, as the kernel does */
	}
}

static const struct edge_gpio_ops sim_gpio_ops = {
    .set = sim_set,
    .get = sim_get,
    .event_read = sim_event_read,
    .fd = sim_fd,
    .release = sim_release,
};

int edge_hal_sim_gpio_request(const char *chip, unsigned offset, unsigned flags, int initial,
			      struct edge_gpio_line **out)
{
	struct sim_line *l;
	int err = line_get(chip, offset, &l);

	if (err)
		return err;
	if (l->requested)
		return -EBUSY;
	l->line.ops = &sim_gpio_ops;
	l->line.flags = flags;
	l->requested = 1;
	if (flags & EDGE_GPIO_OUTPUT)
		l->level = initial ^ active_low(l);
	else if (flags & EDGE_GPIO_PULL_UP)
		l->level = 1;
	else if (flags & EDGE_GPIO_PULL_DOWN)
		l->level = 0;
	*out = &l->line;
	return 0;
}

int edge_sim_gpio_level(const char *chip, unsigned offset)
{
	struct sim_line *l = chip ? line_find(chip, offset) : NULL;

	return l ? l->level : -ENOENT;
}

int edge_sim_gpio_drive(const char *chip, unsigned offset, int level)
{
	struct sim_line *l;
	int err, was;

	if (!chip)
		return -EINVAL;
	err = line_get(chip, offset, &l);
	if (err)
		return err;
	if (l->requested && (l->line.flags & EDGE_GPIO_OUTPUT))
		return -EBUSY; /* contention with the line's own driver */
	level = !!level;
	was = l->level;
	l->level = level;
	if (l->requested && was != level) {
		int rising = (level ^ active_low(l)) == 1;
		unsigned want = rising ? EDGE_GPIO_EDGE_RISING : EDGE_GPIO_EDGE_FALLING;

		if (l->line.flags & want) {
			struct timespec ts;
			struct edge_gpio_event ev;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ev.timestamp_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
			ev.rising = rising;
			ev.seqno = ++l->seqno;
			if (write(l->evw, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
				return -ENOSPC; /* event buffer full: dropped, as the kernel would
						 */
		}
	}
	return 0;
}

void edge_hal_sim_gpio_reset(void)
{
	while (lines) {
		struct sim_line *l = lines;

		lines = l->next;
		close(l->evr);
		close(l->evw);
		free(l);
	}
}
