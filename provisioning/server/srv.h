/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROVSRV_H
#define EDGE_PROVSRV_H
/*
 * edge-provisiond internals: configuration, registry (SQLite or PostgreSQL), fleet CA
 * (mbedTLS), claim tokens, request parsing, RealtimePlatformClaim emission,
 * the HTTP front end (libmicrohttpd) and the broker ACLs (dynamic security).
 * Library code returns negative errno values and fills a message buffer for
 * the HTTP answer; only main.c and http.c log.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <pthread.h>

#include "registry.h"

struct cJSON;

#define SRV_ERR_LEN 256

/* ---- configuration (config.c) ---- */
struct srv_mqtt_user {
	char *username;
	char *password;
};

struct srv_claim_opts {
	char *database;			/* postgres | mysql | mongodb */
	char *visualization;		/* metabase | grafana */
	char *data_retention;		/* optional, e.g. "7d" */
	int min_replicas, max_replicas; /* 0 = no scaling block */
	struct srv_mqtt_user *mqtt_users;
	size_t n_mqtt_users;
};

struct srv_config {
	char *listen_addr;
	int port;
	char *state_dir;
	char *db_file;
	char *registry_url; /* postgresql://...; NULL: SQLite at db_file */
	char *ca_cert_file, *ca_key_file;
	char *tls_cert_file, *tls_key_file;
	char *broker_ca_file; /* extra CA devices need to verify the broker */
	char *admin_token_file;
	char *mqtt_host;
	int mqtt_port;
	int64_t cert_validity_s;
	int64_t backdate_s;
	size_t max_body;
	double rate_per_s;
	int rate_burst;
	int threads;
	int max_connections;
	char *gitops_dir;
	char *k8s_url, *k8s_token_file, *k8s_ca_file, *k8s_namespace;
	struct srv_claim_opts claim;
	char *dynsec_host;
	int dynsec_port;
	char *dynsec_ca_file, *dynsec_cert_file, *dynsec_key_file;
};

/* Loads and validates a JSON config (the table in config.c, on
 * edge/cfgtab.h); err reads "<path>: <key>: <problem>" on failure.
 * Caller frees with srv_config_free(), which this does on failure. */
int srv_config_load(const char *path, struct srv_config *cfg, char *err, size_t errlen);
/* Defaults only (state_dir given), for admin commands without a file. */
int srv_config_defaults(struct srv_config *cfg, const char *state_dir);
void srv_config_free(struct srv_config *cfg);
/* Prints every key: type, bounds, default, description (--help-config). */
void srv_config_print_reference(FILE *out);
/* The table (for tests). Static, never freed. */
struct edge_cfgtab;
const struct edge_cfgtab *srv_config_table(void);
/* "30s" "10m" "2h" "90d" or plain seconds -> seconds (edge_cfg_parse_duration). */
int srv_parse_duration(const char *s, int64_t *out);

/* ---- tokens (tokens.c) ---- */
/* A new random token (43 url-safe base64 chars + NUL). */
int srv_token_generate(char out[48]);
/* sha256 hex of the token as stored. */
void srv_token_hash(const char *token, char hex[65]);
/* Bearer token out of an Authorization header value; NULL when absent/bad. */
const char *srv_bearer(const char *authorization);

/* ---- registry (registry.h: registry.c + registry_sqlite.c / registry_pg.c) ---- */

/* ---- fleet CA (ca.c) ---- */
struct srv_ca {
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	char issuer[256];
	char *crt_pem; /* owned */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	pthread_mutex_t lock; /* signing: the key's group cache is not thread-safe */
};

int srv_ca_load(struct srv_ca *ca, const char *crt_file, const char *key_file);
void srv_ca_free(struct srv_ca *ca);
/* Signs a client certificate for csr's key with CN=cn, valid from
 * now-backdate to now+validity. *pem_out: caller frees with free(). */
int srv_ca_sign(struct srv_ca *ca, mbedtls_x509_csr *csr, const char *cn, int64_t now,
		int64_t validity_s, int64_t backdate_s, char **pem_out, int64_t *not_after);
/* Verifies a DER client certificate against the CA; CN into cn. */
int srv_ca_verify_client(struct srv_ca *ca, const unsigned char *der, size_t len, char cn[65],
			 char fp[65]);
