/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_CMD_PARSE_H
#define EDGE_AGENT_CMD_PARSE_H
/*
 * The command contract without MQTT (docs/commands.md): payload parsing,
 * id recovery from damaged payloads, expiry, the signed-content check and
 * the result document. Pure code, driven directly by unit and fuzz tests.
 *
 * Payload: {"id": string, "params": object (optional), "expiresAt": epoch ms
 * (optional), "jws": compact JWS (optional)}. Unknown keys are ignored.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define EDGE_CMD_ID_MAX	    64
#define EDGE_CMD_ACTION_MAX 32

enum edge_cmd_status {
	EDGE_CMD_OK,
	EDGE_CMD_ERROR,
	EDGE_CMD_REJECTED,
	EDGE_CMD_EXPIRED,
	EDGE_CMD_UNKNOWN_ACTION,
};

struct edge_cmd {
	char action[EDGE_CMD_ACTION_MAX + 1];
	char id[EDGE_CMD_ID_MAX + 1]; /* "" when none could be recovered */
	cJSON *root;		      /* owned */
	cJSON *params;		      /* borrowed from root; never NULL after success */
	int64_t expires_at;	      /* 0 = no expiry */
	const char *jws;	      /* borrowed from root; NULL when unsigned */
};

const char *edge_cmd_status_str(enum edge_cmd_status s);

/* Letters, digits and "-_.:" ; 1..64 characters. */
bool edge_cmd_id_valid(const char *id);
/* Lower-case letters, digits, '-', '.'; 1..32 characters. */
bool edge_cmd_action_valid(const char *action);

/* The action of a command topic: tmpl is topics.commands with {action}
 * last ("commands/{device_id}/{action}"). Returns 0, or -EINVAL when topic
 * is not one of this device's command topics. */
int edge_cmd_action_from_topic(const char *tmpl, const char *device_id, const char *topic,
			       char *action, size_t action_len);

/* Parses payload for action. Returns 0, -EMSGSIZE beyond max_len, or
 * -EINVAL with err explaining. Even on failure out->id holds the id when
 * one could be recovered. Release with edge_cmd_release() in every case. */
int edge_cmd_parse(const char *action, const void *payload, size_t len, size_t max_len,
		   struct edge_cmd *out, char *err, size_t errlen);
void edge_cmd_release(struct edge_cmd *c);

/* Best effort: finds "id":"..." in a damaged or oversized payload. */
bool edge_cmd_recover_id(const void *payload, size_t len, char *id, size_t idlen);

bool edge_cmd_expired(const struct edge_cmd *c, uint64_t now_wall_ms);

/* The signed content of a command: the JWS payload must be an object whose
 * "id", "action", "deviceId", "expiresAt" and "params" equal the command's
 * (params compared as JSON values; expiresAt is required). Returns 0 or
 * -EBADMSG with why. */
int edge_cmd_check_signed(const struct edge_cmd *c, const char *device_id, const char *signed_json,
			  size_t len, char *why, size_t whylen);

/* {"id","status","message","data"}; data may be NULL (-> null). id "" ->
 * null. Caller frees with free(). */
char *edge_cmd_result_json(const char *id, enum edge_cmd_status status, const char *message,
			   const cJSON *data);

#endif
