/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: edgectl's reading of the agent's answers
 * (tools/edgectl/reply.c): what a compromised or confused agent, or
 * anything listening on the socket path, can send back.
 *
 * Input: a control byte (bits 0-1: the verb status, cmd, flush or tail;
 * bit 2: --json), then the answer line; for an accepted tail, every
 * further line of the input is a tail line.
 * Checks: the exit status is 0 or 1 (or "tail follows" only for tail);
 * a tail line is a reading or a dropped note. Output goes to /dev/null.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const verbs[] = {"status", "cmd", "flush", "tail"};
	const char *verb;
	char *text, *line, *nl;
	bool json;
	int rc;

	if (size < 1)
		return 0;
	if (!sink && !(sink = fopen("/dev/null", "w")))
		abort();
	verb = verbs[data[0] & 3];
	json = data[0] & 4;
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	/* edgectl reads up to the first newline (read_line) */
	line = text;
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	rc = edgectl_answer(verb, line, json, sink, sink);
	if (rc == EDGECTL_TAIL_FOLLOWS) {
		if (strcmp(verb, "tail") != 0)
			abort();
		while (nl) {
			line = nl + 1;
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			rc = edgectl_tail_line(line, json, sink, sink);
			if (rc != 0 && rc != 1)
				abort();
		}
	} else if (rc != 0 && rc != EDGECTL_EXIT_FAILED) {
		abort();
	}
	free(text);
	return 0;
}
