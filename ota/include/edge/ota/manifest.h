/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_MANIFEST_H
#define EDGE_OTA_MANIFEST_H
/*
 * The OTA manifest (shared/DESIGN.md 5.4): a JWS compact serialization,
 * ES256 only, whose payload is
 *   {"version","url","size","sha256","boards":[...],
 *    "installer":"bundle|rauc|swupdate","minVersion"?,"allowDowngrade"?}
 * and the semantic versions it compares (semver 2.0.0: MAJOR.MINOR.PATCH,
 * optional -prerelease, +build ignored in comparisons).
 *
 * Pure code: no logging, no I/O. Every refusal fills why with one short
 * line that names the field ("size: must be an integer in [1, 2^53]").
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge_jws_key;

#define EDGE_OTA_VERSION_MAX   64 /* with the NUL */
#define EDGE_OTA_URL_MAX       1024
#define EDGE_OTA_BOARDS_MAX    16
#define EDGE_OTA_BOARD_MAX     32
#define EDGE_OTA_INSTALLER_MAX 16
#define EDGE_OTA_PAYLOAD_MAX   8192 /* a bigger payload is refused unread */

struct edge_ota_manifest {
	char version[EDGE_OTA_VERSION_MAX]; /* valid semver */
	char url[EDGE_OTA_URL_MAX];	    /* http:// or https://, no spaces or controls */
	uint64_t size;			    /* 1 .. 2^53 */
	char sha256[65];		    /* 64 lowercase hex (upper case is folded) */
	char boards[EDGE_OTA_BOARDS_MAX][EDGE_OTA_BOARD_MAX]; /* 1..16 names [A-Za-z0-9._-] */
	size_t n_boards;
	char installer[EDGE_OTA_INSTALLER_MAX]; /* "bundle", "rauc" or "swupdate" */
	char min_version[EDGE_OTA_VERSION_MAX]; /* "" when absent; else valid semver */
	bool allow_downgrade;			/* false when absent */
};

/* Checks the payload's schema and fills m. Unknown keys are refused (a
 * manifest that says more than this agent understands is not installed).
 * 0, or -EINVAL with why. */
int edge_ota_manifest_parse(const char *payload, size_t len, struct edge_ota_manifest *m, char *why,
			    size_t whylen);

/* edge_jws_verify() with key, then edge_ota_manifest_parse(). 0, or
 * -EINVAL (malformed JWS or schema), -ENOTSUP (alg other than ES256),
 * -EBADMSG (bad signature), -ENOMEM; why says which and why. */
int edge_ota_manifest_verify(const char *jws, size_t len, const struct edge_jws_key *key,
			     struct edge_ota_manifest *m, char *why, size_t whylen);

/* The payload JSON of m (for edge-ota-sign and tests); caller frees. */
char *edge_ota_manifest_to_json(const struct edge_ota_manifest *m);

/* True when board is listed in m->boards (exact match). */
bool edge_ota_manifest_has_board(const struct edge_ota_manifest *m, const char *board);

/* Semantic versions. */
bool edge_semver_valid(const char *s);
/* <0, 0, >0 as a sorts before, equal to (build metadata ignored), after b.
 * Precedence of semver 2.0.0 section 11 (1.0.0-alpha < 1.0.0-alpha.1 <
 * 1.0.0-beta < 1.0.0). Invalid versions sort before every valid one and
 * compare by strcmp among themselves. */
int edge_semver_cmp(const char *a, const char *b);

#endif
