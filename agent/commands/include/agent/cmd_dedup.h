/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_CMD_DEDUP_H
#define EDGE_AGENT_CMD_DEDUP_H
/*
 * Command ids already answered, with their result, kept across restarts in
 * one JSON file (<state_dir>/commands.dedup.json) replaced atomically (tmp,
 * fsync, rename, fsync dir). Bounded: at most max ids, none older than
 * ttl_ms; the oldest go first. Results above EDGE_DEDUP_RESULT_MAX bytes
 * are kept as a short stand-in with the same id, status and message.
 *
 * Results of commands that change the device are written before they are
 * answered (edge_dedup_put(..., sync=true)); read-only results (ping,
 * status, config.get) are written with the next sync put or
 * edge_dedup_flush(): losing those in a crash only means the read runs again.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_DEDUP_RESULT_MAX 8192

struct edge_dedup;

/* Loads path when it exists (a damaged file is ignored and replaced).
 * Caller frees with edge_dedup_free() (which flushes). */
int edge_dedup_open(const char *path, size_t max, uint64_t ttl_ms, uint64_t now_ms,
		    struct edge_dedup **out);
void edge_dedup_free(struct edge_dedup *d);
void edge_dedup_set_limits(struct edge_dedup *d, size_t max, uint64_t ttl_ms);

/* The stored result for id, or NULL. Borrowed until the next put/free. */
const char *edge_dedup_get(struct edge_dedup *d, const char *id, uint64_t now_ms);
/* Remembers id -> result (copied). sync writes the file now. */
int edge_dedup_put(struct edge_dedup *d, const char *id, const char *result, uint64_t now_ms,
		   bool sync);
/* Writes the file when something changed since the last write. */
int edge_dedup_flush(struct edge_dedup *d);
size_t edge_dedup_count(const struct edge_dedup *d);

#endif
