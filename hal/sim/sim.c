/* SPDX-License-Identifier: Apache-2.0 */
/* Sim backend: named I2C buses that route transactions to chip models. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hal_internal.h"
#include "edge/hal/sim.h"
#include "sim_models.h"

#define SIM_MAX_CHIPS 16

struct sim_bus {
	struct edge_i2c_bus bus;
	struct sim_bus *next;
	struct edge_sim_chip *chips[SIM_MAX_CHIPS];
	size_t n_chips;
};

static struct sim_bus *sim_buses;

const struct edge_sim_chip_ops *edge_sim_model_find(const char *compatible)
{
	size_t n;
	const struct edge_sim_chip_ops *const *all = edge_sim_models(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(all[i]->compatible, compatible) == 0)
			return all[i];
	return NULL;
}

static struct sim_bus *bus_find(const char *name)
{
	for (struct sim_bus *b = sim_buses; b; b = b->next)
		if (strcmp(b->bus.name, name) == 0)
			return b;
	return NULL;
}

static int sim_transfer(struct edge_i2c_bus *bus, uint16_t addr, const uint8_t *w, size_t wlen,
			uint8_t *r, size_t rlen)
{
	struct sim_bus *sb = (struct sim_bus *)bus;

	for (size_t i = 0; i < sb->n_chips; i++)
		if (sb->chips[i]->addr == addr)
			return sb->chips[i]->ops->transfer(sb->chips[i], w, wlen, r, rlen);
	return -ENXIO; /* no ACK from any device at addr */
}

/* Buses are owned by the sim registry; closing a handle is a no-op. */
static void sim_close(struct edge_i2c_bus *bus)
{
	(void)bus;
}

static const struct edge_i2c_bus_ops sim_ops = {
    .transfer = sim_transfer,
    .close = sim_close,
};

static struct sim_bus *bus_get(const char *name)
{
	struct sim_bus *b = bus_find(name);

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->bus.ops = &sim_ops;
	snprintf(b->bus.name, sizeof(b->bus.name), "%s", name);
	b->next = sim_buses;
	sim_buses = b;
	return b;
}

int edge_hal_sim_i2c_open(const char *name, struct edge_i2c_bus **out)
{
	struct sim_bus *b = bus_get(name);

	if (!b)
		return -ENOMEM;
	*out = &b->bus;
	return 0;
}

int edge_sim_i2c_attach(const char *bus, uint16_t addr, const char *compatible,
			struct edge_sim_chip **out)
{
	const struct edge_sim_chip_ops *ops = edge_sim_model_find(compatible);
	struct edge_sim_chip *chip;
	struct sim_bus *b;
	int err;

	if (!ops)
		return -ENOENT;
	if (addr > 0x7f)
		return -EINVAL;
	b = bus_get(bus);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_chips; i++)
		if (b->chips[i]->addr == addr)
			return -EEXIST;
	if (b->n_chips == SIM_MAX_CHIPS)
		return -ENOSPC;
	chip = calloc(1, sizeof(*chip));
	if (!chip)
		return -ENOMEM;
	chip->ops = ops;
	chip->addr = addr;
	if (ops->priv_size) {
		chip->priv = calloc(1, ops->priv_size);
		if (!chip->priv) {
			err = -ENOMEM;
			goto err_chip;
		}
	}
	if (ops->init) {
		err = ops->init(chip);
		if (err)
			goto err_priv;
	}
	b->chips[b->n_chips++] = chip;
	if (out)
		*out = chip;
	return 0;

err_priv:
	free(chip->priv);
err_chip:
	free(chip);
	return err;
}

struct edge_sim_chip *edge_sim_i2c_chip(const char *bus, uint16_t addr)
{
	struct sim_bus *b = bus_find(bus);

	if (!b)
		return NULL;
	for (size_t i = 0; i < b->n_chips; i++)
		if (b->chips[i]->addr == addr)
			return b->chips[i];
	return NULL;
}

int edge_sim_chip_set(struct edge_sim_chip *chip, const char *key, int64_t val)
{
	if (!chip || !key)
		return -EINVAL;
	if (!chip->ops->set)
		return -ENOENT;
	return chip->ops->set(chip, key, val);
}

int edge_sim_chip_get(const struct edge_sim_chip *chip, const char *key, int64_t *val)
{
	if (!chip || !key || !val)
		return -EINVAL;
	if (!chip->ops->get)
		return -ENOENT;
	return chip->ops->get(chip, key, val);
}

void edge_hal_sim_i2c_reset(void)
{
	while (sim_buses) {
		struct sim_bus *b = sim_buses;

		sim_buses = b->next;
		for (size_t i = 0; i < b->n_chips; i++) {
			if (b->chips[i]->ops->deinit)
				b->chips[i]->ops->deinit(b->chips[i]);
			free(b->chips[i]->priv);
			free(b->chips[i]);
		}
		free(b);
	}
}
