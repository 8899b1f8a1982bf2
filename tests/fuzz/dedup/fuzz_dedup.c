/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the commands dedup store's file
 * (<state_dir>/commands.dedup.json, agent/commands/cmd_dedup.c) as it is
 * found at start: damaged, hand-edited, from another version.
 *
 * Input: one control byte, then the file. The control byte sets the limits
 * (max 1..16 ids, ttl of an hour or of 30 days) and whether a result larger
 * than EDGE_DEDUP_RESULT_MAX is stored.
 * Checks: at most max ids after open; a result put is returned by get; what
 * the store writes loads back to the same ids and results (a second open of
 * the written file agrees with the first store, id by id).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_dedup.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1800000000000ULL

static char big[EDGE_DEDUP_RESULT_MAX + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	struct edge_dedup *d, *again;
	const char *res, *res2;
	size_t max;
	uint64_t ttl;
	bool large;

	if (size < 1)
		return 0;
	if (!path[0]) {
		fuzz_path(path, sizeof(path), "commands.dedup.json");
		memset(big, 'x', sizeof(big) - 1);
		static const char head[] =
		    "{\"id\":\"big\",\"status\":\"ok\",\"message\":\"m\",\"data\":\"";

		memcpy(big, head, sizeof(head) - 1);
		memcpy(big + sizeof(big) - 3, "\"}", 3);
	}
	max = 1 + (data[0] & 15);
	ttl = data[0] & 16 ? 30ULL * 86400000 : 3600000;
	large = data[0] & 32;
	fuzz_write_file(path, data + 1, size - 1);

	if (edge_dedup_open(path, max, ttl, NOW_MS, &d))
		abort();
	if (edge_dedup_count(d) > max)
		abort();
	/* a get of whatever id the file may hold, then a put that rewrites it */
	(void)edge_dedup_get(d, "cmd-1", NOW_MS);
	if (edge_dedup_put(d, "fuzz-put", large ? big : "{\"id\":\"fuzz-put\",\"status\":\"ok\"}",
			   NOW_MS, true))
		abort();
	res = edge_dedup_get(d, "fuzz-put", NOW_MS);
	if (!res || strlen(res) > EDGE_DEDUP_RESULT_MAX || edge_dedup_count(d) > max)
		abort();
	if (!large && strcmp(res, "{\"id\":\"fuzz-put\",\"status\":\"ok\"}") != 0)
		abort();

	/* what was written loads back the same */
	if (edge_dedup_open(path, max, ttl, NOW_MS, &again))
		abort();
	if (edge_dedup_count(again) != edge_dedup_count(d))
		abort();
	res2 = edge_dedup_get(again, "fuzz-put", NOW_MS);
	res = edge_dedup_get(d, "fuzz-put", NOW_MS);
	if (!res2 || strcmp(res, res2) != 0)
		abort();
	res = edge_dedup_get(d, "cmd-1", NOW_MS);
	res2 = edge_dedup_get(again, "cmd-1", NOW_MS);
	if (!res != !res2 || (res && strcmp(res, res2) != 0))
		abort();
	edge_dedup_free(again);
	edge_dedup_free(d);
	return 0;
}
