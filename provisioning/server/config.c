/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/cfgtab.h"
#include "srv.h"

static const char *const databases[] = {"postgres", "mysql", "mongodb", NULL};
static const char *const visualizations[] = {"metabase", "grafana", NULL};

/* claims.mqtt_users: [{"username", "password"}], allocated. */
#define EDGE_CFG_T struct srv_mqtt_user
static const struct edge_cfg_key user_keys[] = {
    {"username", EDGE_CFG_STRDUP, EDGE_CFG_F_REQUIRED, EDGE_CFG_FIELD(username),
     .desc = "platform MQTT user"},
    {"password", EDGE_CFG_STRDUP, EDGE_CFG_F_REQUIRED, EDGE_CFG_FIELD(password),
     .desc = "its password"},
};
static const struct edge_cfgtab user_tab = EDGE_CFGTAB(user_keys, 0);
#undef EDGE_CFG_T

/* One table: key path, type, field, default, bounds, description. It parses,
 * validates, and documents (edge-provisiond --help-config,
 * docs/provisioning.md). Keys without a default stay NULL: derived from
 * state_dir or off. JSON null leaves a key at its default. */
#define EDGE_CFG_T struct srv_config
#define STR(key, field, def_, desc_)                                                               \
	{                                                                                          \
		key, EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(field), .def = def_, .desc = desc_         \
	}
#define INT(key, field, def_, lo, hi, desc_)                                                       \
	{                                                                                          \
		key, EDGE_CFG_INT, 0, EDGE_CFG_FIELD(field), .def = def_, .min = lo, .max = hi,    \
							     .desc = desc_                         \
	}
static const struct edge_cfg_key keys[] = {
    STR("listen", listen_addr, "0.0.0.0", "IPv4 or IPv6 address to listen on"),
    INT("port", port, "8443", 1, 65535, "HTTPS port"),
    STR("state_dir", state_dir, "/var/lib/edge-provisiond", "registry, CA and TLS files live here"),
    STR("db_file", db_file, NULL, "SQLite registry (default <state_dir>/registry.db)"),
    STR("registry.url", registry_url, NULL,
	"postgresql://user@host/db (libpq URI): registry shared by replicas; unset: db_file"),
    STR("ca.cert_file", ca_cert_file, NULL, "fleet CA certificate (<state_dir>/ca.crt)"),
    STR("ca.key_file", ca_key_file, NULL, "fleet CA key (<state_dir>/ca.key)"),
    STR("tls.cert_file", tls_cert_file, NULL, "HTTPS certificate (<state_dir>/server.crt)"),
    STR("tls.key_file", tls_key_file, NULL, "HTTPS key (<state_dir>/server.key)"),
    STR("admin_token_file", admin_token_file, NULL,
	"token for GET /v1/devices/{id} (<state_dir>/admin.token)"),
    STR("broker.host", mqtt_host, "127.0.0.1", "MQTT host handed to devices"),
    INT("broker.port", mqtt_port, "8883", 1, 65535, "MQTT port handed to devices"),
    STR("broker.ca_file", broker_ca_file, NULL,
	"CA of the broker's server certificate when it is not the fleet CA"),
    {"cert_validity", EDGE_CFG_DURATION, 0, EDGE_CFG_FIELD(cert_validity_s), .def = "365d",
     .min = 10, .max = 3650.0 * 86400, .desc = "device certificate lifetime (30s, 10m, 2h, 90d)"},
    {"cert_backdate", EDGE_CFG_DURATION, 0, EDGE_CFG_FIELD(backdate_s), .def = "5m", .min = 0,
     .max = 86400, .desc = "notBefore = now - this (clock skew)"},
    {"limits.max_body", EDGE_CFG_UINT, 0, EDGE_CFG_FIELD(max_body), .def = "16384", .min = 256,
     .max = 1048576, .desc = "largest request body (bytes); 413 beyond"},
    {"limits.rate_per_s", EDGE_CFG_DOUBLE, 0, EDGE_CFG_FIELD(rate_per_s), .def = "20", .min = 0.01,
     .max = 1e6, .desc = "requests per second per client address"},
    INT("limits.burst", rate_burst, "40", 1, 1000000, "token bucket depth per client address"),
    INT("limits.threads", threads, "4", 1, 64, "HTTP worker threads"),
    INT("limits.max_connections", max_connections, "256", 1, 65536, "concurrent connections"),
    STR("claims.gitops_dir", gitops_dir, NULL,
	"RealtimePlatformClaim YAML files land here (<state_dir>/gitops)"),
    {"claims.database", EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(claim.database), .def = "postgres",
     .names = databases, .desc = "database of the platform"},
    {"claims.visualization", EDGE_CFG_STRDUP, 0, EDGE_CFG_FIELD(claim.visualization),
     .def = "metabase", .names = visualizations, .desc = "dashboards of the platform"},
    STR("claims.data_retention", claim.data_retention, NULL, "optional, e.g. 7d"),
    INT("claims.min_replicas", claim.min_replicas, "0", 0, 1000,
	"scaling.minReplicas (0: no scaling block)"),
    INT("claims.max_replicas", claim.max_replicas, "0", 0, 1000, "scaling.maxReplicas"),
    {"claims.mqtt_users", EDGE_CFG_ARRAY, EDGE_CFG_F_HEAP, EDGE_CFG_FIELD(claim.mqtt_users),
     EDGE_CFG_COUNT(claim.n_mqtt_users), .sub = &user_tab,
     .desc = "optional mqttUsers of the claims"},
    STR("kubernetes.url", k8s_url, NULL, "API server URL; claims are POSTed when set"),
    STR("kubernetes.token_file", k8s_token_file, NULL, "bearer token for the API server"),
    STR("kubernetes.ca_file", k8s_ca_file, NULL, "CA of the API server"),
    STR("kubernetes.namespace", k8s_namespace, "default", "namespace of the claims"),
    STR("dynsec.host", dynsec_host, NULL,
	"broker for per-device ACLs ($CONTROL/dynamic-security/v1); off when unset"),
    INT("dynsec.port", dynsec_port, "8883", 1, 65535, "broker port for the admin client"),
    STR("dynsec.ca_file", dynsec_ca_file, NULL, "CA of the broker"),
    STR("dynsec.cert_file", dynsec_cert_file, NULL, "admin client certificate"),
    STR("dynsec.key_file", dynsec_key_file, NULL, "admin client key"),
};
static const struct edge_cfgtab tab = EDGE_CFGTAB(keys, EDGE_CFGTAB_NULL_UNSET);
#undef INT
#undef STR
#undef EDGE_CFG_T

