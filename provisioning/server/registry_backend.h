/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROVSRV_REGISTRY_BACKEND_H
#define EDGE_PROVSRV_REGISTRY_BACKEND_H
/*
 * What a registry backend provides (registry.c drives it; nothing else sees
 * it). A connection (void *) is used by one thread at a time. Every function
 * returns 0 or a negative errno translated from the backend's own code, with
 * the backend's message kept for errmsg(). Statements run in autocommit
 * unless the caller opened a transaction with begin().
 */
#include "registry.h"

/* The statements every backend prepares once per connection, each in its
 * own dialect (sql[] in registry_sqlite.c and registry_pg.c); the column
 * order of a device row is the same in both. */
enum reg_stmt {
	S_TOKEN_ADD,
	S_TOKEN_GET,
	S_TOKEN_USE,
	S_TOKEN_REVOKE,
	S_DEV_GET,
	S_DEV_INSERT,
	S_DEV_RENEW,
	S_DEV_STATE,
	S_DEV_REVOKE,
	S_DEV_ALL,
	S_DEV_COUNT,
	S_PLAT_GET,
	S_PLAT_INSERT,
	S_PLAT_LEASE,
	S_PLAT_FINISH,
	S__SHARED
};

#define REG_DEVICE_COLS                                                                            \
	"id, pubkey_sha256, board, model, firmware, platform, batch, sensors, cert_pem,"           \
	" not_after, created_at, updated_at, revoked"

struct srv_reg_ops {
	const char *name;
	/* The database is a file of this process (SQLite): the first
	 * connection creates or upgrades the schema itself, and a registry
	 * that cannot be opened fails at once even when lazy. */
	bool embedded;

	/* A raw connection: no schema check, no prepared statements yet.
	 * *conn is freed with disconnect() (also after a failed connect,
	 * when set). */
	int (*connect)(const char *url, void **conn, char *err, size_t errlen);
	void (*disconnect)(void *conn);
	const char *(*errmsg)(void *conn);
	/* 0 when the schema has never been created. */
	int (*schema_version)(void *conn, int *version);
	/* Up to SRV_REG_SCHEMA in one transaction; *from: the version before. */
	int (*migrate)(void *conn, int *from);
	/* Prepares the statement table; needs the current schema. */
	int (*prepare)(void *conn);

	int (*begin)(void *conn);
	int (*commit)(void *conn);
	void (*rollback)(void *conn);

	int (*token_add)(void *conn, const char *hash, const char *batch, int64_t uses_max,
			 int64_t expires_at, int64_t now);
	int (*token_get)(void *conn, const char *hash, struct srv_token_info *out);
	/* Conditional UPDATE ... WHERE uses < uses_max ... RETURNING: -EACCES
	 * when no use could be taken. */
	int (*token_use)(void *conn, const char *hash, int64_t now);
	int (*token_revoke_batch)(void *conn, const char *batch, int64_t *n);

	int (*device_get)(void *conn, const char *id, struct srv_device *out);
	/* Insert if absent: -EEXIST when the id is taken (by a committed or a
	 * concurrent transaction, which the database waits for). */
	int (*device_insert)(void *conn, const struct srv_device *d);
	/* -ENOENT unknown, -EACCES revoked. */
	int (*device_renew)(void *conn, const char *id, const char *pubkey, const char *cert_pem,
			    int64_t not_after, int64_t now);
	int (*device_revoke)(void *conn, const char *id, int64_t now);
	int (*device_each)(void *conn, void (*fn)(const struct srv_device *d, void *arg),
			   void *arg);
	int (*device_count)(void *conn, int64_t *count);

	int (*platform_get)(void *conn, const char *name, struct srv_platform *out);
	/* Insert if absent: -EEXIST when present. */
	int (*platform_insert)(void *conn, const char *name, const char *claim, const char *yaml,
			       int64_t created_at);
	/* -EALREADY when done or leased until after now. */
	int (*platform_lease)(void *conn, const char *name, int64_t now, int64_t until,
			      char **yaml_out);
	int (*platform_finish)(void *conn, const char *name, bool done);
};

extern const struct srv_reg_ops srv_reg_sqlite_ops;
extern const struct srv_reg_ops srv_reg_pg_ops;

#endif
