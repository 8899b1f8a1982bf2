/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/file.h"
#include "edge/log.h"
#include "edge/prov_identity.h"
#include "srv.h"

#define MOD "provisiond"

/* The Kubernetes POST of a claim is leased in the registry for this long
 * (srv_claim_k8s_post gives up after 10 s): a replica that dies while
 * posting leaves it to the next registration after the lease. */
#define K8S_LEASE_S 30

/* No lock of this process guards the registry: the database decides every
 * invariant (registry.h), across threads and replicas alike. */
struct srv_service {
	const struct srv_config *cfg; /* borrowed */
	struct srv_registry *reg;
	struct srv_ca ca;
	char *chain_pem;
	char admin_hash[65];
	bool admin_set;
	struct srv_dynsec *dynsec;
	pthread_mutex_t rl_lock; /* edge_ratelimit is not thread-safe */
	struct edge_ratelimit rl_unavailable;
};

const struct srv_config *srv_service_config(struct srv_service *s)
{
	return s->cfg;
}

const char *srv_service_registry_url(const struct srv_config *cfg)
{
	return cfg->registry_url ? cfg->registry_url : cfg->db_file;
}

void srv_response_clear(struct srv_response *r)
{
	free(r->body);
	r->body = NULL;
	r->status = 0;
}

static void respond_error(struct srv_response *r, unsigned status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	r->status = status;
	cJSON_AddStringToObject(o, "error", msg);
	r->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
}

int srv_service_new(const struct srv_config *cfg, struct srv_service **out, char *err,
		    size_t errlen)
{
	struct srv_service *s = calloc(1, sizeof(*s));
	char *broker_ca = NULL, *admin = NULL;
	size_t alen;
	int rc;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	pthread_mutex_init(&s->rl_lock, NULL);
	s->rl_unavailable = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(10000, 3);
	rc = srv_ca_load(&s->ca, cfg->ca_cert_file, cfg->ca_key_file);
	if (rc) {
		snprintf(err, errlen, "fleet CA %s / %s: %s (run `edge-provisiond init-ca` first)",
			 cfg->ca_cert_file, cfg->ca_key_file, strerror(-rc));
		goto err_free;
	}
	if (cfg->broker_ca_file) {
		rc = edge_file_read(cfg->broker_ca_file, 256 * 1024, &broker_ca, NULL);
		if (rc) {
			snprintf(err, errlen, "broker.ca_file %s: %s", cfg->broker_ca_file,
				 strerror(-rc));
			goto err_ca;
		}
	}
	if (asprintf(&s->chain_pem, "%s%s", s->ca.crt_pem, broker_ca ? broker_ca : "") < 0) {
		s->chain_pem = NULL;
		rc = -ENOMEM;
		goto err_ca;
	}
	free(broker_ca);
	broker_ca = NULL;
	if (edge_file_read(cfg->admin_token_file, 4096, &admin, &alen) == 0) {
		while (alen && (admin[alen - 1] == '\n' || admin[alen - 1] == '\r'))
			admin[--alen] = '\0';
		if (alen >= 16) {
			srv_token_hash(admin, s->admin_hash);
			s->admin_set = true;
		}
		memset(admin, 0, alen);
		free(admin);
	}
	rc = edge_mkdir_p(cfg->gitops_dir, 0755);
	if (rc) {
		snprintf(err, errlen, "claims.gitops_dir %s: %s", cfg->gitops_dir, strerror(-rc));
		goto err_ca;
	}
	/* One connection per HTTP worker: a worker runs one request at a
	 * time, so it never waits for another's connection. A database
	 * server that is down now does not stop the start (/healthz says 503
	 * until it answers). */
	{
		struct srv_registry_opts o = {.connections = (unsigned)cfg->threads, .lazy = true};
		char why[SRV_ERR_LEN];

		rc = srv_registry_open_opts(srv_service_registry_url(cfg), &o, &s->reg, why,
					    sizeof(why));
		if (rc) {
			snprintf(err, errlen, "registry: %s", why);
			goto err_ca;
		}
		EDGE_NOTICE(
		    MOD, "registry %s (%s, %u connections)%s", srv_registry_describe(s->reg),
		    srv_registry_backend(s->reg), o.connections,
		    srv_registry_health(s->reg, &(int){0}, why, sizeof(why)) ? ": not reachable yet"
									     : "");
	}
	if (cfg->dynsec_host) {
		rc = srv_dynsec_new(cfg, &s->dynsec);
		if (rc) {
			snprintf(err, errlen, "dynsec %s:%d: %s", cfg->dynsec_host,
				 cfg->dynsec_port, strerror(-rc));
			goto err_reg;
		}
	}
	*out = s;
	return 0;

err_reg:
	srv_registry_close(s->reg);
err_ca:
	free(broker_ca);
	free(s->chain_pem);
	srv_ca_free(&s->ca);
err_free:
	pthread_mutex_destroy(&s->rl_lock);
	free(s);
	return rc;
}

