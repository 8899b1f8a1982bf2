/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROV_IDENTITY_H
#define EDGE_PROV_IDENTITY_H
/*
 * Device identity with mbedTLS: an EC P-256 key, a CSR whose CN is the
 * device id (= serial), and the little certificate inspection the agent
 * needs. Private keys travel only as PEM buffers that the caller wipes and
 * frees with edge_id_secret_free(); nothing here logs.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A serial / device id is 1..64 characters of [A-Za-z0-9._-]: it becomes a
 * certificate CN, a file name and an MQTT topic level. */
bool edge_id_serial_valid(const char *serial);

/* New P-256 private key as PEM. *pem_out: caller frees with edge_id_secret_free(). */
int edge_id_key_generate(char **pem_out);
/* Writes a key PEM with mode 0600 through an atomic replace. */
int edge_id_key_write(const char *path, const char *pem);
/* Reads a key file (at most 16 KiB) and checks it is an EC P-256 private key.
 * *pem_out: caller frees with edge_id_secret_free(). */
int edge_id_key_load(const char *path, char **pem_out);
/* Wipes and frees a secret buffer; NULL is a no-op. */
void edge_id_secret_free(char *pem);

/* CSR (PEM) for key_pem with subject CN=cn, signed SHA-256.
 * *csr_out: caller frees with free(). -EINVAL for a bad key or cn. */
int edge_id_csr_make(const char *key_pem, const char *cn, char **csr_out);

/* SHA-256 of the DER SubjectPublicKeyInfo of a key, CSR or certificate PEM,
 * as 64 lowercase hex characters + NUL. */
int edge_id_pubkey_fingerprint(const char *pem, char hex[65]);

/* notAfter of the first certificate in a PEM buffer, epoch seconds. */
int edge_id_cert_not_after(const char *pem, int64_t *not_after);
/* Same for a file. */
int edge_id_cert_file_not_after(const char *path, int64_t *not_after);

/* ---- keys in a PKCS#11 token (edge/p11.h; identity_p11.c) ---- */
struct edge_p11;
/* CSR with subject CN=cn for the token key selected in p (edge_p11_find_key()
 * or edge_p11_generate(), whose public point is point), signed in the token.
 * The private key is never read. *csr_out: caller frees with free(); on
 * failure why (may be NULL) says what failed. */
int edge_id_csr_make_p11(struct edge_p11 *p, const unsigned char point[65], const char *cn,
			 char **csr_out, char *why, size_t whylen);
/* edge_id_pubkey_fingerprint() of a P-256 public point (04 || X || Y). */
int edge_id_point_fingerprint(const unsigned char point[65], char hex[65]);

/* Hex SHA-256 of data (65 bytes with NUL). */
void edge_id_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
