/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/spawn.c with real children (/bin/sh, and this binary itself in a
 * helper mode that lists its descriptors) on a real edge_loop. Built twice:
 * test_spawn watches exits with a pidfd, test_spawn_nopidfd compiles
 * spawn.c with EDGE_SPAWN_TEST_NO_PIDFD, as on a kernel without
 * pidfd_open(), and so runs the waitpid(WNOHANG) fallback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge/loop.h"
#include "edge/spawn.h"
#include "edge/time.h"

#define MAX_LINES 512

static char self_exe[PATH_MAX];

struct run {
	struct edge_loop *loop;
	struct edge_spawn *sp;
	char *lines[MAX_LINES];
	size_t n_lines;
	int exits;
	struct edge_spawn_exit ex;
	uint64_t exit_ms;
	bool free_on_first_line;
};

static void on_line(void *arg, const char *line, size_t len)
{
	struct run *r = arg;

	assert_int_equal(strlen(line), len);
	assert_true(r->n_lines < MAX_LINES);
	r->lines[r->n_lines++] = strdup(line);
	if (r->free_on_first_line && r->sp) {
		edge_spawn_free(r->sp);
		r->sp = NULL;
	}
}

static void on_exit_cb(void *arg, const struct edge_spawn_exit *e)
{
	struct run *r = arg;

	r->exits++;
	r->ex = *e;
	r->exit_ms = edge_now_ms();
}

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(edge_loop_new(&r->loop), 0);
}

static void run_clear(struct run *r)
{
	edge_spawn_free(r->sp);
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i]);
	edge_loop_free(r->loop);
}

static int start(struct run *r, const char *const *argv, struct edge_spawn_opts *o)
{
	struct edge_spawn_opts def = {0};

	if (!o)
		o = &def;
	o->path = argv[0];
	o->argv = argv;
	o->line = on_line;
	o->exit = on_exit_cb;
	o->arg = r;
	return edge_spawn_start(r->loop, o, &r->sp);
}

static void start_sh(struct run *r, const char *script, struct edge_spawn_opts *o)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};

	assert_int_equal(start(r, argv, o), 0);
}

/* Runs the loop until cond holds or timeout_ms passes; true if it held. */
static bool loop_until(struct run *r, bool (*cond)(struct run *r), uint64_t timeout_ms)
{
	uint64_t end = edge_now_ms() + timeout_ms;

	while (!cond(r) && edge_now_ms() < end)
		assert_int_equal(edge_loop_run_once(r->loop, 20), 0);
	return cond(r);
}

static bool exited(struct run *r)
{
	return r->exits > 0;
}

static bool has_line(struct run *r)
{
	return r->n_lines > 0;
}

/* A child that prints "ready" then sleeps a minute, ignoring SIGTERM when
 * asked (exec: the shell's ignored TERM stays with sleep). Returns its pid
 * once "ready" arrived. */
static pid_t start_sleeper(struct run *r, bool ignore_term)
{
	start_sh(r,
		 ignore_term ? "trap '' TERM; echo ready; exec sleep 60"
			     : "echo ready; exec sleep 60",
		 NULL);
	assert_true(loop_until(r, has_line, 5000));
	assert_string_equal(r->lines[0], "ready");
	assert_true(edge_spawn_pid(r->sp) > 0);
	return edge_spawn_pid(r->sp);
}

static void block_stop_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, old), 0);
}

/* ---- tests ---------------------------------------------------------------- */

static void lines_in_order_and_whole(void **state)
{
	struct run r;
	char want[32];

	(void)state;
	run_init(&r);
	/* 300 lines, one written in three pieces with pauses, an unterminated last one */
	start_sh(&r,
		 "i=0; while [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); done;"
		 "printf 'sp'; sleep 0.1; printf 'li'; sleep 0.1; printf 't\\n'; printf tail",
		 NULL);
	assert_true(loop_until(&r, exited, 10000));
	assert_int_equal(r.n_lines, 302);
	for (int i = 0; i < 300; i++) {
		snprintf(want, sizeof(want), "line %d", i);
		assert_string_equal(r.lines[i], want);
	}
	assert_string_equal(r.lines[300], "split");
	assert_string_equal(r.lines[301], "tail");
	assert_true(WIFEXITED(r.ex.status));
	assert_int_equal(WEXITSTATUS(r.ex.status), 0);
	assert_false(r.ex.stopped);
	assert_int_equal(r.ex.dropped_lines, 0);
	assert_false(edge_spawn_running(r.sp));
	assert_int_equal(edge_spawn_pid(r.sp), -1);
	run_clear(&r);
}

