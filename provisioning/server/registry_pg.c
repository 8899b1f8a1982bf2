/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry backend: PostgreSQL through libpq, for replicas sharing one
 * registry. Each connection prepares the statement table once; transactions
 * run at READ COMMITTED, where the conditional statements below decide the
 * invariants: an UPDATE ... WHERE uses < uses_max waits for a concurrent
 * writer of the same row and re-checks the condition on the row it
 * committed; INSERT ... ON CONFLICT DO NOTHING waits for a concurrent
 * inserter of the same key and then inserts nothing. Locks are always taken
 * in the same order (token, device, platform), so registrations do not
 * deadlock; if the database says they did (40P01) or a serialisation
 * failure occurs (40001), the caller retries (-EAGAIN).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_backend.h"

/* Every statement of this backend is one of the shared table. */
#define S__COUNT S__SHARED

static const char *const sql[S__COUNT] = {
    [S_TOKEN_ADD] = "INSERT INTO tokens(hash, batch, uses_max, expires_at, created_at)"
		    " VALUES($1, $2, $3, $4, $5)",
    [S_TOKEN_GET] = "SELECT id, batch, uses, uses_max, expires_at, revoked FROM tokens"
		    " WHERE hash = $1",
    /* The quota: a use is taken only while one is left (the CHECK
     * constraint of schema 2 would refuse an over-issue anyway). */
    [S_TOKEN_USE] = "UPDATE tokens SET uses = uses + 1 WHERE hash = $1 AND uses < uses_max"
		    " AND expires_at > $2 AND NOT revoked RETURNING uses",
    [S_TOKEN_REVOKE] = "UPDATE tokens SET revoked = true WHERE batch = $1",
    [S_DEV_GET] = "SELECT " REG_DEVICE_COLS " FROM devices WHERE id = $1",
    [S_DEV_INSERT] = "INSERT INTO devices(" REG_DEVICE_COLS ")"
		     " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,false)"
		     " ON CONFLICT (id) DO NOTHING RETURNING id",
    [S_DEV_RENEW] = "UPDATE devices SET pubkey_sha256 = $2, cert_pem = $3, not_after = $4,"
		    " updated_at = $5 WHERE id = $1 AND NOT revoked RETURNING id",
    [S_DEV_STATE] = "SELECT revoked FROM devices WHERE id = $1",
    [S_DEV_REVOKE] = "UPDATE devices SET revoked = true, updated_at = $2 WHERE id = $1",
    [S_DEV_ALL] = "SELECT " REG_DEVICE_COLS " FROM devices ORDER BY id",
    [S_DEV_COUNT] = "SELECT count(*) FROM devices",
    [S_PLAT_GET] = "SELECT name, claim, created_at, k8s_done FROM platforms WHERE name = $1",
    [S_PLAT_INSERT] = "INSERT INTO platforms(name, claim, yaml, created_at)"
		      " VALUES($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name",
    [S_PLAT_LEASE] = "UPDATE platforms SET k8s_lease_until = $3 WHERE name = $1"
		     " AND NOT k8s_done AND k8s_lease_until <= $2 RETURNING yaml",
    [S_PLAT_FINISH] = "UPDATE platforms SET k8s_done = $2, k8s_lease_until = 0 WHERE name = $1",
};

/* migrations[v] takes the schema from v-1 to v (the same versions as the
 * SQLite backend). */
