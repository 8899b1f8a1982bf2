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
#include <sys/wait.h>
#include <unistd.h>

#include "agent/store.h"
#include "edge/log.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/edge-store-XXXXXX");
	edge_log_set_level(EDGE_LOG_ERR);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct edge_store *open_store(uint64_t rows, uint64_t bytes)
{
	struct edge_store_cfg cfg = {.dir = dir, .max_rows = rows, .max_bytes = bytes};
	struct edge_store *st = NULL;

	assert_int_equal(edge_store_open(&cfg, &st, NULL, 0), 0);
	return st;
}

static void append_n(struct edge_store *st, int n, uint8_t prio)
{
	for (int i = 0; i < n; i++) {
		char p[32];
		struct edge_store_msg m = {
		    .topic = prio ? "alerts/x" : "t/a", .payload = p, .qos = 1, .prio = prio};

		m.len = (size_t)snprintf(p, sizeof(p), "payload-%d", i);
		assert_int_equal(edge_store_append(st, &m, 1), 0);
	}
}

struct collect {
	int64_t seqs[256];
	uint8_t prio[256];
	size_t n;
};

static int collect_cb(const struct edge_store_row *row, void *arg)
{
	struct collect *c = arg;

	c->prio[c->n] = row->prio;
	c->seqs[c->n++] = row->seq;
	return 0;
}

static void insert_fetch_ack(void **state)
{
	struct edge_store *st = open_store(1000, 1 << 20);
	struct edge_store_stats s;
	struct collect c = {0};

	(void)state;
	append_n(st, 10, 0);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 10);
	assert_int_equal(s.next_seq, 11);
	assert_int_equal(edge_store_fetch(st, 0, 0, 100, collect_cb, &c), 10);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(c.seqs[i], (int64_t)i + 1);
	c.n = 0;
	assert_int_equal(edge_store_fetch(st, 0, 7, 100, collect_cb, &c), 3);
	assert_int_equal(c.seqs[0], 8);
	for (int64_t q = 1; q <= 5; q++)
		assert_int_equal(edge_store_ack(st, q), 0);
	assert_int_equal(edge_store_ack_pending(st), 5);
	assert_int_equal(edge_store_ack_flush(st), 0);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 5);
	/* acking a row that is already gone is harmless */
	assert_int_equal(edge_store_ack(st, 3), 0);
	assert_int_equal(edge_store_ack_flush(st), 0);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 5);
	edge_store_close(st);
}

static void seq_survives_restart_and_empty(void **state)
{
	struct edge_store *st = open_store(1000, 1 << 20);
	struct edge_store_stats s;

	(void)state;
	append_n(st, 3, 0);
	for (int64_t q = 1; q <= 3; q++)
		edge_store_ack(st, q);
	edge_store_ack_flush(st);
	edge_store_close(st);
	st = open_store(1000, 1 << 20);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 0);
	assert_int_equal(s.next_seq, 4); /* never reused though the table emptied */
	assert_int_equal(s.boot, 2);
	append_n(st, 1, 0);
	assert_int_equal(edge_store_last_seq(st, 0), 4);
	edge_store_close(st);
}

static void cap_drops_oldest_low_priority_first(void **state)
{
	struct edge_store *st = open_store(100, 1 << 20);
	struct edge_store_stats s;
	struct collect c = {0};

	(void)state;
	append_n(st, 2, 1);   /* alerts: seq 1, 2 */
	append_n(st, 110, 0); /* telemetry: seq 3..112 */
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 100);
	assert_int_equal(s.dropped_cap, 12);
	assert_int_equal(edge_store_fetch(st, 0, 0, 200, collect_cb, &c), 100);
	/* the alerts stay, the newest telemetry stays, the oldest 12 went */
	assert_int_equal(c.seqs[0], 1);
	assert_int_equal(c.seqs[1], 2);
	assert_int_equal(c.seqs[2], 15);
	assert_int_equal(c.seqs[99], 112);
	c.n = 0;
	assert_int_equal(edge_store_fetch(st, 1, 0, 200, collect_cb, &c), 2);
	assert_int_equal(c.prio[0], 1);
	/* the count survives a restart */
	edge_store_close(st);
	st = open_store(100, 1 << 20);
	edge_store_stats(st, &s);
	assert_int_equal(s.dropped_cap, 12);
	/* a smaller cap applies at once */
	assert_int_equal(edge_store_set_caps(st, 50, 1 << 20), 0);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 50);
	assert_int_equal(s.dropped_cap, 62);
	edge_store_close(st);
}