static void long_lines_dropped_not_cut(void **state)
{
	struct edge_spawn_opts o = {.max_line = 16};
	struct run r;

	(void)state;
	run_init(&r);
	start_sh(&r,
		 "echo short; echo 0123456789abcdefX; echo 0123456789abcdef;"
		 "echo 0123456789abcdef0123456789abcdef0123456789; printf 0123456789abcdefXYZ",
		 &o);
	assert_true(loop_until(&r, exited, 5000));
	assert_int_equal(r.n_lines, 2);
	assert_string_equal(r.lines[0], "short");
	assert_string_equal(r.lines[1], "0123456789abcdef"); /* exactly max_line */
	assert_int_equal(r.ex.dropped_lines, 3);
	run_clear(&r);
}

static void exit_status_delivered_once(void **state)
{
	struct run r;

	(void)state;
	run_init(&r);
	start_sh(&r, "exit 7", NULL);
	assert_true(loop_until(&r, exited, 5000));
	assert_true(WIFEXITED(r.ex.status));
	assert_int_equal(WEXITSTATUS(r.ex.status), 7);
	/* nothing more comes */
	for (int i = 0; i < 5; i++)
		edge_loop_run_once(r.loop, 20);
	assert_int_equal(r.exits, 1);
	assert_int_equal(edge_spawn_stop(r.sp, 100), -ESRCH);
	run_clear(&r);

	run_init(&r);
	start_sh(&r, "kill -USR1 $$; sleep 5", NULL);
	assert_true(loop_until(&r, exited, 5000));
	assert_true(WIFSIGNALED(r.ex.status));
	assert_int_equal(WTERMSIG(r.ex.status), SIGUSR1);
	run_clear(&r);
}

/* The exit is reported even while a grandchild still holds the pipe. */
static void exit_not_held_by_grandchild(void **state)
{
	struct run r;
	uint64_t t0 = edge_now_ms();

	(void)state;
	run_init(&r);
	start_sh(&r, "echo before; sleep 3 & exit 3", NULL);
	assert_true(loop_until(&r, exited, 2500));
	assert_true(edge_now_ms() - t0 < 2500);
	assert_int_equal(WEXITSTATUS(r.ex.status), 3);
	assert_int_equal(r.n_lines, 1);
	run_clear(&r);
}

/* The daemon blocks SIGTERM/SIGINT/SIGHUP (signalfd) and ignores SIGPIPE:
 * the child must start with neither. */
static void child_signal_mask_empty(void **state)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe, old_usr2;
	sigset_t old;
	struct run r;
	bool blk = false, ign_seen = false;

	(void)state;
	block_stop_signals(&old);
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGUSR2, &ign, &old_usr2);
	run_init(&r);
	start_sh(&r, "exec grep -E '^(SigBlk|SigIgn):' /proc/self/status", NULL);
	assert_true(loop_until(&r, exited, 5000));
	assert_int_equal(WEXITSTATUS(r.ex.status), 0);
	for (size_t i = 0; i < r.n_lines; i++) {
		const char *v = strchr(r.lines[i], ':');

		assert_non_null(v);
		v += strspn(v + 1, " \t") + 1;
		assert_true(strlen(v) >= 16);
		/* all zeros: nothing blocked, nothing ignored */
		if (strspn(v, "0") != strlen(v))
			fail_msg("child: %s", r.lines[i]);
		blk |= strncmp(r.lines[i], "SigBlk", 6) == 0;
		ign_seen |= strncmp(r.lines[i], "SigIgn", 6) == 0;
	}
	assert_true(blk && ign_seen);
	run_clear(&r);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static const char *fd_target(struct run *r, int fd)
{
	char pre[16];

	snprintf(pre, sizeof(pre), "%d ", fd);
	for (size_t i = 0; i < r->n_lines; i++)
		if (strncmp(r->lines[i], pre, strlen(pre)) == 0)
			return r->lines[i] + strlen(pre);
	return NULL;
}

