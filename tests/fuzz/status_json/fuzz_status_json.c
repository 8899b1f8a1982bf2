/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what arrives from the network on the status and
 * alert topics. The input's first byte picks the path:
 *   even: a status for device "d" (parsed, applied twice: online then as a
 *         possible will), odd: an alert for severity "warning";
 * then the registry renders, and the rendered text must stay well formed:
 * every line a comment or "name{...} value" with no raw newline in labels.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/registry.h"
#include "fleet/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_exposition(const char *t, size_t len)
{
	const char *line = t;

	if (len && t[len - 1] != '\n')
		abort();
	while (line < t + len) {
		const char *nl = memchr(line, '\n', (size_t)(t + len - line));
		int in_quotes = 0;

		if (!nl)
			abort();
		if (*line != '#') {
			for (const char *p = line; p < nl; p++) {
				if (*p == '\\' && in_quotes) {
					p++;
					continue;
				}
				if (*p == '"')
					in_quotes = !in_quotes;
			}
			if (in_quotes || !memchr(line, ' ', (size_t)(nl - line)))
				abort();
		}
		line = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_fleet_opts o = {.max_devices = 4, .stale_after_s = 60, .version = "fuzz"};
	struct edge_fleet_status *st;
	struct edge_fleet *f = NULL;
	struct edge_fleet_buf b = {0};

	if (size < 1)
		return 0;
	st = malloc(sizeof(*st));
	if (!st)
		return 0;
	edge_fleet_status_parse(data + 1, size - 1, st);
	free(st);
	if (edge_fleet_new(&o, &f))
		return 0;
	if (data[0] & 1) {
		edge_fleet_on_alert(f, "warning", data + 1, size - 1);
		edge_fleet_on_alert(f, NULL, data + 1, size - 1);
	} else {
		edge_fleet_on_status(f, "d", data + 1, size - 1, data[0] & 2, 1763762000000ULL);
		static const char online[] = "{\"state\":\"online\",\"boot\":\"x\"}";

		edge_fleet_on_status(f, "d", online, sizeof(online) - 1, false, 1763762000000ULL);
		edge_fleet_on_status(f, "d", data + 1, size - 1, false, 1763762000000ULL);
		edge_fleet_on_status(f, "e\"\\", data + 1, size - 1, false, 1763762000000ULL);
	}
	if (!edge_fleet_render(f, &b, 1763762030000ULL))
		check_exposition(b.data, b.len);
	edge_fleet_buf_free(&b);
	edge_fleet_free(f);
	return 0;
}
