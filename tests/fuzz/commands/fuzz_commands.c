/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the command dispatcher end to end
 * (agent/commands/commands.c): edge_commands_message() with the MQTT v5
 * Response Topic and Correlation Data of struct edge_mqtt_message, and
 * edge_commands_run_local() as edgectl uses it; every handler with its
 * params, config.set through edge_config_apply_json() and its settable-keys
 * check, the overlay file and a reload, the dedup store, the signature gate.
 *
 * What is real: the dispatcher, the config module, the dedup file and the
 * outbox in a scratch state dir, the sampler on the sim-full board, the
 * loop. What is stubbed: the three uplink calls the dispatcher makes
 * (edge_uplink_publish/subscribe/stats, defined below; the uplink library's
 * object is then never linked) and the daemon's hooks (reload re-reads the
 * config as the daemon does).
 *
 * Input: a flags byte, then
 *   remote: topic NUL [response topic NUL] [correlation length byte +
 *           bytes] payload
 *   local:  action NUL params
 * Flags: 1 local, 2 response topic, 4 correlation data, 8 deliver twice,
 * 16 commands.require_signed, 32 the status hook fails, 64 no sampler,
 * 128 the uplink is offline.
 * Checks: an answer is one result document (id, status, message, data);
 * it goes to the usable Response Topic (else topics.responses) with the
 * request's correlation bytes, and only for this device's command topics;
 * a second delivery of a remembered id gets the same answer; a config.set
 * that succeeds leaves, after the reload, exactly the configuration
 * edge_config_apply_json() makes of its params.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/cmd_parse.h"
#include "agent/commands.h"
#include "agent/config.h"
#include "agent/sampler.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "edge/board.h"
#include "edge/log.h"
#include "edge/loop.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	F_LOCAL = 1,
	F_RESPONSE = 2,
	F_CORR = 4,
	F_TWICE = 8,
	F_SIGNED_ONLY = 16,
	F_STATUS_NULL = 32,
	F_NO_SAMPLER = 64,
	F_OFFLINE = 128,
};

/* The platform's public key; its private half signed the seeds and is gone
 * (make_corpus.py --new-key). */
static const char signing_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6jP0jB8wY0rCjX/D+MjmLlylIBfq\n"
    "OMlx7y84Ha3YlZVGLOnkMf+thTG99Wih0MeTtGMU5X8BMDVijWzumMItWg==\n"
    "-----END PUBLIC KEY-----\n";

static struct edge_loop *loop;
static struct edge_store *store;
static struct edge_sampler *sampler;
static struct edge_board board;
static struct edge_config pristine, live;
static struct edge_commands *cmds;
static char config_path[300], overlay_path[400], dedup_path[300];
static unsigned flags;

/* ---- the uplink as the dispatcher sees it ---------------------------- */

struct published {
	int count;
	char topic[300];
	char *payload;
	const void *corr;
	size_t corr_len;
};
static struct published pub;

int edge_uplink_publish(struct edge_uplink *u, const char *topic, const void *payload, size_t len,
			int qos, bool retain, const void *correlation, size_t correlation_len)
{
	(void)u;
	if (qos != 1 || retain || !topic || !payload || strlen(payload) != len)
		abort();
	if (strlen(topic) >= sizeof(pub.topic))
		abort();
	pub.count++;
	snprintf(pub.topic, sizeof(pub.topic), "%s", topic);
	free(pub.payload);
	pub.payload = strdup(payload);
	pub.corr = correlation;
	pub.corr_len = correlation_len;
	return flags & F_OFFLINE ? -ENOTCONN : 0;
}

int edge_uplink_subscribe(struct edge_uplink *u, const char *topic, int qos)
{
	(void)u;
	if (qos != 1 || strcmp(topic, "commands/GW-0001/+") != 0)
		abort();
	return 0;
}

void edge_uplink_stats(const struct edge_uplink *u, struct edge_uplink_stats *out)
{
	(void)u;
	memset(out, 0, sizeof(*out));
	out->connected = !(flags & F_OFFLINE);
}

/* ---- the daemon's side ------------------------------------------------ */

static int discard(void *arg, const struct edge_store_msg *msgs, size_t n)
{
	(void)arg;
	(void)msgs;
	(void)n;
	return 0;
}

static int reloads;

