/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "edge/loop.h"
#include "edge/spawn.h"
#include "edge/time.h"

#define DEFAULT_MAX_LINE (4u * 1024)
#define LIMIT_MAX_LINE	 (1u << 20)
#define POLL_EXIT_MS	 100 /* the WNOHANG check without a pidfd */
#define KILL_WAIT_MS	 500 /* after SIGKILL, in edge_spawn_stop_sync() */
#define READ_CHUNK	 4096

extern char **environ;

struct edge_spawn {
	struct edge_loop *loop;
	pid_t pid; /* -1 once reaped (or given up on) */
	int pidfd; /* -1: polled with poll_timer instead */
	int outfd; /* the read end of the child's stdout, or -1 */
	struct edge_timer *poll_timer;
	struct edge_timer *kill_timer;
	char *line; /* max_line + 1 bytes */
	size_t len;
	size_t max_line;
	bool skipping; /* inside a line longer than max_line */
	struct edge_spawn_exit ex;
	void (*line_cb)(void *arg, const char *line, size_t len);
	void (*exit_cb)(void *arg, const struct edge_spawn_exit *e);
	void *arg;
	unsigned busy;	   /* our callbacks on the stack */
	bool free_pending; /* edge_spawn_free() ran inside a callback */
};

static int pidfd_open(pid_t pid)
{
#if defined(SYS_pidfd_open) && !defined(EDGE_SPAWN_TEST_NO_PIDFD)
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
#else
	(void)pid;
	return -ENOSYS;
#endif
}

/* ---- child's stdout -------------------------------------------------------- */

/* Callbacks into the caller. After one returns, the handle may be freed
 * (free_pending): callers check alive() before touching more state. */
static bool alive(const struct edge_spawn *sp)
{
	return !sp->free_pending;
}

static void deliver(struct edge_spawn *sp)
{
	size_t len = sp->len;

	sp->line[len] = '\0';
	sp->len = 0;
	if (!sp->line_cb)
		return;
	sp->busy++;
	sp->line_cb(sp->arg, sp->line, len);
	sp->busy--;
}

/* Splits a chunk into lines; stops early when a callback freed the handle. */
static void feed(struct edge_spawn *sp, const char *p, size_t n)
{
	while (n && alive(sp)) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!sp->skipping && sp->len + take > sp->max_line) {
			sp->skipping = true;
			sp->len = 0;
		}
		if (!sp->skipping) {
			memcpy(sp->line + sp->len, p, take);
			sp->len += take;
		}
		if (nl) {
			if (sp->skipping) {
				sp->skipping = false;
				sp->ex.dropped_lines++;
			} else {
				deliver(sp);
			}
			take++;
		}
		p += take;
		n -= take;
	}
}

static void close_out(struct edge_spawn *sp)
{
	if (sp->outfd < 0)
		return;
	edge_loop_fd_del(sp->loop, sp->outfd);
	close(sp->outfd);
	sp->outfd = -1;
}

/* An unterminated last line counts as a line: the writer ended it. */
static void end_of_output(struct edge_spawn *sp)
{
	if (sp->skipping)
		sp->ex.dropped_lines++;
	else if (sp->len)
		deliver(sp);
	sp->skipping = false;
	sp->len = 0;
}

/* Reads once (on readiness) or until the pipe is empty (drain). Returns
 * true at end of file or on a read error. */
