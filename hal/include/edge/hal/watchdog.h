/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_HAL_WATCHDOG_H
#define EDGE_HAL_WATCHDOG_H
/*
 * Hardware watchdog: "/dev/watchdog" on Linux (watchdog ioctls), "sim:NAME"
 * on the sim backend. Opening arms the watchdog: the caller must call
 * edge_watchdog_keepalive() more often than the timeout, or the board
 * resets. edge_watchdog_close() does the magic close (writes 'V' first) so a
 * clean shutdown disarms it; a crash (fd closed without 'V') does not.
 *
 * All functions return 0 or a negative errno; the HAL never logs.
 */
#ifdef __cplusplus
extern "C" {
#endif

struct edge_watchdog;

struct edge_watchdog_ops {
	int (*keepalive)(struct edge_watchdog *w);
	int (*set_timeout)(struct edge_watchdog *w, int seconds);
	int (*get_timeout)(struct edge_watchdog *w, int *seconds);
	void (*close)(struct edge_watchdog *w, int magic);
};

/* Backends embed this as their first member. */
struct edge_watchdog {
	const struct edge_watchdog_ops *ops;
};

/* Caller frees with edge_watchdog_close() (or edge_watchdog_abandon()). */
int edge_watchdog_open(const char *path, struct edge_watchdog **out);
int edge_watchdog_keepalive(struct edge_watchdog *w);
/* Sets the timeout; the driver may round it: the value in force is
 * returned (> 0), or a negative errno. */
int edge_watchdog_set_timeout(struct edge_watchdog *w, int seconds);
int edge_watchdog_get_timeout(struct edge_watchdog *w, int *seconds);
/* Magic close: disarms, then frees w. NULL is a no-op. */
void edge_watchdog_close(struct edge_watchdog *w);
/* Closes without the magic character: the watchdog stays armed and fires
 * unless someone else keeps it alive (hand-over to another process). */
void edge_watchdog_abandon(struct edge_watchdog *w);

#ifdef __cplusplus
}
#endif
#endif
