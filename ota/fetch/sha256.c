/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "sha256.h"

#ifdef EDGE_OTA_FETCH_SHA256_MBEDTLS
#include <mbedtls/sha256.h>

struct fetch_sha256 {
	mbedtls_sha256_context c;
};

struct fetch_sha256 *fetch_sha256_new(void)
{
	struct fetch_sha256 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	mbedtls_sha256_init(&s->c);
	if (mbedtls_sha256_starts_ret(&s->c, 0) != 0) {
		fetch_sha256_free(s);
		return NULL;
	}
	return s;
}

int fetch_sha256_reset(struct fetch_sha256 *s)
{
	mbedtls_sha256_free(&s->c);
	mbedtls_sha256_init(&s->c);
	return mbedtls_sha256_starts_ret(&s->c, 0) == 0 ? 0 : -EIO;
}

int fetch_sha256_update(struct fetch_sha256 *s, const void *data, size_t len)
{
	return mbedtls_sha256_update_ret(&s->c, data, len) == 0 ? 0 : -EIO;
}

int fetch_sha256_finish(struct fetch_sha256 *s, uint8_t out[32])
{
	return mbedtls_sha256_finish_ret(&s->c, out) == 0 ? 0 : -EIO;
}

void fetch_sha256_free(struct fetch_sha256 *s)
{
	if (!s)
		return;
	mbedtls_sha256_free(&s->c);
	free(s);
}

const char *fetch_sha256_backend(void)
{
	return "mbedtls";
}

#else
#include <openssl/evp.h>

struct fetch_sha256 {
	EVP_MD_CTX *c;
};

struct fetch_sha256 *fetch_sha256_new(void)
{
	struct fetch_sha256 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c = EVP_MD_CTX_new();
	if (!s->c || fetch_sha256_reset(s) != 0) {
		fetch_sha256_free(s);
		return NULL;
	}
	return s;
}

int fetch_sha256_reset(struct fetch_sha256 *s)
{
	return EVP_DigestInit_ex(s->c, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int fetch_sha256_update(struct fetch_sha256 *s, const void *data, size_t len)
{
	return EVP_DigestUpdate(s->c, data, len) == 1 ? 0 : -EIO;
}

int fetch_sha256_finish(struct fetch_sha256 *s, uint8_t out[32])
{
	unsigned int n = 0;

	return EVP_DigestFinal_ex(s->c, out, &n) == 1 && n == 32 ? 0 : -EIO;
}

void fetch_sha256_free(struct fetch_sha256 *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->c);
	free(s);
}

const char *fetch_sha256_backend(void)
{
	return "openssl";
}
#endif
