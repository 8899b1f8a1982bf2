/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "curl_engine.h"
#include "edge/backoff.h"
#include "edge/file.h"
#include "edge/loop.h"
#include "edge/p11.h"
#include "edge/prov_identity.h"
#include "edge/provision.h"

#define RESP_MAX	(256 * 1024)
#define RENEW_RECHECK_S (12 * 3600)

enum op { OP_NONE, OP_REGISTER, OP_RENEW };

struct edge_prov_client {
	struct edge_loop *loop;
	edge_prov_done_cb cb;
	void *arg;
	/* configuration (owned copies) */
	char *url, *ca_file, *token_file, *key_file, *csr_file;
	char *p11_module, *pin_file; /* key_file is a pkcs11: URI */
	char key_fp[65];	     /* the token key's public key SHA-256 */
	char why[400];		     /* a token error for the callback */
	char *device_id, *board, *model, *firmware, *platform;
	char **sensors;
	size_t n_sensors;
	double renew_before_s;
	uint32_t timeout_ms;
	char *state_dir;
	char cert_path[PATH_MAX], ca_path[PATH_MAX], json_path[PATH_MAX];
	/* transfer */
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	char *req_body;
	char *resp;
	size_t resp_len;
	bool resp_overflow;
	char curl_err[CURL_ERROR_SIZE];
	enum op op;
	/* timers */
	struct edge_timer *curl_timer, *retry_timer, *renew_timer;
	struct edge_backoff backoff;
	enum op retry_op;
	int64_t not_after;
	bool key_file_generated;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void emit(struct edge_prov_client *c, struct edge_prov_result *r)
{
	if (c->cb)
		c->cb(r, c->arg);
}

static void emit_simple(struct edge_prov_client *c, enum edge_prov_event ev, int err, long status,
			const char *msg, uint32_t retry_ms)
{
	struct edge_prov_result r = {.event = ev,
				     .err = err,
				     .http_status = status,
				     .message = msg,
				     .retry_in_ms = retry_ms,
				     .device_id = c->device_id};

	emit(c, &r);
}

static bool need_registration(const struct edge_prov_client *c)
{
	return access(c->cert_path, R_OK) != 0 || access(c->json_path, R_OK) != 0;
}

/* ---- libcurl multi on the edge_loop ---- */

static void check_done(struct edge_prov_client *c);

static void on_sock(int fd, short revents, void *arg)
{
	struct edge_prov_client *c = arg;
	int flags = 0, running;

	if (revents & (POLLIN | POLLHUP))
		flags |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLNVAL))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct edge_prov_client *c = userp;
	short ev = 0;

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		edge_loop_fd_del(c->loop, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= POLLIN;
	if (what & CURL_POLL_OUT)
		ev |= POLLOUT;
	if (edge_loop_fd_events(c->loop, s, ev) == -ENOENT &&
	    edge_loop_fd_add(c->loop, s, ev, on_sock, c) != 0)
		return -1;
	return 0;
}