const struct edge_cfgtab *srv_config_table(void)
{
	return &tab;
}

void srv_config_print_reference(FILE *out)
{
	fprintf(out, "edge-provisiond configuration keys (JSON, dotted paths are nested "
		     "objects):\n");
	edge_cfg_print_reference(&tab, out);
}

int srv_parse_duration(const char *s, int64_t *out)
{
	return edge_cfg_parse_duration(s, out);
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

/* Rules between keys, then the paths derived from state_dir. */
static int finish(struct srv_config *cfg, const char *origin, char *err, size_t errlen)
{
	int rc = 0;

	if (cfg->claim.max_replicas < cfg->claim.min_replicas)
		return edge_cfg_fail(err, errlen,
				     "%s: claims.max_replicas: smaller than claims.min_replicas",
				     origin);
	if (cfg->k8s_url && !cfg->k8s_token_file)
		return edge_cfg_fail(
		    err, errlen, "%s: kubernetes.token_file: required with kubernetes.url", origin);
	rc = rc ?: derive(&cfg->db_file, cfg->state_dir, "registry.db");
	rc = rc ?: derive(&cfg->ca_cert_file, cfg->state_dir, "ca.crt");
	rc = rc ?: derive(&cfg->ca_key_file, cfg->state_dir, "ca.key");
	rc = rc ?: derive(&cfg->tls_cert_file, cfg->state_dir, "server.crt");
	rc = rc ?: derive(&cfg->tls_key_file, cfg->state_dir, "server.key");
	rc = rc ?: derive(&cfg->admin_token_file, cfg->state_dir, "admin.token");
	rc = rc ?: derive(&cfg->gitops_dir, cfg->state_dir, "gitops");
	if (rc)
		edge_cfg_fail(err, errlen, "%s: state_dir: path too long", origin);
	return rc;
}

int srv_config_defaults(struct srv_config *cfg, const char *state_dir)
{
	char err[SRV_ERR_LEN];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = edge_cfg_defaults(&tab, cfg);
	if (!rc && state_dir)
		rc = edge_cfg_set(&tab, cfg, "state_dir", state_dir, "--state-dir", err,
				  sizeof(err));
	rc = rc ?: finish(cfg, "--state-dir", err, sizeof(err));
	if (rc)
		srv_config_free(cfg);
	return rc;
}

int srv_config_load(const char *path, struct srv_config *cfg, char *err, size_t errlen)
{
	cJSON *root = NULL;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = edge_cfg_defaults(&tab, cfg);
	rc = rc ?: edge_cfg_read_json(path, 1 << 20, &root, err, errlen);
	rc = rc ?: edge_cfg_apply(&tab, cfg, root, 0, path, err, errlen);
	rc = rc ?: finish(cfg, path, err, errlen);
	cJSON_Delete(root);
	if (rc)
		srv_config_free(cfg);
	return rc;
}

void srv_config_free(struct srv_config *cfg)
{
	edge_cfg_free(&tab, cfg);
}
