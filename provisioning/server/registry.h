/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROVSRV_REGISTRY_H
#define EDGE_PROVSRV_REGISTRY_H
/*
 * The device registry of edge-provisiond: one interface, two backends chosen
 * by the URL (registry_sqlite.c: a file path or "sqlite:PATH", the embedded
 * default; registry_pg.c: "postgresql://..." / "postgres://...", libpq).
 * Callers never learn which backend runs.
 *
 * Every invariant is decided by the database, not by a lock in this process,
 * so it holds across threads, processes and replicas:
 *   - one claim per platform: platforms.name is the primary key and the claim
 *     row is inserted if absent; only the inserting transaction emits it;
 *   - a claim token never over-issued: one conditional UPDATE takes a use
 *     (uses < uses_max, not expired, not revoked);
 *   - a device is registered at most once: devices.id is the primary key,
 *     inserted if absent; the loser of a race restarts and sees the winner;
 *   - one transaction per registration (token use + device + claim row), so
 *     a lost connection never leaves a half-registered device;
 *   - revocation: renewal is a conditional UPDATE (... AND NOT revoked).
 *
 * Threads: a registry is a small pool of connections (libpq connections are
 * not shared between threads; one is checked out per call and returned).
 * All functions are thread-safe. A lost connection makes every pooled
 * connection reconnect; failed connection attempts back off (jittered,
 * 100 ms .. 5 s) and, meanwhile, calls fail fast with -ENOTCONN.
 *
 * Errors are negative errno values; the backend's own code (SQLITE_*,
 * PGresult status / SQLSTATE) is translated once, in the backend, and its
 * message is kept for srv_registry_last_error(). -ENOTCONN (database
 * unreachable), -ESTALE (schema older than this binary), -EBUSY (locked or
 * pool exhausted), -ETIMEDOUT and -EAGAIN (conflicts kept losing) are
 * transient: the API answers them with 503 + Retry-After.
 * This module never logs.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version this binary reads and writes. */
#define SRV_REG_SCHEMA 2

struct srv_registry;

struct srv_registry_opts {
	unsigned connections; /* pool size; 0 = 1 */
	/* Open even when a database server cannot be reached yet (serve):
	 * calls fail with -ENOTCONN and reconnect with backoff. Otherwise, and
	 * always for SQLite, the first connection is made, and its schema
	 * checked, in open. */
	bool lazy;
};

/* Opens the registry at url. A backend that embeds its database (SQLite)
 * creates or migrates the schema on the first connection; PostgreSQL needs
 * `edge-provisiond admin migrate` first (-ESTALE otherwise). err (may be
 * NULL) receives the reason on failure. Caller frees with
 * srv_registry_close(). */
int srv_registry_open_opts(const char *url, const struct srv_registry_opts *o,
			   struct srv_registry **out, char *err, size_t errlen);
/* One connection, not lazy. */
int srv_registry_open(const char *url, struct srv_registry **out);
void srv_registry_close(struct srv_registry *r);
/* "sqlite" or "postgresql". */
const char *srv_registry_backend(const struct srv_registry *r);
/* The URL without its password, for logs. Borrowed, valid while r lives. */
const char *srv_registry_describe(const struct srv_registry *r);
/* The last backend message (connection or statement), for logs. */
void srv_registry_last_error(struct srv_registry *r, char *buf, size_t len);
/* Seconds a client should wait before retrying after a transient error. */
unsigned srv_registry_retry_after(struct srv_registry *r);

/* Creates or upgrades the schema at url to SRV_REG_SCHEMA in one transaction
 * (serialised by the database: concurrent runs are safe). *from / *to: the
 * versions before and after. */
int srv_registry_migrate(const char *url, int *from, int *to, char *err, size_t errlen);

/* Round trip to the database: 0 with the schema version, or the error
 * (-ENOTCONN, -ESTALE, ...) with its message in detail. */
int srv_registry_health(struct srv_registry *r, int *schema, char *detail, size_t len);

/* ---- claim tokens ---- */
struct srv_token_info {
	int64_t id;
	char batch[65];
	int64_t uses, uses_max, expires_at;
	bool revoked;
};

/* -EEXIST when the hash exists. */
int srv_registry_token_add(struct srv_registry *r, const char *hash, const char *batch,
			   int64_t uses_max, int64_t expires_at);
/* -ENOENT when unknown. */
int srv_registry_token_get(struct srv_registry *r, const char *hash, struct srv_token_info *out);
/* Takes one use if the token is valid at now; -EACCES when expired,
 * exhausted, revoked or unknown. (Registration does this inside its own
 * transaction; this one is for tools and tests.) */
