/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/log.h"
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

int edge_test_env_open(const char *tag, char *dir, size_t dirlen, struct edge_loop **loop)
{
	int rc;

	edge_log_set_level(EDGE_LOG_ERR);
	rc = edge_test_tmpdir(tag, dir, dirlen);
	if (rc)
		return rc;
	rc = edge_loop_new(loop);
	if (rc)
		edge_test_rmtree(dir);
	return rc;
}

void edge_test_env_close(const char *dir, struct edge_loop *loop)
{
	edge_loop_free(loop);
	edge_test_rmtree(dir);
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

int edge_test_listen_tcp(int backlog, unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*port = ntohs(a.sin_port);
	return fd;
}