static const char *const migrations[SRV_REG_SCHEMA + 1] = {
    [1] = "CREATE TABLE tokens("
	  " id bigserial PRIMARY KEY, hash text UNIQUE NOT NULL, batch text NOT NULL,"
	  " uses_max bigint NOT NULL, uses bigint NOT NULL DEFAULT 0,"
	  " expires_at bigint NOT NULL, created_at bigint NOT NULL,"
	  " revoked boolean NOT NULL DEFAULT false);"
	  "CREATE TABLE devices("
	  " id text PRIMARY KEY, pubkey_sha256 text NOT NULL, board text, model text,"
	  " firmware text, platform text, batch text, sensors text, cert_pem text NOT NULL,"
	  " not_after bigint, created_at bigint, updated_at bigint,"
	  " revoked boolean NOT NULL DEFAULT false);"
	  "CREATE TABLE platforms("
	  " name text PRIMARY KEY, claim text NOT NULL, yaml text NOT NULL,"
	  " created_at bigint NOT NULL, k8s_done boolean NOT NULL DEFAULT false);",
    [2] = "ALTER TABLE platforms ADD COLUMN k8s_lease_until bigint NOT NULL DEFAULT 0;"
	  "ALTER TABLE tokens ADD CONSTRAINT tokens_quota CHECK (uses >= 0 AND uses <= uses_max);"
	  "CREATE INDEX devices_batch ON devices(batch);",
};

/* Serialises concurrent `admin migrate` runs (pg_advisory_xact_lock key). */
#define MIGRATE_LOCK "7308604711"

struct conn {
	PGconn *pg;
	char err[256];
};

static void keep_msg(struct conn *c, const char *msg)
{
	size_t n;

	snprintf(c->err, sizeof(c->err), "postgresql: %s", msg && *msg ? msg : "unknown error");
	n = strlen(c->err);
	while (n && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
		c->err[--n] = '\0';
}

/* The one translation of libpq results (ExecStatusType, SQLSTATE) into
 * errno values. Frees nothing; the message is kept for errmsg(). */
static int xlate(struct conn *c, const PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	keep_msg(c, res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
	if (PQstatus(c->pg) == CONNECTION_BAD)
		return -ENOTCONN;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state)
		return -EIO;
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
		return -ENOTCONN; /* connection exception, shutdown, starting up */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return -EAGAIN; /* serialisation failure, deadlock: run it again */
	if (strcmp(state, "23505") == 0)
		return -EEXIST;
	if (strncmp(state, "23", 2) == 0)
		return -EINVAL; /* other integrity constraint */
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
		return -ETIMEDOUT; /* statement_timeout, lock_timeout */
	if (strncmp(state, "53", 2) == 0)
		return -EBUSY; /* too many connections, out of resources */
	if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0)
		return -ESTALE; /* no such table / column: schema not migrated */
	if (strncmp(state, "28", 2) == 0 || strcmp(state, "42501") == 0)
		return -EACCES;
	return -EIO;
}

/* Runs a statement outside the table (BEGIN, DDL); 0 or -errno. */
static int exec_sql(struct conn *c, const char *text)
{
	PGresult *res = PQexec(c->pg, text);
	int rc = xlate(c, res);

	PQclear(res);
	return rc;
}

static void pg_disconnect(void *p)
{
	struct conn *c = p;

	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

static int pg_connect(const char *url, void **out, char *err, size_t errlen)
{
	/* Defaults first: anything the URL sets wins (expand_dbname). */
	const char *const keys[] = {"connect_timeout", "application_name", "options", "dbname",
				    NULL};
	const char *const vals[] = {
	    "5", "edge-provisiond",
	    "-c statement_timeout=15000 -c lock_timeout=10000 -c client_min_messages=warning", url,
	    NULL};
	struct conn *c;

	if (!PQisthreadsafe()) {
		snprintf(err, errlen, "libpq was built without thread safety");
		return -ENOTSUP;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*out = c;
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg)
		return -ENOMEM;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		keep_msg(c, PQerrorMessage(c->pg));
		snprintf(err, errlen, "%s", c->err);
		return -ENOTCONN;
	}
	return 0;
}

static const char *pg_errmsg(void *p)
{
	return ((struct conn *)p)->err;
}

