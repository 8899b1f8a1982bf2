/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: state.json and history.json (edge/ota/state.h). First
 * byte even: the rest is state JSON; an accepted record must come back
 * unchanged through edge_ota_state_to_json(). Odd: the rest is written as
 * history.json in a scratch directory and loaded; an accepted history is
 * changed with add/forget (the caps must hold) and must come back unchanged
 * through save and load.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/ota/state.h"
#include "fuzz_util.h"

static void state_case(const uint8_t *data, size_t size)
{
	static struct edge_ota_record r, back;
	char why[256];
	char *json;

	if (edge_ota_state_from_json((const char *)data, size, &r, why, sizeof(why)) != 0)
		return;
	if (!edge_ota_state_name(r.state) || (r.m.version[0] && r.offset > r.m.size))
		abort();
	json = edge_ota_state_to_json(&r);
	if (!json)
		abort(); /* an accepted record always serializes */
	if (edge_ota_state_from_json(json, strlen(json), &back, why, sizeof(why)) != 0 ||
	    memcmp(&r, &back, sizeof(r)) != 0)
		abort();
	free(json);
}

static void history_case(const uint8_t *data, size_t size)
{
	static struct edge_ota_history h, back;
	struct edge_ota_outcome o;
	char path[512], why[256];
	const char *dir = fuzz_tmpdir();

	fuzz_path(path, sizeof(path), "history.json");
	fuzz_write_file(path, data, size);
	if (edge_ota_history_load(dir, &h, why, sizeof(why)) != 0)
		return;
	if (h.n_last > EDGE_OTA_HISTORY_MAX || h.n_failed > EDGE_OTA_FAILED_MAX)
		abort();
	/* the newest outcome fails again: listed once, at the front */
	if (h.n_last) {
		o = h.last[0];
		strcpy(o.result, "rolled_back");
		strcpy(o.sha256,
		       "e98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f70");
		edge_ota_history_add(&h, &o);
		if (!edge_ota_history_is_failed(&h, o.version, o.sha256) ||
		    h.n_last > EDGE_OTA_HISTORY_MAX || h.n_failed > EDGE_OTA_FAILED_MAX)
			abort();
	}
	if (h.n_failed > 1) {
		char version[EDGE_OTA_VERSION_MAX], sha[65];

		memcpy(version, h.failed[1].version, sizeof(version));
		memcpy(sha, h.failed[1].sha256, sizeof(sha));
		edge_ota_history_forget_failed(&h, version, sha);
		if (edge_ota_history_is_failed(&h, version, sha))
			abort();
	}
	if (edge_ota_history_save(dir, &h) != 0 ||
	    edge_ota_history_load(dir, &back, why, sizeof(why)) != 0 ||
	    memcmp(&h, &back, sizeof(h)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		history_case(data + 1, size - 1);
	else
		state_case(data + 1, size - 1);
	return 0;
}
