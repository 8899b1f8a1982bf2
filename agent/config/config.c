/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "edge/file.h"
#include "edge/log.h"
#include "edge/sensor.h"

enum type { T_OBJ, T_STR, T_U32, T_U64, T_BOOL, T_DOUBLE, T_ENUM, T_ALERTS, T_SENSORS };

struct field {
	const char *path;
	enum type type;
	size_t off;
	size_t size;	   /* T_STR buffer size */
	double min, max;   /* numbers */
	const char *def;   /* default as text ("" = empty / none) */
	const char *enums; /* T_ENUM: "name=value|name=value" */
	size_t present;	   /* T_OBJ: offset of a bool set when the object appears, or 0 */
	const char *desc;
};

#define OFF(m) offsetof(struct edge_config, m)
#define STR(p, m, d, desc)                                                                         \
	{                                                                                          \
		p, T_STR, OFF(m), sizeof(((struct edge_config *)0)->m), 0, 0, d, NULL, 0, desc     \
	}
#define U32(p, m, lo, hi, d, desc)                                                                 \
	{                                                                                          \
		p, T_U32, OFF(m), 0, lo, hi, d, NULL, 0, desc                                      \
	}
#define U64(p, m, lo, hi, d, desc)                                                                 \
	{                                                                                          \
		p, T_U64, OFF(m), 0, lo, hi, d, NULL, 0, desc                                      \
	}
#define BOOL(p, m, d, desc)                                                                        \
	{                                                                                          \
		p, T_BOOL, OFF(m), 0, 0, 0, d, NULL, 0, desc                                       \
	}
#define DBL(p, m, lo, hi, d, desc)                                                                 \
	{                                                                                          \
		p, T_DOUBLE, OFF(m), 0, lo, hi, d, NULL, 0, desc                                   \
	}
#define ENUM(p, m, e, d, desc)                                                                     \
	{                                                                                          \
		p, T_ENUM, OFF(m), 0, 0, 0, d, e, 0, desc                                          \
	}
#define OBJ(p, desc)                                                                               \
	{                                                                                          \
		p, T_OBJ, 0, 0, 0, 0, NULL, NULL, 0, desc                                          \
	}
#define OBJP(p, m, desc)                                                                           \
	{                                                                                          \
		p, T_OBJ, 0, 0, 0, 0, NULL, NULL, OFF(m) + 1, desc                                 \
	}