static void on_curl_timer(void *arg)
{
	struct edge_prov_client *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct edge_prov_client *c = userp;

	(void)m;
	edge_loop_timer_set(c->loop, c->curl_timer,
			    timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
	struct edge_prov_client *c = arg;
	size_t len = size * n;
	char *np;

	if (c->resp_overflow || c->resp_len + len > RESP_MAX) {
		c->resp_overflow = true;
		return len; /* swallow; reported as a bad answer */
	}
	np = realloc(c->resp, c->resp_len + len + 1);
	if (!np)
		return 0;
	memcpy(np + c->resp_len, p, len);
	c->resp_len += len;
	np[c->resp_len] = '\0';
	c->resp = np;
	return len;
}

static void transfer_reset(struct edge_prov_client *c)
{
	if (c->easy) {
		curl_multi_remove_handle(c->multi, c->easy);
		curl_easy_cleanup(c->easy);
		c->easy = NULL;
	}
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	if (c->req_body) {
		memset(c->req_body, 0, strlen(c->req_body));
		free(c->req_body);
		c->req_body = NULL;
	}
	free(c->resp);
	c->resp = NULL;
	c->resp_len = 0;
	c->resp_overflow = false;
	c->op = OP_NONE;
}

/* ---- request building ---- */

static int read_token(const char *path, char **out)
{
	size_t len;
	char *t;
	int rc = edge_file_read(path, 4096, &t, &len);

	if (rc)
		return rc;
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
		t[--len] = '\0';
	if (!len || strpbrk(t, "\r\n")) {
		free(t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

/* The key (generated into state_dir when no key_file is configured) and a
 * CSR for it. */
/* The token's key (never generated here: edge-factory makes it in the
 * token) and a CSR signed in the token, or the factory CSR when it is for
 * that key. Remembers the key's fingerprint for the certificate check. */
static int token_key_and_csr(struct edge_prov_client *c, bool allow_factory_csr, char **csr_out,
			     const char **why)
{
	struct edge_p11_uri u;
	struct edge_p11_key key;
	struct edge_p11 *p = NULL;
	char pin[160] = "", cfp[65];
	const char *pf;
	char *csr = NULL;
	int rc;

	rc = edge_p11_uri_parse(c->key_file, &u, c->why, sizeof(c->why));
	pf = *u.pin_file ? u.pin_file : c->pin_file;
	if (!rc && pf)
		rc = edge_p11_pin_read(pf, pin, sizeof(pin), c->why, sizeof(c->why));
	if (!rc)
		rc = edge_p11_open(c->p11_module, &u, pf ? pin : NULL, &p, c->why, sizeof(c->why));
	explicit_bzero(pin, sizeof(pin));
	if (!rc)
		rc = edge_p11_find_key(p, &u, &key, c->why, sizeof(c->why));
	/* A token not (yet) present, a module or session error, the key not
	 * listed: -EAGAIN, worth another try. Never a refused PIN (-EACCES):
	 * repeating it would spend the token's PIN tries. */
	if (rc == -ENOENT || rc == -EIO || rc == -ENOMEM)
		rc = -EAGAIN;
	if (!rc)
		rc = edge_id_point_fingerprint(key.point, c->key_fp);
	if (!rc && allow_factory_csr && c->csr_file) {
		rc = edge_file_read(c->csr_file, 16384, &csr, NULL);
		if (rc || edge_id_pubkey_fingerprint(csr, cfp) || strcmp(cfp, c->key_fp) != 0) {
			snprintf(c->why, sizeof(c->why),
				 "factory CSR unreadable or not made from the token key");
			rc = rc ? rc : -EINVAL;
		}
	} else if (!rc) {
		rc = edge_id_csr_make_p11(p, key.point, c->device_id, &csr, c->why, sizeof(c->why));
	}
	edge_p11_close(p);
	if (rc) {
		free(csr);
		*why = c->why;
		return rc;
	}
	*csr_out = csr;
	return 0;
}

static int key_and_csr(struct edge_prov_client *c, bool allow_factory_csr, char **csr_out,
		       const char **why)
{
	char *key = NULL, *csr = NULL;
	int rc;

	if (edge_p11_is_uri(c->key_file))
		return token_key_and_csr(c, allow_factory_csr, csr_out, why);

	rc = edge_id_key_load(c->key_file, &key);
	if (rc == -ENOENT && c->key_file_generated) {
		rc = edge_id_key_generate(&key);
		if (!rc)
			rc = edge_id_key_write(c->key_file, key);
		if (rc) {
			*why = "cannot create the device key";
			goto out;
		}
	} else if (rc) {
		*why = "cannot read the device key (must be EC P-256 PEM)";
		goto out;
	}
	if (allow_factory_csr && c->csr_file) {
		char kfp[65], cfp[65];

		rc = edge_file_read(c->csr_file, 16384, &csr, NULL);
		if (rc || edge_id_pubkey_fingerprint(csr, cfp) ||
		    edge_id_pubkey_fingerprint(key, kfp) || strcmp(cfp, kfp) != 0) {
			*why = "factory CSR unreadable or not made from the device key";
			rc = rc ? rc : -EINVAL;
			goto out;
		}
	} else {
		rc = edge_id_csr_make(key, c->device_id, &csr);
		if (rc) {
			*why = "cannot make a CSR";
			goto out;
		}
	}
	*csr_out = csr;
	csr = NULL;
out:
	free(csr);
	edge_id_secret_free(key);
	return rc;
}

static char *register_body(struct edge_prov_client *c, const char *csr)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *s;
	char *text;

	cJSON_AddStringToObject(o, "serial", c->device_id);
	cJSON_AddStringToObject(o, "board", c->board ? c->board : "");
	cJSON_AddStringToObject(o, "model", c->model ? c->model : "");
	cJSON_AddStringToObject(o, "firmware", c->firmware ? c->firmware : "");
	cJSON_AddStringToObject(o, "csr", csr);
	if (c->platform)
		cJSON_AddStringToObject(o, "realtimePlatform", c->platform);
	s = cJSON_AddArrayToObject(o, "sensors");
	for (size_t i = 0; i < c->n_sensors; i++)
		cJSON_AddItemToArray(s, cJSON_CreateString(c->sensors[i]));
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static void schedule_retry(struct edge_prov_client *c, enum op op, int err, long status,
			   const char *msg, uint32_t min_ms);
static void schedule_renewal(struct edge_prov_client *c, bool after_renewal);

/* Mutual TLS with the token key: libcurl's engine options (curl_engine.h).
 * The URI goes without its query (pin-source, module-path are ours). */
static int renew_with_token(struct edge_prov_client *c)
{
	struct edge_p11_uri u;
	char pin[160] = "", uri[1024];
	const char *pf, *module, *q = strchr(c->key_file, '?');
	int rc;

	rc = edge_p11_uri_parse(c->key_file, &u, c->why, sizeof(c->why));
	if (rc)
		return rc;
	pf = *u.pin_file ? u.pin_file : c->pin_file;
	if (pf && (rc = edge_p11_pin_read(pf, pin, sizeof(pin), c->why, sizeof(c->why))) != 0)
		return rc;
	module = *u.module ? u.module : c->p11_module ? c->p11_module : edge_p11_default_module();
	rc = edge_prov_engine_prepare(module, pin, c->why, sizeof(c->why));
	explicit_bzero(pin, sizeof(pin));
	if (rc)
		return rc;
	snprintf(uri, sizeof(uri), "%.*s", q ? (int)(q - c->key_file) : (int)strlen(c->key_file),
		 c->key_file);
	if (curl_easy_setopt(c->easy, CURLOPT_SSLENGINE, "pkcs11") != CURLE_OK ||
	    curl_easy_setopt(c->easy, CURLOPT_SSLCERT, c->cert_path) != CURLE_OK ||
	    curl_easy_setopt(c->easy, CURLOPT_SSLKEYTYPE, "ENG") != CURLE_OK ||
	    curl_easy_setopt(c->easy, CURLOPT_SSLKEY, uri) != CURLE_OK) {
		snprintf(c->why, sizeof(c->why),
			 "libcurl refused the pkcs11 engine options for %.200s", uri);
		return -EIO;
	}
	return 0;
}

static void begin(struct edge_prov_client *c, enum op op)
{
	char url[2048], auth[300];
	const char *why = NULL;
	char *csr = NULL, *token = NULL;
	size_t ulen;
	int rc;

	if (c->op != OP_NONE)
		return;
	rc = key_and_csr(c, op == OP_REGISTER, &csr, &why);
	if (rc)
		goto fail;
	ulen = strlen(c->url);
	while (ulen && c->url[ulen - 1] == '/')
		ulen--;
	if (op == OP_REGISTER) {
		rc = read_token(c->token_file, &token);
		if (rc) {
			why = "cannot read the claim token file";
			goto fail;
		}
		snprintf(url, sizeof(url), "%.*s/v1/devices/register", (int)ulen, c->url);
		c->req_body = register_body(c, csr);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		memset(token, 0, strlen(token));
		free(token);
		c->hdrs = curl_slist_append(c->hdrs, auth);
		memset(auth, 0, sizeof(auth));
	} else {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "csr", csr);
		c->req_body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		snprintf(url, sizeof(url), "%.*s/v1/devices/%s/renew", (int)ulen, c->url,
			 c->device_id);
	}
	free(csr);
	csr = NULL;
	c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
	c->hdrs = curl_slist_append(c->hdrs, "Accept: application/json");
	c->hdrs = curl_slist_append(c->hdrs, "Expect:");
	c->easy = curl_easy_init();
	if (!c->req_body || !c->hdrs || !c->easy) {
		rc = -ENOMEM;
		why = "out of memory";
		goto fail;
	}
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c->easy, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->req_body);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(c->req_body));
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms / 2));
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	if (op == OP_RENEW && edge_p11_is_uri(c->key_file)) {
		rc = renew_with_token(c);
		if (rc) {
			why = c->why;
			goto fail;
		}
	} else if (op == OP_RENEW) {
		curl_easy_setopt(c->easy, CURLOPT_SSLCERT, c->cert_path);
		curl_easy_setopt(c->easy, CURLOPT_SSLKEY, c->key_file);
	}
	c->curl_err[0] = '\0';
	c->op = op;
	if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK) {
		rc = -EIO;
		why = "curl_multi_add_handle failed";
		goto fail;
	}
	return;

