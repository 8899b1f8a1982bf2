/* SPDX-License-Identifier: Apache-2.0 */
/* The retained devices/{id}/status document (docs/status.md lists the keys). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "edge/log.h"
#include "edge/prov_identity.h"
#include "edge/time.h"
#include "hwdog.h"

#define MOD "status"

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

/* notAfter of path in epoch ms, re-read only when the file changed. */
static int64_t cert_expiry(struct edge_cert_cache *c, const char *path)
{
	int64_t not_after_s;
	struct stat st;

	if (!*path || stat(path, &st) < 0)
		return -ENOENT;
	if (strcmp(path, c->path) != 0 || st.st_mtim.tv_sec != c->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != c->mtime.tv_nsec) {
		snprintf(c->path, sizeof(c->path), "%s", path);
		c->mtime = st.st_mtim;
		c->not_after_ms =
		    edge_id_cert_file_not_after(path, &not_after_s) ? -EINVAL : not_after_s * 1000;
		if (c->not_after_ms < 0)
			EDGE_WARN(MOD, "client certificate %s: cannot read its expiry", path);
	}
	return c->not_after_ms;
}

/* alerts {active,total}, certExpiresMs and the commands counters. */
static void add_control(struct edge_agent *a, cJSON *root)
{
	struct edge_commands_stats cs;
	int64_t expires;
	uint32_t active = 0;
	uint64_t total = 0;
	cJSON *o;

	if (a->alerts)
		edge_alerts_counts(a->alerts, &active, &total);
	o = cJSON_AddObjectToObject(root, "alerts");
	if (o) {
		cJSON_AddNumberToObject(o, "active", active);
		cJSON_AddNumberToObject(o, "total", (double)total);
	}
	expires = cert_expiry(&a->cert, a->cfg.mqtt.tls.cert_file);
	if (expires > 0)
		cJSON_AddNumberToObject(root, "certExpiresMs", (double)expires);
	else
		cJSON_AddNullToObject(root, "certExpiresMs");
	if (a->commands) {
		edge_commands_stats(a->commands, &cs);
		o = cJSON_AddObjectToObject(root, "commands");
		if (o) {
			cJSON_AddNumberToObject(o, "received", (double)cs.received);
			cJSON_AddNumberToObject(o, "executed", (double)cs.executed);
			cJSON_AddNumberToObject(o, "duplicates", (double)cs.duplicates);
			cJSON_AddNumberToObject(o, "rejected", (double)cs.rejected);
			cJSON_AddNumberToObject(o, "expired", (double)cs.expired);
			cJSON_AddNumberToObject(o, "malformed", (double)cs.malformed);
		}
	}
}

char *edge_status_json(struct edge_agent *a, bool online, const char *reason)
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
	cJSON_AddStringToObject(root, "firmware", a->ota ? edge_ota_firmware(a->ota) : a->firmware);
	if (a->ota)
		edge_ota_status(a->ota, root);
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
	add_control(a, root);
	edge_hwdog_status_json(a->hwdog, root);
	if (a->ingress)
		cJSON_AddItemToObject(root, "ingress", edge_ingress_status(a->ingress));
out:
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

char *edge_status_ctl_json(struct edge_agent *a)
{
	char *json = edge_status_json(a, true, NULL), *out;
	cJSON *o = cJSON_CreateObject(), *st = json ? cJSON_Parse(json) : NULL, *arr;

	free(json);
	if (!o || !st) {
		cJSON_Delete(o);
		cJSON_Delete(st);
		return NULL;
	}
	cJSON_AddItemToObject(o, "status", st);
	cJSON_AddBoolToObject(o, "connected", edge_uplink_connected(a->uplink));
	cJSON_AddStringToObject(o, "broker", a->cfg.mqtt.host);
	cJSON_AddNumberToObject(o, "port", a->cfg.mqtt.port);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddStringToObject(o, "config", a->config_path);
	arr = cJSON_AddArrayToObject(o, "alerts");
	for (size_t i = 0; arr && a->alerts && i < edge_alerts_rule_count(a->alerts); i++) {
		struct edge_alert_state s;
		cJSON *e = cJSON_CreateObject();

		if (!e)
			break;
		edge_alerts_rule_state(a->alerts, i, &s);
		cJSON_AddStringToObject(e, "rule", s.name);
		cJSON_AddStringToObject(e, "metric", s.metric);
		cJSON_AddStringToObject(e, "severity", s.severity);
		cJSON_AddStringToObject(e, "state",
					s.firing    ? "firing"
					: s.pending ? "pending"
						    : "ok");
		cJSON_AddNumberToObject(e, "value", s.last_value);
		cJSON_AddNumberToObject(e, "sinceMs", (double)s.since_wall_ms);
		cJSON_AddNumberToObject(e, "episodes", (double)s.episodes);
		cJSON_AddItemToArray(arr, e);
	}
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}