static bool read_out(struct edge_spawn *sp, bool drain)
{
	char buf[READ_CHUNK];

	do {
		ssize_t n = read(sp->outfd, buf, sizeof(buf));

		if (n > 0) {
			feed(sp, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		return true;
	} while (drain && alive(sp));
	return false;
}

static void release(struct edge_spawn *sp);

static void on_out(int fd, short revents, void *arg)
{
	struct edge_spawn *sp = arg;

	(void)fd;
	(void)revents; /* POLLHUP: read() says 0 once the pipe is empty */
	sp->busy++;
	if (read_out(sp, false) && alive(sp)) {
		end_of_output(sp);
		close_out(sp);
	}
	sp->busy--;
	if (sp->free_pending && !sp->busy)
		release(sp);
}

/* ---- exit ------------------------------------------------------------------ */

static void unwatch_exit(struct edge_spawn *sp)
{
	if (sp->pidfd >= 0) {
		edge_loop_fd_del(sp->loop, sp->pidfd);
		close(sp->pidfd);
		sp->pidfd = -1;
	}
	edge_loop_timer_del(sp->loop, sp->poll_timer);
	sp->poll_timer = NULL;
	edge_loop_timer_del(sp->loop, sp->kill_timer);
	sp->kill_timer = NULL;
}

/* waitpid(WNOHANG): 1 reaped (*status set), 0 still running. */
static int try_reap(struct edge_spawn *sp, int *status)
{
	pid_t r;

	do
		r = waitpid(sp->pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0) /* ECHILD: reaped elsewhere (SIGCHLD ignored); status unknown */
		*status = 255 << 8;
	sp->pid = -1;
	return 1;
}

/* The child is gone: its output is drained, then the exit callback. */
static void finish(struct edge_spawn *sp, int status)
{
	void (*exit_cb)(void *, const struct edge_spawn_exit *) = sp->exit_cb;

	sp->ex.status = status;
	unwatch_exit(sp);
	if (sp->outfd >= 0) {
		read_out(sp, true);
		if (!alive(sp))
			return;
		end_of_output(sp);
		if (!alive(sp))
			return;
		close_out(sp);
	}
	sp->line_cb = NULL;
	sp->exit_cb = NULL;
	if (exit_cb)
		exit_cb(sp->arg, &sp->ex);
}

static void check_exit(struct edge_spawn *sp)
{
	int status = 0;

	sp->busy++;
	if (sp->pid > 0 && try_reap(sp, &status))
		finish(sp, status);
	sp->busy--;
	if (sp->free_pending && !sp->busy)
		release(sp);
}

static void on_pidfd(int fd, short revents, void *arg)
{
	(void)fd;
	(void)revents;
	check_exit(arg);
}

static void on_poll_timer(void *arg)
{
	check_exit(arg);
}

static void on_kill_timer(void *arg)
{
	struct edge_spawn *sp = arg;
	siginfo_t si = {0};

	if (sp->pid <= 0)
		return;
	/* exited already, the reap is on its way: not a kill */
	if (waitid(P_PID, (id_t)sp->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == sp->pid)
		return;
	if (kill(sp->pid, SIGKILL) == 0)
		sp->ex.killed = true;
}

/* ---- start ------------------------------------------------------------------ */

/* A copy of fd at or above min, close-on-exec, for the child to dup2 from:
 * sources above every target never get overwritten by an earlier dup2. */
static int dup_above(int fd, int min)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, min);

	return d < 0 ? -errno : d;
}

/* The child's descriptor target: a copy of src (>= 0) or /dev/null opened
 * with null_flags. The copy's number is added to tmp for the caller to close
 * after the spawn. */
static int child_fd(posix_spawn_file_actions_t *fa, int src, int target, int null_flags, int base,
		    int *tmp, int *n_tmp)
{
	int rc;

	if (src < 0)
		return -posix_spawn_file_actions_addopen(fa, target, "/dev/null", null_flags, 0);
	rc = dup_above(src, base);
	if (rc < 0)
		return rc;
	tmp[(*n_tmp)++] = rc;
	return -posix_spawn_file_actions_adddup2(fa, rc, target);
}

static int spawn_child(const struct edge_spawn_opts *o, int out_w, pid_t *pid)
{
	int base = 3 + (int)o->n_keep_fds, tmp[EDGE_SPAWN_MAX_KEEP_FDS + 2], n_tmp = 0, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;

	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	rc = posix_spawnattr_init(&attr);
	if (rc) {
		rc = -rc;
		goto err_fa;
	}
	sigemptyset(&none);
	/* Every signal, glibc's internal 32 and 33 included: sigfillset() leaves
	 * them out, and glibc's posix_spawn then sets them to SIG_IGN in the
	 * child, which exec keeps (seen here: SigIgn 0000000180000000). */
	memset(&all, 0xff, sizeof(all));
	rc = posix_spawnattr_setsigmask(&attr, &none);
	rc = rc ?: posix_spawnattr_setsigdefault(&attr, &all);
	rc = rc ?: posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (rc) {
		rc = -rc;
		goto err_attr;
	}

	rc = child_fd(&fa, o->stdin_fd > 0 ? o->stdin_fd : -1, STDIN_FILENO, O_RDONLY, base, tmp,
		      &n_tmp);
	rc = rc ?: child_fd(&fa, out_w, STDOUT_FILENO, O_WRONLY, base, tmp, &n_tmp);
	for (size_t i = 0; i < o->n_keep_fds && !rc; i++)
		rc = child_fd(&fa, o->keep_fds[i], 3 + (int)i, 0, base, tmp, &n_tmp);
	if (rc)
		goto err_tmp;
	/* Everything above the named descriptors, close-on-exec or not. */
	rc = -posix_spawn_file_actions_addclosefrom_np(&fa, base);
	if (rc)
		goto err_tmp;
	/* posix_spawn takes char *const[]; it does not write to the strings */
	rc = posix_spawn(pid, o->path, &fa, &attr, (char *const *)(uintptr_t)o->argv,
			 o->envp ? (char *const *)(uintptr_t)o->envp : environ);
	rc = -rc;
err_tmp:
	while (n_tmp)
		close(tmp[--n_tmp]);
err_attr:
	posix_spawnattr_destroy(&attr);
err_fa:
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static int check_opts(const struct edge_spawn_opts *o)
{
	if (!o || !o->path || !o->argv || !o->argv[0])
		return -EINVAL;
	if (o->n_keep_fds > EDGE_SPAWN_MAX_KEEP_FDS || (o->n_keep_fds && !o->keep_fds))
		return -EINVAL;
	for (size_t i = 0; i < o->n_keep_fds; i++)
		if (o->keep_fds[i] < 0)
			return -EBADF;
	if (o->max_line > LIMIT_MAX_LINE)
		return -EINVAL;
	return 0;
}

int edge_spawn_start(struct edge_loop *loop, const struct edge_spawn_opts *o,
		     struct edge_spawn **out)
{
	struct edge_spawn *sp;
	int pipefd[2] = {-1, -1}, rc;

	rc = check_opts(o);
	if (rc)
		return rc;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->loop = loop;
	sp->pid = -1;
	sp->pidfd = -1;
	sp->outfd = -1;
	sp->line_cb = o->line;
	sp->exit_cb = o->exit;
	sp->arg = o->arg;
	sp->max_line = o->max_line ? o->max_line : DEFAULT_MAX_LINE;
	if (o->line) {
		sp->line = malloc(sp->max_line + 1);
		if (!sp->line) {
			rc = -ENOMEM;
			goto err_sp;
		}
		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			rc = -errno;
			goto err_sp;
		}
		/* only our end: a non-blocking stdout would fail the child's writes */
		if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
			rc = -errno;
			goto err_pipe;
		}
	}
	rc = spawn_child(o, pipefd[1], &sp->pid);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	pipefd[1] = -1;
	if (rc)
		goto err_pipe;
	sp->outfd = pipefd[0];

	rc = pidfd_open(sp->pid);
	if (rc >= 0) {
		sp->pidfd = rc;
		rc = edge_loop_fd_add(loop, sp->pidfd, POLLIN, on_pidfd, sp);
	} else {
		rc = edge_loop_timer_add(loop, POLL_EXIT_MS, POLL_EXIT_MS, on_poll_timer, sp,
					 &sp->poll_timer);
	}
	if (rc)
		goto err_child;
	if (sp->outfd >= 0) {
		rc = edge_loop_fd_add(loop, sp->outfd, POLLIN, on_out, sp);
		if (rc)
			goto err_child;
	}
	*out = sp;
	return 0;

err_child:
	/* started, but the loop cannot watch it: it must not outlive us */
	kill(sp->pid, SIGKILL);
	edge_spawn_stop_sync(sp, 0, NULL);
	close_out(sp);
	free(sp->line);
	free(sp);
	return rc;
err_pipe:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
err_sp:
	free(sp->line);
	free(sp);
	return rc;
}

