/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "edge/file.h"
#include "edge/log.h"
#include "fleet/config.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

enum opt_type { T_STR, T_U32 };

struct opt {
	const char *key;  /* JSON path, dots between objects */
	const char *flag; /* long option without the dashes */
	enum opt_type type;
	size_t off;
	const char *def;
	uint32_t min, max;
	const char *help;
};

#define S(field) T_STR, offsetof(struct edge_fleet_config, field)
#define U(field) T_U32, offsetof(struct edge_fleet_config, field)
static const struct opt opts[] = {
    {"mqtt.host", "mqtt-host", S(mqtt_host), "127.0.0.1", 0, 0, "broker host name or address"},
    {"mqtt.port", "mqtt-port", U(mqtt_port), "8883", 1, 65535, "broker port"},
    {"mqtt.protocol", "mqtt-protocol", S(mqtt_protocol), "v5", 0, 0, "v5 or v311"},
    {"mqtt.client_id", "mqtt-client-id", S(mqtt_client_id), "", 0, 0,
     "client id (default edge-fleet-exporter-<host>-<pid>)"},
    {"mqtt.keepalive_s", "mqtt-keepalive", U(mqtt_keepalive_s), "30", 5, 3600,
     "MQTT keepalive, seconds"},
    {"mqtt.username", "mqtt-username", S(mqtt_username), "", 0, 0, "optional user name"},
    {"mqtt.password_file", "mqtt-password-file", S(mqtt_password_file), "", 0, 0,
     "file holding the password (first line)"},
    {"mqtt.tls.ca_file", "ca-file", S(tls_ca_file), "", 0, 0,
     "CA bundle that signed the broker's certificate (empty: no TLS)"},
    {"mqtt.tls.cert_file", "cert-file", S(tls_cert_file), "", 0, 0,
     "client certificate for mutual TLS"},
    {"mqtt.tls.key_file", "key-file", S(tls_key_file), "", 0, 0, "client private key"},
    {"mqtt.backoff.base_ms", "backoff-base-ms", U(backoff_base_ms), "500", 10, 600000,
     "first reconnect delay ceiling, ms"},
    {"mqtt.backoff.cap_ms", "backoff-cap-ms", U(backoff_cap_ms), "30000", 10, 3600000,
     "largest reconnect delay, ms"},
    {"mqtt.resync_s", "resync", U(resync_s), "30", 0, 3600,
     "after a reconnect, forget devices whose retained status is not back within this (0 = "
     "never)"},
    {"mqtt.status_topic", "status-topic", S(status_topic), "devices/{device_id}/status", 0, 0,
     "status topic template ({device_id} is one level)"},
    {"mqtt.alert_topic", "alert-topic", S(alert_topic), "alerts/{severity}", 0, 0,
     "alert topic template ({severity} is one level)"},
    {"listen.address", "listen-address", S(listen_address), "127.0.0.1", 0, 0,
     "HTTP listen address (IPv4 or IPv6 literal)"},
    {"listen.port", "listen-port", U(listen_port), "9810", 1, 65535, "HTTP listen port"},
    {"stale_after_s", "stale-after", U(stale_after_s), "0", 0, 31 * 86400,
     "an online device silent this long counts as down (0 = never)"},
    {"max_devices", "max-devices", U(max_devices), "100000", 1, 10000000,
     "devices tracked at most"},
    {"log_level", "log-level", S(log_level), "info", 0, 0, "error|warning|notice|info|debug"},
};
#undef S
#undef U
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static bool check_only;

bool edge_fleet_config_check_only(void)
{
	return check_only;
}

static char **str_field(struct edge_fleet_config *c, const struct opt *o)
{
	return (char **)(void *)((char *)c + o->off);
}

static uint32_t *u32_field(struct edge_fleet_config *c, const struct opt *o)
{
	return (uint32_t *)(void *)((char *)c + o->off);
}

static int set_str(struct edge_fleet_config *c, const struct opt *o, const char *v)
{
	char *dup = strdup(v);

	if (!dup)
		return -ENOMEM;
	free(*str_field(c, o));
	*str_field(c, o) = dup;
	return 0;
}

static int set_u32_text(struct edge_fleet_config *c, const struct opt *o, const char *v,
			const char *where, FILE *err)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || n < o->min || n > o->max) {
		fprintf(err, "%s: %s: \"%s\" is not an integer in [%u, %u]\n", where, o->key, v,
			o->min, o->max);
		return -EINVAL;
	}
	*u32_field(c, o) = (uint32_t)n;
	return 0;
}

void edge_fleet_config_usage(FILE *out)
{
	fprintf(out, "Usage: edge-fleet-exporter [--config FILE] [OPTIONS]\n"
		     "Subscribes to device status and alerts over MQTT and serves Prometheus\n"
		     "metrics on http://ADDRESS:PORT/metrics (and /healthz, /readyz).\n\n"
		     "  --config FILE         JSON file with the keys below (flags override it)\n"
		     "  --check-config        validate the configuration and exit\n"
		     "  --help, --version\n\n"
		     "  flag                  config key               default\n");
	for (size_t i = 0; i < N_OPTS; i++)
		fprintf(out, "  --%-20s%-25s%s\n  %22s%s\n", opts[i].flag, opts[i].key,
			opts[i].def[0] ? opts[i].def : "\"\"", "", opts[i].help);
}