static const struct field fields[] = {
    STR("device_id", device_id, NULL, "device identity: topics, client id, records (required)"),
    STR("board", board, "sim", "board descriptor name (edge-agent --list-boards)"),
    STR("boards_dir", boards_dir, "",
	"directory searched for <board>.json before the built-in boards"),
    STR("state_dir", state_dir, "/var/lib/edge-agent",
	"outbox, sequence counter, issued certificates"),
    ENUM("log_level", log_level, "error=3|warning=4|notice=5|info=6|debug=7", "info",
	 "least severe level logged"),
    OBJ("mqtt", "broker connection"),
    STR("mqtt.host", mqtt.host, "127.0.0.1", "broker host name or address"),
    U32("mqtt.port", mqtt.port, 1, 65535, "8883", "broker TLS port"),
    ENUM("mqtt.protocol", mqtt.protocol, "v5=5|v311=4", "v5",
	 "MQTT version; seq/boot user properties need v5"),
    U32("mqtt.keepalive_s", mqtt.keepalive_s, 5, 65535, "30", "MQTT keepalive"),
    STR("mqtt.client_id", mqtt.client_id, "", "client id (default: device_id)"),
    BOOL("mqtt.clean_start", mqtt.clean_start, "false",
	 "start a new session on each connect; false resumes the broker's session"),
    U32("mqtt.session_expiry_s", mqtt.session_expiry_s, 0, 4294967295.0, "3600",
	"MQTT 5 with clean_start false: the broker keeps the session (and the commands "
	"sent meanwhile) this long after a disconnect; 0 ends it with the connection, "
	"4294967295 never"),
    U32("mqtt.inflight", mqtt.inflight, 1, 65535, "128",
	"outbox messages published but not yet acknowledged"),
    U32("mqtt.connect_timeout_s", mqtt.connect_timeout_s, 1, 600, "20",
	"give up a connection attempt without CONNACK after this"),
    OBJ("mqtt.tls", "TLS (always on, server always verified)"),
    STR("mqtt.tls.ca_file", mqtt.tls.ca_file, "",
	"CA bundle that signs the broker certificate (default with provisioning: "
	"<state_dir>/ca.crt)"),
    STR("mqtt.tls.cert_file", mqtt.tls.cert_file, "",
	"client certificate for mutual TLS (default with provisioning: "
	"<state_dir>/device.crt)"),
    STR("mqtt.tls.key_file", mqtt.tls.key_file, "", "client private key for mutual TLS"),
    ENUM("mqtt.tls.version", mqtt.tls.version, "tlsv1.2=0|tlsv1.3=1", "tlsv1.2",
	 "lowest TLS version accepted"),
    STR("mqtt.username", mqtt.username, "", "MQTT user name (platform mqttUsers)"),
    STR("mqtt.password_file", mqtt.password_file, "", "file holding the MQTT password"),
    OBJ("mqtt.backoff", "reconnect backoff: full jitter"),
    U32("mqtt.backoff.base_ms", mqtt.backoff.base_ms, 10, 3600000, "1000",
	"first reconnect delay ceiling"),
    U32("mqtt.backoff.cap_ms", mqtt.backoff.cap_ms, 10, 86400000, "60000",
	"largest reconnect delay"),
    OBJ("store", "SQLite outbox"),
    U64("store.max_rows", store.max_rows, 100, 1e12, "1000000",
	"outbox row cap; the oldest are dropped beyond it"),
    U64("store.max_bytes", store.max_bytes, 65536, 1e15, "268435456",
	"outbox payload byte cap; the oldest are dropped beyond it"),
    ENUM("store.synchronous", store.synchronous, "normal=0|full=1", "normal",
	 "normal survives a process crash, full also a power cut"),
    U32("store.shutdown_flush_ms", store.shutdown_flush_ms, 0, 60000, "3000",
	"time to keep publishing the backlog after SIGTERM"),
    OBJ("record", "HealthData records"),
    U32("record.interval_ms", record.interval_ms, 50, 3600000, "1000",
	"how often a HealthData record is built"),
    BOOL("record.sensor_topics", record.sensor_topics, "true",
	 "also publish each reading on the sensor topic"),
    OBJP("record.location", record.static_location,
	 "static location of a fixed installation (instead of GPS)"),
    DBL("record.location.latitude", record.latitude, -90, 90, "0", "degrees north"),
    DBL("record.location.longitude", record.longitude, -180, 180, "0", "degrees east"),
    OBJ("topics", "topic templates: {device_id} {metric} {severity} {action}"),
    STR("topics.device_data", topics.device_data, "health/device_data", "HealthData records"),
    STR("topics.sensor", topics.sensor, "sensors/{device_id}/{metric}", "single readings"),
    STR("topics.status", topics.status, "devices/{device_id}/status",
	"retained status and Last Will"),
    STR("topics.alerts", topics.alerts, "alerts/{severity}", "edge alerts"),
    STR("topics.commands", topics.commands, "commands/{device_id}/{action}", "incoming commands"),
    STR("topics.responses", topics.responses, "devices/{device_id}/responses/{action}",
	"command results"),
    STR("topics.ota", topics.ota, "devices/{device_id}/ota", "OTA state"),
    OBJ("status", "status messages"),
    U32("status.interval_s", status.interval_s, 5, 86400, "60", "status refresh period"),
    OBJP("provisioning", provisioning.enabled,
	 "zero-touch registration when no device certificate exists"),
    STR("provisioning.url", provisioning.url, "", "provisioning API base URL (https://...)"),
    STR("provisioning.ca_file", provisioning.ca_file, "", "CA that signs the API's certificate"),
    STR("provisioning.claim_token_file", provisioning.claim_token_file, "", "factory claim token"),
    U32("provisioning.renew_before_days", provisioning.renew_before_days, 1, 3650, "30",
	"renew the device certificate this long before it expires"),
    OBJ("commands", "remote commands (docs/commands.md)"),
    BOOL("commands.require_signed", commands.require_signed, "false",
	 "reboot, restart and config.set must carry a JWS ES256 signature"),
    STR("commands.signing_key_file", commands.signing_key_file, "",
	"platform public key (PEM, P-256) that signs commands"),
    U32("commands.max_payload", commands.max_payload, 256, 1048576, "16384",
	"larger command payloads are refused"),
    U32("commands.dedup_max", commands.dedup_max, 8, 4096, "256",
	"command ids (with their results) remembered"),
    U32("commands.dedup_ttl_s", commands.dedup_ttl_s, 60, 2592000, "86400",
	"how long a command id is remembered"),
    OBJ("ctl", "local control socket (edgectl)"),
    BOOL("ctl.enabled", ctl.enabled, "true", "serve the control socket"),
    STR("ctl.socket", ctl.socket, "", "socket path (default <state_dir>/edgectl.sock)"),
    STR("ctl.group", ctl.group, "", "group owning the socket (mode 0660); empty keeps ours"),
    U32("ctl.max_clients", ctl.max_clients, 1, 64, "8", "concurrent edgectl connections"),
    OBJ("ingress", "readings from constrained nodes (docs/ingress.md)"),
    OBJP("ingress.coap", ingress.coap.enabled,
	 "CoAP/DTLS-PSK endpoint for battery nodes: POST /v1/readings (SenML)"),
    STR("ingress.coap.address", ingress.coap.address,
	"::", "address of the coaps:// endpoint (\"::\" takes IPv4 and IPv6)"),
    U32("ingress.coap.port", ingress.coap.port, 1, 65535, "5684", "coaps:// UDP port"),
    STR("ingress.coap.plain_address", ingress.coap.plain_address, "127.0.0.1",
	"address of the plain coap:// endpoint (labs); requests from beyond loopback get 4.01"),
    U32("ingress.coap.plain_port", ingress.coap.plain_port, 0, 65535, "0",
	"plain coap:// UDP port for labs (node named by ?node=ID); 0 = off"),
    STR("ingress.coap.keys_file", ingress.coap.keys_file, "/etc/edge-agent/nodes.json",
	"node ids and PSKs (edge-factory nodes); 0600, owned by root"),
    U32("ingress.coap.max_age_s", ingress.coap.max_age_s, 60, 31536000, "86400",
	"readings older than this are refused (4.00)"),
    U32("ingress.coap.freshness_ms", ingress.coap.freshness_ms, 1000, 86400000, "300000",
	"a node's vital counts for its HealthData record this long"),
    U32("ingress.coap.rate_per_min", ingress.coap.rate_per_min, 1, 600000, "120",
	"packs per minute per node (token bucket); beyond it 4.29 with Max-Age"),
    U32("ingress.coap.burst", ingress.coap.burst, 1, 10000, "20",
	"packs a node may send at once before the rate applies"),
    U32("ingress.coap.max_sessions", ingress.coap.max_sessions, 1, 100000, "1024",
	"established DTLS sessions; beyond it the least recently active is closed"),
    U32("ingress.coap.max_handshakes", ingress.coap.max_handshakes, 2, 4096, "32",
	"DTLS handshakes in progress; beyond it the oldest is dropped, and from half of "
	"it new peers must first return a cookie"),
    U32("ingress.coap.handshake_timeout_ms", ingress.coap.handshake_timeout_ms, 200, 120000,
	"10000", "a DTLS handshake not finished in this time is dropped"),
    U32("ingress.coap.session_timeout_s", ingress.coap.session_timeout_s, 10, 604800, "3600",
	"an idle DTLS session is closed after this"),
    {"sensors", T_SENSORS, 0, 0, 0, 0, NULL, NULL, 0,
     "per-sensor overrides of the board: {\"<name>\": {\"interval_ms\", \"freshness_ms\"}}"},
    {"alerts", T_ALERTS, 0, 0, 0, 0, NULL, NULL, 0,
     "edge alert rules: [{name, metric, comparison (> >= < <=), threshold, for_s, "
     "severity}]"},
    STR("provisioning.csr_file", provisioning.csr_file, "",
	"factory CSR of the device key (default: made at registration)"),
    STR("provisioning.realtime_platform", provisioning.realtime_platform, "health-data",
	"realtime platform the data goes to (the server claims it once)"),
    STR("provisioning.model", provisioning.model, "edge-gateway", "model reported at registration"),
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

#define OVERLAY_NAME "config.overlay.json"

/* Keys a config.set (and the overlay) may change: applied by a reload. */
static const char *const settable[] = {
    "log_level", "record.interval_ms", "status.interval_s", "sensors", "alerts", NULL};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct field *field_find(const char *path)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].path, path) == 0)
			return &fields[i];
	return NULL;
}

