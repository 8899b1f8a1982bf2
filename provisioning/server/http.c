/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/file.h"
#include "edge/log.h"
#include "edge/time.h"
#include "srv.h"

#define MOD	  "http"
#define N_BUCKETS 1024

/* Token bucket per client address: rate_per_s refill, burst depth. */
struct bucket {
	unsigned char addr[16];
	bool used;
	double tokens;
	uint64_t last_ms;
};

struct srv_http {
	struct MHD_Daemon *d;
	struct srv_service *svc;
	const struct srv_config *cfg;
	char *key_pem, *crt_pem, *trust_pem;
	pthread_mutex_t rl_lock;
	struct bucket buckets[N_BUCKETS];
};

struct req {
	char *body;
	size_t len;
	bool too_big;
	bool answered;
};

static bool rate_ok(struct srv_http *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	unsigned char addr[16] = {0};
	uint64_t now = edge_now_ms();
	uint32_t hash = 2166136261u;
	struct bucket *b;
	bool ok;

	if (!ci || !ci->client_addr)
		return true;
	if (ci->client_addr->sa_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
		       4);
	else if (ci->client_addr->sa_family == AF_INET6)
		memcpy(addr,
		       &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr,
		       16);
	for (size_t i = 0; i < sizeof(addr); i++)
		hash = (hash ^ addr[i]) * 16777619u;
	pthread_mutex_lock(&h->rl_lock);
	b = &h->buckets[hash % N_BUCKETS];
	/* A collision shares a bucket unless the old owner went quiet. */
	if (!b->used || (memcmp(b->addr, addr, 16) != 0 && now - b->last_ms > 60000)) {
		memcpy(b->addr, addr, 16);
		b->used = true;
		b->tokens = h->cfg->rate_burst;
		b->last_ms = now;
	}
	b->tokens += (double)(now - b->last_ms) * h->cfg->rate_per_s / 1000.0;
	if (b->tokens > h->cfg->rate_burst)
		b->tokens = h->cfg->rate_burst;
	b->last_ms = now;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&h->rl_lock);
	return ok;
}

