/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/uplink/session.h against real loopback sockets: the TCP probe
 * (success, refused, unresolvable, a hanging connect that never blocks the
 * loop) and the bounded blocking connect with the real libmosquitto: the
 * CONNECT it sends carries the Session Expiry Interval, and a connect()
 * that hangs (the listener's accept queue is full, so the kernel drops the
 * SYN) returns timed out within its bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/loop.h"
#include "edge/time.h"
#include "edge_test.h"
#include "session.h"

struct probe_result {
	int calls;
	int err;
	char why[128];
};

static void probe_cb(void *arg, int err, const char *why)
{
	struct probe_result *r = arg;

	r->calls++;
	r->err = err;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

static bool probe_done(void *arg)
{
	return ((struct probe_result *)arg)->calls > 0;
}

static int listener(int backlog, unsigned *port)
{
	int fd = edge_test_listen_tcp(backlog, port);

	assert_true(fd >= 0);
	return fd;
}

/* Probes 127.0.0.1:port in loop until the callback came (2 s at most). */
static void probe_loopback(struct edge_loop *loop, unsigned port, struct probe_result *r,
			   struct edge_tcp_probe **p)
{
	char why[128] = "";

	assert_int_equal(
	    edge_tcp_probe_start(loop, "127.0.0.1", port, probe_cb, r, p, why, sizeof(why)), 0);
	assert_true(edge_test_run_until(loop, probe_done, r, 2000));
	assert_int_equal(r->calls, 1);
}

/* A non-blocking connect to 127.0.0.1:port; the socket. */
static int connect_nb(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		assert_int_equal(errno, EINPROGRESS);
	return fd;
}

static bool connected_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (poll(&p, 1, ms) <= 0)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0;
}

/*
 * A listener whose accept queue is full: listen(fd, 0) and connections
 * that are never accepted. A further connect() then hangs because the
 * kernel drops its SYN. fill[] receives the filling sockets. Returns the
 * listener, or -1 (test skipped) when this kernel answers the SYN anyway.
 */
static int full_listener(unsigned *port, int fill[3])
{
	int lfd = listener(0, port), probe;
	bool hangs;

	for (int i = 0; i < 3; i++)
		fill[i] = connect_nb(*port);
	connected_within(fill[0], 200);
	probe = connect_nb(*port);
	hangs = !connected_within(probe, 200);
	close(probe);
	if (!hangs) {
		for (int i = 0; i < 3; i++)
			close(fill[i]);
		close(lfd);
		return -1;
	}
	return lfd;
}

static void probe_succeeds_on_a_listener(void **state)
{
	struct probe_result r = {0};
	struct edge_tcp_probe *p = NULL;
	struct edge_loop *loop;
	unsigned port;
	int lfd = listener(4, &port), afd;

	(void)state;
	assert_int_equal(edge_loop_new(&loop), 0);
	probe_loopback(loop, port, &r, &p);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.why, "");
	/* it really connected: the listener has the connection */
	afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_true(afd >= 0);
	edge_tcp_probe_free(p);
	edge_test_run_until(loop, NULL, NULL, 20);
	assert_int_equal(r.calls, 1);
	close(afd);
	close(lfd);
	edge_loop_free(loop);
}

static void probe_refused_on_a_closed_port(void **state)
{
	struct probe_result r = {0};
	struct edge_tcp_probe *p = NULL;
	struct edge_loop *loop;
	unsigned port;

	(void)state;
	close(listener(1, &port)); /* a port nobody listens on */
	assert_int_equal(edge_loop_new(&loop), 0);
	probe_loopback(loop, port, &r, &p);
	assert_int_equal(r.err, ECONNREFUSED);
	assert_string_equal(r.why, strerror(ECONNREFUSED));
	edge_tcp_probe_free(p);
	edge_loop_free(loop);
}

static void probe_unresolvable_fails_at_once(void **state)
{
	struct probe_result r = {0};
	struct edge_tcp_probe *p = NULL;
	struct edge_loop *loop;
	char why[128] = "";
	uint64_t t0 = edge_now_ms();

	(void)state;
	assert_int_equal(edge_loop_new(&loop), 0);
	assert_int_equal(edge_tcp_probe_start(loop, "no-such-host.invalid", 8883, probe_cb, &r, &p,
					      why, sizeof(why)),
			 -EHOSTUNREACH);
	assert_true(edge_now_ms() - t0 < 5000);
	assert_null(p);
	assert_int_equal(strncmp(why, "Lookup error: ", 14), 0);
	edge_test_run_until(loop, NULL, NULL, 20);
	assert_int_equal(r.calls, 0); /* the return value is the only answer */
	edge_loop_free(loop);
}

