/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_LOOP_H
#define EDGE_LOOP_H
/*
 * The agent's single poll()-based event loop. It owns every descriptor the
 * process waits on: sockets, the signalfd, a timerfd for all timers, UART and
 * D-Bus fds. Callbacks run on the loop's thread and must not block.
 *
 * Callbacks may add or remove fds and timers (including their own) while
 * they run. Removing a timer or fd frees it; the handle is invalid after.
 */
#include <stdint.h>

struct edge_loop;
struct edge_timer;

typedef void (*edge_loop_fd_cb)(int fd, short revents, void *arg);
typedef void (*edge_loop_cb)(void *arg);

/* Caller frees with edge_loop_free(). */
int edge_loop_new(struct edge_loop **out);
void edge_loop_free(struct edge_loop *loop);

/* Watches fd for events (POLLIN/POLLOUT). One registration per fd. */
int edge_loop_fd_add(struct edge_loop *loop, int fd, short events, edge_loop_fd_cb cb, void *arg);
int edge_loop_fd_events(struct edge_loop *loop, int fd, short events);
void edge_loop_fd_del(struct edge_loop *loop, int fd);

/* A timer firing first after first_ms, then every period_ms (0 = once; a
 * one-shot timer stays allocated, disarmed, until deleted). *out borrowed
 * until edge_loop_timer_del() or edge_loop_free(). */
int edge_loop_timer_add(struct edge_loop *loop, uint64_t first_ms, uint64_t period_ms,
			edge_loop_cb cb, void *arg, struct edge_timer **out);
/* Re-arms (first_ms from now) or disarms (first_ms = UINT64_MAX). */
void edge_loop_timer_set(struct edge_loop *loop, struct edge_timer *t, uint64_t first_ms,
			 uint64_t period_ms);
void edge_loop_timer_del(struct edge_loop *loop, struct edge_timer *t);

/* Called before every poll() (e.g. to update POLLOUT interest). */
int edge_loop_prepare_add(struct edge_loop *loop, edge_loop_cb cb, void *arg);

/* Runs until edge_loop_stop(). Returns 0, or a negative errno if poll fails. */
int edge_loop_run(struct edge_loop *loop);
void edge_loop_stop(struct edge_loop *loop);
/* Runs one iteration waiting at most timeout_ms (tests). */
int edge_loop_run_once(struct edge_loop *loop, int timeout_ms);

#endif
