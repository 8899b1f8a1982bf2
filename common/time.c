/* SPDX-License-Identifier: Apache-2.0 */
#include <time.h>

#include "edge/time.h"

static uint64_t ms_of(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t edge_now_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

uint64_t edge_wall_ms(void)
{
	return ms_of(CLOCK_REALTIME);
}
