/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_FETCH_SHA256_H
#define EDGE_OTA_FETCH_SHA256_H
/*
 * Streaming SHA-256 for edge-ota-fetch, behind one small interface so the
 * backend is a build choice (ota/fetch/CMakeLists.txt, EDGE_OTA_FETCH_SHA256):
 *
 *   openssl (default)  libcrypto's EVP: SHA-NI on x86, the ARMv8 SHA-2
 *                      instructions on arm64. libcrypto is in this process
 *                      anyway (Debian's libcurl does its TLS with it).
 *   mbedtls            mbedTLS 2.28, portable C only: 341 MB/s here against
 *                      1.67 GB/s for libcrypto, the whole gap to curl -o in
 *                      bench/ota (README there).
 *
 * Not thread-safe; one context per download. The library does not log.
 */
#include <stddef.h>
#include <stdint.h>

struct fetch_sha256;

/* A context ready for data; NULL when out of memory. Caller frees with
 * fetch_sha256_free(). */
struct fetch_sha256 *fetch_sha256_new(void);
/* Forgets everything hashed so far. 0 or -EIO. */
int fetch_sha256_reset(struct fetch_sha256 *s);
/* 0 or -EIO. */
int fetch_sha256_update(struct fetch_sha256 *s, const void *data, size_t len);
/* The digest of everything since new/reset; the context then needs a
 * reset before more data. 0 or -EIO. */
int fetch_sha256_finish(struct fetch_sha256 *s, uint8_t out[32]);
/* NULL is a no-op. */
void fetch_sha256_free(struct fetch_sha256 *s);
/* "openssl" or "mbedtls", for the log. */
const char *fetch_sha256_backend(void);

#endif
