/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_dedup.h"
#include "agent/cmd_parse.h"
#include "agent/commands.h"
#include "agent/devctl.h"
#include "edge/file.h"
#include "edge/jws.h"
#include "edge/log.h"
#include "edge/time.h"

#define MOD	       "commands"
#define DEDUP_NAME     "commands.dedup.json"
#define BLINK_MS       250
#define AFTER_DELAY_MS 300

enum after { AFTER_NONE, AFTER_RESTART, AFTER_REBOOT };

/* Action flags. */
#define F_SIGNED  1u /* needs a signature when commands.require_signed */
#define F_MUTATES 2u /* changes the device: its result is stored before answering */

struct edge_commands;

struct ctx {
	struct edge_commands *c;
	const char *id; /* the command id */
	const cJSON *params;
	cJSON *data; /* result data object, owned by the caller */
	char msg[256];
	bool local;
};

typedef enum edge_cmd_status (*handler_fn)(struct ctx *x);

struct action {
	const char *name;
	handler_fn fn;
	unsigned flags;
	const char *help;
};

struct edge_commands {
	struct edge_commands_deps d;
	struct edge_commands_hooks hooks;
	struct edge_devctl *devctl;
	struct edge_dedup *dedup;
	struct edge_jws_key *key;
	int key_error;
	char sub_topic[192];
	struct edge_commands_stats stats;
	struct edge_ratelimit rl;
	struct edge_timer *blink_timer;
	unsigned blink_left;
	struct edge_timer *after_timer;
	enum after after;
	char reboot_arg[32]; /* for the next AFTER_REBOOT ("0 tryboot") */
	uint64_t local_seq;
};

__attribute__((format(printf, 2, 3))) static void say(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
}

/* ---- handlers ------------------------------------------------------------ */

static enum edge_cmd_status do_ping(struct ctx *x)
{
	cJSON_AddBoolToObject(x->data, "pong", true);
	cJSON_AddNumberToObject(x->data, "timestamp", (double)edge_wall_ms());
	say(x, "pong");
	return EDGE_CMD_OK;
}

static enum edge_cmd_status do_status(struct ctx *x)
{
	char *json = x->c->hooks.status_json ? x->c->hooks.status_json(x->c->hooks.arg) : NULL;
	cJSON *st = json ? cJSON_Parse(json) : NULL;

	free(json);
	if (!st) {
		say(x, "out of memory");
		return EDGE_CMD_ERROR;
	}
	cJSON_AddItemToObject(x->data, "status", st);
	say(x, "status");
	return EDGE_CMD_OK;
}

static cJSON *config_view(struct edge_commands *c)
{
	const struct edge_config *cfg = c->d.cfg;
	const struct edge_board *board = c->d.board;
	cJSON *v = cJSON_CreateObject(), *o, *arr;
	char opath[EDGE_PATH_MAX + 32], *buf;
	size_t len;

	if (!v)
		return NULL;
	cJSON_AddStringToObject(v, "log_level", edge_log_level_name(cfg->log_level));
	o = cJSON_AddObjectToObject(v, "record");
	cJSON_AddNumberToObject(o, "interval_ms", cfg->record.interval_ms);
	o = cJSON_AddObjectToObject(v, "status");
	cJSON_AddNumberToObject(o, "interval_s", cfg->status.interval_s);
	o = cJSON_AddObjectToObject(v, "sensors");
	for (size_t i = 0; o && i < board->n_sensors; i++) {
		cJSON *s = cJSON_AddObjectToObject(o, board->sensors[i].name);
		struct edge_sensor_health h = {0};

		if (!s)
			continue;
		cJSON_AddNumberToObject(s, "interval_ms", board->sensors[i].interval_ms);
		cJSON_AddNumberToObject(s, "freshness_ms", board->sensors[i].freshness_ms);
		if (c->d.sampler && i < edge_sampler_sensor_count(c->d.sampler)) {
			edge_sampler_sensor_health(c->d.sampler, i, &h);
			cJSON_AddBoolToObject(s, "enabled", h.enabled);
		}
	}
	arr = cJSON_AddArrayToObject(v, "alerts");
	for (uint32_t i = 0; arr && i < cfg->n_alerts; i++) {
		const struct edge_alert_rule *r = &cfg->alerts[i];
		cJSON *e = cJSON_CreateObject();

		if (!e)
			break;
		cJSON_AddStringToObject(e, "name", r->name);
		cJSON_AddStringToObject(e, "metric", r->metric);
		cJSON_AddStringToObject(e, "comparison", edge_alert_cmp_str(r->cmp));
		cJSON_AddNumberToObject(e, "threshold", r->threshold);
		cJSON_AddNumberToObject(e, "for_s", r->for_s);
		cJSON_AddStringToObject(e, "severity", r->severity);
		cJSON_AddItemToArray(arr, e);
	}
	o = cJSON_AddObjectToObject(v, "commands");
	cJSON_AddBoolToObject(o, "require_signed", cfg->commands.require_signed);
	cJSON_AddNumberToObject(o, "max_payload", cfg->commands.max_payload);
	cJSON_AddStringToObject(v, "device_id", cfg->device_id);
	cJSON_AddStringToObject(v, "board", cfg->board);
	edge_config_overlay_path(cfg, opath, sizeof(opath));
	if (edge_file_read(opath, 1 << 20, &buf, &len) == 0) {
		cJSON *ov = cJSON_ParseWithLength(buf, len);

		cJSON_AddItemToObject(v, "overlay", ov ? ov : cJSON_CreateNull());
		free(buf);
	} else {
		cJSON_AddNullToObject(v, "overlay");
	}
	return v;
}

