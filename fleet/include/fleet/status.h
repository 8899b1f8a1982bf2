/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FLEET_STATUS_H
#define EDGE_FLEET_STATUS_H
/*
 * Parsers for what devices publish about themselves (DESIGN 5.1):
 * the retained status on devices/{device_id}/status (and its Last Will) and
 * the edge alerts on alerts/{severity}.
 *
 * Both are tolerant: unknown keys and null values are ignored (null = not
 * known); a known key with the wrong type, an out-of-range number or a
 * string that is not valid UTF-8 or too long is skipped and counted in
 * `skipped`; only a payload that is not a JSON object is an error. Pure
 * functions: no logging, no global state.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_FLEET_ID_MAX      128 /* device ids, bytes */
#define EDGE_FLEET_STR_MAX     64  /* firmware, version, board, boot, sensor names */
#define EDGE_FLEET_SEV_MAX     32  /* alert severity */
#define EDGE_FLEET_MAX_SENSORS 32
#define EDGE_FLEET_PAYLOAD_MAX 65536

enum edge_fleet_state {
	EDGE_FLEET_STATE_UNKNOWN = 0, /* absent or not one of the below */
	EDGE_FLEET_STATE_ONLINE,
	EDGE_FLEET_STATE_OFFLINE,
};

/* Numeric status fields; bit (1u << field) in `present` when parsed. */
enum edge_fleet_field {
	EDGE_FLEET_F_TIMESTAMP_MS,	   /* "timestamp" */
	EDGE_FLEET_F_UPTIME_S,		   /* "uptimeS" */
	EDGE_FLEET_F_BACKLOG,		   /* "backlog" */
	EDGE_FLEET_F_DROPPED,		   /* "dropped" */
	EDGE_FLEET_F_RECONNECTS,	   /* "reconnects" */
	EDGE_FLEET_F_LAST_PUBLISH_MS,	   /* "lastPublishMs" */
	EDGE_FLEET_F_ALERTS_ACTIVE,	   /* "alerts.active" */
	EDGE_FLEET_F_ALERTS_TOTAL,	   /* "alerts.total" */
	EDGE_FLEET_F_CERT_EXPIRES_MS,	   /* "certExpiresMs" */
	EDGE_FLEET_F_RSS_KB,		   /* "memory.rssKb" */
	EDGE_FLEET_F_PSS_KB,		   /* "memory.pssKb" */
	EDGE_FLEET_F_RECORDS_INCOMPLETE,   /* "recordsIncomplete" */
	EDGE_FLEET_F_INGRESS_NODES,	   /* "ingress.nodes": CoAP nodes in the keys file */
	EDGE_FLEET_F_INGRESS_ACTIVE,	   /* "ingress.nodesActive" */
	EDGE_FLEET_F_INGRESS_SESSIONS,	   /* "ingress.sessions" */
	EDGE_FLEET_F_INGRESS_ACCEPTED,	   /* "ingress.accepted" */
	EDGE_FLEET_F_INGRESS_REFUSED,	   /* "ingress.refused" */
	EDGE_FLEET_F_INGRESS_RATE_LIMITED, /* "ingress.rateLimited" */
	EDGE_FLEET_F_COUNT
};

struct edge_fleet_sensor {
	char name[EDGE_FLEET_STR_MAX + 1];
	int8_t healthy; /* 1, 0, or -1 when absent */
	int8_t enabled; /* 1, 0, or -1 when absent */
	bool has_errors;
	bool has_last_reading;
	int64_t errors;
	int64_t last_reading_ms;
};

struct edge_fleet_status {
	enum edge_fleet_state state;
	/* "" when absent or skipped */
	char device_id[EDGE_FLEET_ID_MAX + 1];
	char board[EDGE_FLEET_STR_MAX + 1];
	char version[EDGE_FLEET_STR_MAX + 1];
	char firmware[EDGE_FLEET_STR_MAX + 1];
	char boot[EDGE_FLEET_STR_MAX + 1];
	uint32_t present; /* bitmask over enum edge_fleet_field */
	int64_t num[EDGE_FLEET_F_COUNT];
	size_t n_sensors;
	struct edge_fleet_sensor sensors[EDGE_FLEET_MAX_SENSORS];
	uint32_t skipped; /* known keys ignored for type/range/encoding */
};

/* Parses a status payload (not NUL-terminated; len <= EDGE_FLEET_PAYLOAD_MAX).
 * Returns 0, -EINVAL when it is not a JSON object, -EMSGSIZE when too big.
 * An empty payload is the caller's business (it means "device removed"). */
int edge_fleet_status_parse(const void *payload, size_t len, struct edge_fleet_status *out);

struct edge_fleet_alert {
	char device_id[EDGE_FLEET_ID_MAX + 1];
	char severity[EDGE_FLEET_SEV_MAX + 1]; /* "" when absent */
	bool resolved;			       /* "state":"resolved"; else firing */
	uint32_t skipped;
};

/* Parses an alert payload. Returns 0, -EINVAL when not a JSON object or when
 * deviceId is missing/invalid, -EMSGSIZE when too big. */
int edge_fleet_alert_parse(const void *payload, size_t len, struct edge_fleet_alert *out);

/* The retained OTA report on devices/{device_id}/ota (DESIGN 5.4):
 * {"otaId","state","version","fromVersion","installer","progress":{"bytes",
 * "total","percent"},"result","reason","ts",...}. Tolerant like the status. */
#define EDGE_FLEET_OTA_STATE_MAX 16 /* "rolled_back" and its kin */

struct edge_fleet_ota {
	char ota_id[EDGE_FLEET_STR_MAX + 1];
	char state[EDGE_FLEET_OTA_STATE_MAX + 1]; /* one of the agent's state names, or "" */
	char version[EDGE_FLEET_STR_MAX + 1];
	char from_version[EDGE_FLEET_STR_MAX + 1];
	char installer[EDGE_FLEET_OTA_STATE_MAX + 1];
	char result[EDGE_FLEET_OTA_STATE_MAX + 1]; /* "success", "failure", "rolled_back" or "" */
	bool has_ratio;
	double ratio; /* progress in [0, 1]: bytes/total, else percent/100 */
	uint32_t skipped;
};

/* Parses an OTA report. Returns 0, -EINVAL when not a JSON object, -EMSGSIZE
 * when too big. */
int edge_fleet_ota_parse(const void *payload, size_t len, struct edge_fleet_ota *out);

/* True when s[0..len) is valid UTF-8 without control characters (what may
 * become a label value or a device id). */
bool edge_fleet_text_ok(const char *s, size_t len);

#endif
