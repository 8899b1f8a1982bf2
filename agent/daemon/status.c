/* SPDX-License-Identifier: Apache-2.0 */
/* The retained devices/{id}/status document (docs/status.md lists the keys). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "control.h"
#include "edge/time.h"

/* Rss and Pss of this process in KiB, from smaps_rollup. */
static void memory_kb(long *rss, long *pss)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "re");
	char line[128];

	*rss = *pss = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Rss:", 4) == 0)
			*rss = strtol(line + 4, NULL, 10);
		else if (strncmp(line, "Pss:", 4) == 0)
			*pss = strtol(line + 4, NULL, 10);
	}
	fclose(f);
}

char *edge_status_json(const struct edge_agent *a, bool online, const char *reason)
{
	struct edge_store_stats st;
	struct edge_uplink_stats up;
	struct edge_sampler_stats ss;
	cJSON *root = cJSON_CreateObject(), *sensors, *mem;
	char *out;
	long rss, pss;

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "state", online ? "online" : "offline");
	cJSON_AddStringToObject(root, "deviceId", a->cfg.device_id);
	cJSON_AddStringToObject(root, "boot", a->boot);
	if (!online) {
		if (reason)
			cJSON_AddStringToObject(root, "reason", reason);
		cJSON_AddNumberToObject(root, "timestamp", (double)edge_wall_ms());
		goto out;
	}
	edge_store_stats(a->store, &st);
	edge_uplink_stats(a->uplink, &up);
	cJSON_AddStringToObject(root, "board", a->cfg.board);
	cJSON_AddStringToObject(root, "version", EDGE_AGENT_VERSION_STR);
	cJSON_AddStringToObject(root, "firmware", EDGE_AGENT_VERSION_STR);
	cJSON_AddNumberToObject(root, "timestamp", (double)edge_wall_ms());
	cJSON_AddNumberToObject(root, "uptimeS", (double)((edge_now_ms() - a->started_ms) / 1000));
	cJSON_AddNumberToObject(root, "backlog", (double)st.rows);
	cJSON_AddNumberToObject(root, "backlogBytes", (double)st.bytes);
	cJSON_AddNumberToObject(root, "dropped", (double)(st.dropped_cap + st.dropped_error));
	cJSON_AddNumberToObject(root, "droppedCap", (double)st.dropped_cap);
	cJSON_AddNumberToObject(root, "droppedError", (double)st.dropped_error);
	cJSON_AddNumberToObject(root, "rejected", (double)up.rejected);
	cJSON_AddNumberToObject(root, "corruptEvents", (double)st.corrupt_events);
	cJSON_AddNumberToObject(root, "nextSeq", (double)st.next_seq);
	cJSON_AddNumberToObject(root, "reconnects", (double)up.reconnects);
	cJSON_AddNumberToObject(root, "lastPublishMs", (double)up.last_publish_ms);
	cJSON_AddStringToObject(root, "lastError",
				*a->last_error	? a->last_error
				: st.last_error ? strerror(-st.last_error)
						: up.last_error);
	if (a->sampler) {
		edge_sampler_stats(a->sampler, &ss);
		cJSON_AddNumberToObject(root, "records", (double)ss.records);
		cJSON_AddNumberToObject(root, "recordsIncomplete", (double)ss.records_incomplete);
		sensors = cJSON_AddObjectToObject(root, "sensors");
		for (size_t i = 0; sensors && i < edge_sampler_sensor_count(a->sampler); i++) {
			struct edge_sensor_health h;
			cJSON *o;

			edge_sampler_sensor_health(a->sampler, i, &h);
			o = cJSON_AddObjectToObject(sensors, h.name);
			if (!o)
				continue;
			cJSON_AddBoolToObject(o, "enabled", h.enabled);
			cJSON_AddBoolToObject(o, "healthy", h.healthy);
			cJSON_AddNumberToObject(o, "errors", (double)h.errors);
			cJSON_AddNumberToObject(o, "readings", (double)h.readings);
			cJSON_AddNumberToObject(o, "lastReadingMs", (double)h.last_reading_ms);
			if (h.error)
				cJSON_AddStringToObject(o, "error", strerror(-h.error));
		}
	}
	memory_kb(&rss, &pss);
	mem = cJSON_AddObjectToObject(root, "memory");
	if (mem) {
		cJSON_AddNumberToObject(mem, "rssKb", (double)rss);
		cJSON_AddNumberToObject(mem, "pssKb", (double)pss);
	}
	edge_control_status(a, root);
out:
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}
