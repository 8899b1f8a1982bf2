/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "memstat.h"

int bench_mem_read(pid_t pid, struct bench_mem *out)
{
	char path[64], line[128];
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps_rollup");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	out->rss_kib = out->pss_kib = out->anon_kib = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "Rss: %llu kB", &v) == 1)
			out->rss_kib = v;
		else if (sscanf(line, "Pss: %llu kB", &v) == 1)
			out->pss_kib = v;
		else if (sscanf(line, "Anonymous: %llu kB", &v) == 1)
			out->anon_kib = v;
	}
	fclose(f);
	return 0;
}

void bench_mem_peak(struct bench_mem *peak, const struct bench_mem *now)
{
	if (now->rss_kib > peak->rss_kib)
		peak->rss_kib = now->rss_kib;
	if (now->pss_kib > peak->pss_kib)
		peak->pss_kib = now->pss_kib;
	if (now->anon_kib > peak->anon_kib)
		peak->anon_kib = now->anon_kib;
}

uint64_t bench_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
}
