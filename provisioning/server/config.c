/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/file.h"
#include "srv.h"

enum kind { K_STR, K_INT, K_DOUBLE, K_DURATION, K_SIZE };

/* One table: key path, type, field, default, bounds, description. It parses,
 * validates, and documents (edge-provisiond --help, docs/provisioning.md). */
struct key {
	const char *path;
	enum kind kind;
	size_t off;
	const char *def;
	double min, max;
	const char *doc;
};

#define F(f) offsetof(struct srv_config, f)
static const struct key keys[] = {
    {"listen", K_STR, F(listen_addr), "0.0.0.0", 0, 0, "IPv4 or IPv6 address to listen on"},
    {"port", K_INT, F(port), "8443", 1, 65535, "HTTPS port"},
    {"state_dir", K_STR, F(state_dir), "/var/lib/edge-provisiond", 0, 0,
     "registry, CA and TLS files live here"},
    {"db_file", K_STR, F(db_file), NULL, 0, 0, "SQLite registry (default <state_dir>/registry.db)"},
    {"registry.url", K_STR, F(registry_url), NULL, 0, 0,
     "postgresql://user@host/db (libpq URI): registry shared by replicas; unset: db_file"},
    {"ca.cert_file", K_STR, F(ca_cert_file), NULL, 0, 0,
     "fleet CA certificate (<state_dir>/ca.crt)"},
    {"ca.key_file", K_STR, F(ca_key_file), NULL, 0, 0, "fleet CA key (<state_dir>/ca.key)"},
    {"tls.cert_file", K_STR, F(tls_cert_file), NULL, 0, 0,
     "HTTPS certificate (<state_dir>/server.crt)"},
    {"tls.key_file", K_STR, F(tls_key_file), NULL, 0, 0, "HTTPS key (<state_dir>/server.key)"},
    {"admin_token_file", K_STR, F(admin_token_file), NULL, 0, 0,
     "token for GET /v1/devices/{id} (<state_dir>/admin.token)"},
    {"broker.host", K_STR, F(mqtt_host), "127.0.0.1", 0, 0, "MQTT host handed to devices"},
    {"broker.port", K_INT, F(mqtt_port), "8883", 1, 65535, "MQTT port handed to devices"},
    {"broker.ca_file", K_STR, F(broker_ca_file), NULL, 0, 0,
     "CA of the broker's server certificate when it is not the fleet CA"},
    {"cert_validity", K_DURATION, F(cert_validity_s), "365d", 10, 3650.0 * 86400,
     "device certificate lifetime (30s, 10m, 2h, 90d)"},
    {"cert_backdate", K_DURATION, F(backdate_s), "5m", 0, 86400,
     "notBefore = now - this (clock skew)"},
    {"limits.max_body", K_SIZE, F(max_body), "16384", 256, 1048576,
     "largest request body (bytes); 413 beyond"},
    {"limits.rate_per_s", K_DOUBLE, F(rate_per_s), "20", 0.01, 1e6,
     "requests per second per client address"},
    {"limits.burst", K_INT, F(rate_burst), "40", 1, 1000000,
     "token bucket depth per client address"},
    {"limits.threads", K_INT, F(threads), "4", 1, 64, "HTTP worker threads"},
    {"limits.max_connections", K_INT, F(max_connections), "256", 1, 65536,
     "concurrent connections"},
    {"claims.gitops_dir", K_STR, F(gitops_dir), NULL, 0, 0,
     "RealtimePlatformClaim YAML files land here (<state_dir>/gitops)"},
    {"claims.database", K_STR, F(claim.database), "postgres", 0, 0, "postgres | mysql | mongodb"},
    {"claims.visualization", K_STR, F(claim.visualization), "metabase", 0, 0, "metabase | grafana"},
    {"claims.data_retention", K_STR, F(claim.data_retention), NULL, 0, 0, "optional, e.g. 7d"},
    {"claims.min_replicas", K_INT, F(claim.min_replicas), "0", 0, 1000,
     "scaling.minReplicas (0: no scaling block)"},
    {"claims.max_replicas", K_INT, F(claim.max_replicas), "0", 0, 1000, "scaling.maxReplicas"},
    {"kubernetes.url", K_STR, F(k8s_url), NULL, 0, 0, "API server URL; claims are POSTed when set"},
    {"kubernetes.token_file", K_STR, F(k8s_token_file), NULL, 0, 0,
     "bearer token for the API server"},
    {"kubernetes.ca_file", K_STR, F(k8s_ca_file), NULL, 0, 0, "CA of the API server"},
    {"kubernetes.namespace", K_STR, F(k8s_namespace), "default", 0, 0, "namespace of the claims"},
    {"dynsec.host", K_STR, F(dynsec_host), NULL, 0, 0,
     "broker for per-device ACLs ($CONTROL/dynamic-security/v1); off when unset"},
    {"dynsec.port", K_INT, F(dynsec_port), "8883", 1, 65535, "broker port for the admin client"},
    {"dynsec.ca_file", K_STR, F(dynsec_ca_file), NULL, 0, 0, "CA of the broker"},
    {"dynsec.cert_file", K_STR, F(dynsec_cert_file), NULL, 0, 0, "admin client certificate"},
    {"dynsec.key_file", K_STR, F(dynsec_key_file), NULL, 0, 0, "admin client key"},
};
#undef F