fail:
	free(csr);
	transfer_reset(c);
	if (rc == -EAGAIN) { /* nothing was sent: again with the backoff */
		schedule_retry(c, op, rc, 0, why, 0);
		return;
	}
	if (op == OP_REGISTER) {
		emit_simple(c, EDGE_PROV_FAILED, rc, 0, why, 0);
	} else {
		emit_simple(c, EDGE_PROV_RENEW_FAILED, rc, 0, why, 0);
		edge_loop_timer_set(c->loop, c->renew_timer, (uint64_t)RENEW_RECHECK_S * 1000, 0);
	}
}

/* ---- results ---- */

static int write_state(struct edge_prov_client *c, const struct edge_prov_response *r, bool renewal)
{
	char kfp[65], cfp[65];
	char *key = NULL, *text;
	cJSON *o, *m;
	int rc;

	/* The certificate must be for our key and CN. */
	if (edge_p11_is_uri(c->key_file)) {
		/* read from the token by key_and_csr() for this request */
		snprintf(kfp, sizeof(kfp), "%s", c->key_fp);
		rc = *kfp ? 0 : -EINVAL;
	} else {
		rc = edge_id_key_load(c->key_file, &key);
		if (rc)
			return rc;
		rc = edge_id_pubkey_fingerprint(key, kfp);
		edge_id_secret_free(key);
	}
	if (rc || edge_id_pubkey_fingerprint(r->certificate, cfp) || strcmp(kfp, cfp) != 0 ||
	    strcmp(r->device_id, c->device_id) != 0)
		return -EPROTO;
	if (edge_id_cert_not_after(r->certificate, &c->not_after))
		return -EPROTO;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "deviceId", r->device_id);
	m = cJSON_AddObjectToObject(o, "mqtt");
	cJSON_AddStringToObject(m, "host", r->mqtt_host);
	cJSON_AddNumberToObject(m, "port", r->mqtt_port);
	if (r->topics_json)
		cJSON_AddItemToObject(o, "topics", cJSON_Parse(r->topics_json));
	if (r->platform_name) {
		m = cJSON_AddObjectToObject(o, "realtimePlatform");
		cJSON_AddStringToObject(m, "name", r->platform_name);
		cJSON_AddStringToObject(m, "claim", r->platform_claim);
	}
	cJSON_AddNumberToObject(o, "notAfter", (double)c->not_after);
	cJSON_AddStringToObject(o, "certFile", c->cert_path);
	cJSON_AddStringToObject(o, "keyFile", c->key_file);
	cJSON_AddStringToObject(o, "caFile", c->ca_path);
	cJSON_AddNumberToObject(o, "updatedAt", (double)time(NULL));
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	/* device.crt last: its presence means "registered". */
	rc = edge_file_write_atomic(c->ca_path, r->ca_chain, strlen(r->ca_chain), 0644);
	if (!rc && !renewal)
		rc = edge_file_write_atomic(c->json_path, text, strlen(text), 0644);
	if (!rc)
		rc = edge_file_write_atomic(c->cert_path, r->certificate, strlen(r->certificate),
					    0644);
	if (!rc && renewal)
		rc = edge_file_write_atomic(c->json_path, text, strlen(text), 0644);
	free(text);
	return rc;
}

