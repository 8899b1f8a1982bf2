/* SPDX-License-Identifier: Apache-2.0 */
/* GPIO: sim lines (levels, active-low, edge events through a pollable fd). */
#include <errno.h>
#include <poll.h>

#include "edge/hal/gpio.h"
#include "edge/hal/sim.h"
#include "edge_check.h"

static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_output_levels(void)
{
	struct edge_gpio_line *led, *inv;
	int v = -1;

	edge_sim_reset();
	CHECK_EQ(edge_sim_gpio_level("chip0", 17), -ENOENT);
	CHECK_EQ(edge_gpio_request("sim:chip0", 17, EDGE_GPIO_OUTPUT, 1, "led", &led), 0);
	CHECK_EQ(edge_sim_gpio_level("chip0", 17), 1);
	CHECK_EQ(edge_gpio_set(led, 0), 0);
	CHECK_EQ(edge_sim_gpio_level("chip0", 17), 0);
	CHECK_EQ(edge_gpio_get(led, &v), 0);
	CHECK_EQ(v, 0);
	/* active-low: logical 1 drives the pin low */
	CHECK_EQ(edge_gpio_request("sim:chip0", 18, EDGE_GPIO_OUTPUT | EDGE_GPIO_ACTIVE_LOW, 0,
				   NULL, &inv),
		 0);
	CHECK_EQ(edge_sim_gpio_level("chip0", 18), 1);
	CHECK_EQ(edge_gpio_set(inv, 1), 0);
	CHECK_EQ(edge_sim_gpio_level("chip0", 18), 0);
	/* one owner per line; the test cannot fight an output */
	CHECK_EQ(edge_gpio_request("sim:chip0", 17, EDGE_GPIO_OUTPUT, 0, NULL, &inv), -EBUSY);
	CHECK_EQ(edge_sim_gpio_drive("chip0", 17, 1), -EBUSY);
	/* outputs have no events */
	CHECK_EQ(edge_gpio_fd(led), -EINVAL);
	edge_gpio_release(led);
	edge_gpio_release(inv);
	CHECK_EQ(edge_gpio_request("sim:chip0", 17, EDGE_GPIO_OUTPUT, 0, NULL, &led), 0);
	edge_gpio_release(led);
	edge_sim_reset();
}

static void test_input_edges(void)
{
	struct edge_gpio_line *btn;
	struct edge_gpio_event ev;
	int v = -1, fd;

	edge_sim_reset();
	CHECK_EQ(edge_gpio_request("sim:chip1", 4,
				   EDGE_GPIO_INPUT | EDGE_GPIO_EDGE_RISING |
				       EDGE_GPIO_EDGE_FALLING | EDGE_GPIO_PULL_UP |
				       EDGE_GPIO_ACTIVE_LOW,
				   0, "button", &btn),
		 0);
	/* pulled up + active low: idle reads inactive */
	CHECK_EQ(edge_gpio_get(btn, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(edge_gpio_set(btn, 1), -EPERM);
	fd = edge_gpio_fd(btn);
	CHECK(fd >= 0);
	CHECK(!readable(fd));
	CHECK_EQ(edge_gpio_event_read(btn, &ev), 0);
	/* press: pin goes low = logical rising edge */
	CHECK_EQ(edge_sim_gpio_drive("chip1", 4, 0), 0);
	CHECK(readable(fd));
	CHECK_EQ(edge_gpio_get(btn, &v), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(edge_sim_gpio_drive("chip1", 4, 1), 0);
	CHECK_EQ(edge_sim_gpio_drive("chip1", 4, 1), 0); /* no change, no event */
	CHECK_EQ(edge_gpio_event_read(btn, &ev), 1);
	CHECK_EQ(ev.rising, 1);
	CHECK_EQ(ev.seqno, 1);
	CHECK(ev.timestamp_ns > 0);
	CHECK_EQ(edge_gpio_event_read(btn, &ev), 1);
	CHECK_EQ(ev.rising, 0);
	CHECK_EQ(ev.seqno, 2);
	CHECK_EQ(edge_gpio_event_read(btn, &ev), 0);
	CHECK(!readable(fd));
	edge_gpio_release(btn);
	edge_sim_reset();
}

static void test_rising_only(void)
{
	struct edge_gpio_line *l;
	struct edge_gpio_event ev;

	edge_sim_reset();
	CHECK_EQ(
	    edge_gpio_request("sim:chip2", 1, EDGE_GPIO_INPUT | EDGE_GPIO_EDGE_RISING, 0, NULL, &l),
	    0);
	CHECK_EQ(edge_sim_gpio_drive("chip2", 1, 1), 0);
	CHECK_EQ(edge_sim_gpio_drive("chip2", 1, 0), 0);
	CHECK_EQ(edge_gpio_event_read(l, &ev), 1);
	CHECK_EQ(ev.rising, 1);
	CHECK_EQ(edge_gpio_event_read(l, &ev), 0); /* the falling edge was not asked for */
	edge_gpio_release(l);
	edge_sim_reset();
}

static void test_bad_requests(void)
{
	struct edge_gpio_line *l;

	CHECK_EQ(edge_gpio_request("sim:c", 0, 0, 0, NULL, &l), -EINVAL);
	CHECK_EQ(edge_gpio_request("sim:c", 0, EDGE_GPIO_INPUT | EDGE_GPIO_OUTPUT, 0, NULL, &l),
		 -EINVAL);
	CHECK_EQ(
	    edge_gpio_request("sim:c", 0, EDGE_GPIO_OUTPUT | EDGE_GPIO_EDGE_RISING, 0, NULL, &l),
	    -EINVAL);
	CHECK_EQ(edge_gpio_request("sim:c", 0,
				   EDGE_GPIO_INPUT | EDGE_GPIO_PULL_UP | EDGE_GPIO_PULL_DOWN, 0,
				   NULL, &l),
		 -EINVAL);
	/* Linux backend: the character device must exist */
	CHECK_EQ(edge_gpio_request("gpiochip-none", 0, EDGE_GPIO_OUTPUT, 0, NULL, &l), -ENOENT);
	edge_sim_reset();
}

EDGE_CHECK_MAIN(test_output_levels, test_input_edges, test_rising_only, test_bad_requests)