/* Writes a new CA (key 0600 + self-signed cert) and a TLS server
 * certificate for names/ips signed by it. */
int srv_ca_init_files(const char *dir, const char *ca_cn, int days, const char *server_dns,
		      const char *server_ip, bool force, char *err, size_t errlen);

/* ---- request parsing (request.c) ---- */
struct srv_register_req {
	char serial[65];
	char board[65];
	char model[129];
	char firmware[65];
	char platform[64];
	char *csr;	    /* owned */
	char *sensors_json; /* owned, compact JSON array */
};

/* Parses a register body. -EINVAL with err filled on any problem. */
int srv_parse_register(const char *body, size_t len, struct srv_register_req *out, char *err,
		       size_t errlen);
/* Parses {"csr": PEM} of a renewal. *csr_out: caller frees. */
int srv_parse_renew(const char *body, size_t len, char **csr_out, char *err, size_t errlen);
void srv_register_req_clear(struct srv_register_req *r);
/* P-256, valid self-signature, exactly one CN equal to expect_cn. csr is
 * initialised here; the caller frees it with mbedtls_x509_csr_free() also on
 * error. fp: public key fingerprint. */
int srv_csr_check(const char *pem, const char *expect_cn, mbedtls_x509_csr *csr, char fp[65],
		  char *err, size_t errlen);
/* A realtime platform name (DNS-1123 label, <= 54 chars). */
bool srv_platform_name_valid(const char *name);

/* ---- claims (claim.c) ---- */
/* YAML of the RealtimePlatformClaim for platform name. Caller frees. */
int srv_claim_render(const struct srv_claim_opts *o, const char *name, char **yaml_out);
/* POSTs yaml to <url>/apis/platform.example.org/v1alpha1/namespaces/<ns>/
 * realtimeplatformclaims. 0 on 201/200/409; *http_status set. */
int srv_claim_k8s_post(const struct srv_config *cfg, const char *yaml, long *http_status, char *err,
		       size_t errlen);

/* ---- dynamic security (dynsec.c) ---- */
struct srv_dynsec;
int srv_dynsec_new(const struct srv_config *cfg, struct srv_dynsec **out);
void srv_dynsec_free(struct srv_dynsec *d);
/* Creates role + client for a device (idempotent). */
int srv_dynsec_device_add(struct srv_dynsec *d, const char *id);
int srv_dynsec_device_remove(struct srv_dynsec *d, const char *id);
/* The dynsec command batch for a device (JSON text). Caller frees. */
int srv_dynsec_commands(const char *id, bool remove, char **json_out);

/* ---- service (service.c): the API logic without HTTP ---- */
struct srv_service;

struct srv_response {
	unsigned status;
	char *body;	      /* owned JSON text */
	unsigned retry_after; /* seconds; a Retry-After header when non-zero */
};

int srv_service_new(const struct srv_config *cfg, struct srv_service **out, char *err,
		    size_t errlen);
void srv_service_free(struct srv_service *s);
void srv_response_clear(struct srv_response *r);
/* bearer: the token from the Authorization header (NULL when absent). */
void srv_service_register(struct srv_service *s, const char *bearer, const char *body, size_t len,
			  struct srv_response *resp);
/* client_der: the peer certificate of the TLS session (NULL when none). */
void srv_service_renew(struct srv_service *s, const char *id, const unsigned char *client_der,
		       size_t der_len, const char *body, size_t len, struct srv_response *resp);
void srv_service_device_get(struct srv_service *s, const char *bearer, const char *id,
			    struct srv_response *resp);
const struct srv_config *srv_service_config(struct srv_service *s);
/* GET /healthz: 200 while the registry answers, 503 + Retry-After when the
 * database is unreachable or its schema is too old. */
void srv_service_health(struct srv_service *s, struct srv_response *resp);
/* The registry of a configuration: registry.url, else the SQLite db_file.
 * Borrowed from cfg. */
const char *srv_service_registry_url(const struct srv_config *cfg);

/* ---- http (http.c) ---- */
struct srv_http;
int srv_http_start(struct srv_service *s, struct srv_http **out, char *err, size_t errlen);
void srv_http_stop(struct srv_http *h);

#endif
