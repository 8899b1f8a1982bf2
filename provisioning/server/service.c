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

struct srv_service {
	const struct srv_config *cfg; /* borrowed */
	struct srv_registry *reg;
	struct srv_ca ca;
	char *chain_pem;
	char admin_hash[65];
	bool admin_set;
	pthread_mutex_t lock;	  /* registry transactions + claim emission */
	pthread_mutex_t k8s_lock; /* one API server POST at a time */
	struct srv_dynsec *dynsec;
};

const struct srv_config *srv_service_config(struct srv_service *s)
{
	return s->cfg;
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
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->k8s_lock, NULL);
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
	rc = srv_registry_open(cfg->db_file, &s->reg);
	if (rc) {
		snprintf(err, errlen, "registry %s: %s", cfg->db_file, strerror(-rc));
		goto err_ca;
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
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->k8s_lock);
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
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->k8s_lock);
	free(s);
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

/* Under s->lock inside a transaction: the platform row and its YAML file,
 * created when missing. Exactly one registration sees *created = true. */
static int ensure_claim(struct srv_service *s, const char *name, struct srv_platform *p,
			bool *created, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *yaml = NULL;
	int rc;

	*created = false;
	rc = srv_registry_platform_get(s->reg, name, p);
	if (rc != -ENOENT)
		return rc;
	rc = srv_claim_render(&s->cfg->claim, name, &yaml);
	if (rc) {
		snprintf(err, errlen, "claim rendering failed");
		return rc;
	}
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->claim, sizeof(p->claim), "%s-realtime", name);
	p->created_at = (int64_t)time(NULL);
	snprintf(path, sizeof(path), "%s/%s.yaml", s->cfg->gitops_dir, p->claim);
	rc = srv_registry_platform_add(s->reg, name, p->claim, yaml, p->created_at);
	if (!rc) {
		rc = edge_file_write_atomic(path, yaml, strlen(yaml), 0644);
		if (rc)
			snprintf(err, errlen, "writing %.200s: %s", path, strerror(-rc));
	}
	free(yaml);
	if (!rc)
		*created = true;
	return rc;
}

static void push_claim(struct srv_service *s, const char *name)
{
	struct srv_platform p;
	char err[SRV_ERR_LEN];
	char *yaml = NULL;
	long status;
	int rc;

	if (!s->cfg->k8s_url)
		return;
	pthread_mutex_lock(&s->k8s_lock);
	pthread_mutex_lock(&s->lock);
	rc = srv_registry_platform_get(s->reg, name, &p);
	if (!rc && !p.k8s_done)
		rc = srv_registry_platform_yaml(s->reg, name, &yaml);
	pthread_mutex_unlock(&s->lock);
	if (rc || p.k8s_done)
		goto out;
	rc = srv_claim_k8s_post(s->cfg, yaml, &status, err, sizeof(err));
	if (rc) {
		EDGE_WARN(MOD, "claim %s-realtime: %s (retried on the next registration)", name,
			  err);
		goto out;
	}
	EDGE_NOTICE(MOD, "claim %s-realtime: API server answered %ld", name, status);
	pthread_mutex_lock(&s->lock);
	srv_registry_platform_k8s_done(s->reg, name);
	pthread_mutex_unlock(&s->lock);
out:
	free(yaml);
	pthread_mutex_unlock(&s->k8s_lock);
}

void srv_service_register(struct srv_service *s, const char *bearer, const char *body, size_t len,
			  struct srv_response *resp)
{
	struct srv_register_req req;
	struct srv_token_info tok;
	struct srv_platform plat = {0};
	struct srv_device dev = {0};
	char err[SRV_ERR_LEN], fp[65], hash[65];
	mbedtls_x509_csr csr;
	int64_t now = (int64_t)time(NULL);
	bool created = false, is_new = false, k8s_pending = false;
	int rc;