/* One integer out of a one-row, one-column answer. */
static int query_int(struct conn *c, const char *text, long long *v)
{
	PGresult *res = PQexec(c->pg, text);
	int rc = xlate(c, res);

	if (!rc && (PQntuples(res) != 1 || PQnfields(res) != 1)) {
		keep_msg(c, "unexpected answer shape");
		rc = -EIO;
	}
	if (!rc)
		*v = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

static int pg_schema_version(void *p, int *version)
{
	struct conn *c = p;
	long long v = 0;
	int rc = query_int(c, "SELECT (to_regclass('schema_version') IS NOT NULL)::int", &v);

	*version = 0;
	if (!rc && v)
		rc = query_int(c, "SELECT coalesce(max(version), 0) FROM schema_version", &v);
	if (!rc)
		*version = (int)v;
	return rc;
}

static int pg_migrate(void *p, int *from)
{
	struct conn *c = p;
	char ins[128];
	int rc, v = 0;

	rc = exec_sql(c, "BEGIN");
	if (rc)
		return rc;
	/* A second migrate waits here until the first commits, then finds the
	 * schema current. */
	rc = exec_sql(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")");
	rc = rc
		 ?: exec_sql(c, "CREATE TABLE IF NOT EXISTS schema_version("
				"version integer PRIMARY KEY, applied_at bigint NOT NULL)");
	rc = rc ?: pg_schema_version(c, &v);
	if (!rc)
		*from = v;
	for (v = v + 1; !rc && v <= SRV_REG_SCHEMA; v++) {
		rc = exec_sql(c, migrations[v]);
		snprintf(ins, sizeof(ins),
			 "INSERT INTO schema_version VALUES(%d, extract(epoch from now())::bigint)",
			 v);
		rc = rc ?: exec_sql(c, ins);
	}
	rc = rc ?: exec_sql(c, "COMMIT");
	if (rc && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	return rc;
}

static int pg_prepare(void *p)
{
	struct conn *c = p;

	for (int i = 0; i < S__COUNT; i++) {
		char name[16];
		PGresult *res;
		int rc;

		snprintf(name, sizeof(name), "reg%d", i);
		res = PQprepare(c->pg, name, sql[i], 0, NULL);
		rc = xlate(c, res);
		PQclear(res);
		if (rc)
			return rc;
	}
	return 0;
}

/* Runs a prepared statement with text parameters. *res: caller PQclear()s,
 * also on error. */
static int run(struct conn *c, enum reg_stmt s, int n, const char *const *vals, PGresult **res)
{
	char name[16];

	snprintf(name, sizeof(name), "reg%d", (int)s);
	*res = PQexecPrepared(c->pg, name, n, vals, NULL, NULL, 0);
	return xlate(c, *res);
}

static int run_clear(struct conn *c, enum reg_stmt s, int n, const char *const *vals, int *rows)
{
	PGresult *res;
	int rc = run(c, s, n, vals, &res);

	if (!rc && rows)
		*rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
							       : atoi(PQcmdTuples(res));
	PQclear(res);
	return rc;
}

static int pg_begin(void *p)
{
	return exec_sql(p, "BEGIN");
}

static int pg_commit(void *p)
{
	struct conn *c = p;
	PGresult *res = PQexec(c->pg, "COMMIT");
	int rc = xlate(c, res);

	/* COMMIT of a transaction that had failed answers ROLLBACK. */
	if (!rc && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		keep_msg(c, "transaction was rolled back");
		rc = -EIO;
	}
	PQclear(res);
	return rc;
}

static void pg_rollback(void *p)
{
	struct conn *c = p;

	if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		PQclear(PQexec(c->pg, "ROLLBACK"));
}

#define I64(buf, v) (snprintf(buf, sizeof(buf), "%lld", (long long)(v)), (const char *)buf)

static int64_t col_i64(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool col_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

static void copy_col(const PGresult *res, int row, int col, char *dst, size_t cap)
{
	snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static int pg_token_add(void *p, const char *hash, const char *batch, int64_t uses_max,
			int64_t expires_at, int64_t now)
{
	char a[24], b[24], d[24];
	const char *v[] = {hash, batch, I64(a, uses_max), I64(b, expires_at), I64(d, now)};

	return run_clear(p, S_TOKEN_ADD, 5, v, NULL);
}

static int pg_token_get(void *p, const char *hash, struct srv_token_info *out)
{
	const char *v[] = {hash};
	PGresult *res;
	int rc = run(p, S_TOKEN_GET, 1, v, &res);

	if (!rc && PQntuples(res) == 0)
		rc = -ENOENT;
	if (!rc) {
		memset(out, 0, sizeof(*out));
		out->id = col_i64(res, 0, 0);
		copy_col(res, 0, 1, out->batch, sizeof(out->batch));
		out->uses = col_i64(res, 0, 2);
		out->uses_max = col_i64(res, 0, 3);
		out->expires_at = col_i64(res, 0, 4);
		out->revoked = col_bool(res, 0, 5);
	}
	PQclear(res);
	return rc;
}

static int pg_token_use(void *p, const char *hash, int64_t now)
{
	char a[24];
	const char *v[] = {hash, I64(a, now)};
	int rows = 0;
	int rc = run_clear(p, S_TOKEN_USE, 2, v, &rows);

	return rc ?: rows == 1 ? 0 : -EACCES;
}

static int pg_token_revoke_batch(void *p, const char *batch, int64_t *n)
{
	const char *v[] = {batch};
	int rows = 0;
	int rc = run_clear(p, S_TOKEN_REVOKE, 1, v, &rows);

	*n = rows;
	return rc ?: rows ? 0 : -ENOENT;
}

static int device_row(const PGresult *res, int row, struct srv_device *d)
{
	memset(d, 0, sizeof(*d));
	copy_col(res, row, 0, d->id, sizeof(d->id));
	copy_col(res, row, 1, d->pubkey_sha256, sizeof(d->pubkey_sha256));
	copy_col(res, row, 2, d->board, sizeof(d->board));
	copy_col(res, row, 3, d->model, sizeof(d->model));
	copy_col(res, row, 4, d->firmware, sizeof(d->firmware));
	copy_col(res, row, 5, d->platform, sizeof(d->platform));
	copy_col(res, row, 6, d->batch, sizeof(d->batch));
	d->sensors_json = strdup(PQgetisnull(res, row, 7) ? "[]" : PQgetvalue(res, row, 7));
	d->cert_pem = strdup(PQgetisnull(res, row, 8) ? "" : PQgetvalue(res, row, 8));
	d->not_after = col_i64(res, row, 9);
	d->created_at = col_i64(res, row, 10);
	d->updated_at = col_i64(res, row, 11);
	d->revoked = col_bool(res, row, 12);
	if (!d->sensors_json || !d->cert_pem) {
		srv_device_clear(d);
		return -ENOMEM;
	}
	return 0;
}

static int pg_device_get(void *p, const char *id, struct srv_device *out)
{
	const char *v[] = {id};
	PGresult *res;
	int rc = run(p, S_DEV_GET, 1, v, &res);

	if (!rc)
		rc = PQntuples(res) == 1 ? device_row(res, 0, out) : -ENOENT;
	PQclear(res);
	return rc;
}

static int pg_device_insert(void *p, const struct srv_device *d)
{
	char a[24], b[24], e[24];
	const char *v[] = {d->id,
			   d->pubkey_sha256,
			   d->board,
			   d->model,
			   d->firmware,
			   d->platform,
			   d->batch,
			   d->sensors_json ? d->sensors_json : "[]",
			   d->cert_pem,
			   I64(a, d->not_after),
			   I64(b, d->created_at),
			   I64(e, d->updated_at)};
	int rows = 0;
	int rc = run_clear(p, S_DEV_INSERT, 12, v, &rows);

	return rc ?: rows == 1 ? 0 : -EEXIST;
}

static int pg_device_renew(void *p, const char *id, const char *pubkey, const char *cert_pem,
			   int64_t not_after, int64_t now)
{
	char a[24], b[24];
	const char *v[] = {id, pubkey, cert_pem, I64(a, not_after), I64(b, now)};
	PGresult *res;
	int rows = 0;
	int rc = run_clear(p, S_DEV_RENEW, 5, v, &rows);

	if (rc || rows == 1)
		return rc;
	/* Nothing updated: unknown or revoked (revocation is final). */
	rc = run(p, S_DEV_STATE, 1, v, &res);
	if (!rc)
		rc = PQntuples(res) == 1 ? -EACCES : -ENOENT;
	PQclear(res);
	return rc;
}

static int pg_device_revoke(void *p, const char *id, int64_t now)
{
	char a[24];
	const char *v[] = {id, I64(a, now)};
	int rows = 0;
	int rc = run_clear(p, S_DEV_REVOKE, 2, v, &rows);

	return rc ?: rows == 1 ? 0 : -ENOENT;
}

static int pg_device_each(void *p, void (*fn)(const struct srv_device *d, void *arg), void *arg)
{
	PGresult *res;
	int rc = run(p, S_DEV_ALL, 0, NULL, &res);

	for (int i = 0; !rc && i < PQntuples(res); i++) {
		struct srv_device d;

		rc = device_row(res, i, &d);
		if (!rc) {
			fn(&d, arg);
			srv_device_clear(&d);
		}
	}
	PQclear(res);
	return rc;
}

static int pg_device_count(void *p, int64_t *count)
{
	PGresult *res;
	int rc = run(p, S_DEV_COUNT, 0, NULL, &res);

	if (!rc)
		*count = col_i64(res, 0, 0);
	PQclear(res);
	return rc;
}

static int pg_platform_get(void *p, const char *name, struct srv_platform *out)
{
	const char *v[] = {name};
	PGresult *res;
	int rc = run(p, S_PLAT_GET, 1, v, &res);

	if (!rc && PQntuples(res) == 0)
		rc = -ENOENT;
	if (!rc) {
		memset(out, 0, sizeof(*out));
		copy_col(res, 0, 0, out->name, sizeof(out->name));
		copy_col(res, 0, 1, out->claim, sizeof(out->claim));
		out->created_at = col_i64(res, 0, 2);
		out->k8s_done = col_bool(res, 0, 3);
	}
	PQclear(res);
	return rc;
}

static int pg_platform_insert(void *p, const char *name, const char *claim, const char *yaml,
			      int64_t created_at)
{
	char a[24];
	const char *v[] = {name, claim, yaml, I64(a, created_at)};
	int rows = 0;
	int rc = run_clear(p, S_PLAT_INSERT, 4, v, &rows);

	return rc ?: rows == 1 ? 0 : -EEXIST;
}

static int pg_platform_lease(void *p, const char *name, int64_t now, int64_t until, char **yaml_out)
{
	char a[24], b[24];
	const char *v[] = {name, I64(a, now), I64(b, until)};
	PGresult *res;
	int rc = run(p, S_PLAT_LEASE, 3, v, &res);

	if (!rc && PQntuples(res) == 0)
		rc = -EALREADY;
	if (!rc) {
		*yaml_out = strdup(PQgetvalue(res, 0, 0));
		rc = *yaml_out ? 0 : -ENOMEM;
	}
	PQclear(res);
	return rc;
}

static int pg_platform_finish(void *p, const char *name, bool done)
{
	const char *v[] = {name, done ? "true" : "false"};

	return run_clear(p, S_PLAT_FINISH, 2, v, NULL);
}

const struct srv_reg_ops srv_reg_pg_ops = {
    .name = "postgresql",
    .embedded = false,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .errmsg = pg_errmsg,
    .schema_version = pg_schema_version,
    .migrate = pg_migrate,
    .prepare = pg_prepare,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .token_add = pg_token_add,
    .token_get = pg_token_get,
    .token_use = pg_token_use,
    .token_revoke_batch = pg_token_revoke_batch,
    .device_get = pg_device_get,
    .device_insert = pg_device_insert,
    .device_renew = pg_device_renew,
    .device_revoke = pg_device_revoke,
    .device_each = pg_device_each,
    .device_count = pg_device_count,
    .platform_get = pg_platform_get,
    .platform_insert = pg_platform_insert,
    .platform_lease = pg_platform_lease,
    .platform_finish = pg_platform_finish,
};
