/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "edge/cfgtab.h"
#include "edge/file.h"
#include "fleet/config.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

static const char *const protocols[] = {"v5", "v311", NULL};
static const char *const log_levels[] = {"error", "warning", "notice", "info", "debug", NULL};

/* One row per key: JSON path, type, field, command-line flag, default,
 * bounds, description. Errors are worded as for the flags
 * (EDGE_CFGTAB_FLAG_WORDS): file and command line say the same. */
#define EDGE_CFG_T struct edge_fleet_config
#define S(key, flag_, field, def_, desc_)                                                          \
	{                                                                                          \
		key, EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(field), .flag = flag_, .def = def_,        \
								.desc = desc_                      \
	}
#define U(key, flag_, field, def_, lo, hi, desc_)                                                  \
	{                                                                                          \
		key, EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(field), .flag = flag_, .def = def_,          \
							      .min = lo, .max = hi, .desc = desc_  \
	}
static const struct edge_cfg_key opts[] = {
    S("mqtt.host", "mqtt-host", mqtt_host, "127.0.0.1", "broker host name or address"),
    U("mqtt.port", "mqtt-port", mqtt_port, "8883", 1, 65535, "broker port"),
    {"mqtt.protocol", EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(mqtt_protocol), .flag = "mqtt-protocol",
     .def = "v5", .names = protocols, .desc = "MQTT version"},
    S("mqtt.client_id", "mqtt-client-id", mqtt_client_id, "",
      "client id (default edge-fleet-exporter-<host>-<pid>)"),
    U("mqtt.keepalive_s", "mqtt-keepalive", mqtt_keepalive_s, "30", 5, 3600,
      "MQTT keepalive, seconds"),
    S("mqtt.username", "mqtt-username", mqtt_username, "", "optional user name"),
    S("mqtt.password_file", "mqtt-password-file", mqtt_password_file, "",
      "file holding the password (first line)"),
    S("mqtt.tls.ca_file", "ca-file", tls_ca_file, "",
      "CA bundle that signed the broker's certificate (empty: no TLS)"),
    S("mqtt.tls.cert_file", "cert-file", tls_cert_file, "", "client certificate for mutual TLS"),
    S("mqtt.tls.key_file", "key-file", tls_key_file, "", "client private key"),
    U("mqtt.backoff.base_ms", "backoff-base-ms", backoff_base_ms, "500", 10, 600000,
      "first reconnect delay ceiling, ms"),
    U("mqtt.backoff.cap_ms", "backoff-cap-ms", backoff_cap_ms, "30000", 10, 3600000,
      "largest reconnect delay, ms"),
    U("mqtt.resync_s", "resync", resync_s, "30", 0, 3600,
      "after a reconnect, forget devices whose retained status is not back within this (0 = "
      "never)"),
    S("mqtt.status_topic", "status-topic", status_topic, "devices/{device_id}/status",
      "status topic template ({device_id} is one level)"),
    S("mqtt.alert_topic", "alert-topic", alert_topic, "alerts/{severity}",
      "alert topic template ({severity} is one level)"),
    S("mqtt.ota_topic", "ota-topic", ota_topic, "devices/{device_id}/ota",
      "OTA report topic template ({device_id} is one level)"),
    S("listen.address", "listen-address", listen_address, "127.0.0.1",
      "HTTP listen address (IPv4 or IPv6 literal)"),
    U("listen.port", "listen-port", listen_port, "9810", 1, 65535, "HTTP listen port"),
    U("stale_after_s", "stale-after", stale_after_s, "0", 0, 31 * 86400,
      "an online device silent this long counts as down (0 = never)"),
    U("max_devices", "max-devices", max_devices, "100000", 1, 10000000, "devices tracked at most"),
    {"log_level", EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(log_level), .flag = "log-level", .def = "info",
     .names = log_levels, .desc = "least severe level logged"},
};
static const struct edge_cfgtab tab = EDGE_CFGTAB(opts, EDGE_CFGTAB_FLAG_WORDS);
#undef S
#undef U
#undef EDGE_CFG_T
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static bool check_only;

bool edge_fleet_config_check_only(void)
{
	return check_only;
}

const struct edge_cfgtab *edge_fleet_config_table(void)
{
	return &tab;
}

void edge_fleet_config_usage(FILE *out)
{
	fprintf(out,
		"Usage: edge-fleet-exporter [--config FILE] [OPTIONS]\n"
		"Subscribes to device status and alerts over MQTT and serves Prometheus\n"
		"metrics on http://ADDRESS:PORT/metrics (and /healthz, /readyz).\n\n"
		"  --config FILE         JSON file with the keys below (flags override it)\n"
		"  --check-config        validate the configuration and exit\n"
		"  --help-config         print every configuration key: type, bounds, default\n"
		"  --help, --version\n\n"
		"  flag                  config key               default\n");
	for (size_t i = 0; i < N_OPTS; i++)
		fprintf(out, "  --%-20s%-25s%s\n  %22s%s\n", opts[i].flag, opts[i].path,
			opts[i].def[0] ? opts[i].def : "\"\"", "", opts[i].desc);
}

void edge_fleet_config_print_reference(FILE *out)
{
	fprintf(out, "edge-fleet-exporter configuration keys (JSON; the flag in parentheses):\n");
	edge_cfg_print_reference(&tab, out);
}

