/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_SIM_H
#define EDGE_HAL_SIM_H
/*
 * Sim backend: register-level chip models hosted on simulated buses.
 *
 * A chip model is a const ops table registered by compatible string (the
 * same string as the driver it models). edge_sim_i2c_attach() instantiates a
 * model at an address on a named sim bus ("sim:i2c0"); edge_i2c_open() of
 * that name returns the bus. Buses and models live until edge_sim_reset().
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct edge_sim_chip;

struct edge_sim_chip_ops {
	const char *compatible;
	size_t priv_size;
	int (*init)(struct edge_sim_chip *chip);
	/* One I2C transaction addressed to this chip (write then read). */
	int (*transfer)(struct edge_sim_chip *chip, const uint8_t *w, size_t wlen, uint8_t *r,
			size_t rlen);
	void (*deinit)(struct edge_sim_chip *chip);
};

struct edge_sim_chip {
	const struct edge_sim_chip_ops *ops;
	uint16_t addr;
	void *priv; /* priv_size bytes, zeroed, owned by the sim bus */
};

/* Looks up a chip model by compatible; NULL when none. */
const struct edge_sim_chip_ops *edge_sim_model_find(const char *compatible);

/* Creates the sim bus "sim:<bus>" if needed and attaches a model instance.
 * On success *out (optional) is borrowed, valid until edge_sim_reset(). */
int edge_sim_i2c_attach(const char *bus, uint16_t addr, const char *compatible,
			struct edge_sim_chip **out);

/* The chip instance at addr on bus, or NULL. Borrowed. */
struct edge_sim_chip *edge_sim_i2c_chip(const char *bus, uint16_t addr);

/* Frees every sim bus and chip. */
void edge_sim_reset(void);

/* Simulated time for chip models, in milliseconds. Defaults to the
 * monotonic clock; tests may pin it with edge_sim_time_set(). */
uint64_t edge_sim_time_ms(void);
void edge_sim_time_set(uint64_t ms); /* 0 returns to the real clock */

#ifdef __cplusplus
}
#endif
#endif
