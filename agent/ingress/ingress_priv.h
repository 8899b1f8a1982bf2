/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_INGRESS_PRIV_H
#define EDGE_INGRESS_PRIV_H
/*
 * Private to agent/ingress: the state shared by ingress.c (lifecycle, loop,
 * keys, status), handler.c (POST /v1/readings) and guard.c (the session
 * table, handshake caps, same-port reboots).
 */
#include <coap3/coap.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/ingress.h"
#include "agent/ingress_cache.h"
#include "agent/node_keys.h"
#include "agent/record.h"
#include "agent/senml.h"
#include "edge/backoff.h"
#include "edge/log.h"

#define MOD "ingress"

#define BODY_MAX	   1024 /* one message */
#define BODY_BLOCK_MAX	   2048 /* with Block1 */
#define STORE_RETRY_S	   30	/* Max-Age of a 5.03 */
#define TICK_MS		   200
#define PERNODE_STATUS_MAX 256
#define PAYLOAD_MAX	   384 /* a reading or a HealthData record */
/* One COMMIT for the packs of one wake-up (handler.c, "the batch"): at most
 * this many packs, and messages for two full packs. */
#define BATCH_PACKS 16
#define BATCH_MSGS  (2 * (EDGE_SENML_MAX_RECORDS + 1))

/* What the configuration says (copied: the config may change under us). */
struct ingress_settings {
	bool enabled;
	char address[64];
	uint16_t port;
	char plain_address[64];
	uint16_t plain_port;
	char keys_file[EDGE_PATH_MAX];
	uint32_t max_age_s, freshness_ms, rate_per_min, burst;
	uint32_t max_sessions, max_handshakes, handshake_timeout_ms, session_timeout_s;
	bool pki_enabled; /* ingress.coap.pki: certificates beside PSK */
	char pki_ca_file[EDGE_PATH_MAX], pki_cert_file[EDGE_PATH_MAX], pki_key_file[EDGE_PATH_MAX];
	char topic_sensor[128], topic_data[128];
	bool static_location;
	double latitude, longitude;
};

/* Per-node state a node gets at its first request. */
struct node_live {
	struct edge_token_bucket bucket;
	struct edge_mid_cache cache;
	struct edge_record_builder builder;
	struct edge_seen_ring seen[EDGE_VITAL__COUNT];
	/* a Block1 upload in progress (one per node) */
	uint8_t *blk;
	size_t blk_len;
	uint32_t blk_next;
	uint8_t blk_szx;
	uint16_t blk_fmt;
	uint64_t blk_peer, blk_at_ms;
	bool pending; /* a pack of this node waits in the batch */
};

/* One node of the keys file; counters survive reloads (matched by id). */
struct node {
	char id[EDGE_NODE_ID_MAX + 1];
	bool revoked;
	uint64_t last_seen_ms; /* wall clock of the last request */
	uint64_t accepted, readings, refused, rate_limited, duplicates;
	uint64_t records, records_incomplete, handshakes;
	uint8_t last_refusal; /* CoAP code, 0 = none */
	struct node_live *live;
};

enum sess_state { SESS_HELLO, SESS_ESTABLISHED };

/* One DTLS peer as libcoap's events describe it. Addresses, not session
 * pointers: libcoap frees some sessions without an event, so a session is
 * looked up again (coap_session_get_by_peer) whenever it is acted on. */
struct sess {
	coap_address_t addr;
	int ifindex;
	enum sess_state st;
	uint64_t created_ms, last_ms;
	char node[EDGE_NODE_ID_MAX + 1];
};

struct ingress_stats {
	uint64_t accepted, readings, refused, rate_limited, duplicates, duplicate_readings;
	uint64_t records, records_incomplete;
	uint64_t by_code[32]; /* refusals by code, indexed by code_slot() */
	uint64_t handshakes, handshake_errors, unknown_identity, handshake_timeouts;
	uint64_t evicted_handshakes, evicted_idle, reassociations;
	uint64_t keys_reloads, keys_errors, store_errors;
	uint64_t pki_bad_cn; /* certificates whose CN is no node id */
};

/* PKI mode (pki.c): the PEM files as read and checked, at the start of the
 * context and again at each reload. */
struct x509_store_st; /* OpenSSL's X509_STORE; only pki.c includes OpenSSL */
struct ingress_pki_files {
	uint8_t *ca, *cert, *key; /* NUL-terminated PEM */
	size_t ca_len, cert_len, key_len;
	struct x509_store_st *trust; /* the certificates of ca, the only ones trusted */
};
struct ingress_pki {
	bool on; /* the context takes certificates */
	struct ingress_pki_files files;
	uint8_t dummy_psk[32]; /* see ingress_pki_prepare() */
	char error[320];       /* the last load of the files failed: why ("" = none) */
};

/* Endpoints a reload (or the start) asked for but could not bind (address
 * in use, address not there yet): the running endpoints stay and these are
 * tried again with backoff, reported in the status and by edgectl nodes. */
struct ingress_rebind {
	bool pending;
	struct ingress_settings want; /* the whole wanted settings */
	char error[160];	      /* why the last attempt failed */
	uint32_t attempts;
	uint64_t next_wall_ms; /* when the next attempt runs (status) */
	struct edge_backoff backoff;
	struct edge_timer *timer; /* one-shot, re-armed per attempt */
};

