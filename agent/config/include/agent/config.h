/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_CONFIG_H
#define EDGE_AGENT_CONFIG_H
/*
 * The agent's JSON configuration. One table (config.c, on edge/cfgtab.h)
 * maps every key path to a field with its type, default, bounds and a
 * one-line description; the same table parses, validates, reports errors as
 * "<file>: <key.path>: <problem>" and prints the reference (edge-agent
 * --help-config). The "alerts" and "sensors" entries are record tables.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EDGE_PATH_MAX 256

enum edge_mqtt_protocol { EDGE_MQTT_V311 = 4, EDGE_MQTT_V5 = 5 };
enum edge_store_sync { EDGE_SYNC_NORMAL, EDGE_SYNC_FULL };
/* ota.bundle.boot: how the boot loader is told about the new slot. */
enum edge_ota_boot_mode { EDGE_OTA_BOOT_SERVICE, EDGE_OTA_BOOT_UBOOT, EDGE_OTA_BOOT_TRYBOOT };

#define EDGE_ALERTS_MAX		  16
#define EDGE_SENSOR_OVERRIDES_MAX 16

enum edge_alert_cmp { EDGE_CMP_GT, EDGE_CMP_GE, EDGE_CMP_LT, EDGE_CMP_LE };

/* One edge alert rule ("alerts" array; docs/commands.md). */
struct edge_alert_rule {
	char name[32];
	char metric[32];  /* channel name: heart_rate, spo2, body_temperature, ... */
	int cmp;	  /* enum edge_alert_cmp */
	double threshold; /* in the metric's unit (bpm, %, mmHg, degC) */
	uint32_t for_s;	  /* the condition must hold this long before firing */
	char severity[16];
};

/* Per-sensor overrides of the board descriptor ("sensors" object): 0 keeps
 * the board's value. */
struct edge_sensor_override {
	char name[32];
	uint32_t interval_ms;
	uint32_t freshness_ms;
};

