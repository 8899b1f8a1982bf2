/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry backend: SQLite, the embedded default. One file; the pool in
 * registry.c holds a few connections to it (WAL: readers never wait; a
 * transaction starts with BEGIN IMMEDIATE, so writers queue on SQLite's
 * file lock, which also serialises the admin commands running as other
 * processes). The same conditional statements as the PostgreSQL backend
 * decide every invariant.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry_backend.h"

/* The shared statements, then this backend's own transaction control. */
enum sqlite_stmt { S_BEGIN = S__SHARED, S_COMMIT, S_ROLLBACK, S__COUNT };

static const char *const sql[S__COUNT] = {
    /* IMMEDIATE: the write lock is taken up front, so two transactions
     * never both read and then fail to upgrade (SQLITE_BUSY deadlock). */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_TOKEN_ADD] = "INSERT INTO tokens(hash, batch, uses_max, expires_at, created_at)"
		    " VALUES(?, ?, ?, ?, ?)",
    [S_TOKEN_GET] = "SELECT id, batch, uses, uses_max, expires_at, revoked FROM tokens"
		    " WHERE hash = ?",
    /* The quota: a use is taken only while one is left. */
    [S_TOKEN_USE] = "UPDATE tokens SET uses = uses + 1 WHERE hash = ? AND uses < uses_max"
		    " AND expires_at > ? AND revoked = 0 RETURNING uses",
    [S_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE batch = ?",
    [S_DEV_GET] = "SELECT " REG_DEVICE_COLS " FROM devices WHERE id = ?",
    [S_DEV_INSERT] = "INSERT INTO devices(" REG_DEVICE_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,0)"
		     " ON CONFLICT(id) DO NOTHING",
    [S_DEV_RENEW] = "UPDATE devices SET pubkey_sha256 = ?, cert_pem = ?, not_after = ?,"
		    " updated_at = ? WHERE id = ? AND revoked = 0",
    [S_DEV_STATE] = "SELECT revoked FROM devices WHERE id = ?",
    [S_DEV_REVOKE] = "UPDATE devices SET revoked = 1, updated_at = ? WHERE id = ?",
    [S_DEV_ALL] = "SELECT " REG_DEVICE_COLS " FROM devices ORDER BY id",
    [S_DEV_COUNT] = "SELECT count(*) FROM devices",
    [S_PLAT_GET] = "SELECT name, claim, created_at, k8s_done FROM platforms WHERE name = ?",
    [S_PLAT_INSERT] = "INSERT INTO platforms(name, claim, yaml, created_at) VALUES(?,?,?,?)"
		      " ON CONFLICT(name) DO NOTHING",
    [S_PLAT_LEASE] = "UPDATE platforms SET k8s_lease_until = ? WHERE name = ? AND k8s_done = 0"
		     " AND k8s_lease_until <= ? RETURNING yaml",
    [S_PLAT_FINISH] = "UPDATE platforms SET k8s_done = ?, k8s_lease_until = 0 WHERE name = ?",
};

/* migrations[v] takes the schema from v-1 to v. Version 1 is the schema
 * registries had before versions were recorded, hence IF NOT EXISTS. */
static const char *const migrations[SRV_REG_SCHEMA + 1] = {
    [1] = "CREATE TABLE IF NOT EXISTS tokens("
	  " id INTEGER PRIMARY KEY, hash TEXT UNIQUE NOT NULL, batch TEXT NOT NULL,"
	  " uses_max INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0,"
	  " expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"
	  " revoked INTEGER NOT NULL DEFAULT 0);"
	  "CREATE TABLE IF NOT EXISTS devices("
	  " id TEXT PRIMARY KEY, pubkey_sha256 TEXT NOT NULL, board TEXT, model TEXT,"
	  " firmware TEXT, platform TEXT, batch TEXT, sensors TEXT, cert_pem TEXT NOT NULL,"
	  " not_after INTEGER, created_at INTEGER, updated_at INTEGER,"
	  " revoked INTEGER NOT NULL DEFAULT 0);"
	  "CREATE TABLE IF NOT EXISTS platforms("
	  " name TEXT PRIMARY KEY, claim TEXT NOT NULL, yaml TEXT NOT NULL,"
	  " created_at INTEGER NOT NULL, k8s_done INTEGER NOT NULL DEFAULT 0);",
    /* The Kubernetes POST of a claim is leased, so that one replica makes it. */
    [2] = "ALTER TABLE platforms ADD COLUMN k8s_lease_until INTEGER NOT NULL DEFAULT 0;"
	  "CREATE INDEX IF NOT EXISTS devices_batch ON devices(batch);",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	char err[256];
};

