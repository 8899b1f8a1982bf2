/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/* One connection; the service serialises access with its own lock, SQLite
 * runs in serialized mode underneath and the admin commands are other
 * processes (WAL + busy timeout). */
struct srv_registry {
	sqlite3 *db;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS tokens("
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
    " created_at INTEGER NOT NULL, k8s_done INTEGER NOT NULL DEFAULT 0);";

static int xlate(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
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
	default:
		return -EIO;
	}
}

int srv_registry_open(const char *path, struct srv_registry **out)
{
	struct srv_registry *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	rc = sqlite3_open_v2(
	    path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto err;
	sqlite3_busy_timeout(r->db, 5000);
	rc = sqlite3_exec(r->db, schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto err;
	*out = r;
	return 0;
err:
	sqlite3_close(r->db);
	free(r);
	return xlate(rc);
}

void srv_registry_close(struct srv_registry *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	free(r);
}

int srv_registry_begin(struct srv_registry *r)
{
	return xlate(sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
}

int srv_registry_commit(struct srv_registry *r)
{
	return xlate(sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL));
}

void srv_registry_rollback(struct srv_registry *r)
{
	sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prep(struct srv_registry *r, const char *sql, sqlite3_stmt **st)
{
	return xlate(sqlite3_prepare_v2(r->db, sql, -1, st, NULL));
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int srv_registry_token_add(struct srv_registry *r, const char *hash, const char *batch,
			   int64_t uses_max, int64_t expires_at)
{
	sqlite3_stmt *st;
	int rc = prep(r,
		      "INSERT INTO tokens(hash, batch, uses_max, expires_at, created_at)"
		      " VALUES(?, ?, ?, ?, strftime('%s','now'))",
		      &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, batch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uses_max);
	sqlite3_bind_int64(st, 4, expires_at);
	rc = xlate(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_token_get(struct srv_registry *r, const char *hash, struct srv_token_info *out)
{
	sqlite3_stmt *st;
	int rc = prep(r,
		      "SELECT id, batch, uses, uses_max, expires_at, revoked FROM tokens"
		      " WHERE hash = ?",
		      &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		copy_col(st, 1, out->batch, sizeof(out->batch));
		out->uses = sqlite3_column_int64(st, 2);
		out->uses_max = sqlite3_column_int64(st, 3);
		out->expires_at = sqlite3_column_int64(st, 4);
		out->revoked = sqlite3_column_int(st, 5) != 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : xlate(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_token_consume(struct srv_registry *r, const char *hash, int64_t now)
{
	sqlite3_stmt *st;
	int rc = prep(r,
		      "UPDATE tokens SET uses = uses + 1 WHERE hash = ? AND uses < uses_max"
		      " AND expires_at > ? AND revoked = 0",
		      &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = xlate(sqlite3_step(st));
	sqlite3_finalize(st);
	if (!rc && sqlite3_changes(r->db) != 1)
		rc = -EACCES;
	return rc;
}

void srv_device_clear(struct srv_device *d)
{
	free(d->cert_pem);
	free(d->sensors_json);
	memset(d, 0, sizeof(*d));
}

#define DEVICE_COLS                                                                                \
	"id, pubkey_sha256, board, model, firmware, platform, batch, sensors, cert_pem,"           \
	" not_after, created_at, updated_at, revoked"

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

int srv_registry_device_get(struct srv_registry *r, const char *id, struct srv_device *out)
{
	sqlite3_stmt *st;
	int rc = prep(r, "SELECT " DEVICE_COLS " FROM devices WHERE id = ?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = device_row(st, out);
	else
		rc = rc == SQLITE_DONE ? -ENOENT : xlate(rc);
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_device_put(struct srv_registry *r, const struct srv_device *d)
{
	sqlite3_stmt *st;
	int rc = prep(
	    r, "INSERT OR REPLACE INTO devices(" DEVICE_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
	    &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->pubkey_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->board, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->firmware, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->platform, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, d->batch, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, d->sensors_json ? d->sensors_json : "[]", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, d->cert_pem, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, d->not_after);
	sqlite3_bind_int64(st, 11, d->created_at);
	sqlite3_bind_int64(st, 12, d->updated_at);
	sqlite3_bind_int(st, 13, d->revoked ? 1 : 0);
	rc = xlate(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_device_revoke(struct srv_registry *r, const char *id)
{
	sqlite3_stmt *st;
	int rc = prep(r,
		      "UPDATE devices SET revoked = 1, updated_at = strftime('%s','now')"
		      " WHERE id = ?",
		      &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = xlate(sqlite3_step(st));
	sqlite3_finalize(st);
	if (!rc && sqlite3_changes(r->db) != 1)
		rc = -ENOENT;
	return rc;
}

int srv_registry_device_each(struct srv_registry *r,
			     void (*fn)(const struct srv_device *d, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int rc = prep(r, "SELECT " DEVICE_COLS " FROM devices ORDER BY id", &st);

	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct srv_device d;

		if (device_row(st, &d) == 0) {
			fn(&d, arg);
			srv_device_clear(&d);
		}
	}
	rc = xlate(rc);
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_device_count(struct srv_registry *r, int64_t *count)
{
	sqlite3_stmt *st;
	int rc = prep(r, "SELECT count(*) FROM devices", &st);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	rc = xlate(rc);
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_platform_get(struct srv_registry *r, const char *name, struct srv_platform *out)
{
	sqlite3_stmt *st;
	int rc =
	    prep(r, "SELECT name, claim, created_at, k8s_done FROM platforms WHERE name = ?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_col(st, 0, out->name, sizeof(out->name));
		copy_col(st, 1, out->claim, sizeof(out->claim));
		out->created_at = sqlite3_column_int64(st, 2);
		out->k8s_done = sqlite3_column_int(st, 3) != 0;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : xlate(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_platform_add(struct srv_registry *r, const char *name, const char *claim,
			      const char *yaml, int64_t created_at)
{
	sqlite3_stmt *st;
	int rc =
	    prep(r, "INSERT INTO platforms(name, claim, yaml, created_at) VALUES(?,?,?,?)", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, claim, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, yaml, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, created_at);
	rc = xlate(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_platform_k8s_done(struct srv_registry *r, const char *name)
{
	sqlite3_stmt *st;
	int rc = prep(r, "UPDATE platforms SET k8s_done = 1 WHERE name = ?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = xlate(sqlite3_step(st));
	sqlite3_finalize(st);
	return rc;
}

int srv_registry_platform_yaml(struct srv_registry *r, const char *name, char **yaml_out)
{
	sqlite3_stmt *st;
	int rc = prep(r, "SELECT yaml FROM platforms WHERE name = ?", &st);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*yaml_out = strdup((const char *)sqlite3_column_text(st, 0));
		rc = *yaml_out ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : xlate(rc);
	}
	sqlite3_finalize(st);
	return rc;
}