static enum edge_cmd_status do_config_get(struct ctx *x)
{
	cJSON *v = config_view(x->c);

	if (!v) {
		say(x, "out of memory");
		return EDGE_CMD_ERROR;
	}
	cJSON_AddItemToObject(x->data, "config", v);
	say(x, "effective configuration");
	return EDGE_CMD_OK;
}

/* Objects merge key by key; everything else (arrays included) replaces. */
static void merge(cJSON *dst, const cJSON *src)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, src) {
		cJSON *cur = cJSON_GetObjectItemCaseSensitive(dst, it->string);

		if (cur && cJSON_IsObject(cur) && cJSON_IsObject(it)) {
			merge(cur, it);
			continue;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(dst, it->string);
		cJSON_AddItemToObject(dst, it->string, cJSON_Duplicate(it, true));
	}
}

static enum edge_cmd_status do_config_set(struct ctx *x)
{
	const struct edge_config *cfg = x->c->d.cfg;
	const struct edge_board *board = x->c->d.board;
	struct edge_config *next = NULL;
	char opath[EDGE_PATH_MAX + 32], err[512], *buf = NULL, *text = NULL;
	cJSON *overlay = NULL;
	enum edge_cmd_status st = EDGE_CMD_ERROR;
	size_t len;
	int rc;

	if (cJSON_GetArraySize(x->params) == 0) {
		say(x, "params: give the keys to change, e.g. {\"log_level\":\"debug\"}");
		return EDGE_CMD_ERROR;
	}
	edge_config_overlay_path(cfg, opath, sizeof(opath));
	rc = edge_file_read(opath, 1 << 20, &buf, &len);
	overlay = rc == 0 ? cJSON_ParseWithLength(buf, len) : cJSON_CreateObject();
	free(buf);
	if (!cJSON_IsObject(overlay)) {
		cJSON_Delete(overlay);
		overlay = cJSON_CreateObject();
	}
	next = malloc(sizeof(*next));
	if (!overlay || !next) {
		say(x, "out of memory");
		goto out;
	}
	/* Validate the change alone first: its errors name the params' keys. */
	*next = *cfg;
	text = cJSON_PrintUnformatted(x->params);
	if (!text || edge_config_apply_json(next, text, strlen(text), "params", err, sizeof(err))) {
		say(x, "%s", text ? err : "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < next->n_sensors; i++) {
		bool found = false;

		for (size_t j = 0; j < board->n_sensors; j++)
			found |= strcmp(board->sensors[j].name, next->sensors[i].name) == 0;
		if (!found) {
			say(x, "params: sensors.%s: board %s has no such sensor",
			    next->sensors[i].name, board->name);
			goto out;
		}
	}
	free(text);
	merge(overlay, x->params);
	text = cJSON_Print(overlay);
	/* The merged overlay over the file as it is now must load. */
	if (!text || edge_config_load(x->c->d.config_path, next, err, sizeof(err)) ||
	    edge_config_apply_json(next, text, strlen(text), opath, err, sizeof(err))) {
		say(x, "%s", text ? err : "out of memory");
		goto out;
	}
	rc = edge_file_write_atomic(opath, text, strlen(text), 0640);
	if (rc) {
		say(x, "cannot write %s: %s", opath, strerror(-rc));
		goto out;
	}
	EDGE_NOTICE(MOD, "config.set: %s updated; applying", opath);
	if (x->c->hooks.reload)
		x->c->hooks.reload(x->c->hooks.arg);
	cJSON_AddItemToObject(x->data, "config", config_view(x->c));
	say(x, "applied and saved to %s", opath);
	st = EDGE_CMD_OK;
out:
	free(text);
	free(next);
	cJSON_Delete(overlay);
	return st;
}

static enum edge_cmd_status do_sample_now(struct ctx *x)
{
	int n;

