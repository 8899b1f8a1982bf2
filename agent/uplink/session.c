/* SPDX-License-Identifier: Apache-2.0 */
/* The TCP probe and the bounded blocking connect of session.h. */
#include <errno.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "session.h"

/* glibc < 2.41 has no name for the thread id of SIGEV_THREAD_ID. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

struct edge_tcp_probe {
	struct edge_loop *loop;
	edge_tcp_probe_cb cb;
	void *arg;
	int fd;
	struct addrinfo *ai, *next;
	int last_errno;
};

static void drop_fd(struct edge_tcp_probe *p)
{
	if (p->fd >= 0) {
		edge_loop_fd_del(p->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
}

static void try_next(struct edge_tcp_probe *p);

static void probe_cb(int fd, short revents, void *arg)
{
	struct edge_tcp_probe *p = arg;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (!soerr && (revents & (POLLERR | POLLHUP)))
		soerr = ECONNRESET;
	drop_fd(p);
	if (soerr) {
		p->last_errno = soerr;
		try_next(p);
		return;
	}
	p->cb(p->arg, 0, "");
}

/* A non-blocking connect() to the next address; the last error is the
 * outcome when none is left. */
static void try_next(struct edge_tcp_probe *p)
{
	while (p->next) {
		struct addrinfo *ai = p->next;
		int fd;

		p->next = ai->ai_next;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			p->last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			/* also an immediate success: poll() reports it writable */
			if (edge_loop_fd_add(p->loop, fd, POLLOUT, probe_cb, p)) {
				close(fd);
				p->cb(p->arg, ENOSPC, "no room for the probe socket in the loop");
				return;
			}
			p->fd = fd;
			return;
		}
		p->last_errno = errno;
		close(fd);
	}
	p->last_errno = p->last_errno ? p->last_errno : ECONNREFUSED;
	p->cb(p->arg, p->last_errno, strerror(p->last_errno));
}

int edge_tcp_probe_start(struct edge_loop *loop, const char *host, unsigned port,
			 edge_tcp_probe_cb cb, void *arg, struct edge_tcp_probe **out, char *why,
			 size_t whylen)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct edge_tcp_probe *p = calloc(1, sizeof(*p));
	char service[8];
	int rc;

	if (!p) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	p->loop = loop;
	p->cb = cb;
	p->arg = arg;
	p->fd = -1;
	snprintf(service, sizeof(service), "%u", port);
	/* resolved as libmosquitto resolves it */
	rc = getaddrinfo(host, service, &hints, &p->ai);
	if (rc) {
		snprintf(why, whylen, "Lookup error: %s",
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		free(p);
		return -EHOSTUNREACH;
	}
	p->next = p->ai;
	*out = p;
	try_next(p); /* may already call cb (no address could even start) */
	return 0;
}

void edge_tcp_probe_free(struct edge_tcp_probe *p)
{
	if (!p)
		return;
	drop_fd(p);
	if (p->ai)
		freeaddrinfo(p->ai);
	free(p);
}

static volatile sig_atomic_t connect_alarm;

static void connect_alarm_cb(int sig)
{
	(void)sig;
	connect_alarm = 1;
}

/*
 * libmosquitto makes the socket non-blocking right after its connect(),
 * starts TLS (SSL_connect wants to read: the handshake goes on in the loop)
 * and queues CONNECT with the property. A timer signal aimed at this thread,
 * handled without SA_RESTART, makes that connect() fail with EINTR after
 * bound_ms; after the first expiry it repeats every 50 ms, so the host's
 * further addresses cannot block either. The handler, signal mask and timer
 * are restored or removed before returning (the daemon blocks only the
 * signals it reads from its signalfd: TERM, INT, HUP).
 */
int edge_uplink_connect_session(struct mosquitto *mosq, const char *host, unsigned port,
				unsigned keepalive_s, uint32_t expiry_s, unsigned bound_ms,
				bool *timed_out)
{
	struct itimerspec its = {
	    .it_value = {.tv_sec = bound_ms / 1000, .tv_nsec = (long)(bound_ms % 1000) * 1000000L},
	    .it_interval = {.tv_nsec = 50 * 1000000L},
	};
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM};
	struct sigaction sa = {.sa_handler = connect_alarm_cb}, old_sa;
	mosquitto_property *props = NULL;
	sigset_t alrm, old_mask;
	bool timer = false;
	timer_t tid;
	int rc, err;

	*timed_out = false;
	rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, expiry_s);
	if (rc != MOSQ_ERR_SUCCESS)
		return rc;
	sev.sigev_notify_thread_id = gettid();
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the blocked connect() returns EINTR */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	connect_alarm = 0;
	sigaction(SIGALRM, &sa, &old_sa);
	pthread_sigmask(SIG_UNBLOCK, &alrm, &old_mask);
	if (timer_create(CLOCK_MONOTONIC, &sev, &tid) == 0) {
		timer = true;
		timer_settime(tid, 0, &its, NULL);
	}
	rc = mosquitto_connect_bind_v5(mosq, host, (int)port, (int)keepalive_s, NULL, props);
	err = errno;
	if (timer)
		timer_delete(tid); /* SIGALRM is unblocked here: no expiry is left pending */
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	mosquitto_property_free_all(&props);
	*timed_out = connect_alarm && rc == MOSQ_ERR_ERRNO;
	errno = err;
	return rc;
}
