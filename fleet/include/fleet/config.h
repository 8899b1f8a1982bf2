/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FLEET_CONFIG_H
#define EDGE_FLEET_CONFIG_H
/*
 * edge-fleet-exporter configuration: one table (edge/cfgtab.h) maps every
 * key to its field, command-line flag, default, bounds and description. The
 * same table loads the JSON file, parses flags, prints --help and
 * --help-config and names the key in errors.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct edge_fleet_config {
	char *mqtt_host;
	uint32_t mqtt_port;
	char *mqtt_protocol; /* "v5" | "v311" */
	char *mqtt_client_id;
	uint32_t mqtt_keepalive_s;
	char *mqtt_username;
	char *mqtt_password_file;
	char *tls_ca_file; /* empty: plain TCP (warned) */
	char *tls_cert_file;
	char *tls_key_file;
	uint32_t backoff_base_ms;
	uint32_t backoff_cap_ms;
	uint32_t resync_s;  /* 0: keep devices whose retained status vanished */
	char *status_topic; /* template with {device_id} */
	char *alert_topic;  /* template with {severity} */
	char *ota_topic;    /* template with {device_id}: the retained OTA reports */
	char *listen_address;
	uint32_t listen_port;
	uint32_t stale_after_s;
	uint32_t max_devices;
	char *log_level;
};

/* Fills defaults, then the file named by --config (if any), then the other
 * flags. Returns 0; 1 when --help, --help-config or --version was handled
 * (printed to out); -EINVAL (or another negative errno) after writing the
 * reason, naming the file and key, to err. Caller frees with edge_fleet_config_free(), also on
 * error. */
int edge_fleet_config_load(struct edge_fleet_config *cfg, int argc, char **argv, FILE *out,
			   FILE *err);
void edge_fleet_config_free(struct edge_fleet_config *cfg);
void edge_fleet_config_usage(FILE *out);
/* Every key with its type, bounds, default and flag (--help-config). */
void edge_fleet_config_print_reference(FILE *out);
/* The table behind the keys (for tests). Static, never freed. */
struct edge_cfgtab;
const struct edge_cfgtab *edge_fleet_config_table(void);

/* Whether --check-config was given. */
bool edge_fleet_config_check_only(void);

#endif
