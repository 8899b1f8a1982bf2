/* SPDX-License-Identifier: Apache-2.0 */
/* Sim time for the chip and stream models: the monotonic clock unless a test
 * pins it. Its own file so that every model depends on it and it on none. */
#include <stdint.h>
#include <time.h>

#include "edge/hal/sim.h"

static uint64_t sim_pinned_ms;

uint64_t edge_sim_time_ms(void)
{
	struct timespec ts;

	if (sim_pinned_ms)
		return sim_pinned_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void edge_sim_time_set(uint64_t ms)
{
	sim_pinned_ms = ms;
}
