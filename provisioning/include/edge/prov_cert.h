/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROV_CERT_H
#define EDGE_PROV_CERT_H
/*
 * Issuing X.509 v3 certificates with mbedTLS, for the two CAs of the
 * project: edge-provisiond's fleet CA (device and server certificates) and
 * edge-factory's CoAP node CA (node and gateway certificates). One writer
 * for both: serial, validity, basic constraints, key identifiers, key usage,
 * extended key usage and subjectAltName.
 */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum edge_cert_aki {
	EDGE_CERT_AKI_FROM_KEY, /* computed from issuer_key (mbedTLS) */
	EDGE_CERT_AKI_GIVEN,	/* aki/aki_len: the issuer's own subjectKeyIdentifier */
	EDGE_CERT_AKI_NONE,	/* the issuer has none */
};

struct edge_cert_args {
	mbedtls_pk_context *subject_key, *issuer_key;
	const char *subject, *issuer;  /* names as mbedTLS writes them ("CN=...") */
	int64_t not_before, not_after; /* seconds since the epoch, UTC */
	bool is_ca;		       /* a CA (path length 0): keyCertSign, cRLSign */
	bool server;		       /* not a CA: serverAuth, else clientAuth */
	const char *dns;	       /* subjectAltName dNSName (1-64 bytes), or NULL */
	const char *ip;		       /* subjectAltName iPAddress (IPv4 or IPv6), or NULL */
	enum edge_cert_aki aki_mode;
	const unsigned char *aki; /* EDGE_CERT_AKI_GIVEN: 1-64 bytes */
	size_t aki_len;
};

/* Signs with issuer_key. *pem_out: the certificate as PEM, caller frees.
 * -EINVAL for a bad name length or address, -EIO when mbedTLS fails,
 * -ENOMEM. */
int edge_cert_write(mbedtls_ctr_drbg_context *drbg, const struct edge_cert_args *a, char **pem_out);

#endif
