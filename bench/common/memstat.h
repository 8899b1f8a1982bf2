/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BENCH_MEMSTAT_H
#define EDGE_BENCH_MEMSTAT_H
/* RSS, PSS and anonymous memory of a process from /proc/<pid>/smaps_rollup (pid 0: self). */
#include <stdint.h>
#include <sys/types.h>

struct bench_mem {
	uint64_t rss_kib;
	uint64_t pss_kib;
	uint64_t anon_kib; /* Anonymous: heap, stacks, anonymous maps (not library code) */
};

/* 0, or a negative errno when the file cannot be read. */
int bench_mem_read(pid_t pid, struct bench_mem *out);
/* CPU time (user + system) this process used so far, in microseconds. */
uint64_t bench_cpu_us(void);
/* Keeps the larger of each field. */
void bench_mem_peak(struct bench_mem *peak, const struct bench_mem *now);

#endif