/* A pack in the batch: its messages are the batch's [first_msg, +n_msgs),
 * its new readings batch_rd[first_rd, +n_rd); answered after the COMMIT. */
struct pending_pack {
	coap_session_t *s; /* referenced until answered; NULL: the handler answers */
	struct node *n;
	struct node_live *l;
	uint64_t peer;
	uint16_t mid;
	uint8_t tok[8], toklen;
	struct edge_coap_answer a; /* 2.04 (and Block1), unless the COMMIT fails */
	struct edge_record_builder next;
	size_t first_rd, n_rd, n_msgs;
	bool built;
};

struct edge_ingress {
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_ingress_hooks hooks;
	struct ingress_settings set;
	coap_context_t *ctx;
	int coap_fd; /* libcoap's epoll fd, in our loop */
	int dtls_fd; /* the coaps:// socket (peeked), -1 when unknown */
	struct edge_timer *timer;
	struct edge_node_keys keys;
	coap_bin_const_t psk_out; /* what the PSK callback hands libcoap */
	struct node **nodes;	  /* sorted by id, one per key */
	size_t n_nodes;
	struct sess *sess;
	size_t n_sess, cap_sess;
	uint64_t validate_ms; /* last check of the table against libcoap */
	struct ingress_stats st;
	struct ingress_rebind rebind;
	struct ingress_pki pki;
	char keys_error[256];
	struct edge_ratelimit rl_refuse, rl_hs, rl_store, rl_lib;
	/* scratch for one pack (too big for the stack of a handler) */
	struct edge_senml_pack pack;
	struct edge_senml_reading rd[EDGE_SENML_MAX_RECORDS];
	/* the batch: packs decoded, their answers held until one COMMIT */
	struct edge_store_msg msgs[BATCH_MSGS];
	char topics[BATCH_MSGS][160];
	char payloads[BATCH_MSGS][PAYLOAD_MAX];
	struct edge_senml_reading batch_rd[BATCH_MSGS];
	struct pending_pack pend[BATCH_PACKS];
	size_t n_pend, n_msgs, n_batch_rd;
	uint64_t batches, batched_packs; /* COMMITs of held packs, and those packs */
};

/* ingress.c */
struct node *ingress_node_find(struct edge_ingress *in, const char *id, size_t len);
int ingress_settings_from(struct ingress_settings *s, const struct edge_config *cfg);
uint64_t ingress_peer_hash(const coap_address_t *a);
bool ingress_addr_loopback(const coap_address_t *a);
void ingress_addr_str(const coap_address_t *a, char *out, size_t outlen);

/* handler.c */
void ingress_handle_post(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
			 const coap_string_t *query, coap_pdu_t *resp);
void ingress_handle_other(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
			  const coap_string_t *query, coap_pdu_t *resp);
int code_slot(uint8_t code);
/* Commits the batch and sends its held answers (2.04, or 5.03 when the
 * COMMIT fails). The loop calls it after each round of coap_io_process();
 * nothing stays held across loop iterations. */
void ingress_batch_flush(struct edge_ingress *in);

/* pki.c */
/* Fills spsk's default key, which libcoap needs to tell PSK from
 * certificate handshakes once certificates are on (now or at a reload):
 * call it before coap_context_set_psk2() whenever ingress.coap.pki is set. */
int ingress_pki_prepare(struct edge_ingress *in, coap_dtls_spsk_t *spsk);
/* Reads and checks the PEM files of in->set (ingress.coap.pki.*) and puts
 * them on the running context for the handshakes to come (at the start and
 * at each reload). Established certificate sessions that the new CA file
 * would refuse are closed; the others and PSK sessions stay. On failure
 * nothing changes (the running files stay, or PKI stays off) and the reason
 * is in err and in->pki.error. 0 when PKI is not configured or no context
 * runs. Logs only what it did, never the error (the caller says it). */
int ingress_pki_reload(struct edge_ingress *in, char *err, size_t errlen);
/* Frees the files; only once no context points at them. */
void ingress_pki_free(struct ingress_pki *p);
/* The node a DTLS session authenticated: its PSK identity, or the CN of its
 * verified client certificate; NULL when neither names a node of the keys
 * file. Not for plain CoAP. */
struct node *ingress_session_node(struct edge_ingress *in, coap_session_t *s);

/* guard.c */
int ingress_guard_event(struct edge_ingress *in, coap_session_t *s, coap_event_t ev);
/* Looks at the next datagram of the coaps:// socket before libcoap reads it;
 * returns true when one is waiting. */
bool ingress_guard_inspect(struct edge_ingress *in);
void ingress_guard_sweep(struct edge_ingress *in, uint64_t now);
struct sess *ingress_sess_find(struct edge_ingress *in, const coap_address_t *a);
size_t ingress_sess_count(const struct edge_ingress *in, enum sess_state st);
/* Closes the sessions of a node (key changed or removed). */
void ingress_sess_close_node(struct edge_ingress *in, const char *node);
/* Closes the established sessions for which refuse(s, arg) is true; returns
 * how many. */
size_t ingress_sess_close_if(struct edge_ingress *in, bool (*refuse)(coap_session_t *s, void *arg),
			     void *arg);
int ingress_guard_find_socket(struct edge_ingress *in);
void ingress_guard_reset(struct edge_ingress *in);

#endif