void srv_service_free(struct srv_service *s)
{
	if (!s)
		return;
	srv_dynsec_free(s->dynsec);
	srv_registry_close(s->reg);
	srv_ca_free(&s->ca);
	free(s->chain_pem);
	pthread_mutex_destroy(&s->rl_lock);
	free(s);
}

static bool transient(int rc)
{
	return rc == -ENOTCONN || rc == -ESTALE || rc == -EBUSY || rc == -ETIMEDOUT ||
	       rc == -EAGAIN;
}

/* A registry failure as an answer: a database that is unreachable, locked
 * or not migrated is 503 with Retry-After (clients back off and come back;
 * nothing was stored), anything else 500. */
static void respond_registry_error(struct srv_service *s, struct srv_response *resp,
				   const char *what, int rc)
{
	char msg[SRV_ERR_LEN];

	srv_registry_last_error(s->reg, msg, sizeof(msg));
	if (transient(rc)) {
		pthread_mutex_lock(&s->rl_lock);
		EDGE_LOG_RL(&s->rl_unavailable, EDGE_LOG_WARNING, MOD,
			    "%s: registry unavailable (%s): %s", what, strerror(-rc), msg);
		pthread_mutex_unlock(&s->rl_lock);
		respond_error(resp, 503, "registry unavailable; retry later");
		resp->retry_after = srv_registry_retry_after(s->reg);
	} else {
		EDGE_ERR(MOD, "%s: %s (%s)", what, strerror(-rc), msg);
		respond_error(resp, 500, "internal error");
	}
}

void srv_service_health(struct srv_service *s, struct srv_response *resp)
{
	char detail[SRV_ERR_LEN];
	cJSON *o = cJSON_CreateObject();
	cJSON *reg;
	int schema = 0;
	int rc = srv_registry_health(s->reg, &schema, detail, sizeof(detail));

	/* The reason goes to the log, not to whoever asks: it can name
	 * internal hosts. */
	if (rc) {
		pthread_mutex_lock(&s->rl_lock);
		EDGE_LOG_RL(&s->rl_unavailable, EDGE_LOG_WARNING, MOD, "healthz: registry %s: %s",
			    srv_registry_describe(s->reg), detail);
		pthread_mutex_unlock(&s->rl_lock);
	}
	cJSON_AddStringToObject(o, "status", rc ? "unavailable" : "ok");
	reg = cJSON_AddObjectToObject(o, "registry");
	cJSON_AddStringToObject(reg, "backend", srv_registry_backend(s->reg));
	cJSON_AddStringToObject(reg, "state",
				!rc		? "ok"
				: rc == -ESTALE ? "schema outdated"
				: transient(rc) ? "unreachable"
						: "error");
	cJSON_AddNumberToObject(reg, "schema", schema);
	resp->status = rc ? 503 : 200;
	resp->retry_after = rc ? srv_registry_retry_after(s->reg) : 0;
	resp->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!resp->body)
		respond_error(resp, 500, "out of memory");
}

