/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_STORE_H
#define EDGE_AGENT_STORE_H
/*
 * The outbox: every message is committed to SQLite (WAL) before it is
 * published and deleted only after its PUBACK. Each row carries the
 * per-device sequence number (which is also its key, so ids never go back)
 * and the agent start ("boot") it was accepted in.
 *
 * Bounded: beyond max_rows / max_bytes the oldest rows are dropped (low
 * priority first) and counted. A corrupt file found at open is moved aside
 * (kept for inspection) and a fresh outbox is created; the sequence number
 * continues from a reservation kept in a separate file, so it never goes
 * back even then.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge_store;

struct edge_store_cfg {
	const char *dir; /* state_dir: outbox.db and seq.reserve live here */
	uint64_t max_rows;
	uint64_t max_bytes;
	bool sync_full; /* synchronous=FULL (power loss) instead of NORMAL */
};

struct edge_store_msg {
	const char *topic;
	const void *payload;
	size_t len;
	uint8_t qos;
	bool retain;
	uint8_t prio; /* 0 telemetry, 1 alerts: published first, dropped last */
};

struct edge_store_row {
	int64_t seq;
	int64_t boot;
	const char *topic;
	const void *payload;
	size_t len;
	uint8_t qos;
	bool retain;
	uint8_t prio;
};

struct edge_store_stats {
	uint64_t rows;
	uint64_t bytes;
	uint64_t dropped_cap;	/* oldest rows dropped by the caps */
	uint64_t dropped_error; /* messages refused because the disk was full or failing */
	uint64_t corrupt_events;
	int64_t next_seq;
	int64_t boot;
	int last_error; /* negative errno of the last failed write, 0 after a success */
};

/* Opens (creating or recovering) the outbox and counts this start as a new
 * boot. *recovered (optional) receives the path the corrupt file was moved
 * to, or "" . Caller frees with edge_store_close(). */
int edge_store_open(const struct edge_store_cfg *cfg, struct edge_store **out, char *recovered,
		    size_t recovered_len);
void edge_store_close(struct edge_store *st);
/* Applies new caps (config reload); drops at once if the backlog exceeds them. */
int edge_store_set_caps(struct edge_store *st, uint64_t max_rows, uint64_t max_bytes);

/* Appends n messages in one transaction, assigning consecutive seqs.
 * Returns 0, or a negative errno with all n counted in dropped_error. */
int edge_store_append(struct edge_store *st, const struct edge_store_msg *msgs, size_t n);

/* Calls cb for up to max rows of priority prio with seq > after, in seq
 * order. Row pointers are valid only during the callback. Returns the
 * number of rows visited or a negative errno. A callback returning non-zero
 * stops the walk. */
typedef int (*edge_store_row_cb)(const struct edge_store_row *row, void *arg);
int edge_store_fetch(struct edge_store *st, uint8_t prio, int64_t after, size_t max,
		     edge_store_row_cb cb, void *arg);

/* Queues a delete (after PUBACK); edge_store_ack_flush() commits all queued
 * deletes in one transaction. */
int edge_store_ack(struct edge_store *st, int64_t seq);
int edge_store_ack_flush(struct edge_store *st);
size_t edge_store_ack_pending(const struct edge_store *st);

/* Highest seq stored so far of priority prio (0 when none since open). */
int64_t edge_store_last_seq(const struct edge_store *st, uint8_t prio);
void edge_store_stats(const struct edge_store *st, struct edge_store_stats *out);
/* Runs PRAGMA integrity_check; 0 when "ok". */
int edge_store_check(struct edge_store *st);
/* Truncating WAL checkpoint (idle or shutdown). */
void edge_store_checkpoint(struct edge_store *st);

#endif
