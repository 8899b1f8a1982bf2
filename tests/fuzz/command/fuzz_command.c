/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the command payload parser (cmd_parse.h) as the agent
 * drives it for every MQTT command. The first byte picks the action (from
 * the topic), the rest is the payload. Also exercises id recovery, the
 * signed-content check (payload against itself) and the result document.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_parse.h"

static const char *const actions[] = {
    "ping",   "status",	 "config.get", "config.set", "sample-now", "sensor.enable",
    "reboot", "restart", "ota",	       "Bad/Action", "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *action;
	struct edge_cmd c;
	char err[256], id[EDGE_CMD_ID_MAX + 1];
	char *res;
	int rc;

	if (size < 1)
		return 0;
	action = actions[data[0] % (sizeof(actions) / sizeof(actions[0]))];
	data++;
	size--;
	edge_cmd_recover_id(data, size, id, sizeof(id));
	rc = edge_cmd_parse(action, data, size, 2048, &c, err, sizeof(err));
	if (rc == 0) {
		char why[128];

		edge_cmd_expired(&c, 1800000000000ULL);
		edge_cmd_check_signed(&c, "sim-0001", (const char *)data, size, why, sizeof(why));
		res = edge_cmd_result_json(c.id, EDGE_CMD_OK, "fuzz", c.params);
	} else {
		res = edge_cmd_result_json(c.id, EDGE_CMD_ERROR, err, NULL);
	}
	free(res);
	edge_cmd_release(&c);
	return 0;
}