/* The one translation of SQLite codes; the message is kept for errmsg(). */
static int xlate(struct conn *c, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	default:
		break;
	}
	snprintf(c->err, sizeof(c->err), "sqlite: %s (%d)", c->db ? sqlite3_errmsg(c->db) : "", rc);
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

static const char *path_of(const char *url)
{
	return strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
}

static void sq_disconnect(void *p)
{
	struct conn *c = p;

	if (!c)
		return;
	for (size_t i = 0; i < S__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

static int sq_connect(const char *url, void **out, char *err, size_t errlen)
{
	struct conn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	*out = c;
	/* NOMUTEX: the pool hands a connection to one thread at a time. */
	rc =
	    sqlite3_open_v2(path_of(url), &c->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(c->db, 5000);
		rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
				  NULL, NULL, NULL);
	}
	rc = xlate(c, rc);
	if (rc)
		snprintf(err, errlen, "%s: %s", path_of(url), c->err);
	return rc;
}

static const char *sq_errmsg(void *p)
{
	return ((struct conn *)p)->err;
}

static int sq_schema_version(void *p, int *version)
{
	struct conn *c = p;
	sqlite3_stmt *st;
	int rc =
	    sqlite3_prepare_v2(c->db,
			       "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table'"
			       " AND name = 'schema_version')",
			       -1, &st, NULL);

	*version = 0;
	if (rc != SQLITE_OK)
		return xlate(c, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1) {
		sqlite3_finalize(st);
		rc = sqlite3_prepare_v2(
		    c->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st, NULL);
		if (rc != SQLITE_OK)
			return xlate(c, rc);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*version = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : xlate(c, rc);
}

static int exec_sql(struct conn *c, const char *text)
{
	return xlate(c, sqlite3_exec(c->db, text, NULL, NULL, NULL));
}

static int sq_migrate(void *p, int *from)
{
	struct conn *c = p;
	char ins[96];
	int rc, v = 0;

	/* The write lock first: a concurrent migrate waits, then finds the
	 * schema current. */
	rc = exec_sql(c, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	rc = exec_sql(c, "CREATE TABLE IF NOT EXISTS schema_version("
			 "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
	rc = rc ?: sq_schema_version(c, &v);
	if (!rc)
		*from = v;
	for (v = v + 1; !rc && v <= SRV_REG_SCHEMA; v++) {
		rc = exec_sql(c, migrations[v]);
		snprintf(ins, sizeof(ins), "INSERT INTO schema_version VALUES(%d, %lld)", v,
			 (long long)time(NULL));
		rc = rc ?: exec_sql(c, ins);
	}
	rc = rc ?: exec_sql(c, "COMMIT");
	if (rc)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int sq_prepare(void *p)
{
	struct conn *c = p;

	for (size_t i = 0; i < S__COUNT; i++) {
		int rc = sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
					    NULL);

		if (rc != SQLITE_OK)
			return xlate(c, rc);
	}
	return 0;
}

/* The statement, reset and unbound, ready for binding. */
static sqlite3_stmt *stmt(struct conn *c, int s)
{
	sqlite3_reset(c->st[s]);
	sqlite3_clear_bindings(c->st[s]);
	return c->st[s];
}

/* Steps a statement that returns no row; *changes (optional). */
static int run(struct conn *c, sqlite3_stmt *st, int64_t *changes)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;
	rc = xlate(c, rc);
	if (!rc && changes)
		*changes = sqlite3_changes64(c->db);
	sqlite3_reset(st);
	return rc;
}

/* Steps a statement that returns at most one row: 1 = row, 0 = none. */
static int step_row(struct conn *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : xlate(c, rc);
}

static int sq_begin(void *p)
{
	struct conn *c = p;

	return run(c, stmt(c, S_BEGIN), NULL);
}

static int sq_commit(void *p)
{
	struct conn *c = p;

	return run(c, stmt(c, S_COMMIT), NULL);
}

static void sq_rollback(void *p)
{
	struct conn *c = p;

	if (!sqlite3_get_autocommit(c->db))
		run(c, stmt(c, S_ROLLBACK), NULL);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static int sq_token_add(void *p, const char *hash, const char *batch, int64_t uses_max,
			int64_t expires_at, int64_t now)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_TOKEN_ADD);

	bind_text(st, 1, hash);
	bind_text(st, 2, batch);
	sqlite3_bind_int64(st, 3, uses_max);
	sqlite3_bind_int64(st, 4, expires_at);
	sqlite3_bind_int64(st, 5, now);
	return run(c, st, NULL);
}

static int sq_token_get(void *p, const char *hash, struct srv_token_info *out)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_TOKEN_GET);
	int rc;

	bind_text(st, 1, hash);
	rc = step_row(c, st);
	if (rc == 1) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(st, 0);
		copy_col(st, 1, out->batch, sizeof(out->batch));
		out->uses = sqlite3_column_int64(st, 2);
		out->uses_max = sqlite3_column_int64(st, 3);
		out->expires_at = sqlite3_column_int64(st, 4);
		out->revoked = sqlite3_column_int(st, 5) != 0;
	}
	sqlite3_reset(st);
	return rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
}

