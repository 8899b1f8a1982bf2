/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_UPLINK_TOKEN_KEY_H
#define EDGE_UPLINK_TOKEN_KEY_H
/*
 * Mutual TLS with a key that stays in a PKCS#11 token (mqtt.tls.key_file =
 * "pkcs11:..."). libmosquitto 2.0.11 cannot take such a key itself:
 * mosquitto_tls_set() fopen()s the key "file" and answers MOSQ_ERR_INVAL for
 * a URI, and its MOSQ_OPT_TLS_ENGINE path also makes the engine the default
 * for every algorithm of the process (ENGINE_set_default(ENGINE_METHOD_ALL)).
 * So the uplink builds the SSL_CTX: the client certificate from its file and
 * the private key as an EVP_PKEY from OpenSSL's pkcs11 engine (libp11,
 * Debian's libengine-pkcs11-openssl), and hands it over with MOSQ_OPT_SSL_CTX.
 * The context is complete (CA, TLS floor, peer verification, the broker's
 * name or address checked by OpenSSL): MOSQ_OPT_SSL_CTX_WITH_DEFAULTS cannot
 * be used with 2.0.11, whose host name callback then fails every handshake
 * ("certificate verify failed": its SSL ex-data index is only created when
 * libmosquitto makes the context itself). The engine signs in the token
 * during the handshake; the key is never read out.
 */
#include <openssl/ssl.h>

#include "agent/config.h"

struct edge_token_key;

/* A fresh engine instance (module and PIN from the config, read now), the
 * key loaded from it and an SSL_CTX holding certificate and key. Each
 * connection attempt makes its own, so a token that was missing is found
 * once it is back (a module sees new tokens only after C_Initialize).
 * *ctx: the caller passes it to libmosquitto and drops its own reference
 * with SSL_CTX_free(). *out lives as long as any SSL made from *ctx:
 * caller frees with edge_token_key_free() after mosquitto_destroy().
 * On failure why holds one line naming the key and the token. */
int edge_token_key_load(const struct edge_config *cfg, struct edge_token_key **out, SSL_CTX **ctx,
			char *why, size_t whylen);
/* NULL is a no-op. */
void edge_token_key_free(struct edge_token_key *k);

#endif
