/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_JWS_H
#define EDGE_AGENT_JWS_H
/*
 * JWS compact serialization, ES256 only (ECDSA P-256 with SHA-256), verified
 * with mbedTLS. The signature is the JWS form: raw r || s, 32 bytes each.
 * Any other "alg" (notably "none") is refused; so is a "crit" header.
 *
 * Pure code: no logging, no I/O except edge_jws_key_load().
 */
#include <stddef.h>

struct edge_jws_key;

/* Parses a PEM or DER public key (or a certificate's key is NOT accepted:
 * give the bare SubjectPublicKeyInfo). Must be EC on P-256. Caller frees
 * with edge_jws_key_free(). */
int edge_jws_key_parse(const void *buf, size_t len, struct edge_jws_key **out);
int edge_jws_key_load(const char *path, struct edge_jws_key **out);
void edge_jws_key_free(struct edge_jws_key *k);

/* Verifies `compact` ("header.payload.signature") with key. On success
 * returns 0 and *payload (NUL-terminated, caller frees with free()) holds
 * the decoded payload. Errors: -EINVAL malformed, -ENOTSUP wrong alg,
 * -EBADMSG bad signature, -ENOMEM. why (optional) gets a short reason. */
int edge_jws_verify(const char *compact, size_t len, const struct edge_jws_key *key, char **payload,
		    size_t *payload_len, char *why, size_t whylen);

/* base64url without padding (padding tolerated on input). Returns the
 * decoded length or -EINVAL; out must hold at least len*3/4+3 bytes. */
long edge_b64url_decode(const char *in, size_t len, unsigned char *out);
/* Returns the encoded length; out must hold (len+2)/3*4+1 bytes. */
size_t edge_b64url_encode(const unsigned char *in, size_t len, char *out);

#endif