static const struct opt *find_key(const char *key)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (!strcmp(opts[i].key, key))
			return &opts[i];
	return NULL;
}

/* A prefix of some key ("mqtt", "mqtt.tls"): an object is expected there. */
static bool is_object_key(const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < N_OPTS; i++)
		if (!strncmp(opts[i].key, key, n) && opts[i].key[n] == '.')
			return true;
	return false;
}

static int load_object(struct edge_fleet_config *c, const cJSON *obj, const char *prefix,
		       const char *file, FILE *err)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, obj) {
		char key[128];
		const struct opt *o;
		int rc;

		if (snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "",
			     it->string) >= (int)sizeof(key)) {
			fprintf(err, "%s: key too long under \"%s\"\n", file, prefix);
			return -EINVAL;
		}
		if (is_object_key(key)) {
			if (!cJSON_IsObject(it)) {
				fprintf(err, "%s: %s: must be an object\n", file, key);
				return -EINVAL;
			}
			rc = load_object(c, it, key, file, err);
			if (rc)
				return rc;
			continue;
		}
		o = find_key(key);
		if (!o) {
			fprintf(err, "%s: %s: unknown key\n", file, key);
			return -EINVAL;
		}
		if (o->type == T_STR) {
			if (!cJSON_IsString(it)) {
				fprintf(err, "%s: %s: must be a string\n", file, key);
				return -EINVAL;
			}
			rc = set_str(c, o, it->valuestring);
		} else {
			char num[32];

			if (!cJSON_IsNumber(it) ||
			    it->valuedouble != (double)(int64_t)it->valuedouble) {
				fprintf(err, "%s: %s: must be an integer in [%u, %u]\n", file, key,
					o->min, o->max);
				return -EINVAL;
			}
			snprintf(num, sizeof(num), "%lld", (long long)it->valuedouble);
			rc = set_u32_text(c, o, num, file, err);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int load_file(struct edge_fleet_config *c, const char *path, FILE *err)
{
	char *text = NULL;
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
	rc = load_object(c, root, "", path, err);
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

static int validate(struct edge_fleet_config *c, const char *where, FILE *err)
{
	if (!c->mqtt_host[0]) {
		fprintf(err, "%s: mqtt.host: must not be empty\n", where);
		return -EINVAL;
	}
	if (strcmp(c->mqtt_protocol, "v5") && strcmp(c->mqtt_protocol, "v311")) {
		fprintf(err, "%s: mqtt.protocol: \"%s\" is not v5 or v311\n", where,
			c->mqtt_protocol);
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
	{
		unsigned char addr[sizeof(struct in6_addr)];

		if (inet_pton(strchr(c->listen_address, ':') ? AF_INET6 : AF_INET,
			      c->listen_address, addr) != 1) {
			fprintf(err, "%s: listen.address: \"%s\" is not an IPv4 or IPv6 address\n",
				where, c->listen_address);
			return -EINVAL;
		}
	}
	if (edge_log_level_from_name(c->log_level) < 0) {
		fprintf(err, "%s: log_level: \"%s\" is not error|warning|notice|info|debug\n",
			where, c->log_level);
		return -EINVAL;
	}
	return 0;
}

enum { OPT_CONFIG = 1000, OPT_HELP, OPT_VERSION, OPT_CHECK, OPT_TABLE = 2000 };

int edge_fleet_config_load(struct edge_fleet_config *c, int argc, char **argv, FILE *out, FILE *err)
{
	struct option longopts[N_OPTS + 5];
	const char *config_file = NULL;
	int rc, ch;

	memset(c, 0, sizeof(*c));
	check_only = false;
	for (size_t i = 0; i < N_OPTS; i++) {
		if (opts[i].type == T_STR)
			rc = set_str(c, &opts[i], opts[i].def);
		else
			rc = set_u32_text(c, &opts[i], opts[i].def, "default", err);
		if (rc)
			return rc;
		longopts[i] =
		    (struct option){opts[i].flag, required_argument, NULL, OPT_TABLE + (int)i};
	}
	longopts[N_OPTS] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	longopts[N_OPTS + 1] = (struct option){"help", no_argument, NULL, OPT_HELP};
	longopts[N_OPTS + 2] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	longopts[N_OPTS + 3] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
	longopts[N_OPTS + 4] = (struct option){0};

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
		const struct opt *o;

		if (ch < OPT_TABLE)
			continue;
		o = &opts[ch - OPT_TABLE];
		if (o->type == T_STR)
			rc = set_str(c, o, optarg);
		else
			rc = set_u32_text(c, o, optarg, "command line", err);
		if (rc)
			return rc;
	}
	return validate(c, config_file ? config_file : "command line", err);
}

void edge_fleet_config_free(struct edge_fleet_config *c)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].type == T_STR) {
			free(*str_field(c, &opts[i]));
			*str_field(c, &opts[i]) = NULL;
		}
}
