/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_GPIO_H
#define EDGE_HAL_GPIO_H
/*
 * GPIO lines: outputs (status LED, sensor enable), inputs and edge events
 * (data-ready interrupts, buttons). A line is requested from a chip named by
 * the board descriptor: "gpiochip0" or "/dev/gpiochip0" on Linux (GPIO
 * character device, v2 uAPI), "sim:NAME" on the sim backend.
 *
 * Values are logical: 1 = active. EDGE_GPIO_ACTIVE_LOW inverts the physical
 * level, as the kernel does. "Rising" means inactive -> active.
 *
 * All functions return 0 or a negative errno. The HAL never logs and never
 * allocates after the request.
 */
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum edge_gpio_flags {
	EDGE_GPIO_INPUT = 1u << 0,
	EDGE_GPIO_OUTPUT = 1u << 1,
	EDGE_GPIO_ACTIVE_LOW = 1u << 2,
	EDGE_GPIO_EDGE_RISING = 1u << 3, /* inputs only */
	EDGE_GPIO_EDGE_FALLING = 1u << 4,
	EDGE_GPIO_PULL_UP = 1u << 5,
	EDGE_GPIO_PULL_DOWN = 1u << 6,
};

struct edge_gpio_event {
	uint64_t timestamp_ns; /* CLOCK_MONOTONIC */
	int rising;	       /* 1: became active, 0: became inactive */
	uint32_t seqno;	       /* per line, starting at 1 */
};

struct edge_gpio_line;

struct edge_gpio_ops {
	int (*set)(struct edge_gpio_line *l, int value);
	int (*get)(struct edge_gpio_line *l, int *value);
	int (*event_read)(struct edge_gpio_line *l, struct edge_gpio_event *ev);
	int (*fd)(const struct edge_gpio_line *l);
	void (*release)(struct edge_gpio_line *l);
};

/* Backends embed this as their first member. */
struct edge_gpio_line {
	const struct edge_gpio_ops *ops;
	unsigned flags;
	unsigned offset;
};

/* Requests one line. Exactly one of EDGE_GPIO_INPUT / EDGE_GPIO_OUTPUT;
 * initial is the logical value of an output. consumer labels the line in
 * the kernel (may be NULL). Caller frees with edge_gpio_release(). */
int edge_gpio_request(const char *chip, unsigned offset, unsigned flags, int initial,
		      const char *consumer, struct edge_gpio_line **out);
void edge_gpio_release(struct edge_gpio_line *l);

int edge_gpio_set(struct edge_gpio_line *l, int value); /* outputs only */
int edge_gpio_get(struct edge_gpio_line *l, int *value);
/* Pollable descriptor, readable while edge events are queued; -EINVAL for a
 * line requested without edge flags. Owned by the line. */
int edge_gpio_fd(const struct edge_gpio_line *l);
/* 1 and *ev filled when an event was queued, 0 when none (never blocks). */
int edge_gpio_event_read(struct edge_gpio_line *l, struct edge_gpio_event *ev);

#ifdef __cplusplus
}
#endif
#endif
