/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BENCH_BENCHUTIL_H
#define EDGE_BENCH_BENCHUTIL_H
/* Small helpers shared by the benchmark programs. */
#include <stdint.h>

/* Monotonic clock in microseconds. */
uint64_t bench_now_us(void);
/* Monotonic clock in seconds (nanosecond resolution). */
double bench_now_s(void);
/* qsort comparator for uint64_t, ascending. */
int bench_cmp_u64(const void *a, const void *b);

#endif
