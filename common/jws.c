/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/file.h"
#include "edge/jws.h"

#define JWS_MAX (64 * 1024)

struct edge_jws_key {
	mbedtls_pk_context pk;
};

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long edge_b64url_decode(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long o = 0;

	while (len && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* leftover bits must be zero (canonical encoding) */
	if (bits && (acc & ((1u << bits) - 1)))
		return -EINVAL;
	return o;
}

size_t edge_b64url_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

int edge_jws_key_parse(const void *buf, size_t len, struct edge_jws_key **out)
{
	struct edge_jws_key *k = calloc(1, sizeof(*k));
	const mbedtls_ecp_keypair *ec;
	unsigned char *copy = NULL;
	int rc;

	if (!k)
		return -ENOMEM;
	mbedtls_pk_init(&k->pk);
	/* PEM input must be NUL-terminated and the length must count the NUL. */
	copy = malloc(len + 1);
	if (!copy) {
		rc = -ENOMEM;
		goto err;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	rc = mbedtls_pk_parse_public_key(&k->pk, copy, memchr(copy, '\0', len) ? len : len + 1);
	if (rc && !memchr(copy, '\0', len))
		rc = mbedtls_pk_parse_public_key(&k->pk, copy, len); /* DER */
	free(copy);
	if (rc) {
		rc = -EINVAL;
		goto err;
	}
	ec = mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECKEY) ? mbedtls_pk_ec(k->pk) : NULL;
	if (!ec || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		rc = -ENOTSUP;
		goto err;
	}
	*out = k;
	return 0;
err:
	mbedtls_pk_free(&k->pk);
	free(k);
	return rc;
}

int edge_jws_key_load(const char *path, struct edge_jws_key **out)
{
	char *buf;
	size_t len;
	int rc = edge_file_read(path, 64 * 1024, &buf, &len);

	if (rc)
		return rc;
	rc = edge_jws_key_parse(buf, len, out);
	free(buf);
	return rc;
}

void edge_jws_key_free(struct edge_jws_key *k)
{
	if (!k)
		return;
	mbedtls_pk_free(&k->pk);
	free(k);
}

__attribute__((format(printf, 4, 5))) static int why_set(int rc, char *why, size_t whylen,
							 const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* The protected header: {"alg":"ES256"} with optional typ/kid; nothing else
 * that changes the meaning ("crit", "jku", "jwk", "x5u" are refused). */
static int check_header(const char *b64, size_t len, char *why, size_t whylen)
{
	unsigned char *raw = malloc(len * 3 / 4 + 4);
	cJSON *h = NULL, *it;
	long n;
	int rc = 0;

	if (!raw)
		return -ENOMEM;
	n = edge_b64url_decode(b64, len, raw);
	if (n < 0) {
		rc = why_set(-EINVAL, why, whylen, "header is not base64url");
		goto out;
	}
	h = cJSON_ParseWithLength((const char *)raw, (size_t)n);
	if (!cJSON_IsObject(h)) {
		rc = why_set(-EINVAL, why, whylen, "header is not a JSON object");
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!cJSON_IsString(it)) {
		rc = why_set(-EINVAL, why, whylen, "header has no alg");
		goto out;
	}
	if (strcmp(it->valuestring, "ES256") != 0) {
		rc = why_set(-ENOTSUP, why, whylen, "alg %.20s refused (only ES256)",
			     it->valuestring);
		goto out;
	}
	cJSON_ArrayForEach (it, h) {
		if (strcmp(it->string, "alg") && strcmp(it->string, "typ") &&
		    strcmp(it->string, "kid") && strcmp(it->string, "cty")) {
			rc = why_set(-ENOTSUP, why, whylen, "header %.20s not supported",
				     it->string);
			goto out;
		}
	}
out:
	cJSON_Delete(h);
	free(raw);
	return rc;
}

int edge_jws_verify(const char *compact, size_t len, const struct edge_jws_key *key, char **payload,
		    size_t *payload_len, char *why, size_t whylen)
{
	const char *dot1, *dot2, *sig_b64;
	unsigned char hash[32], sig[80];
	unsigned char *body = NULL;
	mbedtls_mpi r, s;
	mbedtls_ecp_keypair *ec;
	long n, sig_len;
	size_t plen64;
	int rc;

	*payload = NULL;
	if (len == 0 || len > JWS_MAX)
		return why_set(-EINVAL, why, whylen, "empty or larger than %d bytes", JWS_MAX);
	if (memchr(compact, '\0', len))
		return why_set(-EINVAL, why, whylen, "NUL in the JWS");
	dot1 = memchr(compact, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - compact)) : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - compact)))
		return why_set(-EINVAL, why, whylen, "not a compact JWS (header.payload.sig)");
	rc = check_header(compact, (size_t)(dot1 - compact), why, whylen);
	if (rc)
		return rc;
	sig_b64 = dot2 + 1;
	if (len - (size_t)(sig_b64 - compact) > 90)
		return why_set(-EINVAL, why, whylen, "signature is not 64 bytes");
	sig_len = edge_b64url_decode(sig_b64, len - (size_t)(sig_b64 - compact), sig);
	if (sig_len != 64)
		return why_set(-EINVAL, why, whylen, "signature is not 64 bytes (r||s)");
	if (!key)
		return why_set(-EBADMSG, why, whylen, "no signing key configured");
	/* The signing input is the ASCII "header.payload". */
	if (mbedtls_sha256_ret((const unsigned char *)compact, (size_t)(dot2 - compact), hash, 0))
		return why_set(-EIO, why, whylen, "sha256 failed");
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	ec = mbedtls_pk_ec(key->pk);
	rc = ec ? mbedtls_mpi_read_binary(&r, sig, 32) : -1;
	if (!rc)
		rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
	if (!rc && ec)
		rc = mbedtls_ecdsa_verify(&ec->grp, hash, sizeof(hash), &ec->Q, &r, &s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	if (rc)
		return why_set(-EBADMSG, why, whylen, "signature does not verify");
	plen64 = (size_t)(dot2 - dot1 - 1);
	body = malloc(plen64 * 3 / 4 + 4);
	if (!body)
		return -ENOMEM;
	n = edge_b64url_decode(dot1 + 1, plen64, body);
	if (n < 0) {
		free(body);
		return why_set(-EINVAL, why, whylen, "payload is not base64url");
	}
	body[n] = '\0';
	*payload = (char *)body;
	if (payload_len)
		*payload_len = (size_t)n;
	return 0;
}
