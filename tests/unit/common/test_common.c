/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge/backoff.h"
#include "edge/file.h"
#include "edge/log.h"
#include "edge/loop.h"

static void backoff_bounds(void **state)
{
	struct edge_backoff b;
	uint32_t max_seen = 0, zeros = 0;

	(void)state;
	edge_backoff_init(&b, 100, 5000, 42);
	/* ceilings double from base up to the cap */
	assert_int_equal(edge_backoff_ceiling(&b), 100);
	for (int i = 0; i < 10; i++) {
		uint32_t ceil = edge_backoff_ceiling(&b), d = edge_backoff_next(&b);

		assert_true(d <= ceil);
		assert_int_equal(ceil, (100u << i) > 5000 ? 5000 : (100u << i));
	}
	/* stays within the cap forever, and is jittered (not always the ceiling) */
	for (int i = 0; i < 10000; i++) {
		uint32_t d = edge_backoff_next(&b);

		assert_true(d <= 5000);
		if (d > max_seen)
			max_seen = d;
		zeros += d < 2500;
	}
	assert_true(max_seen > 4500);
	assert_true(zeros > 3000 && zeros < 7000); /* roughly uniform */
	edge_backoff_reset(&b);
	assert_int_equal(edge_backoff_ceiling(&b), 100);
}

static void backoff_cap_below_base(void **state)
{
	struct edge_backoff b;

	(void)state;
	edge_backoff_init(&b, 1000, 10, 1);
	for (int i = 0; i < 100; i++)
		assert_true(edge_backoff_next(&b) <= 1000);
}

static void ratelimit_burst(void **state)
{
	struct edge_ratelimit rl = EDGE_RATELIMIT_INIT(60000, 3);
	uint32_t sup = 99;
	int printed = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		printed += edge_ratelimit_ok(&rl, &sup);
	assert_int_equal(printed, 3);
	assert_int_equal(rl.suppressed, 97);
	/* a new window reports what was suppressed */
	rl.window_start_ms -= 61000;
	assert_true(edge_ratelimit_ok(&rl, &sup));
	assert_int_equal(sup, 97);
}

