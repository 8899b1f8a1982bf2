/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_TIME_H
#define EDGE_TIME_H
#include <stdint.h>

/* Monotonic milliseconds (timers, rate limits). */
uint64_t edge_now_ms(void);
/* Wall-clock epoch milliseconds (record timestamps). */
uint64_t edge_wall_ms(void);

#endif