	if (!x->c->d.sampler) {
		say(x, "no sampler");
		return EDGE_CMD_ERROR;
	}
	n = edge_sampler_sample_now(x->c->d.sampler);
	cJSON_AddNumberToObject(x->data, "sensorsRead", n);
	say(x, "sampled %d sensor(s)", n);
	return EDGE_CMD_OK;
}

static enum edge_cmd_status enable(struct ctx *x, bool on)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(x->params, "name");
	int rc;

	if (!cJSON_IsString(name))
		name = cJSON_GetObjectItemCaseSensitive(x->params, "sensor");
	if (!cJSON_IsString(name)) {
		say(x, "params.name: the sensor's name is required");
		return EDGE_CMD_ERROR;
	}
	rc =
	    x->c->d.sampler ? edge_sampler_enable(x->c->d.sampler, name->valuestring, on) : -ENOENT;
	if (rc) {
		say(x, "no sensor named \"%.40s\" on board %s", name->valuestring,
		    x->c->d.board->name);
		return EDGE_CMD_ERROR;
	}
	EDGE_NOTICE(MOD, "sensor %s %s by command", name->valuestring, on ? "enabled" : "disabled");
	cJSON_AddStringToObject(x->data, "sensor", name->valuestring);
	cJSON_AddBoolToObject(x->data, "enabled", on);
	say(x, "sensor %s %s (until restart)", name->valuestring, on ? "enabled" : "disabled");
	return EDGE_CMD_OK;
}

static enum edge_cmd_status do_sensor_enable(struct ctx *x)
{
	return enable(x, true);
}

static enum edge_cmd_status do_sensor_disable(struct ctx *x)
{
	return enable(x, false);
}

static enum edge_cmd_status do_flush(struct ctx *x)
{
	const struct edge_commands_deps *d = &x->c->d;
	struct edge_store_stats st;
	struct edge_uplink_stats up;
	int rc = edge_store_ack_flush(d->store);

	edge_store_stats(d->store, &st);
	edge_uplink_stats(d->uplink, &up);
	cJSON_AddNumberToObject(x->data, "backlog", (double)st.rows);
	cJSON_AddNumberToObject(x->data, "backlogBytes", (double)st.bytes);
	cJSON_AddNumberToObject(x->data, "inflight", (double)up.inflight);
	cJSON_AddBoolToObject(x->data, "connected", up.connected);
	cJSON_AddNumberToObject(x->data, "published", (double)up.published);
	cJSON_AddNumberToObject(x->data, "acked", (double)up.acked);
	if (rc) {
		say(x, "outbox: %s", strerror(-rc));
		return EDGE_CMD_ERROR;
	}
	say(x,
	    up.connected ? "publishing a backlog of %" PRIu64 " message(s)"
			 : "offline: %" PRIu64 " message(s) kept until the broker is back",
	    st.rows);
	return EDGE_CMD_OK;
}

static void blink_cb(void *arg)
{
	struct edge_commands *c = arg;

	if (c->blink_left == 0) {
		edge_devctl_led(c->devctl, 0);
		edge_loop_timer_set(c->d.loop, c->blink_timer, UINT64_MAX, 0);
		return;
	}
	edge_devctl_led(c->devctl, (int)(c->blink_left & 1));
	c->blink_left--;
}

static enum edge_cmd_status do_identify(struct ctx *x)
{
	struct edge_commands *c = x->c;
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(x->params, "seconds");
	double s = 5;
	int rc;

