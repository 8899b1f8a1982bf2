/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "edge/notify.h"

/* $NOTIFY_SOCKET -> address. Filesystem paths need room for the NUL; an
 * abstract name ("@" -> '\0') is exactly its bytes, without a terminator. */
static int notify_address(const char *e, struct sockaddr_un *sa, socklen_t *salen)
{
	size_t len = strlen(e);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (e[0] == '/') {
		if (len >= sizeof(sa->sun_path))
			return -EINVAL;
		memcpy(sa->sun_path, e, len + 1);
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	} else if (e[0] == '@') {
		if (len < 2 || len > sizeof(sa->sun_path))
			return -EINVAL;
		memcpy(sa->sun_path, e, len);
		sa->sun_path[0] = '\0';
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		return -EAFNOSUPPORT; /* relative path, or vsock: etc. */
	}
	return 0;
}

int edge_notify(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len;
	ssize_t n;
	int fd, rc;

	if (!e)
		return 0;
	if (!state)
		return -EINVAL;
	rc = notify_address(e, &sa, &salen);
	if (rc)
		return rc;
	/* One socket per call: notifications are rare (READY, RELOADING,
	 * STOPPING, a watchdog ping every few seconds). */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	len = strlen(state);
	do {
		n = sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
	} while (n < 0 && errno == EINTR);
	rc = n < 0 ? -errno : (size_t)n == len ? 1 : -EIO;
	close(fd);
	return rc;
}

int edge_notifyf(const char *fmt, ...)
{
	char state[1024];
	va_list ap;
	int n;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(state))
		return -EMSGSIZE;
	return edge_notify(state);
}

/* A positive decimal number and nothing else (no sign, no blanks). */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int edge_watchdog_usec(uint64_t *usec)
{
	const char *s = getenv("WATCHDOG_USEC"), *p;
	uint64_t u, pid;

	if (!s)
		return 0;
	if (parse_u64(s, &u) || u == UINT64_MAX) /* UINT64_MAX: "infinity" */
		return -EINVAL;
	p = getenv("WATCHDOG_PID");
	if (p) {
		if (parse_u64(p, &pid) || pid > INT_MAX)
			return -EINVAL;
		if ((pid_t)pid != getpid())
			return 0;
	}
	if (usec)
		*usec = u;
	return 1;
}
