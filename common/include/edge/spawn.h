/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_SPAWN_H
#define EDGE_SPAWN_H
/*
 * The one way the daemon starts a helper process (edge-prov-client,
 * edge-ota-fetch, ...), joined to its event loop (edge/loop.h).
 *
 * The child starts clean, whatever the daemon has set up for itself: an
 * empty signal mask and the default disposition for every signal (the
 * daemon blocks SIGTERM/SIGINT/SIGHUP for its signalfd and ignores SIGPIPE;
 * a child inheriting that would never see the SIGTERM that stops it), and
 * only the descriptors named here: stdin (/dev/null unless given), stdout (a
 * pipe read on the loop when a line callback is set, else /dev/null),
 * stderr inherited (the helper's log reaches the journal), and keep_fds,
 * which become 3, 4, ... in the child. Nothing else crosses exec, with or
 * without FD_CLOEXEC.
 *
 * The child's stdout is read on the loop and handed to the line callback
 * one whole line at a time, in order, without the '\n'. A line longer than
 * max_line is discarded whole (never delivered cut: "ckpt 123" must not
 * arrive as "ckpt 1"), and counted. After the child has exited, what it
 * wrote is drained, an unterminated last line is delivered, then the exit
 * callback runs, exactly once. Output of grandchildren that still hold the
 * pipe after the child exited is not read.
 *
 * The exit is watched with a pidfd (Linux >= 5.3) in the loop, or, where
 * pidfd_open() fails, a waitpid(WNOHANG) check every 100 ms. Nothing here
 * ever waits for a child without a bound.
 *
 * Callbacks run on the loop's thread; they may call edge_spawn_stop() and
 * edge_spawn_free() on their own handle. The library does not log.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct edge_loop;
struct edge_spawn;

#define EDGE_SPAWN_MAX_KEEP_FDS 8

/* How the child ended. */
struct edge_spawn_exit {
	int status;		/* as from waitpid(): WIFEXITED()/WEXITSTATUS(), WIFSIGNALED() */
	bool stopped;		/* edge_spawn_stop() had sent SIGTERM */
	bool killed;		/* ... and the child outlived the bound: SIGKILL */
	unsigned dropped_lines; /* stdout lines longer than max_line, discarded */
};

struct edge_spawn_opts {
	const char *path;	 /* the executable; not searched in PATH */
	const char *const *argv; /* NULL-terminated, argv[0] included */
	const char *const *envp; /* NULL-terminated; NULL: the daemon's environment */
	int stdin_fd;		 /* > 0: becomes the child's stdin; 0 (a zeroed struct)
				    or < 0: /dev/null. Stays the caller's. */
	const int *keep_fds;	 /* become 3, 4, ... in the child; stay the caller's */
	size_t n_keep_fds;	 /* at most EDGE_SPAWN_MAX_KEEP_FDS */
	size_t max_line;	 /* longest line delivered, '\n' excluded; 0: 4096 */
	/* A line of the child's stdout, NUL-terminated (line[len] == '\0'),
	 * borrowed for the call. NULL: stdout is /dev/null. */
	void (*line)(void *arg, const char *line, size_t len);
	/* The child was reaped; no callback of this handle runs after it.
	 * NULL: nobody is told (the handle still must be freed). */
	void (*exit)(void *arg, const struct edge_spawn_exit *e);
	void *arg;
};

/* Starts the child. loop is borrowed and must outlive the handle. 0, or a
 * negative errno (-ENOENT / -EACCES from exec, -EINVAL, -EMFILE, -ENOMEM,
 * -ENOSPC when the loop has no room for two more descriptors). Caller frees
 * with edge_spawn_free(). */
int edge_spawn_start(struct edge_loop *loop, const struct edge_spawn_opts *o,
		     struct edge_spawn **out);

/* The child's pid while it has not been reaped, else -1. */
pid_t edge_spawn_pid(const struct edge_spawn *sp);
/* True until the child has been reaped. */
bool edge_spawn_running(const struct edge_spawn *sp);

/* Bounded stop on the loop: SIGTERM now, SIGKILL if the child still runs
 * after timeout_ms; the exit callback follows the reap as usual. Returns at
 * once. A second call while stopping does nothing; after the exit it
 * returns -ESRCH. */
int edge_spawn_stop(struct edge_spawn *sp, unsigned timeout_ms);

/* Bounded synchronous stop, for when the loop no longer runs (shutdown):
 * SIGTERM, wait up to timeout_ms, SIGKILL, wait up to 500 ms more, reap.
 * Returns in at most timeout_ms + 500 ms. No callback runs, then or later;
 * *status (optional) gets the wait status. 0, -ESRCH when the child had
 * already been reaped, or -ETIMEDOUT when even SIGKILL did not end it in
 * time (a process stuck in the kernel; left unreaped). */
int edge_spawn_stop_sync(struct edge_spawn *sp, unsigned timeout_ms, int *status);

/* Frees the handle; a child still running gets edge_spawn_stop_sync() with
 * EDGE_SPAWN_FREE_STOP_MS first, which blocks (bounded). On a running loop
 * prefer edge_spawn_stop() and free in the exit callback. No callback runs
 * after it. Safe on a child that already exited; NULL is a no-op. */
#define EDGE_SPAWN_FREE_STOP_MS 1000
void edge_spawn_free(struct edge_spawn *sp);

/* Where the daemon's helper `name` (edge-prov-client, edge-ota-fetch, ...)
 * lives: beside the running executable (/proc/self/exe), so that an agent
 * run from an OTA slot uses that slot's helpers. 0, or -ENOENT/-EACCES
 * (from access(X_OK)), -ENAMETOOLONG; out holds the path either way. */
int edge_spawn_helper_path(const char *name, char *out, size_t len);

/* For the helper program itself, first thing in main(): asks the kernel for
 * SIGTERM when its parent dies (PR_SET_PDEATHSIG), so a SIGKILLed daemon
 * leaves no helper behind. parent is the pid the daemon passed down (e.g.
 * --parent-pid); 0 skips the check. Returns -ESRCH when that parent is
 * already gone (the caller should exit), 0 otherwise. */
int edge_spawn_die_with_parent(pid_t parent);

#endif
