/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "edge/time.h"
#include "edge_test.h"

int edge_test_tmpdir(const char *tag, char *out, size_t outlen)
{
	const char *base = getenv("TMPDIR");
	int n;

	if (!base || !*base)
		base = "/tmp";
	n = snprintf(out, outlen, "%s/edge-%s-XXXXXX", base, tag);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return mkdtemp(out) ? 0 : -errno;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void edge_test_rmtree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool edge_test_run_until(struct edge_loop *loop, edge_test_cond cond, void *arg,
			 unsigned timeout_ms)
{
	uint64_t end = edge_now_ms() + timeout_ms;

	for (;;) {
		if (cond && cond(arg))
			return true;
		if (edge_now_ms() >= end)
			return cond ? cond(arg) : true;
		edge_loop_run_once(loop, 10);
	}
}
