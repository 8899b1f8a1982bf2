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

/* Hex SHA-256 of data (65 bytes with NUL). */
void edge_id_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
