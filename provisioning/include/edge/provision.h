/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROVISION_H
#define EDGE_PROVISION_H
/*
 * The agent's provisioning client (DESIGN 5.3): registers the device with the
 * provisioning API when state_dir holds no device certificate yet, and renews
 * the certificate before it expires. Non-blocking: HTTP runs on the agent's
 * edge_loop through libcurl's multi-socket interface, so sampling goes on
 * while a registration is in flight. The library never logs; every outcome
 * reaches the caller's callback.
 *
 * Files in state_dir (written with atomic replaces):
 *   device.crt        the issued certificate (0644)
 *   ca.crt            CA chain: the fleet CA (+ the broker's CA) (0644)
 *   provisioning.json deviceId, mqtt {host, port}, topics, realtimePlatform,
 *                     notAfter, key/cert/ca paths (0644)
 *   device.key        the key, when the config names none (0600, generated)
 *
 * Retries: network errors, 5xx, 408 and 429 retry with full-jitter backoff;
 * any other 4xx stops (EDGE_PROV_FAILED) without retrying.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge_loop;
struct edge_prov_client;

struct edge_prov_config {
	const char *url;	      /* https://host:port (no trailing /v1) */
	const char *ca_file;	      /* CA that verifies the provisioning server */
	const char *claim_token_file; /* the factory's claim token */
	const char *key_file;	      /* device key; NULL: <state_dir>/device.key; or a
					 pkcs11: URI (the key stays in the token) */
	const char *pkcs11_module;    /* for a URI key; NULL: p11-kit's proxy */
	const char *pin_file;	      /* for a URI key without pin-source; NULL: none */
	bool generate_key;	      /* create key_file when missing (always when key_file NULL) */
	const char *cert_file;	      /* issued certificate; NULL: <state_dir>/device.crt */
	const char *csr_file;	      /* optional factory CSR; NULL: made from the key */
	const char *device_id;	      /* serial = certificate CN */
	const char *board, *model, *firmware;
	const char *realtime_platform; /* e.g. "health-data"; NULL: none */
	const char *const *sensors;    /* sensor names reported at registration */
	size_t n_sensors;
	double renew_before_days; /* renew when the certificate expires sooner; 0: 30 */
	uint32_t retry_base_ms;	  /* 0: 1000 */
	uint32_t retry_cap_ms;	  /* 0: 300000 */
	uint32_t timeout_ms;	  /* per request; 0: 30000 */
};

enum edge_prov_event {
	EDGE_PROV_REGISTERED,	/* device.crt written (first registration) */
	EDGE_PROV_RENEWED,	/* device.crt replaced by a renewed one: reconnect */
	EDGE_PROV_RETRYING,	/* transient failure; retry_in_ms later */
	EDGE_PROV_FAILED,	/* registration refused (4xx) or impossible: stopped */
	EDGE_PROV_RENEW_FAILED, /* renewal refused; the current certificate stays */
};

struct edge_prov_result {
	enum edge_prov_event event;
	int err;	     /* 0 or a negative errno */
	long http_status;    /* 0 when no HTTP answer */
	const char *message; /* server's "error" or a local reason; borrowed */
	uint32_t retry_in_ms;
	/* Valid for REGISTERED / RENEWED (borrowed for the callback): */
	const char *device_id;
	const char *cert_file, *key_file, *ca_file;
	const char *mqtt_host;
	int mqtt_port;
	int64_t not_after;
	bool platform_claim_created;
};

/* Called on the loop thread. The client must not be freed from inside. */
typedef void (*edge_prov_done_cb)(const struct edge_prov_result *res, void *arg);

/* Copies cfg and state_dir. loop is borrowed and must outlive the client.
 * *out: caller frees with edge_prov_client_free(). */
int edge_prov_client_new(struct edge_loop *loop, const struct edge_prov_config *cfg,
			 const char *state_dir, edge_prov_done_cb cb, void *arg,
			 struct edge_prov_client **out);
/* Registers when edge_prov_need_registration(), otherwise arms the renewal
 * timer. Returns at once; outcomes arrive through the callback. */
int edge_prov_client_start(struct edge_prov_client *c);
/* Renews now (e.g. from a command), whatever the expiry. */
int edge_prov_client_renew_now(struct edge_prov_client *c);
/* Cancels transfers and timers. NULL is a no-op. */
void edge_prov_client_free(struct edge_prov_client *c);

/* True when state_dir has no device certificate + provisioning.json yet
 * (default certificate path). */
bool edge_prov_need_registration(const char *state_dir);
/* notAfter (epoch seconds) of the certificate in a PEM file. */
int edge_prov_cert_expiry(const char *path, int64_t *not_after);

/* What a registration left in state_dir, for the agent's MQTT settings. */
struct edge_prov_state {
	char device_id[65];
	char mqtt_host[256];
	int mqtt_port;
	char cert_file[4096], key_file[4096], ca_file[4096];
	int64_t not_after;
};
int edge_prov_state_load(const char *state_dir, struct edge_prov_state *st);

/* ---- response parsing (exposed for tests and fuzzing) ---- */
struct edge_prov_response {
	char *device_id, *certificate, *ca_chain, *mqtt_host;
	int mqtt_port;
	char *topics_json; /* compact JSON object or NULL */
	char *platform_name, *platform_claim;
	bool platform_created;
	int64_t not_after;
};
/* Parses a 200/201 body. -EINVAL (with *why set to a static reason) when a
 * field is missing or malformed. Free with edge_prov_response_clear(). */
int edge_prov_parse_response(const char *body, size_t len, struct edge_prov_response *out,
			     const char **why);
void edge_prov_response_clear(struct edge_prov_response *r);
/* The "error" string of an error body into buf ("" when none). */
void edge_prov_parse_error(const char *body, size_t len, char *buf, size_t cap);

#endif