static int load_file(struct edge_fleet_config *c, const char *path, FILE *err)
{
	char *text = NULL, msg[512];
	size_t len = 0;
	cJSON *root;
	int rc = edge_file_read(path, CONFIG_MAX_BYTES, &text, &len);

	if (rc) {
		fprintf(err, "%s: cannot read: %s\n", path, strerror(-rc));
		return rc;
	}
	root = cJSON_ParseWithLength(text, len);
	if (!root || !cJSON_IsObject(root)) {
		const char *at = cJSON_GetErrorPtr();

		fprintf(err, "%s: not a JSON object%s%.20s%s\n", path,
			at && root == NULL ? " near \"" : "", at && root == NULL ? at : "",
			at && root == NULL ? "\"" : "");
		cJSON_Delete(root);
		free(text);
		return -EINVAL;
	}
	rc = edge_cfg_apply(&tab, c, root, 0, path, msg, sizeof(msg));
	if (rc)
		fprintf(err, "%s\n", msg);
	cJSON_Delete(root);
	free(text);
	return rc;
}

static bool template_ok(const char *t, const char *placeholder)
{
	const char *p = strstr(t, placeholder);
	size_t n = strlen(placeholder);

	/* exactly one placeholder, a whole level, no wildcards */
	if (!p || strstr(p + 1, placeholder) || strpbrk(t, "+#"))
		return false;
	return (p == t || p[-1] == '/') && (p[n] == '\0' || p[n] == '/');
}

/* Rules between keys; the table checked each key on its own. */
static int validate(struct edge_fleet_config *c, const char *where, FILE *err)
{
	if (!c->mqtt_host[0]) {
		fprintf(err, "%s: mqtt.host: must not be empty\n", where);
		return -EINVAL;
	}
	if (!c->tls_cert_file[0] != !c->tls_key_file[0]) {
		fprintf(err, "%s: mqtt.tls: cert_file and key_file go together\n", where);
		return -EINVAL;
	}
	if (c->tls_cert_file[0] && !c->tls_ca_file[0]) {
		fprintf(err, "%s: mqtt.tls.ca_file: needed with a client certificate\n", where);
		return -EINVAL;
	}
	if (c->backoff_cap_ms < c->backoff_base_ms) {
		fprintf(err, "%s: mqtt.backoff.cap_ms: smaller than base_ms\n", where);
		return -EINVAL;
	}
	if (!template_ok(c->status_topic, "{device_id}")) {
		fprintf(err,
			"%s: mqtt.status_topic: \"%s\" needs one {device_id} level and no "
			"wildcards\n",
			where, c->status_topic);
		return -EINVAL;
	}
	if (!template_ok(c->alert_topic, "{severity}")) {
		fprintf(err,
			"%s: mqtt.alert_topic: \"%s\" needs one {severity} level and no "
			"wildcards\n",
			where, c->alert_topic);
		return -EINVAL;
	}
	if (!template_ok(c->ota_topic, "{device_id}")) {
		fprintf(err,
			"%s: mqtt.ota_topic: \"%s\" needs one {device_id} level and no "
			"wildcards\n",
			where, c->ota_topic);
		return -EINVAL;
	}
	{
		unsigned char addr[sizeof(struct in6_addr)];

		if (inet_pton(strchr(c->listen_address, ':') ? AF_INET6 : AF_INET,
			      c->listen_address, addr) != 1) {
			fprintf(err, "%s: listen.address: \"%s\" is not an IPv4 or IPv6 address\n",
				where, c->listen_address);
			return -EINVAL;
		}
	}
	return 0;
}

enum { OPT_CONFIG = 1000, OPT_HELP, OPT_HELP_CONFIG, OPT_VERSION, OPT_CHECK, OPT_TABLE = 2000 };

int edge_fleet_config_load(struct edge_fleet_config *c, int argc, char **argv, FILE *out, FILE *err)
{
	struct option longopts[N_OPTS + 6];
	const char *config_file = NULL;
	char msg[512];
	int rc, ch;

	memset(c, 0, sizeof(*c));
	check_only = false;
	rc = edge_cfg_defaults(&tab, c);
	if (rc)
		return rc;
	for (size_t i = 0; i < N_OPTS; i++)
		longopts[i] =
		    (struct option){opts[i].flag, required_argument, NULL, OPT_TABLE + (int)i};
	longopts[N_OPTS] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	longopts[N_OPTS + 1] = (struct option){"help", no_argument, NULL, OPT_HELP};
	longopts[N_OPTS + 2] = (struct option){"help-config", no_argument, NULL, OPT_HELP_CONFIG};
	longopts[N_OPTS + 3] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	longopts[N_OPTS + 4] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
	longopts[N_OPTS + 5] = (struct option){0};

	/* pass 1: --config, --help, --version and unknown flags */
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			config_file = optarg;
			break;
		case 'h':
		case OPT_HELP:
			edge_fleet_config_usage(out);
			return 1;
		case OPT_HELP_CONFIG:
			edge_fleet_config_print_reference(out);
			return 1;
		case OPT_VERSION:
			fprintf(out, "edge-fleet-exporter %s\n", EDGE_FLEET_VERSION);
			return 1;
		case OPT_CHECK:
			check_only = true;
			break;
		case ':':
			fprintf(err, "option %s needs a value (see --help)\n", argv[optind - 1]);
			return -EINVAL;
		case '?':
			fprintf(err, "unknown option %s (see --help)\n", argv[optind - 1]);
			return -EINVAL;
		default:
			break;
		}
	}
	if (optind < argc) {
		fprintf(err, "unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	if (config_file) {
		rc = load_file(c, config_file, err);
		if (rc)
			return rc;
	}
	/* pass 2: flags override the file */
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch < OPT_TABLE)
			continue;
		rc = edge_cfg_set(&tab, c, opts[ch - OPT_TABLE].path, optarg, "command line", msg,
				  sizeof(msg));
		if (rc) {
			fprintf(err, "%s\n", msg);
			return rc;
		}
	}
	return validate(c, config_file ? config_file : "command line", err);
}

void edge_fleet_config_free(struct edge_fleet_config *c)
{
	edge_cfg_free(&tab, c);
}
