/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "edge/hal/gpio.h"
#include "hal_internal.h"

int edge_gpio_request(const char *chip, unsigned offset, unsigned flags, int initial,
		      const char *consumer, struct edge_gpio_line **out)
{
	unsigned dir = flags & (EDGE_GPIO_INPUT | EDGE_GPIO_OUTPUT);
	unsigned edges = flags & (EDGE_GPIO_EDGE_RISING | EDGE_GPIO_EDGE_FALLING);

	if (!chip || !out || (dir != EDGE_GPIO_INPUT && dir != EDGE_GPIO_OUTPUT))
		return -EINVAL;
	if (edges && dir == EDGE_GPIO_OUTPUT)
		return -EINVAL;
	if ((flags & EDGE_GPIO_PULL_UP) && (flags & EDGE_GPIO_PULL_DOWN))
		return -EINVAL;
	if (offset > 1023)
		return -EINVAL;
	if (strncmp(chip, "sim:", 4) == 0)
		return edge_hal_sim_gpio_request(chip + 4, offset, flags, !!initial, out);
	return edge_hal_linux_gpio_request(chip, offset, flags, !!initial, consumer, out);
}

void edge_gpio_release(struct edge_gpio_line *l)
{
	if (l)
		l->ops->release(l);
}

int edge_gpio_set(struct edge_gpio_line *l, int value)
{
	if (!l)
		return -EINVAL;
	if (!(l->flags & EDGE_GPIO_OUTPUT))
		return -EPERM;
	return l->ops->set(l, !!value);
}

int edge_gpio_get(struct edge_gpio_line *l, int *value)
{
	if (!l || !value)
		return -EINVAL;
	return l->ops->get(l, value);
}

int edge_gpio_fd(const struct edge_gpio_line *l)
{
	if (!l || !(l->flags & (EDGE_GPIO_EDGE_RISING | EDGE_GPIO_EDGE_FALLING)))
		return -EINVAL;
	return l->ops->fd(l);
}

int edge_gpio_event_read(struct edge_gpio_line *l, struct edge_gpio_event *ev)
{
	if (!l || !ev || !(l->flags & (EDGE_GPIO_EDGE_RISING | EDGE_GPIO_EDGE_FALLING)))
		return -EINVAL;
	return l->ops->event_read(l, ev);
}