static int sq_token_use(void *p, const char *hash, int64_t now)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_TOKEN_USE);
	int rc;

	bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	rc = step_row(c, st);
	sqlite3_reset(st);
	return rc == 1 ? 0 : rc == 0 ? -EACCES : rc;
}

static int sq_token_revoke_batch(void *p, const char *batch, int64_t *n)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_TOKEN_REVOKE);
	int rc;

	bind_text(st, 1, batch);
	rc = run(c, st, n);
	return rc ?: *n ? 0 : -ENOENT;
}

static int device_row(sqlite3_stmt *st, struct srv_device *d)
{
	const unsigned char *cert, *sensors;

	memset(d, 0, sizeof(*d));
	copy_col(st, 0, d->id, sizeof(d->id));
	copy_col(st, 1, d->pubkey_sha256, sizeof(d->pubkey_sha256));
	copy_col(st, 2, d->board, sizeof(d->board));
	copy_col(st, 3, d->model, sizeof(d->model));
	copy_col(st, 4, d->firmware, sizeof(d->firmware));
	copy_col(st, 5, d->platform, sizeof(d->platform));
	copy_col(st, 6, d->batch, sizeof(d->batch));
	sensors = sqlite3_column_text(st, 7);
	cert = sqlite3_column_text(st, 8);
	d->sensors_json = strdup(sensors ? (const char *)sensors : "[]");
	d->cert_pem = strdup(cert ? (const char *)cert : "");
	d->not_after = sqlite3_column_int64(st, 9);
	d->created_at = sqlite3_column_int64(st, 10);
	d->updated_at = sqlite3_column_int64(st, 11);
	d->revoked = sqlite3_column_int(st, 12) != 0;
	if (!d->sensors_json || !d->cert_pem) {
		srv_device_clear(d);
		return -ENOMEM;
	}
	return 0;
}

static int sq_device_get(void *p, const char *id, struct srv_device *out)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_DEV_GET);
	int rc;

	bind_text(st, 1, id);
	rc = step_row(c, st);
	if (rc == 1)
		rc = device_row(st, out);
	else if (rc == 0)
		rc = -ENOENT;
	sqlite3_reset(st);
	return rc;
}

static int sq_device_insert(void *p, const struct srv_device *d)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_DEV_INSERT);
	int64_t n = 0;
	int rc;

	bind_text(st, 1, d->id);
	bind_text(st, 2, d->pubkey_sha256);
	bind_text(st, 3, d->board);
	bind_text(st, 4, d->model);
	bind_text(st, 5, d->firmware);
	bind_text(st, 6, d->platform);
	bind_text(st, 7, d->batch);
	bind_text(st, 8, d->sensors_json ? d->sensors_json : "[]");
	bind_text(st, 9, d->cert_pem);
	sqlite3_bind_int64(st, 10, d->not_after);
	sqlite3_bind_int64(st, 11, d->created_at);
	sqlite3_bind_int64(st, 12, d->updated_at);
	rc = run(c, st, &n);
	return rc ?: n == 1 ? 0 : -EEXIST;
}

