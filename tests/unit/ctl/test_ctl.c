/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The edgectl socket (agent/ctl/ctl.c) over a real UNIX socket in a
 * temporary directory, served by the real loop; the answers come from stub
 * hooks. Clients are plain sockets driven from the test, the loop runs
 * between their reads and writes.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/ctl.h"
#include "edge/loop.h"
#include "edge/time.h"
#include "edge_test.h"

#define STATUS_JSON "{\"status\":{\"state\":\"online\"},\"alerts\":[]}"
/* the answer: "ok" first, then the hook's fields in their order */
#define STATUS_ANSWER "{\"ok\":true,\"status\":{\"state\":\"online\"},\"alerts\":[]}"
#define IN_MAX	      (64 * 1024)

struct fx {
	char dir[256];
	char path[300];
	struct edge_loop *loop;
	struct edge_ctl *ctl;
	int status_calls;
	int command_calls;
	char action[64];
	bool had_params;
	char params[IN_MAX];
};

/* A client: its socket and what it has received so far. */
struct cli {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

static char *status_hook(void *arg)
{
	struct fx *f = arg;

	f->status_calls++;
	return strdup(STATUS_JSON);
}

static char *command_hook(void *arg, const char *action, const char *params_json)
{
	struct fx *f = arg;
	char out[256];

	f->command_calls++;
	snprintf(f->action, sizeof(f->action), "%s", action);
	f->had_params = params_json != NULL;
	snprintf(f->params, sizeof(f->params), "%s", params_json ? params_json : "");
	snprintf(out, sizeof(out), "{\"id\":\"local-%d\",\"status\":\"ok\",\"message\":\"%s\"}",
		 f->command_calls, action);
	return strdup(out);
}

static void start(struct fx *f, uint32_t max_clients)
{
	struct edge_ctl_cfg cfg = {.path = f->path, .group = "", .max_clients = max_clients};
	struct edge_ctl_hooks hooks = {.status = status_hook, .command = command_hook, .arg = f};

	assert_int_equal(edge_ctl_new(f->loop, &cfg, &hooks, &f->ctl), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || edge_test_env_open("ctl", f->dir, sizeof(f->dir), &f->loop))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/edgectl.sock", f->dir);
	start(f, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_ctl_free(f->ctl);
	edge_test_env_close(f->dir, f->loop);
	free(f);
	return 0;
}

static struct cli *cli_connect(struct fx *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct cli *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_true(strlen(f->path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

static void cli_close(struct cli *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Writes all of text, running the loop while the socket is full. */
static void cli_send(struct fx *f, struct cli *c, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			edge_loop_run_once(f->loop, 10);
			continue;
		}
		text += n;
		len -= (size_t)n;
	}
}

static void cli_say(struct fx *f, struct cli *c, const char *text)
{
	cli_send(f, c, text, strlen(text));
}

/* Takes what has arrived; true when something did. */
static bool cli_pull(struct cli *c)
{
	bool got = false;

	for (;;) {
		ssize_t n;

		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = realloc(c->buf, c->cap);
			assert_non_null(c->buf);
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (n > 0) {
			c->len += (size_t)n;
			got = true;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->eof = true; /* 0, or ECONNRESET: the server closed */
		return got;
	}
}

/* The next line (without '\n') into out, running the loop up to 2 s. */
static bool cli_line(struct fx *f, struct cli *c, char *out, size_t cap)
{
	uint64_t end = edge_now_ms() + 2000;

	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			snprintf(out, cap, "%.*s", (int)n, c->buf);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return true;
		}
		if (c->eof || edge_now_ms() > end)
			return false;
		edge_loop_run_once(f->loop, 10);
		cli_pull(c);
	}
}

/* Nothing more arrives within ms (the loop running meanwhile). */
static bool cli_quiet(struct fx *f, struct cli *c, unsigned ms)
{
	edge_test_run_until(f->loop, NULL, NULL, ms);
	cli_pull(c);
	return c->len == 0;
}

/* The server closed the connection (after anything still queued). */
static bool cli_closed(struct fx *f, struct cli *c)
{
	uint64_t end = edge_now_ms() + 2000;

	while (!c->eof && edge_now_ms() < end) {
		edge_loop_run_once(f->loop, 10);
		cli_pull(c);
	}
	return c->eof;
}

static void ask(struct fx *f, struct cli *c, const char *request, const char *want)
{
	char line[4096];

	cli_say(f, c, request);
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_string_equal(line, want);
}

/* A status request on c is answered from the hook. */
static void status_answered(struct fx *f, struct cli *c)
{
	ask(f, c, "{\"op\":\"status\"}\n", STATUS_ANSWER);
}

/* ---- tests ------------------------------------------------------------------ */

static void socket_file_is_private(void **state)
{
	struct fx *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	/* a second agent on the same socket is refused */
	{
		struct edge_ctl_cfg cfg = {.path = f->path, .group = "", .max_clients = 1};
		struct edge_ctl_hooks hooks = {0};
		struct edge_ctl *other = NULL;

		assert_int_equal(edge_ctl_new(f->loop, &cfg, &hooks, &other), -EADDRINUSE);
	}
	edge_ctl_free(f->ctl);
	f->ctl = NULL;
	assert_int_not_equal(stat(f->path, &st), 0); /* removed */
}

static void status_and_commands_through_the_hooks(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_connect(f);

	status_answered(f, c);
	assert_int_equal(f->status_calls, 1);
	ask(f, c, "{\"op\":\"cmd\",\"action\":\"sensor.disable\",\"params\":{\"name\":\"ir\"}}\n",
	    "{\"ok\":true,\"result\":{\"id\":\"local-1\",\"status\":\"ok\",\"message\":\"sensor."
	    "disable\"}}");
	assert_string_equal(f->action, "sensor.disable");
	assert_true(f->had_params);
	assert_string_equal(f->params, "{\"name\":\"ir\"}");
	ask(f, c, "{\"op\":\"flush\"}\n",
	    "{\"ok\":true,\"result\":{\"id\":\"local-2\",\"status\":\"ok\",\"message\":\"flush\"}"
	    "}");
	assert_string_equal(f->action, "flush");
	assert_false(f->had_params);
	/* refusals answer and keep the connection */
	ask(f, c, "{\"op\":\"cmd\"}\n", "{\"ok\":false,\"error\":\"cmd needs \\\"action\\\"\"}");
	ask(f, c, "{\"op\":\"cmd\",\"action\":\"ping\",\"params\":[1]}\n",
	    "{\"ok\":false,\"error\":\"params must be a JSON object\"}");
	ask(f, c, "{\"op\":\"reboot\"}\n", "{\"ok\":false,\"error\":\"unknown op\"}");
	ask(f, c, "this is not json\n",
	    "{\"ok\":false,\"error\":\"expected {\\\"op\\\": "
	    "\\\"status\\\"|\\\"cmd\\\"|\\\"flush\\\"|\\\"nodes\\\"|\\\"tail\\\"}\"}");
	assert_int_equal(f->command_calls, 2);
	status_answered(f, c);
	cli_close(c);
}

static void request_split_across_writes(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_connect(f);
	char line[512];

	cli_say(f, c, "{\"op\":");
	assert_true(cli_quiet(f, c, 30));
	cli_say(f, c, "\"status\"}");
	assert_true(cli_quiet(f, c, 30));
	assert_int_equal(f->status_calls, 0);
	cli_say(f, c, "\n");
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_string_equal(line, STATUS_ANSWER);
	assert_int_equal(f->status_calls, 1);
	assert_true(cli_quiet(f, c, 30));
	cli_close(c);
}

static void two_requests_in_one_write(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_connect(f);
	char line[512];

	cli_say(f, c, "{\"op\":\"status\"}\n{\"op\":\"cmd\",\"action\":\"ping\"}\n");
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_string_equal(line, STATUS_ANSWER);
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":true,\"result\":{\"id\":\"local-1\",\"status\":\"ok\","
				  "\"message\":\"ping\"}}");
	assert_true(cli_quiet(f, c, 30));
	cli_close(c);
}

static void long_line_is_refused_and_the_loop_goes_on(void **state)
{
	struct fx *f = *state;
	struct cli *c = cli_connect(f), *d;
	size_t len = IN_MAX + 4096;
	char *big = malloc(len + 1), line[512];

	assert_non_null(big);
	/* just under the limit: accepted */
	memset(big, 'x', len);
	memcpy(big, "{\"op\":\"cmd\",\"action\":\"ping\",\"params\":{\"pad\":\"", 45);
	memcpy(big + IN_MAX - 4, "\"}}\n", 4);
	cli_send(f, c, big, IN_MAX);
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_int_equal(strncmp(line, "{\"ok\":true,", 11), 0);
	assert_int_equal(strlen(f->params), IN_MAX - 4 - 45 + 10);
	/* over it, no newline: refused, then closed */
	memset(big, 'y', len);
	cli_send(f, c, big, len);
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"request line longer than 64 KiB\"}");
	assert_true(cli_closed(f, c));
	assert_int_equal(f->command_calls, 1);
	/* the agent still serves */
	d = cli_connect(f);
	status_answered(f, d);
	cli_close(d);
	cli_close(c);
	free(big);
}

static void max_clients_refused_with_busy(void **state)
{
	struct fx *f = *state;
	struct cli *a = cli_connect(f), *b = cli_connect(f), *c, *d;
	char line[512];

	status_answered(f, a);
	status_answered(f, b);
	c = cli_connect(f); /* the third of max_clients 2 */
	assert_true(cli_line(f, c, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"too many edgectl clients\"}");
	assert_true(cli_closed(f, c));
	assert_int_equal(f->status_calls, 2);
	/* the others are unaffected; a freed slot takes a new client */
	status_answered(f, a);
	cli_close(a);
	edge_test_run_until(f->loop, NULL, NULL, 30);
	d = cli_connect(f);
	status_answered(f, d);
	cli_close(b);
	cli_close(c);
	cli_close(d);
}

static void tail_lines(void **state)
{
	struct fx *f = *state;
	struct cli *t = cli_connect(f), *other = cli_connect(f);
	char line[512];

	ask(f, t, "{\"op\":\"tail\"}\n", "{\"ok\":true,\"tail\":true}");
	status_answered(f, other);
	edge_ctl_reading(f->ctl, "vitals", "heart_rate", "72", "bpm", 1800000000123ULL);
	edge_ctl_reading(f->ctl, "vitals", "body_temperature", "36.85", "Cel", 1800000000124ULL);
	assert_true(cli_line(f, t, line, sizeof(line)));
	assert_string_equal(line, "{\"sensor\":\"vitals\",\"metric\":\"heart_rate\",\"value\":72,"
				  "\"unit\":\"bpm\",\"timestamp\":1800000000123}");
	assert_true(cli_line(f, t, line, sizeof(line)));
	assert_string_equal(
	    line, "{\"sensor\":\"vitals\",\"metric\":\"body_temperature\",\"value\":36.85,"
		  "\"unit\":\"Cel\",\"timestamp\":1800000000124}");
	/* only tail clients get readings */
	assert_true(cli_quiet(f, other, 30));
	cli_close(t);
	cli_close(other);
	/* no tail client at all: nothing to do, nothing breaks */
	edge_ctl_reading(f->ctl, "vitals", "heart_rate", "73", "bpm", 1800000000125ULL);
	edge_ctl_reading(NULL, "vitals", "heart_rate", "73", "bpm", 1800000000125ULL);
}

/* Value of a reading line, or -1 for another line. */
static long reading_value(const char *line)
{
	const char *v = strstr(line, "\"value\":");

	return strncmp(line, "{\"sensor\":", 10) == 0 && v ? strtol(v + 8, NULL, 10) : -1;
}

/*
 * A tail client that does not read: the socket fills, then the 256 KiB
 * queue, then readings are dropped. When it reads again, every reading it
 * gets is in order, and exactly one {"dropped":N} line stands where the gap
 * is, N the number missing, right before the next reading (and none before
 * the one after). Done for a few
 * line lengths: where the queue runs full differs with each.
 */
static void slow_tail_client_gets_dropped_count(void **state)
{
	struct fx *f = *state;
	static const char *const sensors[] = {"vitals", "pulse_oximeter_left_wrist",
					      "a_sensor_with_a_much_longer_name_for_this_test"};

	for (size_t round = 0; round < 3; round++) {
		const long total = 8000;
		struct cli *t = cli_connect(f);
		long expect = 0, dropped_lines = 0, delivered = 0;
		char line[512], value[24];
		bool after_drop = false;

		ask(f, t, "{\"op\":\"tail\"}\n", "{\"ok\":true,\"tail\":true}");
		for (long i = 0; i < total; i++) {
			snprintf(value, sizeof(value), "%ld", i);
			edge_ctl_reading(f->ctl, sensors[round], "heart_rate", value, "bpm",
					 1800000000000ULL + (uint64_t)i);
			if (i % 16 == 0)
				edge_loop_run_once(f->loop, 0);
		}
		/* drain everything queued, then two more readings */
		do
			edge_loop_run_once(f->loop, 20);
		while (cli_pull(t));
		for (long i = total; i <= total + 1; i++) {
			snprintf(value, sizeof(value), "%ld", i);
			edge_ctl_reading(f->ctl, sensors[round], "heart_rate", value, "bpm",
					 1800000000000ULL + (uint64_t)i);
		}
		while (cli_line(f, t, line, sizeof(line))) {
			long v = reading_value(line);

			if (strncmp(line, "{\"dropped\":", 11) == 0) {
				long n = strtol(line + 11, NULL, 10);

				assert_false(after_drop); /* one line for one gap */
				assert_true(n > 0);
				expect += n;
				dropped_lines++;
				after_drop = true;
				continue;
			}
			assert_int_equal(v, expect); /* in order, nothing missing unsaid */
			expect = v + 1;
			delivered++;
			after_drop = false;
			if (v == total + 1)
				break;
		}
		assert_int_equal(expect, total + 2);
		assert_int_equal(dropped_lines, 1);
		assert_true(delivered > 1 && delivered < total);
		cli_close(t);
		edge_test_run_until(f->loop, NULL, NULL, 20);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    EDGE_TEST_CASE(socket_file_is_private),
	    EDGE_TEST_CASE(status_and_commands_through_the_hooks),
	    EDGE_TEST_CASE(request_split_across_writes),
	    EDGE_TEST_CASE(two_requests_in_one_write),
	    EDGE_TEST_CASE(long_line_is_refused_and_the_loop_goes_on),
	    EDGE_TEST_CASE(max_clients_refused_with_busy),
	    EDGE_TEST_CASE(tail_lines),
	    EDGE_TEST_CASE(slow_tail_client_gets_dropped_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