/* retry_after: seconds for a Retry-After header (0: none). */
static enum MHD_Result send_answer(struct MHD_Connection *c, struct req *r, unsigned status,
				   const char *body, unsigned retry_after)
{
	char ra[16];
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (retry_after) {
		snprintf(ra, sizeof(ra), "%u", retry_after);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	return ret;
}

static enum MHD_Result send_body(struct MHD_Connection *c, struct req *r, unsigned status,
				 const char *body)
{
	return send_answer(c, r, status, body, status == 429 ? 1 : 0);
}

static enum MHD_Result send_error(struct MHD_Connection *c, struct req *r, unsigned status,
				  const char *msg)
{
	char body[SRV_ERR_LEN + 32];

	snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	return send_body(c, r, status, body);
}

static const char *bearer_of(struct MHD_Connection *c)
{
	return srv_bearer(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
}

/* The peer certificate (DER) of a TLS connection, or NULL. */
static const gnutls_datum_t *peer_cert(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *certs;
	unsigned n = 0;

	if (!ci || !ci->tls_session)
		return NULL;
	certs = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	return certs && n ? &certs[0] : NULL;
}

/* "/v1/devices/<id><suffix>" -> id; false when the shape differs. */
static bool device_path(const char *url, const char *suffix, char id[65])
{
	static const char prefix[] = "/v1/devices/";
	const char *p, *end;
	size_t n, sl = strlen(suffix);

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p = url + sizeof(prefix) - 1;
	end = strchr(p, '/');
	if (!end)
		end = p + strlen(p);
	n = (size_t)(end - p);
	if (n == 0 || n > 64 || strcmp(end, suffix) != 0 || (sl == 0 && *end))
		return false;
	memcpy(id, p, n);
	id[n] = '\0';
	return true;
}

static enum MHD_Result route(struct srv_http *h, struct MHD_Connection *c, struct req *r,
			     const char *url, const char *method)
{
	struct srv_response resp = {0};
	enum MHD_Result ret;
	bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
	char id[65];

	if (strcmp(url, "/healthz") == 0) {
		if (!get)
			return send_error(c, r, 405, "method not allowed");
		srv_service_health(h->svc, &resp);
	} else if (strcmp(url, "/v1/devices/register") == 0) {
		if (!post)
			return send_error(c, r, 405, "method not allowed");
		srv_service_register(h->svc, bearer_of(c), r->body ? r->body : "", r->len, &resp);
	} else if (device_path(url, "/renew", id)) {
		const gnutls_datum_t *der;

		if (!post)
			return send_error(c, r, 405, "method not allowed");
		der = peer_cert(c);
		srv_service_renew(h->svc, id, der ? der->data : NULL, der ? der->size : 0,
				  r->body ? r->body : "", r->len, &resp);
	} else if (device_path(url, "", id)) {
		if (!get)
			return send_error(c, r, 405, "method not allowed");
		srv_service_device_get(h->svc, bearer_of(c), id, &resp);
	} else {
		return send_error(c, r, 404, "not found");
	}
	if (!resp.body)
		return send_error(c, r, 500, "internal error");
	if (resp.status >= 400)
		EDGE_INFO(MOD, "%s %s -> %u %s", method, url, resp.status, resp.body);
	else
		EDGE_DEBUG(MOD, "%s %s -> %u", method, url, resp.status);
	ret = send_answer(c, r, resp.status, resp.body,
			  resp.retry_after     ? resp.retry_after
			  : resp.status == 429 ? 1
					       : 0);
	srv_response_clear(&resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct srv_http *h = cls;
	struct req *r = *con_cls;
	const char *cl;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (strcmp(url, "/healthz") != 0 && !rate_ok(h, c))
			return send_error(c, r, 429, "too many requests");
		cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > h->cfg->max_body) {
			r->too_big = true;
			/* Far too large: answer now and let MHD close. Moderately
			 * too large: drain it so that the client reads the 413. */
			if (strtoull(cl, NULL, 10) > 16 * h->cfg->max_body)
				return send_error(c, r, 413, "request body too large");
		}
		return MHD_YES;
	}
	if (r->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && r->len + *upload_size <= h->cfg->max_body) {
			char *p = realloc(r->body, r->len + *upload_size + 1);

			if (!p)
				return MHD_NO;
			memcpy(p + r->len, upload, *upload_size);
			r->len += *upload_size;
			p[r->len] = '\0';
			r->body = p;
		} else {
			r->too_big = true;
			free(r->body);
			r->body = NULL;
			r->len = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return send_error(c, r, 413, "request body too large");
	return route(h, c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!r)
		return;
	free(r->body);
	free(r);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	EDGE_DEBUG("mhd", "%s", line);
}

int srv_http_start(struct srv_service *svc, struct srv_http **out, char *err, size_t errlen)
{
	const struct srv_config *cfg = srv_service_config(svc);
	struct srv_http *h = calloc(1, sizeof(*h));
	struct sockaddr_in sa = {0};
	struct sockaddr_in6 sa6 = {0};
	const struct sockaddr *addr = (const struct sockaddr *)&sa;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG;
	int rc;

	if (!h)
		return -ENOMEM;
	h->svc = svc;
	h->cfg = cfg;
	pthread_mutex_init(&h->rl_lock, NULL);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cfg->port);
	sa6.sin6_family = AF_INET6;
	sa6.sin6_port = htons((uint16_t)cfg->port);
	if (inet_pton(AF_INET6, cfg->listen_addr, &sa6.sin6_addr) == 1) {
		addr = (const struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else if (inet_pton(AF_INET, cfg->listen_addr, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "listen: \"%s\" is not an IPv4 or IPv6 address",
			 cfg->listen_addr);
		rc = -EINVAL;
		goto err;
	}
	if ((rc = edge_file_read(cfg->tls_key_file, 16384, &h->key_pem, NULL)) != 0 ||
	    (rc = edge_file_read(cfg->tls_cert_file, 65536, &h->crt_pem, NULL)) != 0 ||
	    (rc = edge_file_read(cfg->ca_cert_file, 65536, &h->trust_pem, NULL)) != 0) {
		snprintf(err, errlen, "TLS files (%s, %s): %s", cfg->tls_cert_file,
			 cfg->tls_key_file, strerror(-rc));
		goto err;
	}
	h->d = MHD_start_daemon(
	    flags, (uint16_t)cfg->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, h, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_HTTPS_MEM_KEY, h->key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, h->crt_pem, MHD_OPTION_HTTPS_MEM_TRUST, h->trust_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s:%d (port in use? bad TLS files?)",
			 cfg->listen_addr, cfg->port);
		rc = -EADDRINUSE;
		goto err;
	}
	*out = h;
	return 0;
err:
	srv_http_stop(h);
	return rc;
}

void srv_http_stop(struct srv_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->key_pem) {
		memset(h->key_pem, 0, strlen(h->key_pem));
		free(h->key_pem);
	}
	free(h->crt_pem);
	free(h->trust_pem);
	pthread_mutex_destroy(&h->rl_lock);
	free(h);
}
