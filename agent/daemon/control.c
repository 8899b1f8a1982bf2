/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "agent/alerts.h"
#include "agent/commands.h"
#include "control.h"
#include "agent/ctl.h"
#include "agent/devctl.h"
#include "edge/log.h"
#include "edge/prov_identity.h"
#include "edge/sensor.h"
#include "edge/time.h"
#include "agent/record.h"

#define MOD "control"

void edge_control_apply_overrides(const struct edge_config *cfg, struct edge_board *board)
{
	for (uint32_t i = 0; i < cfg->n_sensors; i++) {
		const struct edge_sensor_override *o = &cfg->sensors[i];

		for (size_t j = 0; j < board->n_sensors; j++) {
			if (strcmp(board->sensors[j].name, o->name) != 0)
				continue;
			if (o->interval_ms)
				board->sensors[j].interval_ms = o->interval_ms;
			if (o->freshness_ms)
				board->sensors[j].freshness_ms = o->freshness_ms;
		}
	}
}

static void alert_emit(void *arg, const char *topic, const char *payload, size_t len)
{
	struct edge_agent *a = arg;
	struct edge_store_msg m = {
	    .topic = topic, .payload = payload, .len = len, .qos = 1, .prio = 1};
	int rc = edge_store_append(a->store, &m, 1);

	if (rc)
		EDGE_ERR(MOD, "alert on %s not queued: %s", topic, strerror(-rc));
	else
		EDGE_NOTICE(MOD, "alert %s: %.*s", topic, (int)len, (const char *)payload);
}

static void on_reading(void *arg, const char *sensor, enum edge_channel ch, int32_t value,
		       uint64_t ts_ms)
{
	struct edge_agent *a = arg;
	int32_t scale = edge_channel_scale(ch);
	const char *metric = edge_channel_name(ch);

	edge_alerts_reading(a->alerts, metric, (double)value / (scale ? scale : 1), edge_now_ms(),
			    ts_ms);
	if (a->ctl) {
		char v[32];

		if (edge_record_format_value(ch, value, v, sizeof(v)) > 0)
			edge_ctl_reading(a->ctl, sensor, metric, v, edge_channel_unit(ch), ts_ms);
	}
}

static void hook_reload(void *arg)
{
	struct edge_agent *a = arg;

	if (a->reload)
		a->reload(a);
}

static void hook_stop(void *arg, int exit_code, const char *why)
{
	struct edge_agent *a = arg;

	if (a->request_stop)
		a->request_stop(a, exit_code, why);
}

/* The client certificate's notAfter, re-read when the file changes
 * (provisioning and renewals replace it while the agent runs). */
static int64_t cert_expiry(const char *path)
{
	static char cached_path[EDGE_PATH_MAX];
	static struct timespec cached_mtime;
	static int64_t cached = -ENOENT;
	int64_t not_after_s;
	struct stat st;

	if (!*path || stat(path, &st) < 0)
		return -ENOENT;
	if (strcmp(path, cached_path) != 0 || st.st_mtim.tv_sec != cached_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != cached_mtime.tv_nsec) {
		snprintf(cached_path, sizeof(cached_path), "%s", path);
		cached_mtime = st.st_mtim;
		cached =
		    edge_id_cert_file_not_after(path, &not_after_s) ? -EINVAL : not_after_s * 1000;
		if (cached < 0)
			EDGE_WARN(MOD, "client certificate %s: cannot read its expiry", path);
	}
	return cached;
}

int edge_control_start(struct edge_agent *a)
{
	struct edge_commands_hooks hooks = {.reload = hook_reload, .stop = hook_stop, .arg = a};
	int rc;

	rc = edge_devctl_new(&a->board, &a->devctl);
	if (rc)
		return rc;
	rc = edge_alerts_new(&a->cfg, alert_emit, a, &a->alerts);
	if (rc)
		goto err_devctl;
	rc = edge_commands_new(a, &hooks, &a->commands);
	if (rc)
		goto err_alerts;
	if (a->cfg.ctl.enabled && edge_ctl_new(a, &a->ctl))
		a->ctl = NULL; /* logged; the agent runs without local control */
	if (a->sampler)
		edge_sampler_set_observer(a->sampler, on_reading, a);
	return 0;

err_alerts:
	edge_alerts_free(a->alerts);
	a->alerts = NULL;
err_devctl:
	edge_devctl_free(a->devctl);
	a->devctl = NULL;
	return rc;
}

void edge_control_stop(struct edge_agent *a)
{
	if (a->sampler)
		edge_sampler_set_observer(a->sampler, NULL, NULL);
	edge_ctl_free(a->ctl);
	a->ctl = NULL;
	edge_commands_free(a->commands);
	a->commands = NULL;
	edge_alerts_free(a->alerts);
	a->alerts = NULL;
	edge_devctl_free(a->devctl);
	a->devctl = NULL;
}

void edge_control_reload(struct edge_agent *a)
{
	if (a->alerts)
		edge_alerts_configure(a->alerts, &a->cfg);
	if (a->commands)
		edge_commands_reconfigure(a->commands);
	if (a->sampler)
		edge_sampler_set_observer(a->sampler, on_reading, a);
}

void edge_control_connected(struct edge_agent *a)
{
	if (a->commands)
		edge_commands_connected(a->commands);
}

void edge_control_message(struct edge_agent *a, const struct mosquitto_message *msg,
			  const mosquitto_property *props)
{
	if (a->commands)
		edge_commands_message(a->commands, msg, props);
}

void edge_control_status(const struct edge_agent *a, cJSON *root)
{
	struct edge_commands_stats cs;
	int64_t expires;
	uint32_t active;
	uint64_t total;
	cJSON *o;

	edge_alerts_counts(a->alerts, &active, &total);
	o = cJSON_AddObjectToObject(root, "alerts");
	if (o) {
		cJSON_AddNumberToObject(o, "active", active);
		cJSON_AddNumberToObject(o, "total", (double)total);
	}
	expires = cert_expiry(a->cfg.mqtt.tls.cert_file);
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