static void hook_reload(void *arg)
{
	struct edge_config next;
	char err[512];

	(void)arg;
	reloads++;
	if (edge_config_load(config_path, &next, err, sizeof(err)))
		abort(); /* config.set saved an overlay that does not load */
	live = next;
	edge_commands_reconfigure(cmds, flags & F_NO_SAMPLER ? NULL : sampler);
}

static void hook_stop(void *arg, int exit_code, const char *why)
{
	(void)arg;
	(void)exit_code;
	(void)why;
	abort(); /* only a timer of restart calls it, and the loop never runs them here */
}

static char *hook_status(void *arg)
{
	(void)arg;
	if (flags & F_STATUS_NULL)
		return NULL;
	return strdup("{\"deviceId\":\"GW-0001\",\"connected\":true,\"backlog\":0}");
}

static void init(void)
{
	struct edge_store_cfg scfg = {.max_rows = 1000, .max_bytes = 1 << 20};
	char text[2048], key_path[300], err[512];

	edge_log_set_level(EDGE_LOG_ERR);
	fuzz_path(key_path, sizeof(key_path), "signing.pem");
	fuzz_write_file(key_path, signing_pem, sizeof(signing_pem) - 1);
	fuzz_path(config_path, sizeof(config_path), "edge-agent.json");
	fuzz_path(dedup_path, sizeof(dedup_path), "commands.dedup.json");
	snprintf(text, sizeof(text),
		 "{\"device_id\": \"GW-0001\", \"board\": \"sim-full\", \"state_dir\": \"%s\",\n"
		 " \"mqtt\": {\"tls\": {\"ca_file\": \"/nonexistent/ca.crt\",\n"
		 "  \"cert_file\": \"/nonexistent/device.crt\", \"key_file\": "
		 "\"/nonexistent/device.key\"}},\n"
		 " \"commands\": {\"signing_key_file\": \"%s\", \"max_payload\": 4096},\n"
		 " \"ctl\": {\"enabled\": false}}\n",
		 fuzz_tmpdir(), key_path);
	fuzz_write_file(config_path, text, strlen(text));
	if (edge_config_load(config_path, &pristine, err, sizeof(err))) {
		fprintf(stderr, "fuzz_commands: %s\n", err);
		abort();
	}
	if (edge_config_overlay_path(&pristine, overlay_path, sizeof(overlay_path)))
		abort();
	scfg.dir = pristine.state_dir;
	live = pristine;
	if (edge_loop_new(&loop) || edge_store_open(&scfg, &store, NULL, 0) ||
	    edge_board_load(pristine.board, NULL, &board, err, sizeof(err)) ||
	    edge_sampler_new(loop, &live, &board, discard, NULL, &sampler, err, sizeof(err))) {
		fprintf(stderr, "fuzz_commands: set-up failed: %s\n", err);
		abort();
	}
}

/* ---- checks ------------------------------------------------------------ */

/* A result document; its status name. */
static const char *check_result(const char *text, const char *want_id)
{
	static const char *const names[] = {"ok", "error", "rejected", "expired", "unknown_action"};
	static char status[32];
	cJSON *r = cJSON_Parse(text);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
	size_t i;

	if (!cJSON_IsObject(r) || !cJSON_IsString(st) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "message")) ||
	    !cJSON_GetObjectItemCaseSensitive(r, "data") ||
	    !(cJSON_IsString(id) || cJSON_IsNull(id)))
		abort();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(st->valuestring, names[i]) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		abort();
	if (want_id && (!cJSON_IsString(id) || strcmp(id->valuestring, want_id) != 0))
		abort();
	snprintf(status, sizeof(status), "%s", st->valuestring);
	cJSON_Delete(r);
	return status;
}

/* After a config.set that succeeded: the running configuration is exactly
 * the file with the params applied. */
static void check_config_set(const cJSON *params)
{
	struct edge_config want = pristine;
	char err[512], *text = cJSON_PrintUnformatted(params);

	if (!text || edge_config_apply_json(&want, text, strlen(text), "params", err, sizeof(err)))
		abort();
	free(text);
	if (memcmp(&want, &live, sizeof(want)) != 0)
		abort();
}