void srv_config_print_keys(void)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		printf("  %-24s %s%s%s%s\n", keys[i].path, keys[i].doc, keys[i].def ? " [" : "",
		       keys[i].def ? keys[i].def : "", keys[i].def ? "]" : "");
	printf("  %-24s %s\n", "claims.mqtt_users", "optional [{\"username\",\"password\"}]");
}

int srv_parse_duration(const char *s, int64_t *out)
{
	char *end;
	double v;
	double mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (*end) {
		switch (*end) {
		case 's':
			mult = 1;
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -EINVAL;
		}
		if (end[1])
			return -EINVAL;
	}
	v *= mult;
	if (v > 1e12)
		return -ERANGE;
	*out = (int64_t)v;
	return 0;
}

static const cJSON *lookup(const cJSON *root, const char *path)
{
	char part[64];
	const cJSON *cur = root;

	while (cur && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		cur = cJSON_GetObjectItemCaseSensitive(cur, part);
		path += n + (dot ? 1 : 0);
	}
	return cur;
}

static int set_value(struct srv_config *cfg, const struct key *k, const cJSON *v, const char *text,
		     char *err, size_t errlen)
{
	char *field = (char *)cfg + k->off;
	double d;
	int64_t dur;

	switch (k->kind) {
	case K_STR: {
		char **p = (char **)(void *)field;

		if (v && !cJSON_IsString(v)) {
			snprintf(err, errlen, "%s: must be a string", k->path);
			return -EINVAL;
		}
		free(*p);
		*p = NULL;
		if (v || text) {
			*p = strdup(v ? v->valuestring : text);
			if (!*p)
				return -ENOMEM;
		}
		return 0;
	}
	case K_DURATION:
		if (v && cJSON_IsNumber(v)) {
			dur = (int64_t)v->valuedouble;
		} else if (srv_parse_duration(
			       v ? (cJSON_IsString(v) ? v->valuestring : NULL) : text, &dur)) {
			snprintf(err, errlen, "%s: must be a duration like 30s, 10m, 2h or 90d",
				 k->path);
			return -EINVAL;
		}
		d = (double)dur;
		break;
	default:
		if (v && !cJSON_IsNumber(v)) {
			snprintf(err, errlen, "%s: must be a number", k->path);
			return -EINVAL;
		}
		d = v ? v->valuedouble : strtod(text, NULL);
		break;
	}
	if (d < k->min || d > k->max) {
		snprintf(err, errlen, "%s: %g is outside [%g, %g]", k->path, d, k->min, k->max);
		return -ERANGE;
	}
	switch (k->kind) {
	case K_INT:
		*(int *)(void *)field = (int)d;
		break;
	case K_DOUBLE:
		*(double *)(void *)field = d;
		break;
	case K_DURATION:
		*(int64_t *)(void *)field = (int64_t)d;
		break;
	case K_SIZE:
		*(size_t *)(void *)field = (size_t)d;
		break;
	default:
		break;
	}
	return 0;
}

static int derive(char **field, const char *dir, const char *name)
{
	char buf[PATH_MAX];

	if (*field)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s/%s", dir, name) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	*field = strdup(buf);
	return *field ? 0 : -ENOMEM;
}

static int finish(struct srv_config *cfg, char *err, size_t errlen)
{
	static const char *const dbs[] = {"postgres", "mysql", "mongodb"};
	static const char *const vis[] = {"metabase", "grafana"};
	bool ok = false;
	int rc = 0;

	for (size_t i = 0; i < 3; i++)
		ok |= strcmp(cfg->claim.database, dbs[i]) == 0;
	if (!ok) {
		snprintf(err, errlen, "claims.database: \"%s\" is not postgres, mysql or mongodb",
			 cfg->claim.database);
		return -EINVAL;
	}
	ok = false;
	for (size_t i = 0; i < 2; i++)
		ok |= strcmp(cfg->claim.visualization, vis[i]) == 0;
	if (!ok) {
		snprintf(err, errlen, "claims.visualization: \"%s\" is not metabase or grafana",
			 cfg->claim.visualization);
		return -EINVAL;
	}
	if (cfg->claim.max_replicas < cfg->claim.min_replicas) {
		snprintf(err, errlen, "claims.max_replicas: smaller than claims.min_replicas");
		return -EINVAL;
	}
	if (cfg->k8s_url && !cfg->k8s_token_file) {
		snprintf(err, errlen, "kubernetes.token_file: required with kubernetes.url");
		return -EINVAL;
	}
	rc = rc ?: derive(&cfg->db_file, cfg->state_dir, "registry.db");
	rc = rc ?: derive(&cfg->ca_cert_file, cfg->state_dir, "ca.crt");
	rc = rc ?: derive(&cfg->ca_key_file, cfg->state_dir, "ca.key");
	rc = rc ?: derive(&cfg->tls_cert_file, cfg->state_dir, "server.crt");
	rc = rc ?: derive(&cfg->tls_key_file, cfg->state_dir, "server.key");
	rc = rc ?: derive(&cfg->admin_token_file, cfg->state_dir, "admin.token");
	rc = rc ?: derive(&cfg->gitops_dir, cfg->state_dir, "gitops");
	if (rc)
		snprintf(err, errlen, "state_dir: path too long");
	return rc;
}