static void atomic_write_replaces(void **state)
{
	char dir[] = "/tmp/edge-test-XXXXXX", path[256], *buf;
	size_t len;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b/file", dir);
	assert_int_equal(edge_mkdir_p(strrchr(path, '/') ? dir : dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/dir", dir);
	assert_int_equal(edge_mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/dir/secret", dir);
	assert_int_equal(edge_file_write_atomic(path, "one", 3, 0600), 0);
	assert_int_equal(edge_file_write_atomic(path, "second", 6, 0600), 0);
	assert_int_equal(edge_file_read(path, 100, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "second");
	free(buf);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(edge_file_read(path, 3, &buf, &len), -EFBIG);
	/* edge_file_read_fd: exactly size bytes, -EIO when the file is shorter */
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(edge_file_read_fd(fd, 6, &buf), 0);
		assert_string_equal(buf, "second");
		free(buf);
		assert_int_equal(edge_file_read_fd(fd, 3, &buf), 0);
		assert_string_equal(buf, "sec");
		free(buf);
		assert_int_equal(edge_file_read_fd(fd, 7, &buf), -EIO);
		assert_null(buf);
		close(fd);
	}
	unlink(path);
	assert_int_equal(edge_file_read(path, 100, &buf, &len), -ENOENT);
}

static int fired;
static struct edge_loop *g_loop;
static void tick(void *arg)
{
	(void)arg;
	if (++fired == 3)
		edge_loop_stop(g_loop);
}

static void loop_timers(void **state)
{
	struct edge_timer *t;

	(void)state;
	assert_int_equal(edge_loop_new(&g_loop), 0);
	assert_int_equal(edge_loop_timer_add(g_loop, 5, 5, tick, NULL, &t), 0);
	assert_int_equal(edge_loop_run(g_loop), 0);
	assert_int_equal(fired, 3);
	edge_loop_timer_del(g_loop, t);
	edge_loop_free(g_loop);
}

static uint64_t late_at[4];
static int late_n;
static void late_tick(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	late_at[late_n++] = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (late_n == 4)
		edge_loop_stop(g_loop);
}

static void slow_cb(void *arg)
{
	(void)arg;
	usleep(25000);
}

static void check_spacing(void)
{
	for (int i = 1; i < late_n; i++)
		if (late_at[i] - late_at[i - 1] < 4000)
			fail_msg("firings %d and %d only %llu us apart", i - 1, i,
				 (unsigned long long)(late_at[i] - late_at[i - 1]));
}

/* A periodic timer that fires late (a loaded machine, SIGSTOP) must not fire
 * again right away: two sensor ticks in one millisecond share a timestamp. */
static void loop_timer_late_no_burst(void **state)
{
	struct edge_timer *t, *slow;

	(void)state;
	assert_int_equal(edge_loop_new(&g_loop), 0);
	assert_int_equal(edge_loop_timer_add(g_loop, 10, 10, late_tick, NULL, &t), 0);
	usleep(19500); /* the first firing is ~9.5 ms late */
	assert_int_equal(edge_loop_run(g_loop), 0);
	check_spacing();
	edge_loop_timer_del(g_loop, t);

	/* late because a callback earlier in the same pass took 25 ms */
	late_n = 0;
	assert_int_equal(edge_loop_timer_add(g_loop, 10, 10, late_tick, NULL, &t), 0);
	assert_int_equal(edge_loop_timer_add(g_loop, 10, 0, slow_cb, NULL, &slow), 0);
	assert_int_equal(edge_loop_run(g_loop), 0);
	check_spacing();
	edge_loop_timer_del(g_loop, t);
	edge_loop_timer_del(g_loop, slow);
	edge_loop_free(g_loop);
}

static void stop_in_prepare(void *arg)
{
	(void)arg;
	edge_loop_stop(g_loop);
}

static void late_fail(void *arg)
{
	(void)arg;
	edge_loop_stop(g_loop);
	fail_msg("the loop waited in poll() after a prepare callback stopped it");
}

/* A prepare callback that stops the loop (the agent's shutdown drain check)
 * must not leave it waiting in poll() for the next event. */
static void loop_stop_from_prepare(void **state)
{
	struct edge_timer *t;

	(void)state;
	assert_int_equal(edge_loop_new(&g_loop), 0);
	assert_int_equal(edge_loop_timer_add(g_loop, 2000, 0, late_fail, NULL, &t), 0);
	assert_int_equal(edge_loop_prepare_add(g_loop, stop_in_prepare, NULL), 0);
	assert_int_equal(edge_loop_run(g_loop), 0);
	edge_loop_timer_del(g_loop, t);
	edge_loop_free(g_loop);
}

static void fd_cb(int fd, short rev, void *arg)
{
	char c;

	(void)rev;
	assert_int_equal(read(fd, &c, 1), 1);
	*(char *)arg = c;
	edge_loop_stop(g_loop);
}

static void loop_fds(void **state)
{
	int p[2];
	char got = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(edge_loop_new(&g_loop), 0);
	assert_int_equal(edge_loop_fd_add(g_loop, p[0], 1 /* POLLIN */, fd_cb, &got), 0);
	assert_int_equal(edge_loop_fd_add(g_loop, p[0], 1, fd_cb, &got), -EEXIST);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(edge_loop_run(g_loop), 0);
	assert_int_equal(got, 'x');
	edge_loop_free(g_loop);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(backoff_bounds),
	    cmocka_unit_test(backoff_cap_below_base),
	    cmocka_unit_test(ratelimit_burst),
	    cmocka_unit_test(atomic_write_replaces),
	    cmocka_unit_test(loop_timers),
	    cmocka_unit_test(loop_timer_late_no_burst),
	    cmocka_unit_test(loop_stop_from_prepare),
	    cmocka_unit_test(loop_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
