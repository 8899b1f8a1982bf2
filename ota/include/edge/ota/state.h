/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_STATE_H
#define EDGE_OTA_STATE_H
/*
 * What the OTA module keeps on disk in ota.dir (shared/DESIGN.md 5.4):
 *   state.json    the one authority on the update in hand, written
 *                 atomically (edge_file_write_atomic) BEFORE each
 *                 transition's side effect
 *   history.json  the last outcomes and the failed list ((version, sha256)
 *                 pairs that failed or rolled back: never retried unless an
 *                 operator says retryFailed)
 *
 * Loading is strict about types and bounds and tolerant about absence: a
 * missing state.json is "idle"; a corrupt one is an error the caller
 * reports (the agent then refuses new updates until an operator cancels,
 * rather than guessing). Unknown keys are ignored (a newer agent may have
 * written them before a rollback to this one).
 *
 * No logging. I/O only in the _load/_save functions.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/ota/manifest.h"

enum edge_ota_state {
	EDGE_OTA_IDLE,
	EDGE_OTA_DOWNLOADING,
	EDGE_OTA_VERIFYING,
	EDGE_OTA_INSTALLING,
	EDGE_OTA_REBOOTING,
	EDGE_OTA_TRIAL,
	EDGE_OTA_COMMITTED,
	EDGE_OTA_FAILED,
	EDGE_OTA_ROLLED_BACK,
};

/* "idle", "downloading", ... "rolled_back"; NULL out of range. */
const char *edge_ota_state_name(enum edge_ota_state s);
/* The state of a name; -1 when unknown. */
int edge_ota_state_from_name(const char *name);

struct edge_ota_record {
	enum edge_ota_state state;
	char ota_id[64]; /* the command id that started it */
	struct edge_ota_manifest m;
	char from_version[EDGE_OTA_VERSION_MAX];
	uint64_t offset;	/* checkpointed bytes of {sha256}.part */
	uint64_t resumed_from;	/* offset at the last (re)start of the download */
	char validator[256];	/* for If-Range: strong ETag or "lm:..." */
	uint32_t attempt;	/* download attempts (helper starts) */
	char target_slot[8];	/* "A"/"B"; "" before installing */
	char booted_slot[8];	/* the slot booted when the update began */
	char boot_id[64];	/* boot id when "rebooting" was written */
	uint32_t trial_starts;	/* agent starts seen in "trial" */
	int64_t trial_since_ms; /* wall clock ms when the trial began; 0 */
	int64_t started_ms;	/* wall clock ms when the command was accepted */
	int64_t deadline_ms;	/* download deadline, wall clock ms */
	char result[16];	/* "success", "failure", "rolled_back" or "" */
	char reason[192];	/* why it failed / was refused; "" */
	int64_t ts_ms;		/* when the state was written */
};

/* ota.dir/state.json. Missing file: *r zeroed with state EDGE_OTA_IDLE and
 * 0 returned. -EINVAL with why for a file that does not parse or holds an
 * out-of-range value; other negative errno for I/O. */
int edge_ota_state_load(const char *dir, struct edge_ota_record *r, char *why, size_t whylen);
/* Atomic replace (0600). 0 or negative errno. */
int edge_ota_state_save(const char *dir, const struct edge_ota_record *r);
/* The JSON the reports and `ota status` are made from (the record as
 * state.json holds it); caller frees. */
char *edge_ota_state_to_json(const struct edge_ota_record *r);
/* Parses what edge_ota_state_to_json() wrote (for _load and the fuzzer). */
int edge_ota_state_from_json(const char *json, size_t len, struct edge_ota_record *r, char *why,
			     size_t whylen);

#define EDGE_OTA_HISTORY_MAX 16 /* last outcomes kept */
#define EDGE_OTA_FAILED_MAX  32 /* failed (version, sha256) pairs kept, oldest dropped */

struct edge_ota_outcome {
	char ota_id[64];
	char version[EDGE_OTA_VERSION_MAX];
	char sha256[65];
	char result[16]; /* "success", "failure", "rolled_back" */
	char reason[192];
	int64_t ts_ms;
};

struct edge_ota_history {
	struct edge_ota_outcome last[EDGE_OTA_HISTORY_MAX]; /* newest first */
	size_t n_last;
	struct {
		char version[EDGE_OTA_VERSION_MAX];
		char sha256[65];
	} failed[EDGE_OTA_FAILED_MAX]; /* newest first */
	size_t n_failed;
};

/* ota.dir/history.json; missing -> empty, 0. Same errors as state. */
int edge_ota_history_load(const char *dir, struct edge_ota_history *h, char *why, size_t whylen);
int edge_ota_history_save(const char *dir, const struct edge_ota_history *h);
/* Adds an outcome (newest first, the oldest beyond the cap dropped); a
 * "failure" or "rolled_back" result also joins the failed list (once). */
void edge_ota_history_add(struct edge_ota_history *h, const struct edge_ota_outcome *o);
bool edge_ota_history_is_failed(const struct edge_ota_history *h, const char *version,
				const char *sha256);
/* Removes (version, sha256) from the failed list (an operator's
 * retryFailed that then succeeded). */
void edge_ota_history_forget_failed(struct edge_ota_history *h, const char *version,
				    const char *sha256);
char *edge_ota_history_to_json(const struct edge_ota_history *h);

#endif