	if (sec) {
		if (!cJSON_IsNumber(sec) || sec->valuedouble < 1 || sec->valuedouble > 300) {
			say(x, "params.seconds: 1..300");
			return EDGE_CMD_ERROR;
		}
		s = sec->valuedouble;
	}
	rc = edge_devctl_led(c->devctl, 1);
	if (rc) {
		if (rc == -ENODEV)
			say(x, "this board has no status_led");
		else
			say(x, "status LED %s line %d: %s", c->d.board->status_led_chip,
			    c->d.board->status_led_line, strerror(-rc));
		cJSON_AddStringToObject(x->data, "backend", edge_devctl_led_backend(c->devctl));
		return EDGE_CMD_ERROR;
	}
	c->blink_left = (unsigned)(s * 1000 / BLINK_MS);
	c->blink_left += c->blink_left & 1; /* end with the LED off */
	if (!c->blink_timer)
		rc = edge_loop_timer_add(c->d.loop, BLINK_MS, BLINK_MS, blink_cb, c,
					 &c->blink_timer);
	else
		edge_loop_timer_set(c->d.loop, c->blink_timer, BLINK_MS, BLINK_MS);
	if (rc) {
		edge_devctl_led(c->devctl, 0);
		say(x, "timer: %s", strerror(-rc));
		return EDGE_CMD_ERROR;
	}
	cJSON_AddNumberToObject(x->data, "seconds", s);
	cJSON_AddStringToObject(x->data, "backend", edge_devctl_led_backend(c->devctl));
	cJSON_AddStringToObject(x->data, "chip", c->d.board->status_led_chip);
	cJSON_AddNumberToObject(x->data, "line", c->d.board->status_led_line);
	cJSON_AddNumberToObject(x->data, "ledToggles", (double)edge_devctl_led_toggles(c->devctl));
	cJSON_AddNumberToObject(x->data, "level", edge_devctl_led_level(c->devctl));
	say(x, "blinking the status LED for %g s", s);
	return EDGE_CMD_OK;
}

static void after_cb(void *arg)
{
	struct edge_commands *c = arg;
	enum after what = c->after;
	int rc;

	c->after = AFTER_NONE;
	if (what == AFTER_RESTART) {
		if (c->hooks.stop)
			c->hooks.stop(c->hooks.arg, EDGE_EXIT_RESTART, "restart command");
	} else if (what == AFTER_REBOOT) {
		edge_dedup_flush(c->dedup);
		edge_store_ack_flush(c->d.store);
		edge_store_checkpoint(c->d.store);
		EDGE_NOTICE(MOD, "rebooting (%s)", edge_devctl_reboot_backend(c->devctl));
		rc = edge_devctl_reboot(c->devctl, *c->reboot_arg ? c->reboot_arg : NULL);
		if (rc)
			EDGE_ERR(MOD, "reboot failed: %s", strerror(-rc));
	}
}

static int schedule(struct edge_commands *c, enum after what)
{
	int rc = 0;

	if (!c->after_timer)
		rc =
		    edge_loop_timer_add(c->d.loop, AFTER_DELAY_MS, 0, after_cb, c, &c->after_timer);
	else
		edge_loop_timer_set(c->d.loop, c->after_timer, AFTER_DELAY_MS, 0);
	if (!rc)
		c->after = what;
	return rc;
}

int edge_commands_reboot(struct edge_commands *c, const char *why, const char *arg)
{
	int rc = edge_devctl_can_reboot(c->devctl);

	snprintf(c->reboot_arg, sizeof(c->reboot_arg), "%s", arg ? arg : "");
	if (!rc)
		rc = schedule(c, AFTER_REBOOT);
	if (!rc)
		EDGE_NOTICE(MOD, "reboot asked by %s", why);
	return rc;
}

static enum edge_cmd_status do_restart(struct ctx *x)
{
	int rc = schedule(x->c, AFTER_RESTART);

	if (rc) {
		say(x, "cannot schedule: %s", strerror(-rc));
		return EDGE_CMD_ERROR;
	}
	cJSON_AddNumberToObject(x->data, "exitCode", EDGE_EXIT_RESTART);
	say(x, "restarting: flushing the backlog, then exit %d for systemd to restart",
	    EDGE_EXIT_RESTART);
	return EDGE_CMD_OK;
}

static enum edge_cmd_status do_reboot(struct ctx *x)
{
	const cJSON *confirm = cJSON_GetObjectItemCaseSensitive(x->params, "confirm");
	struct edge_devctl *d = x->c->devctl;
	int rc;