static void byte_cap(void **state)
{
	struct edge_store *st = open_store(1000000, 65536);
	struct edge_store_stats s;
	char big[1000];
	struct edge_store_msg m = {.topic = "t", .payload = big, .len = sizeof(big), .qos = 1};

	(void)state;
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 100; i++)
		assert_int_equal(edge_store_append(st, &m, 1), 0);
	edge_store_stats(st, &s);
	assert_true(s.bytes <= 65536);
	assert_int_equal(s.rows, 65536 / 1001);
	assert_int_equal(s.dropped_cap, 100 - s.rows);
	edge_store_close(st);
}

static void corrupt_file_moved_aside(void **state)
{
	char path[128], moved[256];
	struct edge_store_cfg cfg = {.dir = dir, .max_rows = 100, .max_bytes = 1 << 20};
	struct edge_store *st = open_store(100, 1 << 20);
	struct edge_store_stats s;
	int fd;

	(void)state;
	append_n(st, 5, 0);
	edge_store_close(st);
	snprintf(path, sizeof(path), "%s/outbox.db", dir);
	unlink(strcat(strcpy(moved, path), "-wal"));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a database, just garbage bytes......", 48), 48);
	close(fd);
	assert_int_equal(edge_store_open(&cfg, &st, moved, sizeof(moved)), 0);
	assert_non_null(strstr(moved, "outbox.db.corrupt-"));
	assert_int_equal(access(moved, F_OK), 0); /* kept for inspection */
	edge_store_stats(st, &s);
	assert_int_equal(s.corrupt_events, 1);
	assert_int_equal(s.rows, 0);
	assert_true(s.next_seq > 5); /* the reservation keeps seqs moving forward */
	assert_int_equal(edge_store_check(st), 0);
	edge_store_close(st);
}

/* A crash (no edge_store_close): append no longer writes meta.next_seq, so
 * the counter comes from the rows, or from the ack transaction that deleted
 * them. A child process appends and acks, then _exit()s without closing. */
static void crash_child(int64_t ack_from, int appends1, int acks1, int appends2, int acks2)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct edge_store_cfg cfg = {.dir = dir, .max_rows = 1000, .max_bytes = 1 << 20};
		struct edge_store *st = NULL;
		int64_t q = ack_from;

		if (edge_store_open(&cfg, &st, NULL, 0))
			_exit(2);
		for (int r = 0; r < 2; r++) {
			int ap = r ? appends2 : appends1, ak = r ? acks2 : acks1;

			for (int i = 0; i < ap; i++) {
				struct edge_store_msg m = {
				    .topic = "t/a", .payload = "x", .len = 1};

				if (edge_store_append(st, &m, 1))
					_exit(3);
			}
			for (int i = 0; i < ak; i++)
				edge_store_ack(st, q++);
			if (edge_store_ack_flush(st))
				_exit(4);
		}
		_exit(0); /* no close: what SIGKILL leaves */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void seq_survives_crash(void **state)
{
	struct edge_store *st;
	struct edge_store_stats s;

	(void)state;
	if (getenv("EDGE_UNDER_EMULATOR")) {
		/* qemu-aarch64 7.2 (Debian 12) cannot run a forked child: even a
		 * fork() + _exit(7) program hangs, the child spinning before its
		 * first system call. The native stages run this case. */
		printf("SKIPPED under qemu-user: seq_survives_crash forks a crashing writer "
		       "(checked on the native build)\n");
		return;
	}
	crash_child(1, 4, 0, 0, 0); /* rows only: 1..4 stay */
	st = open_store(1000, 1 << 20);
	edge_store_stats(st, &s);
	assert_int_equal(s.next_seq, 5);
	assert_int_equal(s.rows, 4);
	edge_store_close(st);
	crash_child(1, 3, 7, 0, 0); /* 5..7 appended, then 1..7 all acked: table empty */
	st = open_store(1000, 1 << 20);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 0);
	assert_int_equal(s.next_seq, 8);
	edge_store_close(st);
	crash_child(8, 2, 1, 3, 4); /* 8..9, ack 8; 10..12, ack 9..12: empty, last 12 */
	st = open_store(1000, 1 << 20);
	edge_store_stats(st, &s);
	assert_int_equal(s.rows, 0);
	assert_int_equal(s.next_seq, 13);
	edge_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(insert_fetch_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(seq_survives_restart_and_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(seq_survives_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(cap_drops_oldest_low_priority_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(byte_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(corrupt_file_moved_aside, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