static int apply(struct srv_config *cfg, const cJSON *root, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = root ? lookup(root, keys[i].path) : NULL;
		int rc;

		if (v && cJSON_IsNull(v))
			v = NULL;
		if (!v && !keys[i].def)
			continue;
		rc = set_value(cfg, &keys[i], v, keys[i].def, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* Every key in the file must be in the table: a typo is an error, not a
 * silently ignored setting. */
static int check_unknown(const cJSON *obj, const char *prefix, char *err, size_t errlen)
{
	const cJSON *it;

	cJSON_ArrayForEach (it, obj) {
		char path[128];
		bool known = false, section = false;
		size_t n;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", it->string);
		n = strlen(path);
		if (strcmp(path, "claims.mqtt_users") == 0)
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			known |= strcmp(keys[i].path, path) == 0;
			section |= strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.';
		}
		if (section && cJSON_IsObject(it)) {
			int rc = check_unknown(it, path, err, errlen);

			if (rc)
				return rc;
		} else if (!known) {
			snprintf(err, errlen, "%s: unknown key", path);
			return -EINVAL;
		}
	}
	return 0;
}

static int load_users(struct srv_config *cfg, const cJSON *root, char *err, size_t errlen)
{
	const cJSON *arr = lookup(root, "claims.mqtt_users");
	const cJSON *u;
	size_t i = 0;

	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "claims.mqtt_users: must be an array");
		return -EINVAL;
	}
	cfg->claim.mqtt_users =
	    calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*cfg->claim.mqtt_users));
	if (!cfg->claim.mqtt_users)
		return -ENOMEM;
	cJSON_ArrayForEach (u, arr) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(u, "username");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "password");

		if (!cJSON_IsString(n) || !cJSON_IsString(p)) {
			snprintf(err, errlen,
				 "claims.mqtt_users[%zu]: needs string username and password", i);
			return -EINVAL;
		}
		cfg->claim.mqtt_users[i].username = strdup(n->valuestring);
		cfg->claim.mqtt_users[i].password = strdup(p->valuestring);
		cfg->claim.n_mqtt_users = ++i;
		if (!cfg->claim.mqtt_users[i - 1].username ||
		    !cfg->claim.mqtt_users[i - 1].password)
			return -ENOMEM;
	}
	return 0;
}

int srv_config_defaults(struct srv_config *cfg, const char *state_dir)
{
	char err[SRV_ERR_LEN];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = apply(cfg, NULL, err, sizeof(err));
	if (!rc && state_dir) {
		free(cfg->state_dir);
		cfg->state_dir = strdup(state_dir);
		if (!cfg->state_dir)
			rc = -ENOMEM;
	}
	rc = rc ?: finish(cfg, err, sizeof(err));
	if (rc)
		srv_config_free(cfg);
	return rc;
}

int srv_config_load(const char *path, struct srv_config *cfg, char *err, size_t errlen)
{
	cJSON *root;
	char *text;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = edge_file_read(path, 1 << 20, &text, NULL);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	root = cJSON_Parse(text);
	free(text);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object", path);
		cJSON_Delete(root);
		return -EINVAL;
	}
	rc = check_unknown(root, "", err, errlen);
	rc = rc ?: apply(cfg, root, err, errlen);
	rc = rc ?: load_users(cfg, root, err, errlen);
	rc = rc ?: finish(cfg, err, errlen);
	cJSON_Delete(root);
	if (rc)
		srv_config_free(cfg);
	return rc;
}

void srv_config_free(struct srv_config *cfg)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].kind == K_STR) {
			char **p = (char **)(void *)((char *)cfg + keys[i].off);

			free(*p);
			*p = NULL;
		}
	for (size_t i = 0; i < cfg->claim.n_mqtt_users; i++) {
		free(cfg->claim.mqtt_users[i].username);
		free(cfg->claim.mqtt_users[i].password);
	}
	free(cfg->claim.mqtt_users);
	cfg->claim.mqtt_users = NULL;
	cfg->claim.n_mqtt_users = 0;
}
