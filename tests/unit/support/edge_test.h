/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_TEST_SUPPORT_H
#define EDGE_TEST_SUPPORT_H
/*
 * Small helpers shared by the agent module tests (uplink, session,
 * pipeline, commands, ctl): a private temporary directory with an event
 * loop, running the loop until a condition holds, a loopback listener. No
 * cmocka here (callers assert), except the EDGE_TEST_CASE shorthand, which
 * expands where cmocka is included.
 */
#include <stdbool.h>
#include <stddef.h>

#include "edge/loop.h"

/* A test case with the file's own setup() and teardown(). */
#define EDGE_TEST_CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* Creates a fresh directory $TMPDIR/edge-<tag>-XXXXXX (or under /tmp) and
 * writes its path to out. 0 or a negative errno. */
int edge_test_tmpdir(const char *tag, char *out, size_t outlen);
/* Removes dir and everything below it (best effort). */
void edge_test_rmtree(const char *dir);

/* What most module tests start from: logging quiet (errors only), a fresh
 * temporary directory (tag names it) and a loop. 0 or a negative errno.
 * edge_test_env_close() frees the loop and removes the directory. */
int edge_test_env_open(const char *tag, char *dir, size_t dirlen, struct edge_loop **loop);
void edge_test_env_close(const char *dir, struct edge_loop *loop);

typedef bool (*edge_test_cond)(void *arg);
/* Runs loop iterations (each waiting at most 10 ms) until cond(arg) holds
 * or timeout_ms passed. cond NULL runs for timeout_ms. Returns cond's last
 * value (true with cond NULL). */
bool edge_test_run_until(struct edge_loop *loop, edge_test_cond cond, void *arg,
			 unsigned timeout_ms);

/* A TCP listener on 127.0.0.1 with the given accept backlog, on a port the
 * kernel picks (*port). The socket, or a negative errno. */
int edge_test_listen_tcp(int backlog, unsigned *port);

#endif
