/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: topics as they arrive from the broker.
 *
 * Input: template NUL topic NUL device_id; the first byte of the template
 * field is a size selector for the capture buffer, not part of the template.
 *   - edge-fleet-exporter: edge_fleet_topic_filter(template) and
 *     edge_fleet_topic_match(template, topic) (fleet/topic.c);
 *   - the agent: edge_cmd_action_from_topic(template, device_id, topic)
 *     (agent/commands/cmd_parse.c) and edge_topic_format().
 * Checks: the filter has the template's levels with every {..} level as
 * "+"; a match captures one non-empty level that fits and the topic also
 * matches the filter (MQTT rules); an action recovered from a topic has no
 * '/', fits, and the template formatted with it gives the topic back.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_parse.h"
#include "agent/config.h"
#include "fleet/topic.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t levels(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

/* MQTT topic filter matching for filters with '+' only (no '#'). */
static bool mqtt_match(const char *filter, const char *topic)
{
	for (;;) {
		const char *fe = strchr(filter, '/'), *te = strchr(topic, '/');
		size_t fn = fe ? (size_t)(fe - filter) : strlen(filter);
		size_t tn = te ? (size_t)(te - topic) : strlen(topic);

		if (!(fn == 1 && filter[0] == '+') && (fn != tn || memcmp(filter, topic, fn)))
			return false;
		if (!fe || !te)
			return !fe && !te;
		filter = fe + 1;
		topic = te + 1;
	}
}

static void check_filter(const char *tmpl, const char *topic, size_t cap_size)
{
	char *filter = edge_fleet_topic_filter(tmpl);
	char cap[80];

	if (!filter)
		abort();
	if (levels(filter) != levels(tmpl) || strlen(filter) > strlen(tmpl))
		abort();
	memset(cap, 0x5a, sizeof(cap));
	if (edge_fleet_topic_match(tmpl, topic, cap, cap_size)) {
		if (levels(topic) != levels(tmpl) || !mqtt_match(filter, topic))
			abort();
		/* with a placeholder the capture is one non-empty level that fits */
		if (strcmp(filter, tmpl) != 0 &&
		    (!cap[0] || strlen(cap) >= cap_size || strchr(cap, '/')))
			abort();
	}
	/* nothing beyond cap_size is ever written */
	for (size_t i = cap_size; i < sizeof(cap); i++)
		if ((unsigned char)cap[i] != 0x5a)
			abort();
	free(filter);
}

static void check_action(const char *tmpl, const char *device_id, const char *topic,
			 size_t action_len)
{
	char action[EDGE_CMD_ACTION_MAX + 1], again[256];
	const char *a = strstr(tmpl, "{action}");
	int n;

	if (edge_cmd_action_from_topic(tmpl, device_id, topic, action, action_len) != 0)
		return;
	if (!action[0] || strlen(action) >= action_len || strchr(action, '/'))
		abort();
	/* With {action} once and last (what config validation enforces), the
	 * action is exactly what formatting puts there. */
	if (a && a[8] == '\0' && strstr(tmpl, "{action}") == a && !strstr(a + 1, "{action}")) {
		n = edge_topic_format(again, sizeof(again), tmpl, device_id, NULL, NULL, action);
		if (n >= 0 && strcmp(again, topic) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tmpl[256], topic[1024], device_id[128];
	size_t cap_size, action_len;

	if (size < 1)
		return 0;
	/* 1..64 bytes of capture (the exporter uses EDGE_FLEET_ID_MAX + 2) */
	cap_size = 1 + data[0] % 64;
	action_len = 1 + data[0] % (EDGE_CMD_ACTION_MAX + 1);
	data++;
	size--;
	fuzz_take_string(&data, &size, tmpl, sizeof(tmpl));
	fuzz_take_string(&data, &size, topic, sizeof(topic));
	fuzz_take_string(&data, &size, device_id, sizeof(device_id));
	check_filter(tmpl, topic, cap_size);
	check_action(tmpl, device_id, topic, action_len);
	/* the agent's own sizes */
	check_action(tmpl, device_id, topic, EDGE_CMD_ACTION_MAX + 1);
	return 0;
}