struct edge_config {
	char device_id[64];
	char board[32];
	char boards_dir[EDGE_PATH_MAX];
	char state_dir[EDGE_PATH_MAX];
	int log_level; /* enum edge_log_level */
	struct {
		char host[256];
		uint32_t port;
		int protocol; /* enum edge_mqtt_protocol */
		uint32_t keepalive_s;
		char client_id[128];
		bool clean_start;
		uint32_t session_expiry_s; /* MQTT 5 Session Expiry Interval; 0 = none */
		uint32_t inflight;
		uint32_t connect_timeout_s;
		struct {
			char ca_file[EDGE_PATH_MAX];
			char cert_file[EDGE_PATH_MAX];
			char key_file[EDGE_PATH_MAX];
			char version[16];
		} tls;
		char username[128];
		char password_file[EDGE_PATH_MAX];
		struct {
			uint32_t base_ms;
			uint32_t cap_ms;
		} backoff;
	} mqtt;
	struct {
		uint64_t max_rows;
		uint64_t max_bytes;
		int synchronous; /* enum edge_store_sync */
		uint32_t shutdown_flush_ms;
	} store;
	struct {
		uint32_t interval_ms;
		bool sensor_topics; /* also publish one message per reading */
		bool static_location;
		double latitude;
		double longitude;
	} record;
	struct {
		char device_data[128];
		char sensor[128];
		char status[128];
		char alerts[128];
		char commands[128];
		char responses[128];
		char ota[128];
	} topics;
	struct {
		uint32_t interval_s;
	} status;
	struct {
		bool enabled; /* the "provisioning" object is present */
		char url[EDGE_PATH_MAX];
		char ca_file[EDGE_PATH_MAX];
		char claim_token_file[EDGE_PATH_MAX];
		uint32_t renew_before_days;
		char csr_file[EDGE_PATH_MAX];
		char realtime_platform[64];
		char model[64];
	} provisioning;
	struct {
		bool require_signed; /* reboot, restart, config.set need a JWS */
		char signing_key_file[EDGE_PATH_MAX];
		uint32_t max_payload;
		uint32_t dedup_max;
		uint32_t dedup_ttl_s;
	} commands;
	struct {
		bool enabled;
		char socket[EDGE_PATH_MAX]; /* "" = <state_dir>/edgectl.sock */
		char group[32];
		uint32_t max_clients;
	} ctl;
	struct {
		bool enabled;
		uint32_t timeout_s;
		char device[64]; /* "" = the board's "watchdog" */
	} watchdog;
	struct {
		struct {
			bool enabled; /* the "ingress.coap" object is present */
			char address[64];
			uint32_t port;
			char plain_address[64];
			uint32_t plain_port; /* 0 = no plain coap:// */
			char keys_file[EDGE_PATH_MAX];
			uint32_t max_age_s;
			uint32_t freshness_ms;
			uint32_t rate_per_min;
			uint32_t burst;
			uint32_t max_sessions;
			uint32_t max_handshakes;
			uint32_t handshake_timeout_ms;
			uint32_t session_timeout_s;
			struct {
				bool enabled; /* "ingress.coap.pki" is present */
				char ca_file[EDGE_PATH_MAX];
				char cert_file[EDGE_PATH_MAX];
				char key_file[EDGE_PATH_MAX];
			} pki;
		} coap;
	} ingress;
	struct {
		bool enabled;
		char dir[EDGE_PATH_MAX]; /* "" = <state_dir>/ota */
		char manifest_key_file[EDGE_PATH_MAX];
		char ca_file[EDGE_PATH_MAX]; /* "" = the system's trust store */
		bool allow_http;
		uint64_t max_bytes;
		uint64_t reserve_bytes;
		uint32_t download_deadline_h;
		uint32_t health_window_s;
		char health_cmd[EDGE_PATH_MAX];
		uint32_t max_trial_starts;
		struct {
			bool enabled;
			int boot; /* enum edge_ota_boot_mode */
			struct {
				char a[EDGE_PATH_MAX];
				char b[EDGE_PATH_MAX];
			} slots;
			uint32_t tries;
			char uboot_env_config[EDGE_PATH_MAX];
			char cmdline[EDGE_PATH_MAX];
			char tryboot_dir[EDGE_PATH_MAX];
		} bundle;
		struct {
			bool enabled;
			char conf[EDGE_PATH_MAX];
		} rauc;
		struct {
			bool enabled;
			char key_file[EDGE_PATH_MAX];
			char selection_a[64];
			char selection_b[64];
			char hwrevision[64]; /* "BOARD:REV" for -H; "" = /etc/hwrevision */
		} swupdate;
	} ota;
	/* Keys in a token: mqtt.tls.key_file may be a pkcs11: URI (docs/security.md). */
	struct {
		char module[EDGE_PATH_MAX]; /* "" = p11-kit's proxy module */
		char pin_file[EDGE_PATH_MAX];
	} pkcs11;
	struct edge_alert_rule alerts[EDGE_ALERTS_MAX];
	uint32_t n_alerts;
	struct edge_sensor_override sensors[EDGE_SENSOR_OVERRIDES_MAX];
	uint32_t n_sensors;
};

/* Fills defaults, then parses the file. On failure err holds one line
 * naming the file, the key path and the problem. */
int edge_config_load(const char *path, struct edge_config *cfg, char *err, size_t errlen);
/* Same from a string; origin names it in errors. */
int edge_config_parse(const char *json, size_t len, const char *origin, struct edge_config *cfg,
		      char *err, size_t errlen);
void edge_config_defaults(struct edge_config *cfg);
/* Writes the key reference (path, type, default, description). */
void edge_config_print_reference(FILE *out);
/* The table behind all of these (for tests: edge_cfg_check_table()).
 * Static, never freed. */
struct edge_cfgtab;
const struct edge_cfgtab *edge_config_table(void);

/* The overlay written by the config.set command: <state_dir>/config.overlay.json.
 * edge_config_load() merges it over the file (arrays replace, objects merge). */
int edge_config_overlay_path(const struct edge_config *cfg, char *out, size_t outlen);
/* Applies a partial configuration (the overlay, a config.set) over cfg and
 * validates the result. Only the keys that may change at run time are
 * accepted: log_level, record.interval_ms, status.interval_s, sensors,
 * alerts. On failure cfg may be partly changed: work on a copy. */
int edge_config_apply_json(struct edge_config *cfg, const char *json, size_t len,
			   const char *origin, char *err, size_t errlen);
/* "gt" ">" ... for a comparison; NULL when out of range. */
const char *edge_alert_cmp_str(int cmp);

/* Expands {device_id}, {metric}, {severity}, {action} in a topic template.
 * Returns the length, or -ENAMETOOLONG. NULL arguments leave their
 * placeholders empty. */
int edge_topic_format(char *out, size_t outlen, const char *tmpl, const char *device_id,
		      const char *metric, const char *severity, const char *action);

#endif