	if (!cJSON_IsTrue(confirm)) {
		say(x, "reboot needs params {\"confirm\": true}");
		return EDGE_CMD_REJECTED;
	}
	rc = edge_devctl_can_reboot(d);
	x->c->reboot_arg[0] = '\0';
	if (!rc)
		rc = schedule(x->c, AFTER_REBOOT);
	if (rc) {
		say(x, "cannot reboot: %s",
		    rc == -ENOTSUP ? "no system HAL in this build" : strerror(-rc));
		return EDGE_CMD_ERROR;
	}
	cJSON_AddStringToObject(x->data, "backend", edge_devctl_reboot_backend(d));
	cJSON_AddNumberToObject(x->data, "rebootRequests", edge_devctl_reboot_requests(d) + 1);
	say(x, "rebooting in %d ms", AFTER_DELAY_MS);
	return EDGE_CMD_OK;
}

static enum edge_cmd_status do_ota(struct ctx *x)
{
	struct edge_commands *c = x->c;

	if (!c->hooks.ota) {
		say(x, "ota is not available in this agent");
		return EDGE_CMD_ERROR;
	}
	return c->hooks.ota(c->hooks.arg, x->id, x->params, x->data, x->msg, sizeof(x->msg))
		   ? EDGE_CMD_OK
		   : EDGE_CMD_REJECTED;
}

static const struct action actions[] = {
    {"ping", do_ping, 0, "answers pong"},
    {"status", do_status, 0, "the status document"},
    {"config.get", do_config_get, 0, "the run-time configuration"},
    {"config.set", do_config_set, F_SIGNED | F_MUTATES, "change settable keys, saved"},
    {"sample-now", do_sample_now, F_MUTATES, "sample every sensor now"},
    {"sensor.enable", do_sensor_enable, F_MUTATES, "params.name"},
    {"sensor.disable", do_sensor_disable, F_MUTATES, "params.name"},
    {"flush", do_flush, F_MUTATES, "publish the backlog now; backlog figures"},
    {"identify", do_identify, F_MUTATES, "blink the status LED (params.seconds)"},
    {"restart", do_restart, F_SIGNED | F_MUTATES, "restart the agent through systemd"},
    {"reboot", do_reboot, F_SIGNED | F_MUTATES, "reboot the gateway (params.confirm)"},
    {"ota", do_ota, F_SIGNED | F_MUTATES, "updates: params.op install|cancel|status"},
};