static void finish(struct edge_prov_client *c, enum op op, CURLcode cc, long status)
{
	struct edge_prov_response r;
	struct edge_prov_result res = {0};
	char msg[256];
	const char *why = NULL;
	int rc;

	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s",
			 c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
		transfer_reset(c);
		schedule_retry(c, op, -EIO, 0, msg, 0);
		return;
	}
	if (status >= 500 || status == 408 || status == 429) {
		edge_prov_parse_error(c->resp, c->resp_len, msg, sizeof(msg));
		transfer_reset(c);
		schedule_retry(c, op, -EAGAIN, status, msg[0] ? msg : "server unavailable",
			       status == 429 ? 1000 : 0);
		return;
	}
	if (status != 200 && status != 201) {
		edge_prov_parse_error(c->resp, c->resp_len, msg, sizeof(msg));
		transfer_reset(c);
		if (!msg[0])
			snprintf(msg, sizeof(msg), "HTTP %ld", status);
		if (op == OP_REGISTER) {
			emit_simple(c, EDGE_PROV_FAILED,
				    status == 401 || status == 403 ? -EACCES : -EINVAL, status, msg,
				    0);
		} else {
			emit_simple(c, EDGE_PROV_RENEW_FAILED, -EACCES, status, msg, 0);
			edge_loop_timer_set(c->loop, c->renew_timer,
					    (uint64_t)RENEW_RECHECK_S * 1000, 0);
		}
		return;
	}
	rc = c->resp_overflow ? -EFBIG : edge_prov_parse_response(c->resp, c->resp_len, &r, &why);
	transfer_reset(c);
	if (rc) {
		schedule_retry(c, op, -EPROTO, status, why ? why : "answer too large", 0);
		return;
	}
	rc = write_state(c, &r, op == OP_RENEW);
	if (rc) {
		edge_prov_response_clear(&r);
		if (rc == -EPROTO)
			schedule_retry(c, op, rc, status,
				       "certificate does not match the device key", 0);
		else
			schedule_retry(c, op, rc, status, "cannot write state_dir", 0);
		return;
	}
	edge_backoff_reset(&c->backoff);
	res.event = op == OP_REGISTER ? EDGE_PROV_REGISTERED : EDGE_PROV_RENEWED;
	res.http_status = status;
	res.device_id = c->device_id;
	res.cert_file = c->cert_path;
	res.key_file = c->key_file;
	res.ca_file = c->ca_path;
	res.mqtt_host = r.mqtt_host;
	res.mqtt_port = r.mqtt_port;
	res.not_after = c->not_after;
	res.platform_claim_created = r.platform_created;
	/* A fresh certificate renews halfway when its life is below the threshold. */
	schedule_renewal(c, true);
	emit(c, &res);
	edge_prov_response_clear(&r);
}