static void add_topic(cJSON *topics, const char *key, const char *pre, const char *id,
		      const char *post)
{
	char buf[192];

	snprintf(buf, sizeof(buf), "%s%s%s", pre, id ? id : "", post);
	cJSON_AddStringToObject(topics, key, buf);
}

/* The answer to a registration or renewal. */
static void respond_device(struct srv_service *s, struct srv_response *r, unsigned status,
			   const struct srv_device *d, const struct srv_platform *p, bool created)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *mqtt, *topics, *rp;

	cJSON_AddStringToObject(o, "deviceId", d->id);
	cJSON_AddStringToObject(o, "certificate", d->cert_pem);
	cJSON_AddStringToObject(o, "caChain", s->chain_pem);
	cJSON_AddNumberToObject(o, "notAfter", (double)d->not_after);
	mqtt = cJSON_AddObjectToObject(o, "mqtt");
	cJSON_AddStringToObject(mqtt, "host", s->cfg->mqtt_host);
	cJSON_AddNumberToObject(mqtt, "port", s->cfg->mqtt_port);
	topics = cJSON_AddObjectToObject(o, "topics");
	add_topic(topics, "data", "health/device_data", NULL, "");
	add_topic(topics, "sensors", "sensors/", d->id, "/{metric}");
	add_topic(topics, "status", "devices/", d->id, "/status");
	add_topic(topics, "alerts", "alerts/{severity}", NULL, "");
	add_topic(topics, "commands", "commands/", d->id, "/{action}");
	add_topic(topics, "responses", "devices/", d->id, "/responses/{action}");
	add_topic(topics, "ota", "devices/", d->id, "/ota");
	if (p) {
		rp = cJSON_AddObjectToObject(o, "realtimePlatform");
		cJSON_AddStringToObject(rp, "name", p->name);
		cJSON_AddStringToObject(rp, "claim", p->claim);
		cJSON_AddBoolToObject(rp, "created", created);
	} else {
		cJSON_AddNullToObject(o, "realtimePlatform");
	}
	r->status = status;
	r->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!r->body)
		respond_error(r, 500, "out of memory");
}

/* Inside the registration transaction: the claim's name and YAML. */
struct emit_ctx {
	struct srv_service *s;
	char err[SRV_ERR_LEN]; /* why the claim could not be rendered or written */
};

static int claim_render(void *arg, const char *platform, char claim[80], char **yaml)
{
	struct emit_ctx *e = arg;

	snprintf(claim, 80, "%s-realtime", platform);
	if (srv_claim_render(&e->s->cfg->claim, platform, yaml)) {
		snprintf(e->err, sizeof(e->err), "claim rendering failed");
		return -EIO;
	}
	return 0;
}

/* Inside the transaction that inserted the platform's claim row, before its
 * commit: the GitOps file. If the commit fails after this, the file stays
 * and the next registration writes the same bytes again. */