static void run_remote(const uint8_t *data, size_t size)
{
	char topic[512], response[512], action[EDGE_CMD_ACTION_MAX + 1], want_topic[256];
	uint8_t corr[256];
	struct edge_mqtt_message msg = {.topic = topic};
	struct edge_cmd parsed;
	char err[256], *first = NULL;
	bool ours, parsed_ok;
	int rc;

	fuzz_take_string(&data, &size, topic, sizeof(topic));
	if (flags & F_RESPONSE) {
		fuzz_take_string(&data, &size, response, sizeof(response));
		msg.response_topic = response;
	}
	if (flags & F_CORR && size > 0) {
		size_t n = data[0] < size - 1 ? data[0] : size - 1;

		memcpy(corr, data + 1, n);
		msg.correlation = corr;
		msg.correlation_len = n;
		data += n + 1;
		size -= n + 1;
	}
	msg.payload = data;
	msg.len = size;

	ours = edge_cmd_action_from_topic(live.topics.commands, live.device_id, topic, action,
					  sizeof(action)) == 0;
	rc = ours ? edge_cmd_parse(action, data, size, live.commands.max_payload, &parsed, err,
				   sizeof(err))
		  : -EINVAL;
	parsed_ok = ours && rc == 0;

	edge_commands_message(cmds, &msg);
	if (!ours) {
		if (pub.count)
			abort(); /* never an answer to another device's topic */
		return;
	}
	if (pub.count > 1)
		abort();
	if (pub.count == 1) {
		const char *st = check_result(pub.payload, parsed_ok ? parsed.id : NULL);

		if (msg.response_topic && *response && !strpbrk(response, "+#") &&
		    strlen(response) < 256) {
			if (strcmp(pub.topic, response) != 0)
				abort();
		} else {
			edge_topic_format(want_topic, sizeof(want_topic), live.topics.responses,
					  live.device_id, NULL, NULL,
					  edge_cmd_action_valid(action) ? action : "invalid");
			if (strcmp(pub.topic, want_topic) != 0)
				abort();
		}
		if (pub.corr != msg.correlation || pub.corr_len != msg.correlation_len)
			abort();
		if (parsed_ok && strcmp(action, "config.set") == 0 && strcmp(st, "ok") == 0)
			check_config_set(parsed.params);
		if (parsed_ok && strcmp(st, "rejected") != 0)
			first = strdup(pub.payload);
	} else if (parsed_ok || msg.correlation) {
		abort(); /* a parsed command, or one with correlation data, is answered */
	}
	if (flags & F_TWICE) {
		pub.count = 0;
		edge_commands_message(cmds, &msg);
		if (first && (pub.count != 1 || strcmp(first, pub.payload) != 0))
			abort(); /* a remembered id gets its stored answer */
	}
	free(first);
	if (ours)
		edge_cmd_release(&parsed);
}

static void run_local(const uint8_t *data, size_t size)
{
	char action[128], *params = malloc(size + 1), *res;

	if (!params)
		abort();
	fuzz_take_string(&data, &size, action, sizeof(action));
	memcpy(params, data, size);
	params[size] = '\0';
	res = edge_commands_run_local(cmds, action, size ? params : NULL);
	if (!res)
		abort();
	check_result(res, NULL);
	if (pub.count)
		abort(); /* local answers are returned, not published */
	free(res);
	free(params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_commands_deps deps;
	struct edge_commands_hooks hooks = {
	    .reload = hook_reload, .stop = hook_stop, .status_json = hook_status};

	if (size < 1)
		return 0;
	if (!loop)
		init();
	flags = data[0];
	data++;
	size--;

	/* every input starts from the same state */
	unlink(overlay_path);
	unlink(dedup_path);
	live = pristine;
	live.commands.require_signed = flags & F_SIGNED_ONLY;
	for (size_t i = 0; i < board.n_sensors; i++)
		edge_sampler_enable(sampler, board.sensors[i].name, true);
	memset(&pub, 0, sizeof(pub));
	deps = (struct edge_commands_deps){
	    .loop = loop,
	    .store = store,
	    .uplink = NULL, /* only ever handed to the stubs above */
	    .sampler = flags & F_NO_SAMPLER ? NULL : sampler,
	    .cfg = &live,
	    .board = &board,
	    .config_path = config_path,
	};
	if (edge_commands_new(&deps, &hooks, &cmds))
		abort();
	edge_commands_connected(cmds);
	if (flags & F_LOCAL)
		run_local(data, size);
	else
		run_remote(data, size);
	edge_commands_free(cmds);
	cmds = NULL;
	free(pub.payload);
	pub.payload = NULL;
	return 0;
}