/* "a=1|b=2": value of name, or -1. */
static int enum_value(const char *enums, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = enums; *p;) {
		const char *eq = strchr(p, '='), *bar = strchr(p, '|');

		if ((size_t)(eq - p) == n && strncmp(p, name, n) == 0)
			return atoi(eq + 1);
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static void enum_names(const char *enums, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = enums; *p && o + 1 < outlen; p++) {
		if (*p == '=') {
			while (*p && *p != '|')
				p++;
			if (!*p)
				break;
			out[o++] = ',';
			if (o + 1 < outlen)
				out[o++] = ' ';
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

static int store_text(const struct field *f, struct edge_config *cfg, const char *text,
		      const char *origin, char *err, size_t errlen)
{
	char *base = (char *)cfg + f->off;

	switch (f->type) {
	case T_STR:
		if (strlen(text) >= f->size)
			return fail(err, errlen, "%s: %s: longer than %zu characters", origin,
				    f->path, f->size - 1);
		strcpy(base, text);
		return 0;
	case T_ENUM: {
		int v = enum_value(f->enums, text);
		char names[128];

		if (v < 0) {
			enum_names(f->enums, names, sizeof(names));
			return fail(err, errlen, "%s: %s: \"%s\" is not one of %s", origin, f->path,
				    text, names);
		}
		if (strcmp(f->path, "mqtt.tls.version") == 0)
			snprintf(base, sizeof(cfg->mqtt.tls.version), "%s", text);
		else
			*(int *)(void *)base = v;
		return 0;
	}
	case T_BOOL:
		*(bool *)base = strcmp(text, "true") == 0;
		return 0;
	case T_U32:
		*(uint32_t *)(void *)base = (uint32_t)strtoul(text, NULL, 10);
		return 0;
	case T_U64:
		*(uint64_t *)(void *)base = strtoull(text, NULL, 10);
		return 0;
	case T_DOUBLE:
		*(double *)(void *)base = strtod(text, NULL);
		return 0;
	case T_OBJ:
	case T_ALERTS:
	case T_SENSORS:
		break;
	}
	return 0;
}

void edge_config_defaults(struct edge_config *cfg)
{
	char dummy[8];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].def)
			store_text(&fields[i], cfg, fields[i].def, "", dummy, sizeof(dummy));
}

static const char *json_type(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	return "null";
}

static int set_value(const struct field *f, const cJSON *v, struct edge_config *cfg,
		     const char *origin, char *err, size_t errlen)
{
	char *base = (char *)cfg + f->off;

	switch (f->type) {
	case T_STR:
	case T_ENUM:
		if (!cJSON_IsString(v))
			return fail(err, errlen, "%s: %s: expected a string, got %s", origin,
				    f->path, json_type(v));
		return store_text(f, cfg, v->valuestring, origin, err, errlen);
	case T_BOOL:
		if (!cJSON_IsBool(v))
			return fail(err, errlen, "%s: %s: expected true or false, got %s", origin,
				    f->path, json_type(v));
		*(bool *)base = cJSON_IsTrue(v);
		return 0;
	case T_U32:
	case T_U64:
	case T_DOUBLE: {
		double d;

		if (!cJSON_IsNumber(v))
			return fail(err, errlen, "%s: %s: expected a number, got %s", origin,
				    f->path, json_type(v));
		d = v->valuedouble;
		if (!isfinite(d) || (f->type != T_DOUBLE && d != floor(d)))
			return fail(err, errlen, "%s: %s: expected a whole number, got %g", origin,
				    f->path, d);
		if (d < f->min || d > f->max)
			return fail(err, errlen, "%s: %s: %.15g is out of range [%.15g, %.15g]",
				    origin, f->path, d, f->min, f->max);
		if (f->type == T_U32)
			*(uint32_t *)(void *)base = (uint32_t)d;
		else if (f->type == T_U64)
			*(uint64_t *)(void *)base = (uint64_t)d;
		else
			*(double *)(void *)base = d;
		return 0;
	}
	case T_OBJ:
	case T_ALERTS:
	case T_SENSORS:
		break;
	}
	return 0;
}

static const char *const cmp_names[] = {">", ">=", "<", "<="};

const char *edge_alert_cmp_str(int cmp)
{
	return cmp >= 0 && cmp < 4 ? cmp_names[cmp] : NULL;
}

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* "alerts": replaces the whole rule set. */
static int parse_alerts(const cJSON *arr, struct edge_config *cfg, const char *origin, char *err,
			size_t errlen)
{
	static const char *const keys[] = {"name",  "metric",	"comparison", "threshold",
					   "for_s", "severity", NULL};
	const cJSON *r;
	uint32_t n = 0;

	if (!cJSON_IsArray(arr))
		return fail(err, errlen, "%s: alerts: expected an array, got %s", origin,
			    json_type(arr));
	cJSON_ArrayForEach (r, arr) {
		struct edge_alert_rule *rule = &cfg->alerts[n];
		const cJSON *name, *metric, *cmp, *thr, *for_s, *sev, *k;
		int c = -1;

		if (n >= EDGE_ALERTS_MAX)
			return fail(err, errlen, "%s: alerts: more than %d rules", origin,
				    EDGE_ALERTS_MAX);
		if (!cJSON_IsObject(r))
			return fail(err, errlen, "%s: alerts[%u]: expected an object", origin, n);
		cJSON_ArrayForEach (k, r) {
			size_t i;

			for (i = 0; keys[i] && strcmp(keys[i], k->string); i++)
				;
			if (!keys[i])
				return fail(err, errlen, "%s: alerts[%u].%s: unknown key", origin,
					    n, k->string);
		}
		name = cJSON_GetObjectItemCaseSensitive(r, "name");
		metric = cJSON_GetObjectItemCaseSensitive(r, "metric");
		cmp = cJSON_GetObjectItemCaseSensitive(r, "comparison");
		thr = cJSON_GetObjectItemCaseSensitive(r, "threshold");
		for_s = cJSON_GetObjectItemCaseSensitive(r, "for_s");
		sev = cJSON_GetObjectItemCaseSensitive(r, "severity");
		if (!cJSON_IsString(name) || !name_ok(name->valuestring, sizeof(rule->name)))
			return fail(err, errlen,
				    "%s: alerts[%u].name: required, up to 31 letters, digits, "
				    "'-', '_', '.'",
				    origin, n);
		for (uint32_t j = 0; j < n; j++)
			if (strcmp(cfg->alerts[j].name, name->valuestring) == 0)
				return fail(err, errlen, "%s: alerts[%u].name: \"%s\" twice",
					    origin, n, name->valuestring);
		if (!cJSON_IsString(metric) ||
		    !name_ok(metric->valuestring, sizeof(rule->metric)) ||
		    edge_channel_from_name(metric->valuestring) < 0)
			return fail(
			    err, errlen,
			    "%s: alerts[%u].metric: a channel name is required (heart_rate, "
			    "spo2, systolic, diastolic, body_temperature, ...)",
			    origin, n);
		for (int i = 0; cJSON_IsString(cmp) && i < 4; i++)
			if (strcmp(cmp->valuestring, cmp_names[i]) == 0)
				c = i;
		if (c < 0)
			return fail(err, errlen,
				    "%s: alerts[%u].comparison: one of >, >=, <, <=", origin, n);
		if (!cJSON_IsNumber(thr) || !isfinite(thr->valuedouble))
			return fail(err, errlen, "%s: alerts[%u].threshold: a number is required",
				    origin, n);
		if (for_s &&
		    (!cJSON_IsNumber(for_s) || for_s->valuedouble < 0 ||
		     for_s->valuedouble > 86400 || for_s->valuedouble != floor(for_s->valuedouble)))
			return fail(err, errlen,
				    "%s: alerts[%u].for_s: whole seconds in [0, 86400]", origin, n);
		if (sev &&
		    (!cJSON_IsString(sev) || !name_ok(sev->valuestring, sizeof(rule->severity))))
			return fail(err, errlen,
				    "%s: alerts[%u].severity: up to 15 letters, digits, '-', '_'",
				    origin, n);
		memset(rule, 0, sizeof(*rule));
		strcpy(rule->name, name->valuestring);
		strcpy(rule->metric, metric->valuestring);
		rule->cmp = c;
		rule->threshold = thr->valuedouble;
		rule->for_s = for_s ? (uint32_t)for_s->valuedouble : 0;
		strcpy(rule->severity, sev ? sev->valuestring : "warning");
		n++;
	}
	cfg->n_alerts = n;
	return 0;
}

/* "sensors": merges by sensor name. */
static int parse_sensors(const cJSON *obj, struct edge_config *cfg, const char *origin, char *err,
			 size_t errlen)
{
	const cJSON *s;

	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "%s: sensors: expected an object, got %s", origin,
			    json_type(obj));
	cJSON_ArrayForEach (s, obj) {
		struct edge_sensor_override *o = NULL;
		const cJSON *k;

		if (!name_ok(s->string, sizeof(o->name)))
			return fail(err, errlen, "%s: sensors.%s: not a sensor name", origin,
				    s->string);
		if (!cJSON_IsObject(s))
			return fail(err, errlen, "%s: sensors.%s: expected an object", origin,
				    s->string);
		for (uint32_t i = 0; i < cfg->n_sensors; i++)
			if (strcmp(cfg->sensors[i].name, s->string) == 0)
				o = &cfg->sensors[i];
		if (!o) {
			if (cfg->n_sensors >= EDGE_SENSOR_OVERRIDES_MAX)
				return fail(err, errlen, "%s: sensors: more than %d sensors",
					    origin, EDGE_SENSOR_OVERRIDES_MAX);
			o = &cfg->sensors[cfg->n_sensors++];
			memset(o, 0, sizeof(*o));
			strcpy(o->name, s->string);
		}
		cJSON_ArrayForEach (k, s) {
			uint32_t *dst;
			double lo, hi, d;

			if (strcmp(k->string, "interval_ms") == 0)
				dst = &o->interval_ms, lo = 10, hi = 86400000;
			else if (strcmp(k->string, "freshness_ms") == 0)
				dst = &o->freshness_ms, lo = 10, hi = 86400000;
			else
				return fail(err, errlen, "%s: sensors.%s.%s: unknown key", origin,
					    s->string, k->string);
			d = cJSON_IsNumber(k) ? k->valuedouble : -1;
			if (d < lo || d > hi || d != floor(d))
				return fail(
				    err, errlen,
				    "%s: sensors.%s.%s: expected a whole number in [%g, %g]",
				    origin, s->string, k->string, lo, hi);
			*dst = (uint32_t)d;
		}
	}
	return 0;
}