	if (!bearer) {
		respond_error(resp, 401, "missing claim token (Authorization: Bearer <token>)");
		return;
	}
	/* Unauthenticated requests cost no parsing and no signature check. */
	srv_token_hash(bearer, hash);
	pthread_mutex_lock(&s->lock);
	rc = srv_registry_token_get(s->reg, hash, &tok);
	pthread_mutex_unlock(&s->lock);
	if (rc || tok.revoked || tok.expires_at <= now) {
		respond_error(resp, rc && rc != -ENOENT ? 503 : 401,
			      rc == -ENOENT || (!rc && tok.revoked)
				  ? "unknown or revoked claim token"
			      : rc ? "registry busy"
				   : "claim token expired");
		return;
	}
	if (srv_parse_register(body, len, &req, err, sizeof(err))) {
		respond_error(resp, 400, err);
		return;
	}
	/* The expensive signature check runs outside the lock. */
	rc = srv_csr_check(req.csr, req.serial, &csr, fp, err, sizeof(err));
	if (rc) {
		respond_error(resp, 400, err);
		goto out_csr;
	}
	pthread_mutex_lock(&s->lock);
	rc = srv_registry_begin(s->reg);
	if (rc) {
		respond_error(resp, 503, "registry busy");
		goto out_unlock;
	}
	rc = srv_registry_token_get(s->reg, hash, &tok);
	if (rc == -ENOENT || (!rc && tok.revoked)) {
		respond_error(resp, 401, "unknown or revoked claim token");
		goto out_rollback;
	}
	if (rc)
		goto out_500;
	if (tok.expires_at <= now) {
		respond_error(resp, 401, "claim token expired");
		goto out_rollback;
	}
	rc = srv_registry_device_get(s->reg, req.serial, &dev);
	if (rc == 0) {
		if (dev.revoked) {
			respond_error(resp, 403, "device revoked");
			goto out_rollback;
		}
		if (strcmp(dev.pubkey_sha256, fp) != 0) {
			snprintf(err, sizeof(err), "serial %s is already bound to another key",
				 req.serial);
			respond_error(resp, 409, err);
			goto out_rollback;
		}
	} else if (rc == -ENOENT) {
		is_new = true;
		rc = srv_registry_token_consume(s->reg, hash, now);
		if (rc == -EACCES) {
			snprintf(err, sizeof(err), "claim token exhausted (%lld of %lld uses)",
				 (long long)tok.uses, (long long)tok.uses_max);
			respond_error(resp, 401, err);
			goto out_rollback;
		}
		if (rc)
			goto out_500;
		snprintf(dev.id, sizeof(dev.id), "%s", req.serial);
		snprintf(dev.pubkey_sha256, sizeof(dev.pubkey_sha256), "%s", fp);
		snprintf(dev.board, sizeof(dev.board), "%s", req.board);
		snprintf(dev.model, sizeof(dev.model), "%s", req.model);
		snprintf(dev.firmware, sizeof(dev.firmware), "%s", req.firmware);
		snprintf(dev.platform, sizeof(dev.platform), "%s", req.platform);
		snprintf(dev.batch, sizeof(dev.batch), "%s", tok.batch);
		dev.sensors_json = req.sensors_json;
		req.sensors_json = NULL;
		dev.created_at = dev.updated_at = now;
		rc = srv_ca_sign(&s->ca, &csr, req.serial, now, s->cfg->cert_validity_s,
				 s->cfg->backdate_s, &dev.cert_pem, &dev.not_after);
		if (rc)
			goto out_500;
		rc = srv_registry_device_put(s->reg, &dev);
		if (rc)
			goto out_500;
	} else {
		goto out_500;
	}
	if (dev.platform[0]) {
		err[0] = '\0';
		rc = ensure_claim(s, dev.platform, &plat, &created, err, sizeof(err));
		if (rc) {
			EDGE_ERR(MOD, "claim for %s: %s", dev.platform,
				 err[0] ? err : strerror(-rc));
			goto out_500;
		}
		k8s_pending = !plat.k8s_done;
	}
	rc = srv_registry_commit(s->reg);
	if (rc)
		goto out_500;
	pthread_mutex_unlock(&s->lock);
	if (created)
		EDGE_NOTICE(MOD, "RealtimePlatformClaim %s emitted (first device %s)", plat.claim,
			    dev.id);
	if (is_new)
		EDGE_INFO(MOD, "registered %s (batch %s, platform %s)", dev.id, dev.batch,
			  dev.platform[0] ? dev.platform : "-");
	if (k8s_pending)
		push_claim(s, dev.platform);
	/* Without its ACLs the device cannot use the broker: 503 makes it retry,
	 * and the retry (200, idempotent) sets them again. */
	if (s->dynsec && (rc = srv_dynsec_device_add(s->dynsec, dev.id)) != 0) {
		EDGE_WARN(MOD, "broker ACLs for %s: %s", dev.id, strerror(-rc));
		respond_error(resp, 503, "broker ACLs could not be set; retry later");
		goto out_csr;
	}
	respond_device(s, resp, is_new ? 201 : 200, &dev, dev.platform[0] ? &plat : NULL, created);
	goto out_csr;

out_500:
	EDGE_ERR(MOD, "register %s: %s", req.serial, strerror(-rc));
	respond_error(resp, 500, "internal error");
out_rollback:
	srv_registry_rollback(s->reg);
out_unlock:
	pthread_mutex_unlock(&s->lock);
out_csr:
	mbedtls_x509_csr_free(&csr);
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
	char *csr_pem = NULL;
	int64_t now = (int64_t)time(NULL);
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
	pthread_mutex_lock(&s->lock);
	rc = srv_registry_device_get(s->reg, id, &dev);
	if (rc || dev.revoked) {
		pthread_mutex_unlock(&s->lock);
		respond_error(resp, rc == -ENOENT ? 404 : 403,
			      rc == -ENOENT ? "unknown device" : "device revoked");
		goto out;
	}
	free(dev.cert_pem);
	dev.cert_pem = NULL;
	rc = srv_ca_sign(&s->ca, &csr, id, now, s->cfg->cert_validity_s, s->cfg->backdate_s,
			 &dev.cert_pem, &dev.not_after);
	if (!rc) {
		snprintf(dev.pubkey_sha256, sizeof(dev.pubkey_sha256), "%s", newfp);
		dev.updated_at = now;
		rc = srv_registry_device_put(s->reg, &dev);
	}
	if (!rc && dev.platform[0])
		have_plat = srv_registry_platform_get(s->reg, dev.platform, &plat) == 0;
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		EDGE_ERR(MOD, "renew %s: %s", id, strerror(-rc));
		respond_error(resp, 500, "internal error");
		goto out;
	}
	EDGE_INFO(MOD, "renewed %s (key %s)", id, strcmp(fp, newfp) ? "rotated" : "kept");
	respond_device(s, resp, 200, &dev, have_plat ? &plat : NULL, false);
out:
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
	pthread_mutex_lock(&s->lock);
	rc = srv_registry_device_get(s->reg, id, &d);
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		respond_error(resp, rc == -ENOENT ? 404 : 500,
			      rc == -ENOENT ? "unknown device" : "internal error");
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
