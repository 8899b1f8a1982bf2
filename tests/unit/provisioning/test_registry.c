/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry interface against both backends: every registration outcome,
 * the quota and the one claim under concurrent registrations through two
 * registries (two pools of connections, as two replicas would have), the
 * claim POST lease, renewal against revocation, schema migration, and an
 * unreachable server. SQLite always runs; the PostgreSQL variants need
 * EDGE_TEST_PG_URL (integration.test_prov_pg_registry starts a cluster and
 * sets it, with EDGE_TEST_PG_REQUIRED=1 so that they cannot be skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

struct fixture {
	bool pg;
	bool skip;
	char url[1024];
	char path[64]; /* SQLite file */
};

static void unlink_sqlite(const char *path)
{
	char p[80];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* An empty PostgreSQL database: the public schema dropped and made again. */
static int pg_reset(const char *url)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg_reset: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS public CASCADE;"
		      " CREATE SCHEMA public;");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "pg_reset: %s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* initial state: "sqlite" or "postgresql". The registry is created and
 * migrated, empty. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *env = getenv("EDGE_TEST_PG_URL");
	char err[256];
	int from, to, fd;

	if (!f)
		return -1;
	f->pg = strcmp((const char *)*state, "postgresql") == 0;
	*state = f;
	if (f->pg) {
		if (!env || !*env) {
			if (getenv("EDGE_TEST_PG_REQUIRED")) {
				fprintf(stderr,
					"EDGE_TEST_PG_REQUIRED but EDGE_TEST_PG_URL unset\n");
				return -1;
			}
			f->skip = true;
			return 0;
		}
		snprintf(f->url, sizeof(f->url), "%s", env);
		if (pg_reset(f->url))
			return -1;
	} else {
		snprintf(f->path, sizeof(f->path), "/tmp/prov-registry-XXXXXX");
		fd = mkstemp(f->path);
		if (fd < 0)
			return -1;
		close(fd);
		snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	}
	if (srv_registry_migrate(f->url, &from, &to, err, sizeof(err))) {
		fprintf(stderr, "migrate %s: %s\n", f->pg ? "postgresql" : f->path, err);
		return -1;
	}
	return to == SRV_REG_SCHEMA ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f && f->path[0])
		unlink_sqlite(f->path);
	free(f);
	return 0;
}

static struct fixture *fixture_of(void **state)
{
	struct fixture *f = *state;

	if (f->skip) {
		print_message("PostgreSQL variant skipped: EDGE_TEST_PG_URL is not set "
			      "(integration.test_prov_pg_registry runs it)\n");
		skip();
	}
	return f;
}

static struct srv_registry *open_pool(const struct fixture *f, unsigned conns)
{
	struct srv_registry_opts o = {.connections = conns};
	struct srv_registry *r = NULL;
	char err[256] = "";
	int rc = srv_registry_open_opts(f->url, &o, &r, err, sizeof(err));

	if (rc)
		fail_msg("open %s: %d %s", f->url, rc, err);
	return r;
}

static void make_dev(struct srv_device *d, const char *id, const char *key, const char *platform,
		     const char *cert)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	snprintf(d->pubkey_sha256, sizeof(d->pubkey_sha256), "%s", key);
	snprintf(d->board, sizeof(d->board), "sim");
	snprintf(d->model, sizeof(d->model), "edge-gateway");
	snprintf(d->firmware, sizeof(d->firmware), "1.0");
	snprintf(d->platform, sizeof(d->platform), "%s", platform);
	d->sensors_json = (char *)(uintptr_t) "[\"max30102\"]";
	d->cert_pem = (char *)(uintptr_t)cert;
	d->not_after = 2000000000;
}

struct emits {
	pthread_mutex_t lock;
	int rendered, emitted;
	int fail_with; /* emit returns this */
};

static int render(void *arg, const char *platform, char claim[80], char **yaml)
{
	struct emits *e = arg;

	pthread_mutex_lock(&e->lock);
	e->rendered++;
	pthread_mutex_unlock(&e->lock);
	snprintf(claim, 80, "%s-realtime", platform);
	return asprintf(yaml, "kind: RealtimePlatformClaim\nname: %s\n", platform) < 0 ? -ENOMEM
										       : 0;
}

static int emit(void *arg, const struct srv_platform *p, const char *yaml)
{
	struct emits *e = arg;

	(void)p;
	(void)yaml;
	pthread_mutex_lock(&e->lock);
	e->emitted++;
	pthread_mutex_unlock(&e->lock);
	return e->fail_with;
}