pid_t edge_spawn_pid(const struct edge_spawn *sp)
{
	return sp->pid > 0 ? sp->pid : -1;
}

bool edge_spawn_running(const struct edge_spawn *sp)
{
	return sp->pid > 0;
}

/* ---- stop -------------------------------------------------------------------- */

int edge_spawn_stop(struct edge_spawn *sp, unsigned timeout_ms)
{
	int rc;

	if (sp->pid <= 0)
		return -ESRCH;
	if (sp->ex.stopped)
		return 0;
	if (kill(sp->pid, SIGTERM) < 0)
		return -errno;
	sp->ex.stopped = true;
	rc = edge_loop_timer_add(sp->loop, timeout_ms, 0, on_kill_timer, sp, &sp->kill_timer);
	if (rc) /* no timer, no bound: go straight to the end */
		on_kill_timer(sp);
	return 0;
}

/* Waits up to timeout_ms for the exit; 1 reaped, 0 not yet. */
static int wait_exit(struct edge_spawn *sp, unsigned timeout_ms, int *status)
{
	uint64_t end = edge_now_ms() + timeout_ms;

	for (;;) {
		uint64_t now = edge_now_ms();
		int left = now >= end ? 0 : (int)(end - now);

		if (try_reap(sp, status))
			return 1;
		if (!left)
			return 0;
		if (sp->pidfd >= 0) {
			struct pollfd pfd = {.fd = sp->pidfd, .events = POLLIN};

			poll(&pfd, 1, left);
		} else {
			struct timespec ts = {.tv_nsec = 10 * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
}

int edge_spawn_stop_sync(struct edge_spawn *sp, unsigned timeout_ms, int *status)
{
	int st = 0, rc = 0;

	sp->line_cb = NULL;
	sp->exit_cb = NULL;
	if (sp->pid <= 0)
		return -ESRCH;
	kill(sp->pid, SIGTERM);
	sp->ex.stopped = true;
	if (!wait_exit(sp, timeout_ms, &st)) {
		kill(sp->pid, SIGKILL);
		sp->ex.killed = true;
		if (!wait_exit(sp, KILL_WAIT_MS, &st)) {
			sp->pid = -1; /* a zombie for init once we exit */
			rc = -ETIMEDOUT;
		}
	}
	unwatch_exit(sp);
	if (status)
		*status = st;
	sp->ex.status = st;
	return rc;
}

/* ---- free -------------------------------------------------------------------- */

static void release(struct edge_spawn *sp)
{
	if (sp->pid > 0)
		edge_spawn_stop_sync(sp, EDGE_SPAWN_FREE_STOP_MS, NULL);
	unwatch_exit(sp);
	close_out(sp);
	free(sp->line);
	free(sp);
}

void edge_spawn_free(struct edge_spawn *sp)
{
	if (!sp)
		return;
	sp->line_cb = NULL;
	sp->exit_cb = NULL;
	if (sp->busy) { /* inside one of our callbacks: the dispatcher frees */
		sp->free_pending = true;
		return;
	}
	release(sp);
}

int edge_spawn_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		return -errno;
	/* after the prctl: a parent that died before it is seen here */
	if (parent > 0 && getppid() != parent)
		return -ESRCH;
	return 0;
}

int edge_spawn_helper_path(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (len)
		*out = '\0';
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(out, len, "%s/%s", self, name) >= (int)len)
		return -ENAMETOOLONG;
	return access(out, X_OK) == 0 ? 0 : -errno;
}
