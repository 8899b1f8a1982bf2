/* SPDX-License-Identifier: Apache-2.0 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/file.h"
#include "srv.h"

struct buf {
	char *p;
	size_t len, cap;
	int err;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 512) + (size_t)n;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A YAML double-quoted scalar: safe for any user-supplied text. */
static void put_quoted(struct buf *b, const char *s)
{
	put(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			put(b, "\\x%02x", c);
		else
			put(b, "%c", c);
	}
	put(b, "\"");
}

int srv_claim_render(const struct srv_claim_opts *o, const char *name, char **yaml_out)
{
	struct buf b = {0};

	if (!srv_platform_name_valid(name))
		return -EINVAL;
	put(&b, "apiVersion: platform.example.org/v1alpha1\n");
	put(&b, "kind: RealtimePlatformClaim\n");
	put(&b, "metadata:\n");
	put(&b, "  name: %s-realtime\n", name);
	put(&b, "spec:\n");
	put(&b, "  name: %s\n", name);
	put(&b, "  database: %s\n", o->database);
	put(&b, "  visualization: %s\n", o->visualization);
	put(&b, "  iot: true\n");
	if (o->n_mqtt_users) {
		put(&b, "  mqttUsers:\n");
		for (size_t i = 0; i < o->n_mqtt_users; i++) {
			put(&b, "    - username: ");
			put_quoted(&b, o->mqtt_users[i].username);
			put(&b, "\n      password: ");
			put_quoted(&b, o->mqtt_users[i].password);
			put(&b, "\n");
		}
	}
	if (o->data_retention && *o->data_retention) {
		put(&b, "  dataRetention: ");
		put_quoted(&b, o->data_retention);
		put(&b, "\n");
	}
	if (o->max_replicas > 0)
		put(&b, "  scaling:\n    minReplicas: %d\n    maxReplicas: %d\n", o->min_replicas,
		    o->max_replicas);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*yaml_out = b.p;
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int srv_claim_k8s_post(const struct srv_config *cfg, const char *yaml, long *http_status, char *err,
		       size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char url[1024], auth[4200];
	char *token = NULL;
	size_t tlen;
	CURLcode cc;
	CURL *e;
	int rc;

	*http_status = 0;
	rc = edge_file_read(cfg->k8s_token_file, 4096, &token, &tlen);
	if (rc) {
		snprintf(err, errlen, "kubernetes.token_file %s: %s", cfg->k8s_token_file,
			 strerror(-rc));
		return rc;
	}
	while (tlen &&
	       (token[tlen - 1] == '\n' || token[tlen - 1] == '\r' || token[tlen - 1] == ' '))
		token[--tlen] = '\0';
	snprintf(url, sizeof(url),
		 "%s/apis/platform.example.org/v1alpha1/namespaces/%s/realtimeplatformclaims",
		 cfg->k8s_url, cfg->k8s_namespace);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	memset(token, 0, tlen);
	free(token);
	e = curl_easy_init();
	if (!e) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -ENOMEM;
	}
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/yaml");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, yaml);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(yaml));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	if (cfg->k8s_ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, cfg->k8s_ca_file);
	cc = curl_easy_perform(e);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "POST %s: %s", url, curl_easy_strerror(cc));
		rc = -EIO;
	} else {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, http_status);
		if (*http_status == 201 || *http_status == 200 || *http_status == 202 ||
		    *http_status == 409) {
			rc = 0;
		} else {
			snprintf(err, errlen, "POST %s: HTTP %ld", url, *http_status);
			rc = -EIO;
		}
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	memset(auth, 0, sizeof(auth));
	return rc;
}