int srv_registry_token_consume(struct srv_registry *r, const char *hash, int64_t now);
/* Revokes every token of a batch; *n: how many. -ENOENT when none. */
int srv_registry_token_revoke_batch(struct srv_registry *r, const char *batch, int64_t *n);

/* ---- devices ---- */
struct srv_device {
	char id[65];
	char pubkey_sha256[65];
	char board[65], model[129], firmware[65], platform[64], batch[65];
	char *cert_pem; /* owned, free with srv_device_clear() */
	char *sensors_json;
	int64_t not_after, created_at, updated_at;
	bool revoked;
};

void srv_device_clear(struct srv_device *d);
/* -ENOENT when unknown. out: caller clears with srv_device_clear(). */
int srv_registry_device_get(struct srv_registry *r, const char *id, struct srv_device *out);
/* Binds id to a new key and certificate unless it is revoked: -ENOENT when
 * unknown, -EACCES when revoked (decided by the UPDATE itself). */
int srv_registry_device_renew(struct srv_registry *r, const char *id, const char *pubkey_sha256,
			      const char *cert_pem, int64_t not_after, int64_t now);
/* -ENOENT when unknown. */
int srv_registry_device_revoke(struct srv_registry *r, const char *id, int64_t now);
/* Calls fn for each device ordered by id (d is valid during the call). */
int srv_registry_device_each(struct srv_registry *r,
			     void (*fn)(const struct srv_device *d, void *arg), void *arg);
int srv_registry_device_count(struct srv_registry *r, int64_t *count);

/* ---- realtime platforms (claims) ---- */
struct srv_platform {
	char name[64];
	char claim[80];
	int64_t created_at;
	bool k8s_done;
};

/* -ENOENT when unknown. */
int srv_registry_platform_get(struct srv_registry *r, const char *name, struct srv_platform *out);
/* Claims the Kubernetes POST of a platform's claim for lease_s seconds: 0
 * and *yaml_out (caller frees) when this caller must POST it now, -EALREADY
 * when it is done or another caller (any replica) holds the lease. */
int srv_registry_platform_k8s_lease(struct srv_registry *r, const char *name, int64_t now,
				    int64_t lease_s, char **yaml_out);
/* Ends the lease: done = the API server has the claim; otherwise the next
 * registration of the platform tries again. */
int srv_registry_platform_k8s_finish(struct srv_registry *r, const char *name, bool done);

/* ---- registration: one transaction ---- */
enum srv_reg_result {
	SRV_REG_NEW,		 /* stored now; one token use taken */
	SRV_REG_EXISTING,	 /* same serial, same key: the stored device */
	SRV_REG_OTHER_KEY,	 /* serial bound to another key (409) */
	SRV_REG_DEVICE_REVOKED,	 /* 403 */
	SRV_REG_TOKEN_UNKNOWN,	 /* unknown or revoked token (401) */
	SRV_REG_TOKEN_EXPIRED,	 /* 401 */
	SRV_REG_TOKEN_EXHAUSTED, /* 401 */
};

struct srv_reg_new {
	const char *token_hash;
	int64_t now;
	/* The device as it would be stored (batch is filled from the token);
	 * cert_pem may be NULL when the caller found the device already: if
	 * it vanished meanwhile the call fails with -ENOENT. Borrowed. */
	const struct srv_device *dev;
	/* The platform claim, when the device's platform has no claim row yet
	 * (called inside the transaction): claim_render fills the claim name
	 * and its YAML (*yaml: malloc'ed, the registry frees it); claim_emit
	 * is called by the one registration that inserted the row, before the
	 * commit (an error rolls everything back): it writes the GitOps file.
	 * Either may be NULL. */
	int (*claim_render)(void *arg, const char *platform, char claim[80], char **yaml);
	int (*claim_emit)(void *arg, const struct srv_platform *p, const char *yaml);
	void *claim_arg;
};

struct srv_reg_outcome {
	enum srv_reg_result result;
	struct srv_device dev;	   /* NEW / EXISTING: as stored; clear with srv_device_clear() */
	struct srv_token_info tok; /* the token as read in the transaction */
	struct srv_platform plat;  /* when dev has a platform */
	bool have_plat;
	bool claim_created; /* this registration inserted the platform's claim */
};

/* Registers in->dev with the token: the whole decision (token, device,
 * quota, claim) in one transaction; conflicts with concurrent registrations
 * (any process) are retried inside. Returns 0 with out->result, or an error
 * (nothing stored). out: caller clears out->dev. */
int srv_registry_register(struct srv_registry *r, const struct srv_reg_new *in,
			  struct srv_reg_outcome *out);

#endif
