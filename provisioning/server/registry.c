/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry front: picks the backend from the URL, keeps a small pool of
 * its connections (one per HTTP worker thread: libmicrohttpd runs a request
 * to its end on the worker that owns the connection, so a worker never needs
 * two), reconnects with backoff, and runs a registration as one transaction
 * on one connection. The backends (registry_sqlite.c, registry_pg.c) only
 * run statements.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/backoff.h"
#include "edge/time.h"
#include "registry_backend.h"

/* How long a call waits for a free pooled connection. */
#define CHECKOUT_WAIT_MS 10000
/* Attempts of a registration that keeps losing races to concurrent ones. */
#define REGISTER_ATTEMPTS 6

struct slot {
	void *conn;   /* backend connection, NULL while closed */
	unsigned gen; /* r->gen when it was made */
	bool busy;    /* checked out by a thread */
};

struct srv_registry {
	const struct srv_reg_ops *ops;
	char *url;	/* owned */
	char desc[256]; /* url without its password */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a slot was returned */
	struct slot *slots;
	unsigned n_slots;
	/* Bumped when a connection turns out lost: the others were made to
	 * the same server and are closed when next checked out. */
	unsigned gen;
	/* Unreachable (or schema too old): connection attempts wait for
	 * retry_at_ms, one at a time, and calls fail fast with down_rc. */
	bool down;
	int down_rc;
	unsigned connecting;
	uint64_t retry_at_ms;
	struct edge_backoff backoff;
	char last_err[256];
};

void srv_device_clear(struct srv_device *d)
{
	free(d->cert_pem);
	free(d->sensors_json);
	memset(d, 0, sizeof(*d));
}

static const struct srv_reg_ops *backend_of(const char *url)
{
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		return &srv_reg_pg_ops;
	if (strncmp(url, "sqlite:", 7) == 0)
		return &srv_reg_sqlite_ops;
	if (strstr(url, "://") || !*url)
		return NULL;
	return &srv_reg_sqlite_ops; /* a plain file path */
}

/* The URL for logs: "user:secret@" becomes "user:***@", password=... too. */
static void describe(const char *url, char *out, size_t cap)
{
	const char *auth = strstr(url, "://");
	const char *at, *colon;
	char *pw;
	size_t n;

	snprintf(out, cap, "%s", url);
	if (auth) {
		auth += 3;
		at = strchr(auth, '@');
		colon = strchr(auth, ':');
		if (at && colon && colon < at && !memchr(auth, '/', (size_t)(at - auth))) {
			n = (size_t)(colon - url) + 1;
			snprintf(out, cap, "%.*s***%s", (int)n, url, at);
		}
	}
	pw = strstr(out, "password=");
	if (pw) {
		char *val = pw + 9;
		const char *end = strchr(val, '&');
		size_t tail = end ? strlen(end) : 0;

		/* "password=secret&x" -> "password=***&x" (shorter or equal
		 * for any secret of 3+ characters; cut otherwise). */
		if ((size_t)(val - out) + 3 + tail < cap) {
			memmove(val + 3, end ? end : "", tail + 1);
			memcpy(val, "***", 3);
		} else {
			*val = '\0';
		}
	}
}

/* Errors that are a database state worth keeping the message of (the
 * others are answers: unknown, revoked, exists, leased). */
static bool is_fault(int rc)
{
	return rc && rc != -ENOENT && rc != -EACCES && rc != -EEXIST && rc != -EALREADY;
}

/* A connection that is usable: connected, schema current (SQLite upgrades
 * it here), statements prepared. err receives the reason. */
static int connect_ready(struct srv_registry *r, void **out, char *err, size_t errlen)
{
	const struct srv_reg_ops *o = r->ops;
	void *c = NULL;
	int rc, v = 0, from = 0;

	rc = o->connect(r->url, &c, err, errlen);
	if (rc)
		goto err_conn;
	rc = o->schema_version(c, &v);
	if (!rc && v < SRV_REG_SCHEMA) {
		if (!o->embedded) {
			snprintf(err, errlen,
				 "registry schema version %d, this edge-provisiond needs %d: run "
				 "`edge-provisiond admin migrate`",
				 v, SRV_REG_SCHEMA);
			rc = -ESTALE;
			goto err_conn;
		}
		rc = o->migrate(c, &from);
	}
	rc = rc ?: o->prepare(c);
	if (rc) {
		snprintf(err, errlen, "%s", o->errmsg(c));
		goto err_conn;
	}
	*out = c;
	return 0;

err_conn:
	o->disconnect(c);
	return rc;
}