static int claim_emit(void *arg, const struct srv_platform *p, const char *yaml)
{
	struct emit_ctx *e = arg;
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/%s.yaml", e->s->cfg->gitops_dir, p->claim);
	rc = edge_file_write_atomic(path, yaml, strlen(yaml), 0644);
	if (rc) {
		snprintf(e->err, sizeof(e->err), "writing %.200s: %s", path, strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* The claim to the API server, by the one caller (of any replica) that
 * gets the lease; the others go on. */
static void push_claim(struct srv_service *s, const char *name)
{
	char err[SRV_ERR_LEN];
	char *yaml = NULL;
	long status = 0;
	int rc;

	if (!s->cfg->k8s_url)
		return;
	rc = srv_registry_platform_k8s_lease(s->reg, name, (int64_t)time(NULL), K8S_LEASE_S, &yaml);
	if (rc == -EALREADY)
		return;
	if (rc) {
		srv_registry_last_error(s->reg, err, sizeof(err));
		EDGE_WARN(MOD, "claim %s-realtime: no lease for the API server POST: %s", name,
			  err);
		return;
	}
	rc = srv_claim_k8s_post(s->cfg, yaml, &status, err, sizeof(err));
	if (rc)
		EDGE_WARN(MOD, "claim %s-realtime: %s (retried on the next registration)", name,
			  err);
	else
		EDGE_NOTICE(MOD, "claim %s-realtime: API server answered %ld", name, status);
	if (srv_registry_platform_k8s_finish(s->reg, name, rc == 0)) {
		srv_registry_last_error(s->reg, err, sizeof(err));
		EDGE_WARN(MOD,
			  "claim %s-realtime: POST %s but not recorded (%s): posted again "
			  "after the lease",
			  name, rc ? "failed" : "done", err);
	}
	free(yaml);
}

void srv_service_register(struct srv_service *s, const char *bearer, const char *body, size_t len,
			  struct srv_response *resp)
{
	struct srv_register_req req;
	struct srv_token_info tok;
	struct srv_device dev = {0}, known = {0};
	struct srv_reg_outcome out = {0};
	struct emit_ctx ectx = {.s = s};
	struct srv_reg_new in = {0};
	char err[SRV_ERR_LEN], fp[65], hash[65];
	mbedtls_x509_csr csr;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (!bearer) {
		respond_error(resp, 401, "missing claim token (Authorization: Bearer <token>)");
		return;
	}
	/* Unauthenticated requests cost no parsing and no signature check.
	 * (The transaction below decides again.) */
	srv_token_hash(bearer, hash);
	rc = srv_registry_token_get(s->reg, hash, &tok);
	if (rc == -ENOENT || (!rc && tok.revoked)) {
		respond_error(resp, 401, "unknown or revoked claim token");
		return;
	}
	if (rc) {
		respond_registry_error(s, resp, "register", rc);
		return;
	}
	if (tok.expires_at <= now) {
		respond_error(resp, 401, "claim token expired");
		return;
	}
	if (srv_parse_register(body, len, &req, err, sizeof(err))) {
		respond_error(resp, 400, err);
		return;
	}
	/* The expensive checks run outside any transaction. */
	rc = srv_csr_check(req.csr, req.serial, &csr, fp, err, sizeof(err));
	if (rc) {
		respond_error(resp, 400, err);
		goto out;
	}
	snprintf(dev.id, sizeof(dev.id), "%s", req.serial);
	snprintf(dev.pubkey_sha256, sizeof(dev.pubkey_sha256), "%s", fp);
	snprintf(dev.board, sizeof(dev.board), "%s", req.board);
	snprintf(dev.model, sizeof(dev.model), "%s", req.model);
	snprintf(dev.firmware, sizeof(dev.firmware), "%s", req.firmware);
	snprintf(dev.platform, sizeof(dev.platform), "%s", req.platform);
	dev.sensors_json = req.sensors_json;
	req.sensors_json = NULL;
	dev.created_at = dev.updated_at = now;
	/* A device already stored keeps its certificate: sign only for one
	 * that is not (a race lost to a concurrent registration of the same
	 * serial wastes one signature). */
	rc = srv_registry_device_get(s->reg, req.serial, &known);
	if (rc == -ENOENT) {
		rc = srv_ca_sign(&s->ca, &csr, req.serial, now, s->cfg->cert_validity_s,
				 s->cfg->backdate_s, &dev.cert_pem, &dev.not_after);
		if (rc) {
			EDGE_ERR(MOD, "register %s: signing: %s", req.serial, strerror(-rc));
			respond_error(resp, 500, "internal error");
			goto out;
		}
	} else if (rc) {
		respond_registry_error(s, resp, "register", rc);
		goto out;
	}
	in = (struct srv_reg_new){.token_hash = hash,
				  .now = now,
				  .dev = &dev,
				  .claim_render = claim_render,
				  .claim_emit = claim_emit,
				  .claim_arg = &ectx};
	rc = srv_registry_register(s->reg, &in, &out);
	if (rc && ectx.err[0]) {
		EDGE_ERR(MOD, "claim for %s: %s", dev.platform, ectx.err);
		respond_error(resp, 500, "internal error");
		goto out;
	}
	if (rc) {
		respond_registry_error(s, resp, "register", rc);
		goto out;
	}
	switch (out.result) {
	case SRV_REG_TOKEN_UNKNOWN:
		respond_error(resp, 401, "unknown or revoked claim token");
		goto out;
	case SRV_REG_TOKEN_EXPIRED:
		respond_error(resp, 401, "claim token expired");
		goto out;
	case SRV_REG_TOKEN_EXHAUSTED:
		snprintf(err, sizeof(err), "claim token exhausted (%lld of %lld uses)",
			 (long long)out.tok.uses, (long long)out.tok.uses_max);
		respond_error(resp, 401, err);
		goto out;
	case SRV_REG_DEVICE_REVOKED:
		respond_error(resp, 403, "device revoked");
		goto out;
	case SRV_REG_OTHER_KEY:
		snprintf(err, sizeof(err), "serial %s is already bound to another key", req.serial);
		respond_error(resp, 409, err);
		goto out;
	case SRV_REG_NEW:
	case SRV_REG_EXISTING:
		break;
	}
	if (out.claim_created)
		EDGE_NOTICE(MOD, "RealtimePlatformClaim %s emitted (first device %s)",
			    out.plat.claim, out.dev.id);
	if (out.result == SRV_REG_NEW)
		EDGE_INFO(MOD, "registered %s (batch %s, platform %s)", out.dev.id, out.dev.batch,
			  out.dev.platform[0] ? out.dev.platform : "-");
	if (out.have_plat && !out.plat.k8s_done)
		push_claim(s, out.plat.name);
	/* Without its ACLs the device cannot use the broker: 503 makes it retry,
	 * and the retry (200, idempotent) sets them again. */
	if (s->dynsec && (rc = srv_dynsec_device_add(s->dynsec, out.dev.id)) != 0) {
		EDGE_WARN(MOD, "broker ACLs for %s: %s", out.dev.id, strerror(-rc));
		respond_error(resp, 503, "broker ACLs could not be set; retry later");
		resp->retry_after = 1;
		goto out;
	}
	respond_device(s, resp, out.result == SRV_REG_NEW ? 201 : 200, &out.dev,
		       out.have_plat ? &out.plat : NULL, out.claim_created);
out:
	mbedtls_x509_csr_free(&csr);
	srv_device_clear(&out.dev);
	srv_device_clear(&known);
	srv_device_clear(&dev);
	srv_register_req_clear(&req);
}

void srv_service_renew(struct srv_service *s, const char *id, const unsigned char *client_der,
		       size_t der_len, const char *body, size_t len, struct srv_response *resp)
{
	struct srv_device dev = {0};
	struct srv_platform plat;
	char cn[65], fp[65], newfp[65], err[SRV_ERR_LEN];
	mbedtls_x509_csr csr;
	char *csr_pem = NULL, *cert = NULL;
	int64_t now = (int64_t)time(NULL), not_after = 0;
	bool have_plat = false;
	int rc;

	mbedtls_x509_csr_init(&csr);
	if (!client_der) {
		respond_error(resp, 401, "renewal needs the device certificate (mutual TLS)");
		goto out;
	}
	if (srv_ca_verify_client(&s->ca, client_der, der_len, cn, fp)) {
		respond_error(resp, 401, "client certificate is not a valid fleet certificate");
		goto out;
	}
	if (strcmp(cn, id) != 0) {
		respond_error(resp, 403, "certificate belongs to another device");
		goto out;
	}
	if (srv_parse_renew(body, len, &csr_pem, err, sizeof(err))) {
		respond_error(resp, 400, err);
		goto out;
	}
	mbedtls_x509_csr_free(&csr);
	if (srv_csr_check(csr_pem, id, &csr, newfp, err, sizeof(err))) {
		respond_error(resp, 400, err);
		goto out;
	}
	rc = srv_registry_device_get(s->reg, id, &dev);
	if (rc == -ENOENT || (!rc && dev.revoked)) {
		respond_error(resp, rc ? 404 : 403, rc ? "unknown device" : "device revoked");
		goto out;
	}
	if (rc) {
		respond_registry_error(s, resp, "renew", rc);
		goto out;
	}
	rc = srv_ca_sign(&s->ca, &csr, id, now, s->cfg->cert_validity_s, s->cfg->backdate_s, &cert,
			 &not_after);
	if (rc) {
		EDGE_ERR(MOD, "renew %s: signing: %s", id, strerror(-rc));
		respond_error(resp, 500, "internal error");
		goto out;
	}
	/* The UPDATE itself refuses a device revoked meanwhile. */
	rc = srv_registry_device_renew(s->reg, id, newfp, cert, not_after, now);
	if (rc == -ENOENT || rc == -EACCES) {
		respond_error(resp, rc == -ENOENT ? 404 : 403,
			      rc == -ENOENT ? "unknown device" : "device revoked");
		goto out;
	}
	if (rc) {
		respond_registry_error(s, resp, "renew", rc);
		goto out;
	}
	free(dev.cert_pem);
	dev.cert_pem = cert;
	cert = NULL;
	dev.not_after = not_after;
	dev.updated_at = now;
	snprintf(dev.pubkey_sha256, sizeof(dev.pubkey_sha256), "%s", newfp);
	if (dev.platform[0])
		have_plat = srv_registry_platform_get(s->reg, dev.platform, &plat) == 0;
	EDGE_INFO(MOD, "renewed %s (key %s)", id, strcmp(fp, newfp) ? "rotated" : "kept");
	respond_device(s, resp, 200, &dev, have_plat ? &plat : NULL, false);
out:
	free(cert);
	free(csr_pem);
	mbedtls_x509_csr_free(&csr);
	srv_device_clear(&dev);
}

static bool admin_ok(struct srv_service *s, const char *bearer)
{
	char hash[65];
	unsigned diff = 0;

	if (!s->admin_set || !bearer)
		return false;
	srv_token_hash(bearer, hash);
	for (size_t i = 0; i < 64; i++)
		diff |= (unsigned)(hash[i] ^ s->admin_hash[i]);
	return diff == 0;
}

void srv_service_device_get(struct srv_service *s, const char *bearer, const char *id,
			    struct srv_response *resp)
{
	struct srv_device d;
	cJSON *o;
	int rc;

	if (!admin_ok(s, bearer)) {
		respond_error(resp, 401, "admin token required");
		return;
	}
	rc = srv_registry_device_get(s->reg, id, &d);
	if (rc == -ENOENT) {
		respond_error(resp, 404, "unknown device");
		return;
	}
	if (rc) {
		respond_registry_error(s, resp, "device lookup", rc);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "deviceId", d.id);
	cJSON_AddStringToObject(o, "board", d.board);
	cJSON_AddStringToObject(o, "model", d.model);
	cJSON_AddStringToObject(o, "firmware", d.firmware);
	cJSON_AddStringToObject(o, "realtimePlatform", d.platform);
	cJSON_AddStringToObject(o, "batch", d.batch);
	cJSON_AddItemToObject(o, "sensors", cJSON_Parse(d.sensors_json));
	cJSON_AddStringToObject(o, "publicKeySha256", d.pubkey_sha256);
	cJSON_AddStringToObject(o, "certificate", d.cert_pem);
	cJSON_AddNumberToObject(o, "notAfter", (double)d.not_after);
	cJSON_AddNumberToObject(o, "createdAt", (double)d.created_at);
	cJSON_AddNumberToObject(o, "updatedAt", (double)d.updated_at);
	cJSON_AddBoolToObject(o, "revoked", d.revoked);
	resp->status = 200;
	resp->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	srv_device_clear(&d);
}
