/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/notify.c against real AF_UNIX datagram sockets, the test playing the
 * service manager: a filesystem socket and an abstract one ("@name"), with
 * SO_PASSCRED as systemd sets it (NotifyAccess= checks the sender's pid).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "edge/notify.h"

struct listener {
	int fd;
	char env[160]; /* what NOTIFY_SOCKET says */
	char dir[32];  /* the filesystem socket's directory, "" for abstract */
};

static void listen_path(struct listener *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int on = 1;

	snprintf(l->dir, sizeof(l->dir), "/tmp/edge-notify-XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->env, sizeof(l->env), "%s/notify", l->dir);
	assert_true(strlen(l->env) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, l->env, strlen(l->env) + 1);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* Bound with the exact name length, as systemd does: an address sent with
 * trailing NULs (the length of the whole sun_path) would not reach it. */
static void listen_abstract(struct listener *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int on = 1;

	l->dir[0] = '\0';
	snprintf(l->env, sizeof(l->env), "@edge-notify-test/%ld/%d", (long)getpid(), rand());
	len = strlen(l->env);
	memcpy(sa.sun_path, l->env, len);
	sa.sun_path[0] = '\0';
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)),
			 0);
}

static void listener_close(struct listener *l)
{
	char path[64];

	close(l->fd);
	if (l->dir[0]) {
		snprintf(path, sizeof(path), "%s/notify", l->dir);
		unlink(path);
		rmdir(l->dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

/* One datagram within 2 s: its length (-1 when none came) and the sender's
 * pid from SCM_CREDENTIALS (0 when none were attached). */
static ssize_t receive(int fd, char *buf, size_t len, pid_t *pid)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct cmsghdr *c;
	ssize_t n;

	*pid = 0;
	if (poll(&p, 1, 2000) != 1)
		return -1;
	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*pid = cred.pid;
		}
	}
	return n;
}

static void expect(struct listener *l, const char *state)
{
	char buf[2048];
	pid_t pid;
	ssize_t n;

	n = receive(l->fd, buf, sizeof(buf), &pid);
	assert_int_equal(n, (ssize_t)strlen(state));
	assert_memory_equal(buf, state, strlen(state));
	assert_int_equal(pid, getpid());
}

static void notify_unset_is_noop(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(edge_notify("READY=1"), 0);
	assert_int_equal(edge_notifyf("STATUS=%d", 1), 0);
}

static void notify_path_socket(void **state)
{
	struct listener l;

	(void)state;
	listen_path(&l);
	assert_int_equal(setenv("NOTIFY_SOCKET", l.env, 1), 0);
	assert_true(edge_notify("READY=1\nSTATUS=sampling") > 0);
	expect(&l, "READY=1\nSTATUS=sampling");
	assert_true(edge_notify("WATCHDOG=1") > 0);
	expect(&l, "WATCHDOG=1");
	assert_true(edge_notifyf("STATUS=connected to %s:%u", "broker", 8883u) > 0);
	expect(&l, "STATUS=connected to broker:8883");
	listener_close(&l);
}

static void notify_abstract_socket(void **state)
{
	struct listener l;

	(void)state;
	listen_abstract(&l);
	assert_int_equal(setenv("NOTIFY_SOCKET", l.env, 1), 0);
	assert_true(edge_notify("STOPPING=1") > 0);
	expect(&l, "STOPPING=1");
	listener_close(&l);
}

static void notify_errors(void **state)
{
	char name[160], big[1100];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	assert_int_equal(edge_notify("READY=1"), -EAFNOSUPPORT);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(edge_notify("READY=1"), -EAFNOSUPPORT);
	/* sun_path is 108 bytes: a path needs its NUL too, an abstract name not */
	memset(name, 'x', sizeof(name));
	name[0] = '/';
	name[sizeof(((struct sockaddr_un *)0)->sun_path)] = '\0';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(edge_notify("READY=1"), -EINVAL);
	name[0] = '@';
	name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1] = '\0';
	name[sizeof(((struct sockaddr_un *)0)->sun_path)] = 'x';
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(edge_notify("READY=1"), -EINVAL);
	name[sizeof(((struct sockaddr_un *)0)->sun_path)] = '\0'; /* fits: nobody listens */
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(edge_notify("READY=1"), -ECONNREFUSED);
	setenv("NOTIFY_SOCKET", "/nonexistent/edge-notify", 1);
	assert_int_equal(edge_notify("READY=1"), -ENOENT);
	assert_int_equal(edge_notify(NULL), -EINVAL);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(edge_notifyf("STATUS=%s", big), -EMSGSIZE);
	unsetenv("NOTIFY_SOCKET");
}

static void watchdog_env(void **state)
{
	static const char *const bad[] = {
	    "", "abc", "12x", "-5", "+5", " 5", "0", "18446744073709551615", "99999999999999999999",
	};
	char pid[32];
	uint64_t usec = 7;

	(void)state;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(edge_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 7);

	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(edge_watchdog_usec(&usec), 1);
	assert_int_equal(usec, 2000000);
	assert_int_equal(edge_watchdog_usec(NULL), 1);

	/* meant for this process */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(edge_watchdog_usec(&usec), 1);
	assert_int_equal(usec, 30000000);

	/* meant for another one (a parent that forked us) */
	usec = 7;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(edge_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 7);

	setenv("WATCHDOG_PID", "self", 1);
	assert_int_equal(edge_watchdog_usec(&usec), -EINVAL);
	unsetenv("WATCHDOG_PID");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		usec = 7;
		if (edge_watchdog_usec(&usec) != -EINVAL)
			fail_msg("WATCHDOG_USEC=\"%s\" accepted", bad[i]);
		assert_int_equal(usec, 7);
	}
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(notify_unset_is_noop),   cmocka_unit_test(notify_path_socket),
	    cmocka_unit_test(notify_abstract_socket), cmocka_unit_test(notify_errors),
	    cmocka_unit_test(watchdog_env),
	};

	srand((unsigned)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