/* Under r->lock. */
static void mark_down(struct srv_registry *r, int rc)
{
	r->down = true;
	r->down_rc = rc;
	r->retry_at_ms = edge_now_ms() + edge_backoff_next(&r->backoff);
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* A connected slot for this thread. *fresh: connected by this call (a
 * failure on it is not a stale connection). Return it with checkin(). */
static int checkout(struct srv_registry *r, struct slot **out, bool *fresh)
{
	struct timespec deadline;
	struct slot *s = NULL;
	char err[256];
	void *conn = NULL;
	int rc;

	*fresh = false;
	deadline_in(&deadline, CHECKOUT_WAIT_MS);
	pthread_mutex_lock(&r->lock);
	while (!s) {
		for (unsigned i = 0; i < r->n_slots && !s; i++)
			if (!r->slots[i].busy)
				s = &r->slots[i];
		if (!s && pthread_cond_timedwait(&r->cond, &r->lock, &deadline) == ETIMEDOUT) {
			snprintf(r->last_err, sizeof(r->last_err),
				 "all %u registry connections busy for %d ms", r->n_slots,
				 CHECKOUT_WAIT_MS);
			pthread_mutex_unlock(&r->lock);
			return -EBUSY;
		}
	}
	s->busy = true;
	if (s->conn && s->gen != r->gen) {
		r->ops->disconnect(s->conn);
		s->conn = NULL;
	}
	if (s->conn) {
		pthread_mutex_unlock(&r->lock);
		*out = s;
		return 0;
	}
	/* While the database is down: one attempt at a time, after the
	 * backoff; everyone else fails fast instead of piling on. */
	if (r->down && (r->connecting || edge_now_ms() < r->retry_at_ms)) {
		rc = r->down_rc;
		goto err_release;
	}
	r->connecting++;
	pthread_mutex_unlock(&r->lock);
	rc = connect_ready(r, &conn, err, sizeof(err));
	pthread_mutex_lock(&r->lock);
	r->connecting--;
	if (rc) {
		snprintf(r->last_err, sizeof(r->last_err), "%s", err);
		mark_down(r, rc);
		rc = r->down_rc;
		goto err_release;
	}
	s->conn = conn;
	s->gen = r->gen;
	if (r->down) {
		r->down = false;
		edge_backoff_reset(&r->backoff);
	}
	pthread_mutex_unlock(&r->lock);
	*fresh = true;
	*out = s;
	return 0;

err_release:
	s->busy = false;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static void checkin(struct srv_registry *r, struct slot *s, int rc)
{
	pthread_mutex_lock(&r->lock);
	if (is_fault(rc) && s->conn)
		snprintf(r->last_err, sizeof(r->last_err), "%s", r->ops->errmsg(s->conn));
	if (rc == -ENOTCONN && s->conn) {
		r->ops->disconnect(s->conn);
		s->conn = NULL;
		/* The first reconnection is immediate; failed ones back off. */
		if (s->gen == r->gen)
			r->gen++;
	}
	s->busy = false;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Runs expr (which uses `conn`) on a pooled connection. With retry, a call
 * that found a reused connection dead runs once more on a new one: only for
 * statements that are safe to repeat (reads), since a write may have been
 * done before the answer was lost. */
#define REG_RUN(r, retry, rc, expr)                                                                \
	do {                                                                                       \
		for (int try_ = 0;; try_++) {                                                      \
			struct slot *s_;                                                           \
			bool fresh_;                                                               \
			void *conn;                                                                \
                                                                                                   \
			rc = checkout((r), &s_, &fresh_);                                          \
			if (rc)                                                                    \
				break;                                                             \
			conn = s_->conn;                                                           \
			rc = (expr);                                                               \
			checkin((r), s_, rc);                                                      \
			if (!(rc == -ENOTCONN && (retry) && !fresh_ && try_ == 0))                 \
				break;                                                             \
		}                                                                                  \
	} while (0)

int srv_registry_open_opts(const char *url, const struct srv_registry_opts *o,
			   struct srv_registry **out, char *err, size_t errlen)
{
	const struct srv_reg_ops *ops = url ? backend_of(url) : NULL;
	pthread_condattr_t ca;
	struct srv_registry *r;
	struct slot *s;
	bool fresh;
	int rc;

	if (!ops) {
		if (err)
			snprintf(err, errlen,
				 "registry.url \"%s\": not postgresql://..., postgres://..., "
				 "sqlite:PATH or a file path",
				 url ? url : "");
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ops = ops;
	r->n_slots = o && o->connections ? o->connections : 1;
	r->url = strdup(url);
	r->slots = calloc(r->n_slots, sizeof(*r->slots));
	if (!r->url || !r->slots) {
		rc = -ENOMEM;
		goto err_mem;
	}
	describe(url, r->desc, sizeof(r->desc));
	edge_backoff_init(&r->backoff, 100, 5000, 0);
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The first connection now: admin commands fail here; a lazy server
	 * starts anyway and reports the state on /healthz. */
	rc = checkout(r, &s, &fresh);
	if (!rc) {
		checkin(r, s, 0);
	} else if (!o || !o->lazy || ops->embedded) {
		if (err)
			snprintf(err, errlen, "%s", r->last_err);
		srv_registry_close(r);
		return rc;
	}
	*out = r;
	return 0;

err_mem:
	free(r->slots);
	free(r->url);
	free(r);
	return rc;
}

int srv_registry_open(const char *url, struct srv_registry **out)
{
	struct srv_registry_opts o = {.connections = 1};

	return srv_registry_open_opts(url, &o, out, NULL, 0);
}

void srv_registry_close(struct srv_registry *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n_slots; i++)
		if (r->slots[i].conn)
			r->ops->disconnect(r->slots[i].conn);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r->slots);
	free(r->url);
	free(r);
}

const char *srv_registry_backend(const struct srv_registry *r)
{
	return r->ops->name;
}

const char *srv_registry_describe(const struct srv_registry *r)
{
	return r->desc;
}

void srv_registry_last_error(struct srv_registry *r, char *buf, size_t len)
{
	pthread_mutex_lock(&r->lock);
	snprintf(buf, len, "%s", r->last_err[0] ? r->last_err : "no error");
	pthread_mutex_unlock(&r->lock);
}

unsigned srv_registry_retry_after(struct srv_registry *r)
{
	uint64_t now = edge_now_ms();
	unsigned s = 1;

	pthread_mutex_lock(&r->lock);
	if (r->down && r->retry_at_ms > now)
		s = (unsigned)((r->retry_at_ms - now + 999) / 1000);
	pthread_mutex_unlock(&r->lock);
	return s < 1 ? 1 : s > 30 ? 30 : s;
}

int srv_registry_migrate(const char *url, int *from, int *to, char *err, size_t errlen)
{
	const struct srv_reg_ops *o = url ? backend_of(url) : NULL;
	void *c = NULL;
	int rc;

	if (!o) {
		snprintf(err, errlen, "registry.url \"%s\": unsupported", url ? url : "");
		return -EINVAL;
	}
	rc = o->connect(url, &c, err, errlen);
	if (!rc) {
		rc = o->migrate(c, from);
		if (rc)
			snprintf(err, errlen, "%s", o->errmsg(c));
	}
	rc = rc ?: o->schema_version(c, to);
	o->disconnect(c);
	return rc;
}

int srv_registry_health(struct srv_registry *r, int *schema, char *detail, size_t len)
{
	int rc, v = 0;

	REG_RUN(r, true, rc, r->ops->schema_version(conn, &v));
	if (!rc && v < SRV_REG_SCHEMA) {
		rc = -ESTALE;
		snprintf(detail, len, "schema version %d, needs %d", v, SRV_REG_SCHEMA);
	} else if (rc) {
		srv_registry_last_error(r, detail, len);
	} else {
		snprintf(detail, len, "ok");
	}
	*schema = v;
	return rc;
}

int srv_registry_token_add(struct srv_registry *r, const char *hash, const char *batch,
			   int64_t uses_max, int64_t expires_at)
{
	int rc;

	REG_RUN(r, false, rc,
		r->ops->token_add(conn, hash, batch, uses_max, expires_at, (int64_t)time(NULL)));
	return rc;
}

int srv_registry_token_get(struct srv_registry *r, const char *hash, struct srv_token_info *out)
{
	int rc;

	REG_RUN(r, true, rc, r->ops->token_get(conn, hash, out));
	return rc;
}

int srv_registry_token_consume(struct srv_registry *r, const char *hash, int64_t now)
{
	int rc;

	REG_RUN(r, false, rc, r->ops->token_use(conn, hash, now));
	return rc;
}

int srv_registry_token_revoke_batch(struct srv_registry *r, const char *batch, int64_t *n)
{
	int rc;

	*n = 0;
	REG_RUN(r, false, rc, r->ops->token_revoke_batch(conn, batch, n));
	return rc;
}

int srv_registry_device_get(struct srv_registry *r, const char *id, struct srv_device *out)
{
	int rc;

	REG_RUN(r, true, rc, r->ops->device_get(conn, id, out));
	return rc;
}

int srv_registry_device_renew(struct srv_registry *r, const char *id, const char *pubkey_sha256,
			      const char *cert_pem, int64_t not_after, int64_t now)
{
	int rc;

	REG_RUN(r, false, rc,
		r->ops->device_renew(conn, id, pubkey_sha256, cert_pem, not_after, now));
	return rc;
}

int srv_registry_device_revoke(struct srv_registry *r, const char *id, int64_t now)
{
	int rc;

	REG_RUN(r, false, rc, r->ops->device_revoke(conn, id, now));
	return rc;
}

int srv_registry_device_each(struct srv_registry *r,
			     void (*fn)(const struct srv_device *d, void *arg), void *arg)
{
	int rc;

	REG_RUN(r, false, rc, r->ops->device_each(conn, fn, arg));
	return rc;
}

int srv_registry_device_count(struct srv_registry *r, int64_t *count)
{
	int rc;

	REG_RUN(r, true, rc, r->ops->device_count(conn, count));
	return rc;
}

int srv_registry_platform_get(struct srv_registry *r, const char *name, struct srv_platform *out)
{
	int rc;

	REG_RUN(r, true, rc, r->ops->platform_get(conn, name, out));
	return rc;
}

int srv_registry_platform_k8s_lease(struct srv_registry *r, const char *name, int64_t now,
				    int64_t lease_s, char **yaml_out)
{
	int rc;

	REG_RUN(r, false, rc, r->ops->platform_lease(conn, name, now, now + lease_s, yaml_out));
	return rc;
}

int srv_registry_platform_k8s_finish(struct srv_registry *r, const char *name, bool done)
{
	int rc;

	REG_RUN(r, false, rc, r->ops->platform_finish(conn, name, done));
	return rc;
}

/* The stored device of a registration that found it: the same key answers
 * again (idempotent), another key or a revoked device is refused. */
static void judge_existing(struct srv_reg_outcome *out, const struct srv_device *want)
{
	if (out->dev.revoked)
		out->result = SRV_REG_DEVICE_REVOKED;
	else if (strcmp(out->dev.pubkey_sha256, want->pubkey_sha256) != 0)
		out->result = SRV_REG_OTHER_KEY;
	else
		out->result = SRV_REG_EXISTING;
}

static int dup_device(const struct srv_device *src, struct srv_device *dst)
{
	*dst = *src;
	dst->cert_pem = strdup(src->cert_pem ? src->cert_pem : "");
	dst->sensors_json = strdup(src->sensors_json ? src->sensors_json : "[]");
	if (!dst->cert_pem || !dst->sensors_json) {
		srv_device_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* Inside a transaction. 0 with out->result decided, -EAGAIN when a
 * concurrent registration of the same serial won the insert, or an error. */
static int register_tx(struct srv_registry *r, void *c, const struct srv_reg_new *in,
		       struct srv_reg_outcome *out)
{
	const struct srv_reg_ops *o = r->ops;
	struct srv_device d;
	int rc;

	rc = o->token_get(c, in->token_hash, &out->tok);
	if (rc == -ENOENT || (!rc && out->tok.revoked)) {
		out->result = SRV_REG_TOKEN_UNKNOWN;
		return 0;
	}
	if (rc)
		return rc;
	if (out->tok.expires_at <= in->now) {
		out->result = SRV_REG_TOKEN_EXPIRED;
		return 0;
	}
	rc = o->device_get(c, in->dev->id, &out->dev);
	if (rc == -ENOENT) {
		/* The quota: the UPDATE itself refuses the use beyond it. */
		rc = o->token_use(c, in->token_hash, in->now);
		if (rc == -EACCES) {
			/* None left, unless a concurrent registration of this
			 * very device committed meanwhile (a new statement
			 * sees it): then it is a re-registration. */
			rc = o->device_get(c, in->dev->id, &out->dev);
			if (rc == -ENOENT) {
				rc = o->token_get(c, in->token_hash, &out->tok);
				out->result = SRV_REG_TOKEN_EXHAUSTED;
				return rc;
			}
			if (rc)
				return rc;
			judge_existing(out, in->dev);
			if (out->result != SRV_REG_EXISTING)
				return 0;
			goto claim;
		}
		if (rc)
			return rc;
		if (!in->dev->cert_pem)
			return -EAGAIN; /* it vanished after the caller saw it */
		d = *in->dev;
		snprintf(d.batch, sizeof(d.batch), "%s", out->tok.batch);
		d.revoked = false;
		/* Insert if absent: a concurrent insert of the same id makes
		 * the database wait for it and then insert nothing. */
		rc = o->device_insert(c, &d);
		if (rc == -EEXIST)
			return -EAGAIN; /* restart: the token use is rolled back */
		rc = rc ?: dup_device(&d, &out->dev);
		if (rc)
			return rc;
		out->result = SRV_REG_NEW;
	} else if (rc) {
		return rc;
	} else {
		judge_existing(out, in->dev);
		if (out->result != SRV_REG_EXISTING)
			return 0;
	}
claim:
	if (!out->dev.platform[0])
		return 0;
	rc = o->platform_get(c, out->dev.platform, &out->plat);
	if (rc == -ENOENT) {
		char *yaml = NULL;

		memset(&out->plat, 0, sizeof(out->plat));
		snprintf(out->plat.name, sizeof(out->plat.name), "%s", out->dev.platform);
		snprintf(out->plat.claim, sizeof(out->plat.claim), "%s-realtime",
			 out->dev.platform);
		out->plat.created_at = in->now;
		rc = in->claim_render
			 ? in->claim_render(in->claim_arg, out->plat.name, out->plat.claim, &yaml)
			 : 0;
		/* One claim per platform: only the transaction whose insert
		 * went in emits it; a concurrent one waits for it and inserts
		 * nothing. */
		rc = rc
			 ?: o->platform_insert(c, out->plat.name, out->plat.claim, yaml ? yaml : "",
					       in->now);
		if (rc == -EEXIST) {
			rc = o->platform_get(c, out->dev.platform, &out->plat);
		} else if (!rc) {
			out->claim_created = true;
			if (in->claim_emit)
				rc = in->claim_emit(in->claim_arg, &out->plat, yaml ? yaml : "");
		}
		free(yaml);
	}
	if (rc)
		return rc;
	out->have_plat = true;
	return 0;
}

int srv_registry_register(struct srv_registry *r, const struct srv_reg_new *in,
			  struct srv_reg_outcome *out)
{
	memset(out, 0, sizeof(*out));
	for (int attempt = 1;; attempt++) {
		struct slot *s;
		bool fresh, began = false;
		int rc = checkout(r, &s, &fresh);

		if (rc)
			return rc;
		rc = r->ops->begin(s->conn);
		if (!rc) {
			began = true;
			rc = register_tx(r, s->conn, in, out);
			rc = rc ?: r->ops->commit(s->conn);
			if (rc)
				r->ops->rollback(s->conn);
		}
		checkin(r, s, rc);
		if (!rc)
			return 0;
		srv_device_clear(&out->dev);
		memset(out, 0, sizeof(*out));
		/* A stale connection failing BEGIN did nothing: once more. */
		if (rc == -ENOTCONN && !began && !fresh && attempt == 1)
			continue;
		if (rc == -EAGAIN && attempt < REGISTER_ATTEMPTS)
			continue;
		return rc;
	}
}