static const struct action *find_action(const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

/* ---- the pipeline -------------------------------------------------------- */

static char *run_action(struct edge_commands *c, const struct action *act, struct edge_cmd *cmd,
			bool local)
{
	struct ctx x = {.c = c, .id = cmd->id, .params = cmd->params, .local = local};
	enum edge_cmd_status st;
	char *out;

	x.data = cJSON_CreateObject();
	if (!x.data)
		return edge_cmd_result_json(cmd->id, EDGE_CMD_ERROR, "out of memory", NULL);
	st = act->fn(&x);
	c->stats.executed++;
	out = edge_cmd_result_json(cmd->id, st, x.msg, x.data);
	cJSON_Delete(x.data);
	EDGE_INFO(MOD, "%s %s (id %s): %s%s%s", local ? "local" : "remote", act->name,
		  *cmd->id ? cmd->id : "-", edge_cmd_status_str(st), *x.msg ? ": " : "", x.msg);
	return out;
}

/* Signature policy: required for F_SIGNED actions when configured; a
 * signature that is present must verify in every case. */
static int check_signature(struct edge_commands *c, const struct action *act,
			   const struct edge_cmd *cmd, char *why, size_t whylen)
{
	char *payload = NULL;
	size_t plen = 0;
	int rc;

	if (!cmd->jws) {
		if (c->d.cfg->commands.require_signed && (act->flags & F_SIGNED)) {
			snprintf(why, whylen, "%s needs a signed command (jws)", act->name);
			return -EPERM;
		}
		return 0;
	}
	if (!c->key) {
		snprintf(why, whylen, "signed command but no usable commands.signing_key_file");
		return -EPERM;
	}
	rc = edge_jws_verify(cmd->jws, strlen(cmd->jws), c->key, &payload, &plen, why, whylen);
	if (rc == 0)
		rc = edge_cmd_check_signed(cmd, c->d.cfg->device_id, payload, plen, why, whylen);
	free(payload);
	return rc ? -EPERM : 0;
}

/* Returns the result to publish (caller frees), or NULL for none. */
static char *handle(struct edge_commands *c, const char *action, const void *payload, size_t len,
		    bool has_correlation)
{
	struct edge_cmd cmd;
	const struct action *act;
	uint64_t now = edge_wall_ms();
	const char *stored;
	char err[256], *result;
	int rc;

	c->stats.received++;
	rc = edge_cmd_parse(action, payload, len, c->d.cfg->commands.max_payload, &cmd, err,
			    sizeof(err));
	if (rc) {
		c->stats.malformed++;
		EDGE_LOG_RL(&c->rl, EDGE_LOG_WARNING, MOD, "bad command on %s (id %s): %s", action,
			    *cmd.id ? cmd.id : "unknown", err);
		result = (*cmd.id || has_correlation)
			     ? edge_cmd_result_json(cmd.id, EDGE_CMD_ERROR, err, NULL)
			     : NULL;
		edge_cmd_release(&cmd);
		return result;
	}
	stored = edge_dedup_get(c->dedup, cmd.id, now);
	if (stored) {
		c->stats.duplicates++;
		EDGE_INFO(MOD, "%s (id %s): duplicate, answering the stored result", action,
			  cmd.id);
		result = strdup(stored);
		edge_cmd_release(&cmd);
		return result;
	}
	act = find_action(action);
	if (edge_cmd_expired(&cmd, now)) {
		c->stats.expired++;
		snprintf(err, sizeof(err), "expired %" PRIu64 " ms ago, not run",
			 now - (uint64_t)cmd.expires_at);
		result = edge_cmd_result_json(cmd.id, EDGE_CMD_EXPIRED, err, NULL);
	} else if (!act) {
		c->stats.unknown++;
		snprintf(err, sizeof(err), "unknown action \"%s\"", action);
		result = edge_cmd_result_json(cmd.id, EDGE_CMD_UNKNOWN_ACTION, err, NULL);
	} else if (check_signature(c, act, &cmd, err, sizeof(err))) {
		/* Not remembered: a forged copy must not block the genuine id. */
		c->stats.rejected++;
		EDGE_LOG_RL(&c->rl, EDGE_LOG_WARNING, MOD, "%s (id %s) rejected: %s", action,
			    cmd.id, err);
		result = edge_cmd_result_json(cmd.id, EDGE_CMD_REJECTED, err, NULL);
		edge_cmd_release(&cmd);
		return result;
	} else {
		result = run_action(c, act, &cmd, false);
	}
	if (result) {
		rc = edge_dedup_put(c->dedup, cmd.id, result, now, act && (act->flags & F_MUTATES));
		if (rc)
			EDGE_LOG_RL(&c->rl, EDGE_LOG_ERR, MOD, "cannot remember command %s: %s",
				    cmd.id, strerror(-rc));
	}
	edge_cmd_release(&cmd);
	return result;
}

/* A Response Topic the answer may go to: a plain topic of ours to fill. */
static bool usable_topic(const char *t, size_t max)
{
	return t && *t && !strchr(t, '+') && !strchr(t, '#') && strlen(t) < max;
}

void edge_commands_message(struct edge_commands *c, const struct edge_mqtt_message *msg)
{
	const struct edge_config *cfg = c->d.cfg;
	char action[EDGE_CMD_ACTION_MAX + 1], topic[256];
	char *result;
	int rc;

	if (edge_cmd_action_from_topic(cfg->topics.commands, cfg->device_id, msg->topic, action,
				       sizeof(action))) {
		EDGE_LOG_RL(&c->rl, EDGE_LOG_WARNING, MOD,
			    "message on %.100s ignored: not a command topic of this device",
			    msg->topic);
		return;
	}
	result = handle(c, action, msg->payload, msg->len, msg->correlation != NULL);
	if (!result)
		return;
	if (usable_topic(msg->response_topic, sizeof(topic))) {
		snprintf(topic, sizeof(topic), "%s", msg->response_topic);
	} else if (edge_topic_format(topic, sizeof(topic), cfg->topics.responses, cfg->device_id,
				     NULL, NULL,
				     edge_cmd_action_valid(action) ? action : "invalid") < 0) {
		free(result);
		return;
	}
	rc = edge_uplink_publish(c->d.uplink, topic, result, strlen(result), 1, false,
				 msg->correlation, msg->correlation_len);
	if (rc)
		EDGE_LOG_RL(&c->rl, EDGE_LOG_WARNING, MOD, "answer on %s not sent: %s", topic,
			    strerror(-rc));
	free(result);
}

char *edge_commands_run_local(struct edge_commands *c, const char *action, const char *params_json)
{
	const struct action *act = find_action(action ? action : "");
	struct edge_cmd cmd;
	char *result;

	memset(&cmd, 0, sizeof(cmd));
	snprintf(cmd.id, sizeof(cmd.id), "local-%" PRIu64, ++c->local_seq);
	c->stats.received++;
	if (!act) {
		c->stats.unknown++;
		return edge_cmd_result_json(cmd.id, EDGE_CMD_UNKNOWN_ACTION, "unknown action",
					    NULL);
	}
	snprintf(cmd.action, sizeof(cmd.action), "%s", action);
	cmd.root = params_json && *params_json ? cJSON_Parse(params_json) : cJSON_CreateObject();
	if (!cJSON_IsObject(cmd.root)) {
		cJSON_Delete(cmd.root);
		c->stats.malformed++;
		return edge_cmd_result_json(cmd.id, EDGE_CMD_ERROR, "params must be a JSON object",
					    NULL);
	}
	cmd.params = cmd.root;
	result = run_action(c, act, &cmd, true);
	cJSON_Delete(cmd.root);
	return result;
}

static void load_key(struct edge_commands *c)
{
	const char *path = c->d.cfg->commands.signing_key_file;

	edge_jws_key_free(c->key);
	c->key = NULL;
	c->key_error = 0;
	if (!*path)
		return;
	c->key_error = edge_jws_key_load(path, &c->key);
	if (c->key_error)
		EDGE_ERR(MOD, "commands.signing_key_file %s: %s: signed commands are refused", path,
			 c->key_error == -ENOTSUP  ? "not a P-256 EC public key"
			 : c->key_error == -EINVAL ? "not a PEM/DER public key"
						   : strerror(-c->key_error));
}

static void apply_config(struct edge_commands *c)
{
	const struct edge_config *cfg = c->d.cfg;

	edge_dedup_set_limits(c->dedup, cfg->commands.dedup_max,
			      cfg->commands.dedup_ttl_s * 1000ull);
	load_key(c);
	edge_topic_format(c->sub_topic, sizeof(c->sub_topic), cfg->topics.commands, cfg->device_id,
			  NULL, NULL, "+");
}

void edge_commands_reconfigure(struct edge_commands *c, struct edge_sampler *sampler)
{
	c->d.sampler = sampler;
	apply_config(c);
}

int edge_commands_new(const struct edge_commands_deps *deps,
		      const struct edge_commands_hooks *hooks, struct edge_commands **out)
{
	struct edge_commands *c = calloc(1, sizeof(*c));
	const struct edge_config *cfg = deps->cfg;
	char path[EDGE_PATH_MAX + 32];
	int rc;

	if (!c)
		return -ENOMEM;
	c->d = *deps;
	if (hooks)
		c->hooks = *hooks;
	c->rl = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 10);
	rc = edge_devctl_new(deps->board, &c->devctl);
	if (rc)
		goto err_c;
	snprintf(path, sizeof(path), "%s/" DEDUP_NAME, cfg->state_dir);
	rc = edge_dedup_open(path, cfg->commands.dedup_max, cfg->commands.dedup_ttl_s * 1000ull,
			     edge_wall_ms(), &c->dedup);
	if (rc)
		goto err_devctl;
	apply_config(c);
	*out = c;
	return 0;

err_devctl:
	edge_devctl_free(c->devctl);
err_c:
	free(c);
	return rc;
}

void edge_commands_free(struct edge_commands *c)
{
	if (!c)
		return;
	if (c->blink_timer) {
		edge_loop_timer_del(c->d.loop, c->blink_timer);
		edge_devctl_led(c->devctl, 0);
	}
	if (c->after_timer)
		edge_loop_timer_del(c->d.loop, c->after_timer);
	edge_dedup_free(c->dedup);
	edge_jws_key_free(c->key);
	edge_devctl_free(c->devctl);
	free(c);
}

void edge_commands_connected(struct edge_commands *c)
{
	int rc = edge_uplink_subscribe(c->d.uplink, c->sub_topic, 1);

	if (rc)
		EDGE_WARN(MOD, "cannot subscribe %s: %s", c->sub_topic, strerror(-rc));
	else
		EDGE_DEBUG(MOD, "subscribing %s (the uplink logs the SUBACK)", c->sub_topic);
}

void edge_commands_stats(const struct edge_commands *c, struct edge_commands_stats *out)
{
	*out = c->stats;
}
