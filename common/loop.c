/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "edge/loop.h"
#include "edge/time.h"

#define MAX_FDS	     32
#define MAX_PREPARES 8

struct watch {
	int fd;
	short events;
	edge_loop_fd_cb cb;
	void *arg;
	bool dead;
};

struct edge_timer {
	struct edge_timer *next;
	uint64_t due_ms; /* UINT64_MAX: disarmed */
	uint64_t period_ms;
	edge_loop_cb cb;
	void *arg;
	bool dead;
};

struct edge_loop {
	struct watch watches[MAX_FDS];
	size_t n_watches;
	struct edge_timer *timers;
	struct {
		edge_loop_cb cb;
		void *arg;
	} prepares[MAX_PREPARES];
	size_t n_prepares;
	int tfd;
	uint64_t armed_ms;
	bool stop;
	bool dispatching;
};

int edge_loop_new(struct edge_loop **out)
{
	struct edge_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->tfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	loop->armed_ms = UINT64_MAX;
	*out = loop;
	return 0;
}

void edge_loop_free(struct edge_loop *loop)
{
	if (!loop)
		return;
	while (loop->timers) {
		struct edge_timer *t = loop->timers;

		loop->timers = t->next;
		free(t);
	}
	close(loop->tfd);
	free(loop);
}

static struct watch *watch_find(struct edge_loop *loop, int fd)
{
	for (size_t i = 0; i < loop->n_watches; i++)
		if (loop->watches[i].fd == fd && !loop->watches[i].dead)
			return &loop->watches[i];
	return NULL;
}

int edge_loop_fd_add(struct edge_loop *loop, int fd, short events, edge_loop_fd_cb cb, void *arg)
{
	if (fd < 0 || !cb)
		return -EINVAL;
	if (watch_find(loop, fd))
		return -EEXIST;
	if (loop->n_watches == MAX_FDS)
		return -ENOSPC;
	loop->watches[loop->n_watches++] =
	    (struct watch){.fd = fd, .events = events, .cb = cb, .arg = arg};
	return 0;
}

int edge_loop_fd_events(struct edge_loop *loop, int fd, short events)
{
	struct watch *w = watch_find(loop, fd);

	if (!w)
		return -ENOENT;
	w->events = events;
	return 0;
}

static void compact_watches(struct edge_loop *loop)
{
	size_t j = 0;

	for (size_t i = 0; i < loop->n_watches; i++)
		if (!loop->watches[i].dead)
			loop->watches[j++] = loop->watches[i];
	loop->n_watches = j;
}

void edge_loop_fd_del(struct edge_loop *loop, int fd)
{
	struct watch *w = watch_find(loop, fd);

	if (!w)
		return;
	w->dead = true;
	if (!loop->dispatching)
		compact_watches(loop);
}

int edge_loop_timer_add(struct edge_loop *loop, uint64_t first_ms, uint64_t period_ms,
			edge_loop_cb cb, void *arg, struct edge_timer **out)
{
	struct edge_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->cb = cb;
	t->arg = arg;
	t->next = loop->timers;
	loop->timers = t;
	edge_loop_timer_set(loop, t, first_ms, period_ms);
	if (out)
		*out = t;
	return 0;
}

void edge_loop_timer_set(struct edge_loop *loop, struct edge_timer *t, uint64_t first_ms,
			 uint64_t period_ms)
{
	(void)loop;
	t->period_ms = period_ms;
	t->due_ms = first_ms == UINT64_MAX ? UINT64_MAX : edge_now_ms() + first_ms;
}

static void reap_timers(struct edge_loop *loop)
{
	struct edge_timer **pp = &loop->timers;

	while (*pp) {
		struct edge_timer *t = *pp;

		if (t->dead) {
			*pp = t->next;
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

void edge_loop_timer_del(struct edge_loop *loop, struct edge_timer *t)
{
	if (!t)
		return;
	t->dead = true;
	t->due_ms = UINT64_MAX;
	if (!loop->dispatching)
		reap_timers(loop);
}

int edge_loop_prepare_add(struct edge_loop *loop, edge_loop_cb cb, void *arg)
{
	if (loop->n_prepares == MAX_PREPARES)
		return -ENOSPC;
	loop->prepares[loop->n_prepares].cb = cb;
	loop->prepares[loop->n_prepares].arg = arg;
	loop->n_prepares++;
	return 0;
}

void edge_loop_stop(struct edge_loop *loop)
{
	loop->stop = true;
}

/* Arms the timerfd for the earliest due timer (absolute monotonic time). */
static void arm(struct edge_loop *loop)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its = {0};

	for (struct edge_timer *t = loop->timers; t; t = t->next)
		if (t->due_ms < next)
			next = t->due_ms;
	if (next == loop->armed_ms)
		return;
	loop->armed_ms = next;
	if (next != UINT64_MAX) {
		if (next == 0)
			next = 1;
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
	}
	timerfd_settime(loop->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void run_timers(struct edge_loop *loop)
{
	uint64_t now = edge_now_ms();

	for (struct edge_timer *t = loop->timers; t; t = t->next) {
		if (t->dead || t->due_ms > now)
			continue;
		if (t->period_ms) {
			/* Fixed rate, but a late firing (a loaded machine, a
			 * stopped process) never leaves the next one less than
			 * half a period away: it skips instead of bursting, so
			 * two samples of one sensor never share a timestamp. */
			t->due_ms += t->period_ms;
			if (t->due_ms < now + (t->period_ms + 1) / 2)
				t->due_ms = now + t->period_ms;
		} else {
			t->due_ms = UINT64_MAX;
		}
		t->cb(t->arg);
		/* A callback may take a while (a TLS connect setup): with the
		 * time from before it, a timer further on would fire late here
		 * and be due again at once. */
		now = edge_now_ms();
	}
}

int edge_loop_run_once(struct edge_loop *loop, int timeout_ms)
{
	struct pollfd pfds[MAX_FDS + 1];
	size_t n;
	int rc;

	for (size_t i = 0; i < loop->n_prepares; i++)
		loop->prepares[i].cb(loop->prepares[i].arg);
	if (loop->stop) /* a prepare callback stopped the loop: don't wait in poll() */
		return 0;
	arm(loop);
	pfds[0] = (struct pollfd){.fd = loop->tfd, .events = POLLIN};
	n = loop->n_watches;
	for (size_t i = 0; i < n; i++)
		pfds[i + 1] =
		    (struct pollfd){.fd = loop->watches[i].fd, .events = loop->watches[i].events};
	rc = poll(pfds, n + 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	loop->dispatching = true;
	if (pfds[0].revents & POLLIN) {
		uint64_t expirations;

		if (read(loop->tfd, &expirations, sizeof(expirations)) < 0) {
			/* EAGAIN after a re-arm: nothing to do */
		}
		loop->armed_ms = UINT64_MAX;
	}
	run_timers(loop);
	for (size_t i = 0; i < n; i++) {
		struct watch *w = &loop->watches[i];

		if (!pfds[i + 1].revents || w->dead || w->fd != pfds[i + 1].fd)
			continue;
		w->cb(w->fd, pfds[i + 1].revents, w->arg);
	}
	loop->dispatching = false;
	compact_watches(loop);
	reap_timers(loop);
	return 0;
}

int edge_loop_run(struct edge_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		int rc = edge_loop_run_once(loop, -1);

		if (rc)
			return rc;
	}
	return 0;
}