static void link_of(int fd, char *out, size_t len)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, out, len - 1);
	assert_true(n > 0);
	out[n] = '\0';
}

/* Only 0, 1, 2 and the keep-list cross exec; close-on-exec or not. */
/* qemu-user keeps descriptors of its own open in every process it runs and
 * reports a failed exec of posix_spawn's child differently: those two cases
 * run on a real kernel only (the native stages of the test command). */
static bool under_emulator(const char *what)
{
	if (!getenv("EDGE_UNDER_EMULATOR"))
		return false;
	print_message("SKIPPED under qemu-user: %s (checked on the native build)\n", what);
	return true;
}

static void child_sees_only_named_fds(void **state)
{
	const char *argv[] = {self_exe, "--list-fds", NULL};
	char dir[] = "/tmp/edge-spawn-XXXXXX", pa[64], pb[64], want_a[PATH_MAX], want_b[PATH_MAX],
	     err_link[PATH_MAX];
	int leak, leak_pipe[2], keep[2];
	struct edge_spawn_opts o = {0};
	struct run r;

	if (under_emulator("the descriptors a child sees")) {
		skip();
		return;
	}
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a", dir);
	snprintf(pb, sizeof(pb), "%s/b", dir);
	/* descriptors the child must not get, one without FD_CLOEXEC */
	leak = open("/dev/zero", O_RDONLY);
	assert_true(leak >= 0);
	assert_int_equal(pipe(leak_pipe), 0);
	/* the keep-list, in an order that crosses their numbers */
	keep[1] = open(pa, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	keep[0] = open(pb, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(keep[0] >= 0 && keep[1] >= 0);
	link_of(keep[0], want_b, sizeof(want_b));
	link_of(keep[1], want_a, sizeof(want_a));
	link_of(STDERR_FILENO, err_link, sizeof(err_link));

	run_init(&r);
	o.keep_fds = keep;
	o.n_keep_fds = 2;
	assert_int_equal(start(&r, argv, &o), 0);
	assert_true(loop_until(&r, exited, 5000));
	assert_int_equal(WEXITSTATUS(r.ex.status), 0);
	for (size_t i = 0; i < r.n_lines; i++)
		print_message("child: %s\n", r.lines[i]);
	assert_int_equal(r.n_lines, 5);
	assert_string_equal(fd_target(&r, 0), "/dev/null");
	assert_non_null(fd_target(&r, 1));
	assert_memory_equal(fd_target(&r, 1), "pipe:", 5);
	assert_string_equal(fd_target(&r, 2), err_link);
	assert_string_equal(fd_target(&r, 3), want_b);
	assert_string_equal(fd_target(&r, 4), want_a);
	run_clear(&r);

	close(leak);
	close(leak_pipe[0]);
	close(leak_pipe[1]);
	close(keep[0]);
	close(keep[1]);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
}

static void stdin_given(void **state)
{
	int in[2];
	struct edge_spawn_opts o = {0};
	struct run r;

	(void)state;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(write(in[1], "from-parent\n", 12), 12);
	close(in[1]);
	run_init(&r);
	o.stdin_fd = in[0];
	start_sh(&r, "read x; echo \"got $x\"", &o);
	close(in[0]);
	assert_true(loop_until(&r, exited, 5000));
	assert_int_equal(r.n_lines, 1);
	assert_string_equal(r.lines[0], "got from-parent");
	run_clear(&r);
}

/* While the child runs, its exit is watched through a pidfd (or not at all
 * in the fallback build). */
static void exit_watch_kind(void **state)
{
	struct run r;
	int pidfds = 0;

	(void)state;
	run_init(&r);
	start_sh(&r, "echo up; sleep 5", NULL);
	assert_true(loop_until(&r, has_line, 5000));
	for (int fd = 0; fd < 1024; fd++) {
		char p[64], t[128];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, t, sizeof(t) - 1);
		if (n > 0) {
			t[n] = '\0';
			pidfds += strcmp(t, "anon_inode:[pidfd]") == 0;
		}
	}
#ifdef EDGE_SPAWN_TEST_NO_PIDFD
	assert_int_equal(pidfds, 0);
#else
	assert_int_equal(pidfds, 1);
#endif
	assert_int_equal(edge_spawn_stop(r.sp, 2000), 0);
	assert_true(loop_until(&r, exited, 4000));
	run_clear(&r);
}

/* SIGTERM reaches the child although the parent blocks it. */
static void stop_terminates_with_parent_blocking_term(void **state)
{
	sigset_t old;
	struct run r;
	uint64_t t0;

	(void)state;
	block_stop_signals(&old);
	run_init(&r);
	start_sleeper(&r, false);
	t0 = edge_now_ms();
	assert_int_equal(edge_spawn_stop(r.sp, 5000), 0);
	assert_int_equal(edge_spawn_stop(r.sp, 5000), 0); /* again: no-op */
	assert_true(loop_until(&r, exited, 6000));
	assert_true(r.exit_ms - t0 < 1000);
	assert_true(WIFSIGNALED(r.ex.status));
	assert_int_equal(WTERMSIG(r.ex.status), SIGTERM);
	assert_true(r.ex.stopped);
	assert_false(r.ex.killed);
	assert_int_equal(r.exits, 1);
	run_clear(&r);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void stop_kills_after_bound(void **state)
{
	struct run r;
	uint64_t t0, took;
	pid_t pid;

	(void)state;
	run_init(&r);
	pid = start_sleeper(&r, true);
	t0 = edge_now_ms();
	assert_int_equal(edge_spawn_stop(r.sp, 300), 0);
	assert_true(loop_until(&r, exited, 5000));
	took = r.exit_ms - t0;
	print_message("TERM-ignoring child: exit after %llu ms (bound 300)\n",
		      (unsigned long long)took);
	assert_true(took >= 290 && took < 1500);
	assert_true(WIFSIGNALED(r.ex.status));
	assert_int_equal(WTERMSIG(r.ex.status), SIGKILL);
	assert_true(r.ex.stopped && r.ex.killed);
	assert_int_equal(r.exits, 1);
	/* reaped: no zombie left for us */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	run_clear(&r);
}

static void stop_sync_bounded(void **state)
{
	struct run r;
	uint64_t t0, took;
	pid_t pid;
	int status = 0;

	(void)state;
	run_init(&r);
	pid = start_sleeper(&r, true);
	t0 = edge_now_ms();
	assert_int_equal(edge_spawn_stop_sync(r.sp, 400, &status), 0);
	took = edge_now_ms() - t0;
	print_message("stop_sync of a TERM-ignoring child: %llu ms (bound 400 + 500)\n",
		      (unsigned long long)took);
	assert_true(took >= 390 && took < 400 + 500 + 100);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(edge_spawn_stop_sync(r.sp, 400, NULL), -ESRCH);
	/* no callback after a synchronous stop */
	for (int i = 0; i < 5; i++)
		edge_loop_run_once(r.loop, 10);
	assert_int_equal(r.exits, 0);
	run_clear(&r);

	/* a child that honours SIGTERM: far below the bound */
	run_init(&r);
	start_sleeper(&r, false);
	t0 = edge_now_ms();
	assert_int_equal(edge_spawn_stop_sync(r.sp, 5000, &status), 0);
	assert_true(edge_now_ms() - t0 < 1000);
	assert_int_equal(WTERMSIG(status), SIGTERM);
	run_clear(&r);
}

static void free_running_and_exited(void **state)
{
	struct run r;
	pid_t pid;
	uint64_t t0;

	(void)state;
	/* free on a child that is still running: stopped, reaped, bounded */
	run_init(&r);
	pid = start_sleeper(&r, true);
	t0 = edge_now_ms();
	edge_spawn_free(r.sp);
	r.sp = NULL;
	assert_true(edge_now_ms() - t0 < EDGE_SPAWN_FREE_STOP_MS + 600);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(r.exits, 0);
	run_clear(&r);

	/* free on an exited child, and free inside the line callback */
	run_init(&r);
	start_sh(&r, "true", NULL);
	assert_true(loop_until(&r, exited, 5000));
	edge_spawn_free(r.sp);
	r.sp = NULL;
	edge_spawn_free(NULL);
	run_clear(&r);

	run_init(&r);
	r.free_on_first_line = true;
	start_sh(&r, "echo one; echo two; exec sleep 60", NULL);
	pid = edge_spawn_pid(r.sp);
	assert_true(loop_until(&r, has_line, 5000));
	assert_null(r.sp);
	assert_int_equal(r.n_lines, 1);
	for (int i = 0; i < 5; i++)
		edge_loop_run_once(r.loop, 10);
	assert_int_equal(r.n_lines, 1);
	assert_int_equal(r.exits, 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	run_clear(&r);
}

static void start_errors(void **state)
{
	const char *missing[] = {"/nonexistent/edge-helper", NULL};
	const char *none[] = {NULL};
	struct edge_spawn_opts o = {0};
	int keep = -1;
	struct run r;

	if (under_emulator("exec failures of posix_spawn")) {
		skip();
		return;
	}
	(void)state;
	run_init(&r);
	assert_int_equal(start(&r, missing, NULL), -ENOENT);
	assert_null(r.sp);
	o.path = "/bin/true";
	o.argv = none;
	assert_int_equal(edge_spawn_start(r.loop, &o, &r.sp), -EINVAL);
	o.argv = missing;
	o.keep_fds = &keep;
	o.n_keep_fds = 1;
	assert_int_equal(edge_spawn_start(r.loop, &o, &r.sp), -EBADF);
	o.n_keep_fds = EDGE_SPAWN_MAX_KEEP_FDS + 1;
	assert_int_equal(edge_spawn_start(r.loop, &o, &r.sp), -EINVAL);
	run_clear(&r);
}

/* The helper mode: "FD TARGET" for every open descriptor. */
static int list_fds(void)
{
	for (int fd = 0; fd < 4096; fd++) {
		char p[64], t[PATH_MAX];
		ssize_t n;

		if (fcntl(fd, F_GETFD) < 0)
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		printf("%d %s\n", fd, t);
	}
	return 0;
}

/* Helpers are found beside the running executable (here: this test). */
static void helper_path_beside_self(void **state)
{
	char self[4096], out[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *base;

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	base = strrchr(self, '/') + 1;
	assert_int_equal(edge_spawn_helper_path(base, out, sizeof(out)), 0);
	assert_string_equal(out, self);
	assert_int_equal(edge_spawn_helper_path("no-such-helper", out, sizeof(out)), -ENOENT);
	assert_non_null(strstr(out, "/no-such-helper"));
	assert_int_equal(edge_spawn_helper_path(base, out, 8), -ENAMETOOLONG);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lines_in_order_and_whole),
	    cmocka_unit_test(long_lines_dropped_not_cut),
	    cmocka_unit_test(exit_status_delivered_once),
	    cmocka_unit_test(exit_not_held_by_grandchild),
	    cmocka_unit_test(child_signal_mask_empty),
	    cmocka_unit_test(child_sees_only_named_fds),
	    cmocka_unit_test(stdin_given),
	    cmocka_unit_test(exit_watch_kind),
	    cmocka_unit_test(stop_terminates_with_parent_blocking_term),
	    cmocka_unit_test(stop_kills_after_bound),
	    cmocka_unit_test(stop_sync_bounded),
	    cmocka_unit_test(free_running_and_exited),
	    cmocka_unit_test(start_errors),
	    cmocka_unit_test(helper_path_beside_self),
	};
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "--list-fds") == 0)
		return list_fds();
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	return cmocka_run_group_tests(tests, NULL, NULL);
}