static void probe_of_a_hanging_connect_does_not_block(void **state)
{
	struct probe_result r = {0};
	struct edge_tcp_probe *p = NULL;
	struct edge_loop *loop;
	unsigned port;
	int fill[3], lfd = full_listener(&port, fill);
	char why[128] = "";
	uint64_t t0;

	(void)state;
	if (lfd < 0)
		skip();
	assert_int_equal(edge_loop_new(&loop), 0);
	t0 = edge_now_ms();
	assert_int_equal(
	    edge_tcp_probe_start(loop, "127.0.0.1", port, probe_cb, &r, &p, why, sizeof(why)), 0);
	assert_true(edge_now_ms() - t0 < 100);
	edge_test_run_until(loop, NULL, NULL, 150);
	assert_int_equal(r.calls, 0);
	/* freeing cancels: no callback later */
	edge_tcp_probe_free(p);
	edge_test_run_until(loop, NULL, NULL, 30);
	assert_int_equal(r.calls, 0);
	edge_loop_free(loop);
	for (int i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
}

static struct mosquitto *v5_client(void)
{
	struct mosquitto *m = mosquitto_new("session-test", false, NULL);

	assert_non_null(m);
	assert_int_equal(mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5),
			 MOSQ_ERR_SUCCESS);
	return m;
}

/* Reads what the client sent on fd (up to len bytes, waiting up to 1 s). */
static size_t read_some(int fd, unsigned char *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, 1000) <= 0)
		return 0;
	n = recv(fd, buf, len, 0);
	return n > 0 ? (size_t)n : 0;
}

/* The Session Expiry Interval of an MQTT 5 CONNECT packet whose first (and,
 * from the uplink, only) property it is; -1 otherwise. */
static int64_t connect_session_expiry(const unsigned char *b, size_t n, unsigned *keepalive)
{
	size_t i = 1;

	if (n < 2 || b[0] != 0x10)
		return -1;
	while (i < n && (b[i] & 0x80)) /* remaining length */
		i++;
	i++;
	/* protocol name, level 5, flags, keepalive, property length */
	if (i + 11 > n || memcmp(b + i, "\0\4MQTT\5", 7) != 0)
		return -1;
	i += 8;
	*keepalive = (unsigned)(b[i] << 8 | b[i + 1]);
	i += 2;
	if (b[i] < 5 || i + 5 >= n || b[i + 1] != MQTT_PROP_SESSION_EXPIRY_INTERVAL)
		return -1;
	i += 2;
	return (int64_t)((uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 | (uint32_t)b[i + 2] << 8 |
			 b[i + 3]);
}

static void sentinel_handler(int sig)
{
	(void)sig;
}

/* Installs a handler of ours for SIGALRM and blocks it, as a caller might
 * have them: edge_uplink_connect_session() must give both back. */
static void caller_signal_state(void)
{
	struct sigaction sa = {.sa_handler = sentinel_handler};
	sigset_t alrm;

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &alrm, NULL), 0);
}

static void assert_signal_state_kept(void)
{
	struct sigaction sa;
	sigset_t mask;

	assert_int_equal(sigaction(SIGALRM, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, sentinel_handler);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	assert_int_equal(sigismember(&mask, SIGALRM), 1);
}

static void restore_default_signal_state(void)
{
	sigset_t alrm;

	signal(SIGALRM, SIG_DFL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
}

static void connect_session_sends_expiry(void **state)
{
	struct mosquitto *m = v5_client();
	unsigned char buf[512];
	unsigned port, keepalive = 0;
	int lfd = listener(4, &port), afd;
	bool timed_out = true;
	size_t n;

	(void)state;
	caller_signal_state();
	assert_int_equal(
	    edge_uplink_connect_session(m, "127.0.0.1", port, 30, 600, 1000, &timed_out),
	    MOSQ_ERR_SUCCESS);
	assert_false(timed_out);
	assert_signal_state_kept();
	restore_default_signal_state();
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	mosquitto_loop_write(m, 1); /* in case the CONNECT is still queued */
	n = read_some(afd, buf, sizeof(buf));
	assert_int_equal(connect_session_expiry(buf, n, &keepalive), 600);
	assert_int_equal(keepalive, 30);
	mosquitto_destroy(m);
	close(afd);
	close(lfd);
}

static void connect_session_is_bounded(void **state)
{
	struct mosquitto *m;
	unsigned port;
	int fill[3], lfd = full_listener(&port, fill), rc;
	bool timed_out = false;
	uint64_t t0, took;

	(void)state;
	if (lfd < 0) {
		fprintf(stderr, "  this kernel answers a SYN to a full accept queue: skipped\n");
		skip();
	}
	m = v5_client();
	caller_signal_state();
	t0 = edge_now_ms();
	rc = edge_uplink_connect_session(m, "127.0.0.1", port, 30, 600, 300, &timed_out);
	took = edge_now_ms() - t0;
	assert_int_equal(rc, MOSQ_ERR_ERRNO);
	assert_true(timed_out);
	assert_true(took >= 290); /* it did hang until the bound */
	assert_true(took < 300 + 700);
	/* the caller's handler and mask are back, even with SIGALRM blocked */
	assert_signal_state_kept();
	restore_default_signal_state();
	/* no timer left behind: a later blocking call is not interrupted */
	assert_int_equal(usleep(100 * 1000), 0);
	mosquitto_destroy(m);
	for (int i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(probe_succeeds_on_a_listener),
	    cmocka_unit_test(probe_refused_on_a_closed_port),
	    cmocka_unit_test(probe_unresolvable_fails_at_once),
	    cmocka_unit_test(probe_of_a_hanging_connect_does_not_block),
	    cmocka_unit_test(connect_session_sends_expiry),
	    cmocka_unit_test(connect_session_is_bounded),
	};
	int rc;

	mosquitto_lib_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
