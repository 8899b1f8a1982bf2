/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_TEST_SUPPORT_H
#define EDGE_TEST_SUPPORT_H
/*
 * Small helpers shared by the agent module tests (uplink, session,
 * pipeline, commands, ctl): a private temporary directory and running the
 * event loop until a condition holds. No cmocka here: callers assert.
 */
#include <stdbool.h>
#include <stddef.h>

#include "edge/loop.h"

/* Creates a fresh directory $TMPDIR/edge-<tag>-XXXXXX (or under /tmp) and
 * writes its path to out. 0 or a negative errno. */
int edge_test_tmpdir(const char *tag, char *out, size_t outlen);
/* Removes dir and everything below it (best effort). */
void edge_test_rmtree(const char *dir);

typedef bool (*edge_test_cond)(void *arg);
/* Runs loop iterations (each waiting at most 10 ms) until cond(arg) holds
 * or timeout_ms passed. cond NULL runs for timeout_ms. Returns cond's last
 * value (true with cond NULL). */
bool edge_test_run_until(struct edge_loop *loop, edge_test_cond cond, void *arg,
			 unsigned timeout_ms);

#endif