static int walk(const cJSON *obj, const char *prefix, struct edge_config *cfg, const char *origin,
		char *err, size_t errlen)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, obj) {
		char path[128];
		const struct field *f;
		int rc;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", it->string);
		f = field_find(path);
		if (!f)
			return fail(err, errlen, "%s: %s: unknown key", origin, path);
		if (f->type == T_ALERTS) {
			rc = parse_alerts(it, cfg, origin, err, errlen);
		} else if (f->type == T_SENSORS) {
			rc = parse_sensors(it, cfg, origin, err, errlen);
		} else if (f->type == T_OBJ) {
			if (!cJSON_IsObject(it))
				return fail(err, errlen, "%s: %s: expected an object, got %s",
					    origin, path, json_type(it));
			if (f->present)
				*(bool *)((char *)cfg + f->present - 1) = true;
			rc = walk(it, path, cfg, origin, err, errlen);
		} else {
			rc = set_value(f, it, cfg, origin, err, errlen);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int valid_id(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static int check_topic(const char *origin, const char *key, const char *t, char *err, size_t errlen)
{
	if (!*t || strchr(t, '#') || strchr(t, '+'))
		return fail(err, errlen,
			    "%s: %s: \"%s\" must be a non-empty topic without wildcards", origin,
			    key, t);
	return 0;
}

/* Cross-field rules the table cannot express. */
static int validate(struct edge_config *cfg, const cJSON *root, const char *origin, char *err,
		    size_t errlen)
{
	const cJSON *loc;
	int rc;

	if (root && !cJSON_GetObjectItemCaseSensitive(root, "device_id"))
		return fail(err, errlen, "%s: device_id: required", origin);
	if (!valid_id(cfg->device_id) || strlen(cfg->device_id) > 63)
		return fail(err, errlen,
			    "%s: device_id: \"%s\" may hold only letters, digits, '-', '_' and '.'",
			    origin, cfg->device_id);
	if (!*cfg->state_dir || cfg->state_dir[0] != '/')
		return fail(err, errlen, "%s: state_dir: must be an absolute path", origin);
	if (cfg->mqtt.backoff.cap_ms < cfg->mqtt.backoff.base_ms)
		return fail(err, errlen, "%s: mqtt.backoff.cap_ms: %u is below base_ms %u", origin,
			    cfg->mqtt.backoff.cap_ms, cfg->mqtt.backoff.base_ms);
	if (!*cfg->mqtt.client_id)
		strcpy(cfg->mqtt.client_id, cfg->device_id);
	if (!*cfg->mqtt.host)
		return fail(err, errlen, "%s: mqtt.host: must not be empty", origin);
	if (!!*cfg->mqtt.tls.cert_file != !!*cfg->mqtt.tls.key_file)
		return fail(err, errlen, "%s: mqtt.tls.%s: cert_file and key_file go together",
			    origin, *cfg->mqtt.tls.cert_file ? "key_file" : "cert_file");
	if (*cfg->mqtt.password_file && !*cfg->mqtt.username)
		return fail(err, errlen, "%s: mqtt.password_file: needs mqtt.username", origin);
	if (cfg->provisioning.enabled) {
		if (strncmp(cfg->provisioning.url, "https://", 8) != 0)
			return fail(err, errlen, "%s: provisioning.url: must start with https://",
				    origin);
		if (!*cfg->provisioning.ca_file)
			return fail(err, errlen, "%s: provisioning.ca_file: required", origin);
		if (!*cfg->provisioning.claim_token_file)
			return fail(err, errlen, "%s: provisioning.claim_token_file: required",
				    origin);
		/* The issued identity lives in state_dir unless given explicitly. */
		if (!*cfg->mqtt.tls.cert_file) {
			snprintf(cfg->mqtt.tls.cert_file, sizeof(cfg->mqtt.tls.cert_file),
				 "%.200s/device.crt", cfg->state_dir);
			snprintf(cfg->mqtt.tls.key_file, sizeof(cfg->mqtt.tls.key_file),
				 "%.200s/device.key", cfg->state_dir);
		}
		if (!*cfg->mqtt.tls.ca_file)
			snprintf(cfg->mqtt.tls.ca_file, sizeof(cfg->mqtt.tls.ca_file),
				 "%.200s/ca.crt", cfg->state_dir);
	}
	if (!*cfg->mqtt.tls.ca_file)
		return fail(err, errlen,
			    "%s: mqtt.tls.ca_file: required (the broker is always verified)",
			    origin);
	if (!*cfg->mqtt.tls.cert_file && !*cfg->mqtt.username)
		return fail(err, errlen,
			    "%s: mqtt.tls.cert_file: the broker needs a client certificate or "
			    "mqtt.username",
			    origin);
	loc = root ? cJSON_GetObjectItemCaseSensitive(
			 cJSON_GetObjectItemCaseSensitive(root, "record"), "location")
		   : NULL;
	if (loc && (!cJSON_GetObjectItemCaseSensitive(loc, "latitude") ||
		    !cJSON_GetObjectItemCaseSensitive(loc, "longitude")))
		return fail(err, errlen, "%s: record.location: needs latitude and longitude",
			    origin);
	if ((rc =
		 check_topic(origin, "topics.device_data", cfg->topics.device_data, err, errlen)) ||
	    (rc = check_topic(origin, "topics.sensor", cfg->topics.sensor, err, errlen)) ||
	    (rc = check_topic(origin, "topics.status", cfg->topics.status, err, errlen)) ||
	    (rc = check_topic(origin, "topics.alerts", cfg->topics.alerts, err, errlen)) ||
	    (rc = check_topic(origin, "topics.commands", cfg->topics.commands, err, errlen)) ||
	    (rc = check_topic(origin, "topics.responses", cfg->topics.responses, err, errlen)) ||
	    (rc = check_topic(origin, "topics.ota", cfg->topics.ota, err, errlen)))
		return rc;
	if (!strstr(cfg->topics.commands, "{action}") ||
	    strstr(cfg->topics.commands, "{action}")[8] != '\0')
		return fail(err, errlen, "%s: topics.commands: must end with {action}", origin);
	if (cfg->commands.require_signed && !*cfg->commands.signing_key_file)
		return fail(err, errlen,
			    "%s: commands.signing_key_file: required with commands.require_signed",
			    origin);
	return 0;
}

int edge_config_parse(const char *json, size_t len, const char *origin, struct edge_config *cfg,
		      char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	edge_config_defaults(cfg);
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *p = json; at && p < at && p < json + len; p++)
			line += *p == '\n';
		return fail(err, errlen, "%s: line %d: not valid JSON", origin, line);
	}
	if (!cJSON_IsObject(root)) {
		rc = fail(err, errlen, "%s: the top level must be an object", origin);
		goto out;
	}
	rc = walk(root, "", cfg, origin, err, errlen);
	if (!rc)
		rc = validate(cfg, root, origin, err, errlen);
out:
	cJSON_Delete(root);
	return rc;
}

int edge_config_load(const char *path, struct edge_config *cfg, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc = edge_file_read(path, 1 << 20, &buf, &len);

	if (rc) {
		edge_config_defaults(cfg);
		return fail(err, errlen, "%s: cannot read: %s", path,
			    rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
	}
	rc = edge_config_parse(buf, len, path, cfg, err, errlen);
	free(buf);
	if (rc == 0) {
		char opath[EDGE_PATH_MAX + 32];

		edge_config_overlay_path(cfg, opath, sizeof(opath));
		rc = edge_file_read(opath, 1 << 20, &buf, &len);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return fail(err, errlen, "%s: cannot read: %s", opath, strerror(-rc));
		rc = edge_config_apply_json(cfg, buf, len, opath, err, errlen);
		free(buf);
	}
	return rc;
}

int edge_config_overlay_path(const struct edge_config *cfg, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/" OVERLAY_NAME, cfg->state_dir);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int check_settable(const cJSON *obj, const char *prefix, const char *origin, char *err,
			  size_t errlen)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, obj) {
		char path[128];
		size_t i;
		int rc;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", it->string);
		for (i = 0; settable[i] && strcmp(settable[i], path); i++)
			;
		if (settable[i])
			continue;
		if (cJSON_IsObject(it) && field_find(path) && field_find(path)->type == T_OBJ) {
			rc = check_settable(it, path, origin, err, errlen);
			if (rc)
				return rc;
			continue;
		}
		return fail(err, errlen, "%s: %s: %s", origin, path,
			    field_find(path) ? "cannot be changed at run time" : "unknown key");
	}
	return 0;
}