static int sq_device_renew(void *p, const char *id, const char *pubkey, const char *cert_pem,
			   int64_t not_after, int64_t now)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_DEV_RENEW);
	int64_t n = 0;
	int rc;

	bind_text(st, 1, pubkey);
	bind_text(st, 2, cert_pem);
	sqlite3_bind_int64(st, 3, not_after);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, id);
	rc = run(c, st, &n);
	if (rc || n == 1)
		return rc;
	/* Nothing updated: unknown or revoked (revocation is final). */
	st = stmt(c, S_DEV_STATE);
	bind_text(st, 1, id);
	rc = step_row(c, st);
	sqlite3_reset(st);
	return rc == 1 ? -EACCES : rc == 0 ? -ENOENT : rc;
}

static int sq_device_revoke(void *p, const char *id, int64_t now)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_DEV_REVOKE);
	int64_t n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, id);
	rc = run(c, st, &n);
	return rc ?: n == 1 ? 0 : -ENOENT;
}

static int sq_device_each(void *p, void (*fn)(const struct srv_device *d, void *arg), void *arg)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_DEV_ALL);
	int rc;

	while ((rc = step_row(c, st)) == 1) {
		struct srv_device d;

		rc = device_row(st, &d);
		if (rc)
			break;
		fn(&d, arg);
		srv_device_clear(&d);
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_device_count(void *p, int64_t *count)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_DEV_COUNT);
	int rc = step_row(c, st);

	if (rc == 1)
		*count = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == 1 ? 0 : rc == 0 ? -EIO : rc;
}

static int sq_platform_get(void *p, const char *name, struct srv_platform *out)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_PLAT_GET);
	int rc;

	bind_text(st, 1, name);
	rc = step_row(c, st);
	if (rc == 1) {
		memset(out, 0, sizeof(*out));
		copy_col(st, 0, out->name, sizeof(out->name));
		copy_col(st, 1, out->claim, sizeof(out->claim));
		out->created_at = sqlite3_column_int64(st, 2);
		out->k8s_done = sqlite3_column_int(st, 3) != 0;
	}
	sqlite3_reset(st);
	return rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
}

static int sq_platform_insert(void *p, const char *name, const char *claim, const char *yaml,
			      int64_t created_at)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_PLAT_INSERT);
	int64_t n = 0;
	int rc;

	bind_text(st, 1, name);
	bind_text(st, 2, claim);
	bind_text(st, 3, yaml);
	sqlite3_bind_int64(st, 4, created_at);
	rc = run(c, st, &n);
	return rc ?: n == 1 ? 0 : -EEXIST;
}

static int sq_platform_lease(void *p, const char *name, int64_t now, int64_t until, char **yaml_out)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_PLAT_LEASE);
	int rc;

	sqlite3_bind_int64(st, 1, until);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, now);
	rc = step_row(c, st);
	if (rc == 1) {
		const unsigned char *y = sqlite3_column_text(st, 0);

		*yaml_out = strdup(y ? (const char *)y : "");
		rc = *yaml_out ? 0 : -ENOMEM;
	} else if (rc == 0) {
		rc = -EALREADY;
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_platform_finish(void *p, const char *name, bool done)
{
	struct conn *c = p;
	sqlite3_stmt *st = stmt(c, S_PLAT_FINISH);

	sqlite3_bind_int(st, 1, done ? 1 : 0);
	bind_text(st, 2, name);
	return run(c, st, NULL);
}

const struct srv_reg_ops srv_reg_sqlite_ops = {
    .name = "sqlite",
    .embedded = true,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .errmsg = sq_errmsg,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .prepare = sq_prepare,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .token_add = sq_token_add,
    .token_get = sq_token_get,
    .token_use = sq_token_use,
    .token_revoke_batch = sq_token_revoke_batch,
    .device_get = sq_device_get,
    .device_insert = sq_device_insert,
    .device_renew = sq_device_renew,
    .device_revoke = sq_device_revoke,
    .device_each = sq_device_each,
    .device_count = sq_device_count,
    .platform_get = sq_platform_get,
    .platform_insert = sq_platform_insert,
    .platform_lease = sq_platform_lease,
    .platform_finish = sq_platform_finish,
};