static void check_done(struct edge_prov_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		long status = 0;

		if (m->msg != CURLMSG_DONE || m->easy_handle != c->easy)
			continue;
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
		finish(c, c->op, m->data.result, status);
		return; /* finish() may have started the next transfer */
	}
}

static void on_retry(void *arg)
{
	struct edge_prov_client *c = arg;

	begin(c, c->retry_op);
}

static void schedule_retry(struct edge_prov_client *c, enum op op, int err, long status,
			   const char *msg, uint32_t min_ms)
{
	uint32_t delay = edge_backoff_next(&c->backoff);

	if (delay < min_ms)
		delay = min_ms;
	c->retry_op = op;
	edge_loop_timer_set(c->loop, c->retry_timer, delay, 0);
	emit_simple(c, EDGE_PROV_RETRYING, err, status, msg, delay);
}

static void on_renew(void *arg)
{
	struct edge_prov_client *c = arg;

	begin(c, OP_RENEW);
}

static void schedule_renewal(struct edge_prov_client *c, bool after_renewal)
{
	int64_t now = (int64_t)time(NULL);
	int64_t due = c->not_after - (int64_t)c->renew_before_s - now;

	if (due <= 0 && after_renewal) /* lifetime shorter than the threshold: halfway */
		due = (c->not_after - now) / 2;
	if (due < 0)
		due = 0;
	if (due > RENEW_RECHECK_S)
		due = RENEW_RECHECK_S;
	edge_loop_timer_set(c->loop, c->renew_timer, (uint64_t)due * 1000, 0);
}

/* ---- lifecycle ---- */

int edge_prov_client_new(struct edge_loop *loop, const struct edge_prov_config *cfg,
			 const char *state_dir, edge_prov_done_cb cb, void *arg,
			 struct edge_prov_client **out)
{
	struct edge_prov_client *c;
	char kp[PATH_MAX];
	int rc = -ENOMEM;