int edge_config_apply_json(struct edge_config *cfg, const char *json, size_t len,
			   const char *origin, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	int rc;

	if (!root)
		return fail(err, errlen, "%s: not valid JSON", origin);
	if (!cJSON_IsObject(root))
		rc = fail(err, errlen, "%s: the top level must be an object", origin);
	else if (!(rc = check_settable(root, "", origin, err, errlen)) &&
		 !(rc = walk(root, "", cfg, origin, err, errlen)))
		rc = validate(cfg, NULL, origin, err, errlen);
	cJSON_Delete(root);
	return rc;
}

void edge_config_print_reference(FILE *out)
{
	static const char *const tnames[] = {"object", "string", "integer", "integer", "boolean",
					     "number", "enum",	 "array",   "object"};

	fprintf(out, "Configuration keys (JSON):\n");
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		char extra[160] = "";

		if (f->type == T_ENUM) {
			char names[128];

			enum_names(f->enums, names, sizeof(names));
			snprintf(extra, sizeof(extra), " {%s}", names);
		} else if (f->type == T_U32 || f->type == T_U64 || f->type == T_DOUBLE) {
			snprintf(extra, sizeof(extra), " [%.15g..%.15g]", f->min, f->max);
		}
		fprintf(out, "  %-30s %s%s%s%s%s\n      %s\n", f->path, tnames[f->type], extra,
			f->def ? " default \"" : "", f->def ? f->def : "", f->def ? "\"" : "",
			f->desc);
	}
}

int edge_topic_format(char *out, size_t outlen, const char *tmpl, const char *device_id,
		      const char *metric, const char *severity, const char *action)
{
	static const char *const keys[] = {"{device_id}", "{metric}", "{severity}", "{action}"};
	const char *vals[] = {device_id, metric, severity, action};
	size_t o = 0;

	for (const char *p = tmpl; *p;) {
		size_t k;

		for (k = 0; k < 4; k++)
			if (strncmp(p, keys[k], strlen(keys[k])) == 0)
				break;
		if (k < 4) {
			const char *v = vals[k] ? vals[k] : "";
			size_t n = strlen(v);

			if (o + n >= outlen)
				return -ENAMETOOLONG;
			memcpy(out + o, v, n);
			o += n;
			p += strlen(keys[k]);
		} else {
			if (o + 1 >= outlen)
				return -ENAMETOOLONG;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return (int)o;
}