static int do_register(struct srv_registry *r, const char *hash, const struct srv_device *d,
		       struct emits *e, int64_t now, struct srv_reg_outcome *out)
{
	struct srv_reg_new in = {.token_hash = hash,
				 .now = now,
				 .dev = d,
				 .claim_render = render,
				 .claim_emit = emit,
				 .claim_arg = e};

	return srv_registry_register(r, &in, out);
}

static void test_register_outcomes(void **state)
{
	struct fixture *f = fixture_of(state);
	struct srv_registry *r = open_pool(f, 2);
	struct emits e = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct srv_reg_outcome out;
	struct srv_token_info ti;
	struct srv_device d, got;
	struct srv_platform p;
	int64_t now = (int64_t)time(NULL), n = 0;

	assert_int_equal(srv_registry_token_add(r, "h-a", "batch-a", 2, now + 3600), 0);
	assert_int_equal(srv_registry_token_add(r, "h-a", "again", 2, now + 3600), -EEXIST);
	assert_int_equal(srv_registry_token_add(r, "h-old", "batch-old", 5, now - 1), 0);

	make_dev(&d, "GW-1", "key-1", "health-data", "CERT-1");
	assert_int_equal(do_register(r, "h-none", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_TOKEN_UNKNOWN);
	assert_int_equal(do_register(r, "h-old", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_TOKEN_EXPIRED);
	assert_int_equal(e.rendered + e.emitted, 0);

	/* new: stored with the token's batch, claim emitted once */
	assert_int_equal(do_register(r, "h-a", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_NEW);
	assert_string_equal(out.dev.batch, "batch-a");
	assert_string_equal(out.dev.cert_pem, "CERT-1");
	assert_true(out.claim_created);
	assert_true(out.have_plat);
	assert_string_equal(out.plat.claim, "health-data-realtime");
	assert_false(out.plat.k8s_done);
	srv_device_clear(&out.dev);
	assert_int_equal(e.emitted, 1);

	/* the same key again: the stored device, no new certificate needed */
	make_dev(&d, "GW-1", "key-1", "health-data", NULL);
	assert_int_equal(do_register(r, "h-a", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_EXISTING);
	assert_string_equal(out.dev.cert_pem, "CERT-1");
	assert_false(out.claim_created);
	srv_device_clear(&out.dev);
	/* another key */
	make_dev(&d, "GW-1", "key-other", "health-data", "CERT-X");
	assert_int_equal(do_register(r, "h-a", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_OTHER_KEY);
	srv_device_clear(&out.dev);

	/* quota of 2: the third device is refused, the registered ones still
	 * come back */
	make_dev(&d, "GW-2", "key-2", "health-data", "CERT-2");
	assert_int_equal(do_register(r, "h-a", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_NEW);
	srv_device_clear(&out.dev);
	make_dev(&d, "GW-3", "key-3", "health-data", "CERT-3");
	assert_int_equal(do_register(r, "h-a", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_TOKEN_EXHAUSTED);
	assert_int_equal(out.tok.uses, 2);
	assert_int_equal(out.tok.uses_max, 2);
	make_dev(&d, "GW-2", "key-2", "health-data", NULL);
	assert_int_equal(do_register(r, "h-a", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_EXISTING);
	srv_device_clear(&out.dev);
	assert_int_equal(srv_registry_device_get(r, "GW-3", &got), -ENOENT);

	/* a device the caller saw but that is gone is not stored without a
	 * certificate */
	assert_int_equal(srv_registry_token_add(r, "h-b", "batch-b", 5, now + 3600), 0);
	make_dev(&d, "GW-4", "key-4", "", NULL);
	assert_int_equal(do_register(r, "h-b", &d, &e, now, &out), -EAGAIN);
	assert_int_equal(srv_registry_token_get(r, "h-b", &ti), 0);
	assert_int_equal(ti.uses, 0);

	/* the claim cannot be written: nothing at all is stored */
	e.fail_with = -EIO;
	make_dev(&d, "GW-5", "key-5", "vitals-lab", "CERT-5");
	assert_int_equal(do_register(r, "h-b", &d, &e, now, &out), -EIO);
	assert_int_equal(srv_registry_device_get(r, "GW-5", &got), -ENOENT);
	assert_int_equal(srv_registry_platform_get(r, "vitals-lab", &p), -ENOENT);
	assert_int_equal(srv_registry_token_get(r, "h-b", &ti), 0);
	assert_int_equal(ti.uses, 0);
	e.fail_with = 0;
	assert_int_equal(do_register(r, "h-b", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_NEW);
	assert_true(out.claim_created);
	srv_device_clear(&out.dev);

	/* a revoked batch refuses everyone */
	assert_int_equal(srv_registry_token_revoke_batch(r, "batch-b", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(srv_registry_token_revoke_batch(r, "no-batch", &n), -ENOENT);
	make_dev(&d, "GW-6", "key-6", "", "CERT-6");
	assert_int_equal(do_register(r, "h-b", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_TOKEN_UNKNOWN);

	assert_int_equal(srv_registry_device_count(r, &n), 0);
	assert_int_equal(n, 3);
	srv_registry_close(r);
}

static void test_renew_and_revoke(void **state)
{
	struct fixture *f = fixture_of(state);
	struct srv_registry *r = open_pool(f, 1);
	struct emits e = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct srv_reg_outcome out;
	struct srv_device d, got;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(srv_registry_token_add(r, "h", "b", 5, now + 60), 0);
	make_dev(&d, "GW-R", "key-1", "", "CERT-1");
	assert_int_equal(do_register(r, "h", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_NEW);
	assert_false(out.have_plat);
	srv_device_clear(&out.dev);

	assert_int_equal(srv_registry_device_renew(r, "GW-none", "k", "C", 1, now), -ENOENT);
	assert_int_equal(srv_registry_device_renew(r, "GW-R", "key-2", "CERT-2", 42, now + 1), 0);
	assert_int_equal(srv_registry_device_get(r, "GW-R", &got), 0);
	assert_string_equal(got.cert_pem, "CERT-2");
	assert_string_equal(got.pubkey_sha256, "key-2");
	assert_int_equal(got.not_after, 42);
	assert_int_equal(got.updated_at, now + 1);
	srv_device_clear(&got);
	/* the old key is now another key */
	assert_int_equal(do_register(r, "h", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_OTHER_KEY);
	srv_device_clear(&out.dev);

	assert_int_equal(srv_registry_device_revoke(r, "GW-none", now), -ENOENT);
	assert_int_equal(srv_registry_device_revoke(r, "GW-R", now), 0);
	assert_int_equal(srv_registry_device_renew(r, "GW-R", "key-3", "CERT-3", 43, now), -EACCES);
	assert_int_equal(srv_registry_device_get(r, "GW-R", &got), 0);
	assert_true(got.revoked);
	assert_string_equal(got.cert_pem, "CERT-2");
	srv_device_clear(&got);
	make_dev(&d, "GW-R", "key-2", "", NULL);
	assert_int_equal(do_register(r, "h", &d, &e, now, &out), 0);
	assert_int_equal(out.result, SRV_REG_DEVICE_REVOKED);
	srv_device_clear(&out.dev);
	srv_registry_close(r);
}

static void test_k8s_lease(void **state)
{
	struct fixture *f = fixture_of(state);
	struct srv_registry *r = open_pool(f, 1);
	struct emits e = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct srv_reg_outcome out;
	struct srv_platform p;
	struct srv_device d;
	int64_t now = (int64_t)time(NULL);
	char *yaml = NULL;

	assert_int_equal(srv_registry_platform_k8s_lease(r, "none", now, 30, &yaml), -EALREADY);
	assert_int_equal(srv_registry_token_add(r, "h", "b", 5, now + 60), 0);
	make_dev(&d, "GW-L", "key", "lease-me", "CERT");
	assert_int_equal(do_register(r, "h", &d, &e, now, &out), 0);
	srv_device_clear(&out.dev);

	assert_int_equal(srv_registry_platform_k8s_lease(r, "lease-me", now, 30, &yaml), 0);
	assert_string_equal(yaml, "kind: RealtimePlatformClaim\nname: lease-me\n");
	free(yaml);
	/* held: nobody else posts, until it expires */
	assert_int_equal(srv_registry_platform_k8s_lease(r, "lease-me", now + 29, 30, &yaml),
			 -EALREADY);
	assert_int_equal(srv_registry_platform_k8s_lease(r, "lease-me", now + 30, 30, &yaml), 0);
	free(yaml);
	/* failed: the next one may post at once */
	assert_int_equal(srv_registry_platform_k8s_finish(r, "lease-me", false), 0);
	assert_int_equal(srv_registry_platform_k8s_lease(r, "lease-me", now, 30, &yaml), 0);
	free(yaml);
	/* done: never again */
	assert_int_equal(srv_registry_platform_k8s_finish(r, "lease-me", true), 0);
	assert_int_equal(srv_registry_platform_k8s_lease(r, "lease-me", now + 1000, 30, &yaml),
			 -EALREADY);
	assert_int_equal(srv_registry_platform_get(r, "lease-me", &p), 0);
	assert_true(p.k8s_done);
	srv_registry_close(r);
}

/* ---- concurrent registrations through two registries ---- */
#define SERIALS	  80 /* 40 per token, each registered twice */
#define QUOTA	  30 /* per token */
#define THREADS	  8
#define PER_TOKEN (SERIALS / 2)

struct race {
	struct srv_registry *reg[2];
	struct emits e;
	int64_t now;
	pthread_mutex_t lock;
	int next; /* next job: serial = job / 2 */
	int results[SERIALS][2];
	int errors;
	int created;
};

static void *racer(void *arg)
{
	struct race *rc = arg;

	for (;;) {
		struct srv_reg_outcome out;
		struct srv_device d;
		char id[24], key[24], cert[24];
		int job, s, err;

		pthread_mutex_lock(&rc->lock);
		job = rc->next++;
		pthread_mutex_unlock(&rc->lock);
		if (job >= 2 * SERIALS)
			return NULL;
		/* The two registrations of one serial go to different
		 * registries, back to back. */
		s = job / 2;
		snprintf(id, sizeof(id), "RC-%03d", s);
		snprintf(key, sizeof(key), "key-%03d", s);
		snprintf(cert, sizeof(cert), "CERT-%03d", s);
		make_dev(&d, id, key, "race-platform", cert);
		err = do_register(rc->reg[job % 2], s < PER_TOKEN ? "tok-1" : "tok-2", &d, &rc->e,
				  rc->now, &out);
		pthread_mutex_lock(&rc->lock);
		if (err)
			rc->errors++;
		rc->results[s][job % 2] = err ? -1 : (int)out.result;
		rc->created += !err && out.claim_created;
		pthread_mutex_unlock(&rc->lock);
		srv_device_clear(&out.dev);
	}
}

static void test_concurrent_two_registries(void **state)
{
	struct fixture *f = fixture_of(state);
	struct race *rc = calloc(1, sizeof(*rc));
	pthread_t th[THREADS];
	struct srv_token_info ti;
	struct srv_device got;
	int news = 0;
	int64_t n = 0;

	assert_non_null(rc);
	rc->reg[0] = open_pool(f, 4);
	rc->reg[1] = open_pool(f, 4);
	rc->now = (int64_t)time(NULL);
	pthread_mutex_init(&rc->lock, NULL);
	pthread_mutex_init(&rc->e.lock, NULL);
	assert_int_equal(srv_registry_token_add(rc->reg[0], "tok-1", "race-1", QUOTA, rc->now + 60),
			 0);
	assert_int_equal(srv_registry_token_add(rc->reg[1], "tok-2", "race-2", QUOTA, rc->now + 60),
			 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, rc), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);

	assert_int_equal(rc->errors, 0);
	for (int s = 0; s < SERIALS; s++) {
		int a = rc->results[s][0], b = rc->results[s][1];

		/* Per serial: one NEW and one EXISTING, or refused twice. */
		if (a == SRV_REG_NEW || b == SRV_REG_NEW) {
			char id[24], cert[24];

			news++;
			if (!((a == SRV_REG_NEW && b == SRV_REG_EXISTING) ||
			      (b == SRV_REG_NEW && a == SRV_REG_EXISTING)))
				fail_msg("serial %d: outcomes %d and %d", s, a, b);
			snprintf(id, sizeof(id), "RC-%03d", s);
			snprintf(cert, sizeof(cert), "CERT-%03d", s);
			assert_int_equal(srv_registry_device_get(rc->reg[0], id, &got), 0);
			assert_string_equal(got.cert_pem, cert);
			assert_string_equal(got.batch, s < PER_TOKEN ? "race-1" : "race-2");
			srv_device_clear(&got);
		} else if (a != SRV_REG_TOKEN_EXHAUSTED || b != SRV_REG_TOKEN_EXHAUSTED) {
			fail_msg("serial %d: outcomes %d and %d", s, a, b);
		}
	}
	assert_int_equal(news, 2 * QUOTA);
	assert_int_equal(srv_registry_device_count(rc->reg[1], &n), 0);
	assert_int_equal(n, 2 * QUOTA);
	assert_int_equal(srv_registry_token_get(rc->reg[0], "tok-1", &ti), 0);
	assert_int_equal(ti.uses, QUOTA);
	assert_int_equal(srv_registry_token_get(rc->reg[1], "tok-2", &ti), 0);
	assert_int_equal(ti.uses, QUOTA);
	/* one claim, emitted once */
	assert_int_equal(rc->created, 1);
	assert_int_equal(rc->e.emitted, 1);
	srv_registry_close(rc->reg[0]);
	srv_registry_close(rc->reg[1]);
	free(rc);
}

/* ---- one claim: many tokens at once on new platforms ---- */
#define CLAIMERS  12
#define PLATFORMS 8

struct claim_race {
	struct srv_registry *reg[2];
	struct emits e;
	pthread_barrier_t go;
	int64_t now;
	int created[PLATFORMS];
	int errors;
	pthread_mutex_t lock;
};

struct claimer {
	struct claim_race *cr;
	int i;
};

/* Each claimer has its own token (no row lock to queue behind) and
 * registers one device per platform, all claimers at the same moment. */
static void *claimer(void *arg)
{
	struct claimer *c = arg;
	struct claim_race *cr = c->cr;

	for (int p = 0; p < PLATFORMS; p++) {
		struct srv_reg_outcome out;
		struct srv_device d;
		char id[24], plat[24], tok[24];
		int err;

		snprintf(id, sizeof(id), "CL-%d-%d", p, c->i);
		snprintf(plat, sizeof(plat), "plat-%d", p);
		snprintf(tok, sizeof(tok), "claim-tok-%d", c->i);
		make_dev(&d, id, "key", plat, "CERT");
		pthread_barrier_wait(&cr->go);
		err = do_register(cr->reg[c->i % 2], tok, &d, &cr->e, cr->now, &out);
		pthread_mutex_lock(&cr->lock);
		if (err || out.result != SRV_REG_NEW)
			cr->errors++;
		cr->created[p] += !err && out.claim_created;
		pthread_mutex_unlock(&cr->lock);
		srv_device_clear(&out.dev);
	}
	return NULL;
}

static void test_one_claim_many_tokens(void **state)
{
	struct fixture *f = fixture_of(state);
	struct claim_race *cr = calloc(1, sizeof(*cr));
	struct claimer cl[CLAIMERS];
	pthread_t th[CLAIMERS];

	assert_non_null(cr);
	cr->reg[0] = open_pool(f, CLAIMERS / 2);
	cr->reg[1] = open_pool(f, CLAIMERS / 2);
	cr->now = (int64_t)time(NULL);
	pthread_mutex_init(&cr->lock, NULL);
	pthread_mutex_init(&cr->e.lock, NULL);
	pthread_barrier_init(&cr->go, NULL, CLAIMERS);
	for (int i = 0; i < CLAIMERS; i++) {
		char tok[24];

		snprintf(tok, sizeof(tok), "claim-tok-%d", i);
		assert_int_equal(
		    srv_registry_token_add(cr->reg[0], tok, "claims", PLATFORMS, cr->now + 60), 0);
	}
	for (int i = 0; i < CLAIMERS; i++) {
		cl[i] = (struct claimer){.cr = cr, .i = i};
		assert_int_equal(pthread_create(&th[i], NULL, claimer, &cl[i]), 0);
	}
	for (int i = 0; i < CLAIMERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(cr->errors, 0);
	for (int p = 0; p < PLATFORMS; p++)
		if (cr->created[p] != 1)
			fail_msg("plat-%d: %d registrations created its claim", p, cr->created[p]);
	assert_int_equal(cr->e.emitted, PLATFORMS);
	pthread_barrier_destroy(&cr->go);
	srv_registry_close(cr->reg[0]);
	srv_registry_close(cr->reg[1]);
	free(cr);
}

/* ---- schema ---- */
static void *migrator(void *arg)
{
	const char *url = arg;
	char err[256];
	int from, to;

	return (void *)(intptr_t)srv_registry_migrate(url, &from, &to, err, sizeof(err));
}

static void test_migrate(void **state)
{
	struct fixture *f = fixture_of(state);
	struct srv_registry *r = NULL;
	char err[256] = "";
	int from = -1, to = -1, v = 0;
	pthread_t a, b;
	void *ra, *rb;

	assert_int_equal(srv_registry_migrate(f->url, &from, &to, err, sizeof(err)), 0);
	assert_int_equal(from, SRV_REG_SCHEMA);
	assert_int_equal(to, SRV_REG_SCHEMA);
	if (f->pg) {
		/* not migrated: refused with the command to run; two migrate
		 * runs at once both succeed */
		assert_int_equal(pg_reset(f->url), 0);
		assert_int_equal(srv_registry_open_opts(f->url, NULL, &r, err, sizeof(err)),
				 -ESTALE);
		assert_non_null(strstr(err, "admin migrate"));
		pthread_create(&a, NULL, migrator, f->url);
		pthread_create(&b, NULL, migrator, f->url);
		pthread_join(a, &ra);
		pthread_join(b, &rb);
		assert_int_equal((intptr_t)ra, 0);
		assert_int_equal((intptr_t)rb, 0);
	} else {
		/* a registry from before schema versions: upgraded on open */
		sqlite3 *db;

		unlink_sqlite(f->path);
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(
		    sqlite3_exec(
			db,
			"CREATE TABLE platforms(name TEXT PRIMARY KEY, claim TEXT NOT NULL,"
			" yaml TEXT NOT NULL, created_at INTEGER NOT NULL,"
			" k8s_done INTEGER NOT NULL DEFAULT 0);"
			"INSERT INTO platforms VALUES('old', 'old-realtime', 'y', 1, 0);",
			NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}
	r = open_pool(f, 1);
	assert_int_equal(srv_registry_health(r, &v, err, sizeof(err)), 0);
	assert_int_equal(v, SRV_REG_SCHEMA);
	if (!f->pg) {
		char *yaml = NULL;

		assert_int_equal(srv_registry_platform_k8s_lease(r, "old", 1, 30, &yaml), 0);
		assert_string_equal(yaml, "y");
		free(yaml);
	}
	srv_registry_close(r);
}

/* ---- an unreachable server ---- */
static void test_unreachable(void **state)
{
	struct srv_registry_opts lazy = {.connections = 2, .lazy = true};
	struct srv_registry *r = NULL;
	struct srv_token_info ti;
	char err[256] = "";
	struct timespec t0, t1;
	unsigned ra;
	int v;

	(void)state;
	/* port 1 on loopback: nothing listens */
	assert_int_equal(srv_registry_open_opts("postgresql://edge:s3cret@127.0.0.1:1/db", NULL, &r,
						err, sizeof(err)),
			 -ENOTCONN);
	assert_true(err[0] != '\0');
	assert_int_equal(srv_registry_open_opts("postgresql://edge:s3cret@127.0.0.1:1/db", &lazy,
						&r, err, sizeof(err)),
			 0);
	assert_string_equal(srv_registry_backend(r), "postgresql");
	assert_string_equal(srv_registry_describe(r), "postgresql://edge:***@127.0.0.1:1/db");
	assert_int_equal(srv_registry_health(r, &v, err, sizeof(err)), -ENOTCONN);
	assert_null(strstr(err, "s3cret"));
	ra = srv_registry_retry_after(r);
	assert_true(ra >= 1 && ra <= 5);
	/* inside the backoff window calls fail fast, without connecting */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(srv_registry_token_get(r, "h", &ti), -ENOTCONN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	srv_registry_close(r);

	assert_int_equal(srv_registry_open_opts("postgresql://127.0.0.1:1/db?user=u&password=pw1"
						"&sslmode=disable",
						&lazy, &r, err, sizeof(err)),
			 0);
	assert_string_equal(srv_registry_describe(r),
			    "postgresql://127.0.0.1:1/db?user=u&password=***&sslmode=disable");
	srv_registry_close(r);
	/* not a registry URL; an embedded file that cannot be opened fails
	 * at once even when lazy */
	assert_int_equal(srv_registry_open_opts("mysql://x/y", &lazy, &r, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(
	    srv_registry_open_opts("/nonexistent-dir/registry.db", &lazy, &r, err, sizeof(err)),
	    -ENOENT);
}

#define BOTH(fn)                                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)"sqlite"),           \
	    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)"postgresql")

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_register_outcomes),
	    BOTH(test_renew_and_revoke),
	    BOTH(test_k8s_lease),
	    BOTH(test_concurrent_two_registries),
	    BOTH(test_one_claim_many_tokens),
	    BOTH(test_migrate),
	    cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
