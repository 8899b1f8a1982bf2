/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/board.h"
#include "edge/hal/i2c.h"
#include "edge/hal/sim.h"
#include "edge/hal/uart.h"
#include "edge/sensor.h"

struct slot {
	struct edge_board_sensor desc;
	const struct edge_board_bus *bus;
	struct edge_i2c_bus *i2c;
	struct edge_uart *uart;
	struct edge_sensor *sensor;
	int error;
};

struct edge_board_rt {
	struct edge_board board;
	struct slot slots[EDGE_BOARD_MAX_SENSORS];
	size_t n;
};

static int bring_up(struct edge_board_rt *rt, struct slot *s)
{
	const struct edge_sensor_ops *ops = edge_sensor_ops_find(s->desc.compatible);
	struct edge_sensor_binding bind = {.addr = s->desc.addr};
	int err;

	(void)rt;
	if (s->bus && s->bus->type == EDGE_BUS_I2C) {
		if (!s->i2c) {
			err = edge_i2c_open(s->bus->path, &s->i2c);
			if (err)
				return err;
		}
		bind.i2c = s->i2c;
	} else if (s->bus && s->bus->type == EDGE_BUS_UART) {
		if (!s->uart) {
			struct edge_uart_config cfg = {.baud = s->bus->baud};

			if (!cfg.baud)
				cfg.baud = ops->default_baud ? ops->default_baud : 9600;

			err = edge_uart_open(s->bus->path, &cfg, &s->uart);
			if (err)
				return err;
		}
		bind.uart = s->uart;
	}
	bind.param = s->desc.param[0] ? s->desc.param : NULL;
	return edge_sensor_create(ops, s->desc.name, &bind, &s->sensor);
}

/* On a sim board, the chip or stream model behind each sensor. A part
 * without a model (-ENOENT) is left alone: its bring-up then fails like a
 * missing chip would. */
static int attach_model(const struct edge_board *b, const struct slot *s)
{
	const char *name;

	if (!b->sim || !s->bus || strncmp(s->bus->path, "sim:", 4) != 0)
		return 0;
	name = s->bus->path + 4;
	if (s->bus->type == EDGE_BUS_I2C) {
		if (edge_sim_i2c_chip(name, s->desc.addr))
			return 0;
		return edge_sim_i2c_attach(name, s->desc.addr, s->desc.compatible, NULL);
	}
	if (edge_sim_uart_stream(name))
		return 0;
	return edge_sim_uart_attach(name, s->desc.compatible, NULL);
}

int edge_board_open(const struct edge_board *b, struct edge_board_rt **out, char *err,
		    size_t errlen)
{
	struct edge_board_rt *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return -ENOMEM;
	rt->board = *b;
	for (size_t i = 0; i < b->n_sensors; i++) {
		struct slot *s = &rt->slots[rt->n++];
		int rc;

		s->desc = b->sensors[i];
		s->bus = s->desc.bus[0] ? edge_board_bus_find(&rt->board, s->desc.bus) : NULL;
		rc = attach_model(b, s);
		if (rc && rc != -ENOENT) {
			snprintf(err, errlen, "board %s: sensor %s: sim model: %s", b->name,
				 s->desc.name, strerror(-rc));
			edge_board_close(rt);
			return rc;
		}
		if (s->desc.enabled)
			s->error = bring_up(rt, s);
	}
	*out = rt;
	return 0;
}

void edge_board_close(struct edge_board_rt *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++) {
		edge_sensor_destroy(rt->slots[i].sensor);
		edge_i2c_close(rt->slots[i].i2c);
		edge_uart_close(rt->slots[i].uart);
	}
	free(rt);
}

size_t edge_board_sensor_count(const struct edge_board_rt *rt)
{
	return rt->n;
}

const struct edge_board_sensor *edge_board_sensor_desc(const struct edge_board_rt *rt, size_t i)
{
	return i < rt->n ? &rt->slots[i].desc : NULL;
}

struct edge_sensor *edge_board_sensor(const struct edge_board_rt *rt, size_t i)
{
	return i < rt->n ? rt->slots[i].sensor : NULL;
}

int edge_board_sensor_error(const struct edge_board_rt *rt, size_t i)
{
	return i < rt->n ? rt->slots[i].error : -EINVAL;
}

int edge_board_sensor_retry(struct edge_board_rt *rt, size_t i)
{
	struct slot *s;

	if (i >= rt->n)
		return -EINVAL;
	s = &rt->slots[i];
	edge_sensor_destroy(s->sensor);
	s->sensor = NULL;
	s->error = bring_up(rt, s);
	return s->error;
}
