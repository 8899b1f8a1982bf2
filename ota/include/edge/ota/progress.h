/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_PROGRESS_H
#define EDGE_OTA_PROGRESS_H
/*
 * The line protocol the OTA helpers (edge-ota-fetch, edge-ota-install) speak
 * on their stdout, one event per line, read by the agent through
 * common/spawn. ASCII, fields separated by one space, at most 512 bytes:
 *
 *   ckpt OFFSET          the first OFFSET bytes of the output are on disk
 *                        (fdatasync done) and hashed; the agent may persist
 *                        OFFSET (fetch: every 4 MiB or 10 s, and at the end)
 *   progress N [TOTAL]   N bytes (fetch) or N units of TOTAL (install) done
 *   validator V          fetch: the server's strong ETag (with its quotes)
 *                        or "lm:" + Last-Modified, for If-Range next time
 *   restart REASON       fetch: starting over from byte 0 (REASON: one word:
 *                        "200", "validator", "416", "rehash")
 *   retry SECONDS TEXT   a transient failure; the next attempt in SECONDS
 *   slot NAME            install/booted: the slot concerned ("A" or "B")
 *   version V            booted: the version the booted slot runs
 *   done [SHA256]        success (fetch: the hash of all size bytes, which
 *                        matched the expected one)
 *   error KIND TEXT      a terminal failure; KIND is one word of
 *                        url size hash deadline io disk refused internal
 *                        (TEXT: free text to the end of the line)
 *   log TEXT             for the agent's log only
 *
 * Unknown words are EDGE_OTA_EV_UNKNOWN (ignored by the agent, so a newer
 * helper can say more). Numbers are decimal, no sign, at most 2^63-1.
 *
 * Pure code: no logging, no I/O, no allocation.
 */
#include <stddef.h>
#include <stdint.h>

enum edge_ota_event {
	EDGE_OTA_EV_UNKNOWN,
	EDGE_OTA_EV_CKPT,
	EDGE_OTA_EV_PROGRESS,
	EDGE_OTA_EV_VALIDATOR,
	EDGE_OTA_EV_RESTART,
	EDGE_OTA_EV_RETRY,
	EDGE_OTA_EV_SLOT,
	EDGE_OTA_EV_VERSION,
	EDGE_OTA_EV_DONE,
	EDGE_OTA_EV_ERROR,
	EDGE_OTA_EV_LOG,
};

#define EDGE_OTA_LINE_MAX 512

struct edge_ota_msg {
	enum edge_ota_event ev;
	uint64_t n;	/* ckpt OFFSET, progress N, retry SECONDS */
	uint64_t total; /* progress TOTAL (0 when absent) */
	char word[24];	/* error KIND, restart REASON, slot NAME */
	/* validator V, done SHA256 (64 lowercase hex or ""), version V,
	 * error/retry/log TEXT: NUL-terminated, control characters refused. */
	char text[EDGE_OTA_LINE_MAX];
};

/* Parses one line (without its '\n'). 0, or -EINVAL for a malformed line of
 * a known word (missing or bad number, bad hash, overlong field). */
int edge_ota_msg_parse(const char *line, size_t len, struct edge_ota_msg *out);

/* Formats msg as a line with its '\n' into buf; returns the length or
 * -ENOSPC. For the helpers. */
int edge_ota_msg_format(char *buf, size_t buflen, const struct edge_ota_msg *msg);

#endif
