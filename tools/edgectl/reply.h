/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGECTL_REPLY_H
#define EDGECTL_REPLY_H
/*
 * edgectl's reading of the agent's answers (the line protocol of
 * agent/ctl/include/agent/ctl.h), apart from main() and the socket so that
 * unit tests and the fuzz target call it on any text. What is printed, and
 * where, is what edgectl prints: edgectl passes stdout and stderr.
 */
#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define EDGECTL_EXIT_FAILED 1
/* edgectl_answer() of a tail request that the agent accepted. */
#define EDGECTL_TAIL_FOLLOWS (-1)

/* The table of `edgectl nodes` (or the result as JSON) from an answer whose
 * "ok" is true. Returns edgectl's exit status. */
int edgectl_print_nodes(const cJSON *resp, bool json, FILE *out);

/* The answer line to a request of verb ("status", "cmd", "flush", "tail"):
 * prints the status summary, the command result or the refusal. Returns
 * edgectl's exit status (0, EDGECTL_EXIT_FAILED), or EDGECTL_TAIL_FOLLOWS
 * for an accepted tail (the readings follow, edgectl_tail_line()). */
int edgectl_answer(const char *verb, const char *line, bool json, FILE *out, FILE *err);

/* One line of a tail stream: a reading (printed, returns 1) or the agent's
 * {"dropped":N} note that the client was too slow (returns 0). */
int edgectl_tail_line(const char *line, bool json, FILE *out, FILE *err);

#endif