	if (!loop || !cfg || !state_dir || !cfg->url || !cfg->ca_file || !cfg->claim_token_file ||
	    !edge_id_serial_valid(cfg->device_id))
		return -EINVAL;
	if (strncmp(cfg->url, "https://", 8) != 0)
		return -EPROTONOSUPPORT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->cb = cb;
	c->arg = arg;
	snprintf(kp, sizeof(kp), "%s/device.key", state_dir);
	c->key_file_generated = !cfg->key_file || cfg->generate_key;
	c->url = strdup(cfg->url);
	c->ca_file = strdup(cfg->ca_file);
	c->token_file = strdup(cfg->claim_token_file);
	c->key_file = strdup(cfg->key_file ? cfg->key_file : kp);
	c->csr_file = dup_or_null(cfg->csr_file);
	c->p11_module =
	    dup_or_null(cfg->pkcs11_module && *cfg->pkcs11_module ? cfg->pkcs11_module : NULL);
	c->pin_file = dup_or_null(cfg->pin_file && *cfg->pin_file ? cfg->pin_file : NULL);
	if ((cfg->pkcs11_module && *cfg->pkcs11_module && !c->p11_module) ||
	    (cfg->pin_file && *cfg->pin_file && !c->pin_file))
		goto err;
	c->device_id = strdup(cfg->device_id);
	c->board = dup_or_null(cfg->board);
	c->model = dup_or_null(cfg->model);
	c->firmware = dup_or_null(cfg->firmware);
	c->platform = dup_or_null(cfg->realtime_platform);
	c->state_dir = strdup(state_dir);
	if (!c->url || !c->ca_file || !c->token_file || !c->key_file || !c->device_id ||
	    !c->state_dir)
		goto err;
	if (cfg->n_sensors) {
		c->sensors = calloc(cfg->n_sensors, sizeof(char *));
		if (!c->sensors)
			goto err;
		for (size_t i = 0; i < cfg->n_sensors; i++) {
			c->sensors[i] = strdup(cfg->sensors[i]);
			if (!c->sensors[i])
				goto err;
			c->n_sensors = i + 1;
		}
	}
	c->renew_before_s = (cfg->renew_before_days > 0 ? cfg->renew_before_days : 30.0) * 86400.0;
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	if (cfg->cert_file)
		snprintf(c->cert_path, sizeof(c->cert_path), "%s", cfg->cert_file);
	else
		snprintf(c->cert_path, sizeof(c->cert_path), "%s/device.crt", state_dir);
	snprintf(c->ca_path, sizeof(c->ca_path), "%s/ca.crt", state_dir);
	snprintf(c->json_path, sizeof(c->json_path), "%s/provisioning.json", state_dir);
	edge_backoff_init(&c->backoff, cfg->retry_base_ms ? cfg->retry_base_ms : 1000,
			  cfg->retry_cap_ms ? cfg->retry_cap_ms : 300000, 0);
	c->multi = curl_multi_init();
	if (!c->multi)
		goto err;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, on_curl_timer, c, &c->curl_timer);
	rc = rc ?: edge_loop_timer_add(loop, UINT64_MAX, 0, on_retry, c, &c->retry_timer);
	rc = rc ?: edge_loop_timer_add(loop, UINT64_MAX, 0, on_renew, c, &c->renew_timer);
	if (rc)
		goto err;
	*out = c;
	return 0;
err:
	edge_prov_client_free(c);
	return rc ? rc : -ENOMEM;
}

int edge_prov_client_start(struct edge_prov_client *c)
{
	int rc;

	if (edge_mkdir_p(c->state_dir, 0700) != 0)
		return -EACCES;
	if (need_registration(c)) {
		/* From the loop, never from inside start(): callbacks stay asynchronous. */
		edge_loop_timer_set(c->loop, c->renew_timer, UINT64_MAX, 0);
		c->retry_op = OP_REGISTER;
		edge_loop_timer_set(c->loop, c->retry_timer, 0, 0);
		return 0;
	}
	rc = edge_id_cert_file_not_after(c->cert_path, &c->not_after);
	if (rc)
		return rc;
	schedule_renewal(c, false);
	return 0;
}

int edge_prov_client_renew_now(struct edge_prov_client *c)
{
	if (need_registration(c))
		return -ENOENT;
	if (c->op != OP_NONE)
		return -EBUSY;
	edge_loop_timer_set(c->loop, c->renew_timer, 0, 0);
	return 0;
}

void edge_prov_client_free(struct edge_prov_client *c)
{
	if (!c)
		return;
	if (c->multi) {
		transfer_reset(c);
		curl_multi_cleanup(c->multi);
	}
	edge_loop_timer_del(c->loop, c->curl_timer);
	edge_loop_timer_del(c->loop, c->retry_timer);
	edge_loop_timer_del(c->loop, c->renew_timer);
	for (size_t i = 0; i < c->n_sensors; i++)
		free(c->sensors[i]);
	free(c->sensors);
	free(c->url);
	free(c->ca_file);
	free(c->token_file);
	free(c->key_file);
	free(c->csr_file);
	free(c->p11_module);
	free(c->pin_file);
	free(c->device_id);
	free(c->board);
	free(c->model);
	free(c->firmware);
	free(c->platform);
	free(c->state_dir);
	free(c);
}
