/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A CSR for a key that stays in a PKCS#11 token. mbedTLS 2.28's CSR writer
 * signs with an mbedtls_pk_context, which cannot point into a token (no
 * opaque EC keys without PSA), so the request is put together here with its
 * ASN.1 writer (PKCS#10, RFC 2986) and only the signature comes from the
 * token (CKM_ECDSA over the SHA-256 of the CertificationRequestInfo). The
 * result is parsed and verified with mbedTLS before it is handed out, so a
 * token that signed with another key is caught here, not by the server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_csr.h>

#include "edge/p11.h"
#include "edge/prov_identity.h"

#define CSR_PEM_MAX 2048
#define CSR_DER_MAX 1024

#define CHK(call)                                                                                  \
	do {                                                                                       \
		int r_ = (call);                                                                   \
		if (r_ < 0) {                                                                      \
			err = -EIO;                                                                \
			goto out;                                                                  \
		}                                                                                  \
		len += (size_t)r_;                                                                 \
	} while (0)

/* An mbedTLS public key for the token's P-256 point. */
static int point_pk(const unsigned char point[65], mbedtls_pk_context *pk)
{
	mbedtls_ecp_keypair *ec;

	mbedtls_pk_init(pk);
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
		return -ENOMEM;
	ec = mbedtls_pk_ec(*pk);
	if (mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
	    mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, point, 65) != 0 ||
	    mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) != 0) {
		mbedtls_pk_free(pk);
		return -EINVAL;
	}
	return 0;
}

int edge_id_point_fingerprint(const unsigned char point[65], char hex[65])
{
	unsigned char der[160];
	mbedtls_pk_context pk;
	int n, err = point_pk(point, &pk);

	if (err)
		return err;
	n = mbedtls_pk_write_pubkey_der(&pk, der, sizeof(der));
	mbedtls_pk_free(&pk);
	if (n <= 0)
		return -EINVAL;
	edge_id_sha256_hex(der + sizeof(der) - (size_t)n, (size_t)n, hex);
	return 0;
}

/* SEQUENCE { INTEGER r, INTEGER s } of the token's r || s. */
static int ecdsa_der(const unsigned char sig[64], unsigned char *buf, size_t cap,
		     unsigned char **start)
{
	unsigned char *c = buf + cap;
	mbedtls_mpi r, s;
	size_t len = 0;
	int err = 0;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_mpi_read_binary(&r, sig, 32) != 0 ||
	    mbedtls_mpi_read_binary(&s, sig + 32, 32) != 0) {
		err = -ENOMEM;
		goto out;
	}
	CHK(mbedtls_asn1_write_mpi(&c, buf, &s));
	CHK(mbedtls_asn1_write_mpi(&c, buf, &r));
	CHK(mbedtls_asn1_write_len(&c, buf, len));
	CHK(mbedtls_asn1_write_tag(&c, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*start = c;
	err = (int)len;
out:
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return err;
}

/* Parses the DER request and checks its signature with its own key. */
static int self_check(const unsigned char *der, size_t n)
{
	unsigned char hash[32];
	mbedtls_x509_csr csr;
	int err = 0;

	mbedtls_x509_csr_init(&csr);
	if (mbedtls_x509_csr_parse_der(&csr, der, n) != 0 ||
	    mbedtls_sha256_ret(csr.cri.p, csr.cri.len, hash, 0) != 0 ||
	    mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), csr.sig.p,
			      csr.sig.len) != 0)
		err = -EIO;
	mbedtls_x509_csr_free(&csr);
	return err;
}

int edge_id_csr_make_p11(struct edge_p11 *p, const unsigned char point[65], const char *cn,
			 char **csr_out, char *why, size_t whylen)
{
	static const char oid[] = MBEDTLS_OID_ECDSA_SHA256;
	unsigned char cri_buf[CSR_DER_MAX], tail_buf[256], sig_buf[80], head_buf[8];
	unsigned char der[CSR_DER_MAX + 256 + 8], digest[32], raw[64];
	unsigned char *c = cri_buf + sizeof(cri_buf), *t, *h, *sigp;
	mbedtls_asn1_named_data *names = NULL;
	mbedtls_pk_context pk;
	size_t len = 0, cri_len, tail_len, head_len, olen;
	char subject[80], *pem = NULL;
	int err, n;

	if (why && whylen)
		*why = '\0';
	if (!edge_id_serial_valid(cn))
		return -EINVAL;
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	err = point_pk(point, &pk);
	if (err) {
		snprintf(why, whylen, "the token's public key is not a valid P-256 point");
		return err;
	}
	if (mbedtls_x509_string_to_names(&names, subject) != 0) {
		err = -EINVAL;
		goto out;
	}
	/* CertificationRequestInfo, written backwards as mbedTLS does:
	 * attributes [0] (none), subjectPKInfo, subject, version 0. */
	CHK(mbedtls_asn1_write_len(&c, cri_buf, 0));
	CHK(mbedtls_asn1_write_tag(&c, cri_buf,
				   MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED));
	n = mbedtls_pk_write_pubkey_der(&pk, cri_buf, (size_t)(c - cri_buf));
	if (n <= 0) {
		err = -EIO;
		goto out;
	}
	c -= n;
	len += (size_t)n;
	CHK(mbedtls_x509_write_names(&c, cri_buf, names));
	CHK(mbedtls_asn1_write_int(&c, cri_buf, 0));
	CHK(mbedtls_asn1_write_len(&c, cri_buf, len));
	CHK(mbedtls_asn1_write_tag(&c, cri_buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	cri_len = len;

	/* the signature, made in the token */
	if (mbedtls_sha256_ret(c, cri_len, digest, 0) != 0) {
		err = -EIO;
		goto out;
	}
	err = edge_p11_sign(p, digest, raw, why, whylen);
	if (err)
		goto out;
	n = ecdsa_der(raw, sig_buf, sizeof(sig_buf), &sigp);
	if (n < 0) {
		err = n;
		goto out;
	}

	/* signatureAlgorithm ecdsa-with-SHA256 (no parameters, RFC 5758) and
	 * the signature as a BIT STRING */
	t = tail_buf + sizeof(tail_buf);
	len = 0;
	CHK(mbedtls_asn1_write_bitstring(&t, tail_buf, sigp, (size_t)n * 8));
	{
		size_t alg = 0;
		int r1 = mbedtls_asn1_write_oid(&t, tail_buf, oid, sizeof(oid) - 1);

		if (r1 < 0) {
			err = -EIO;
			goto out;
		}
		alg = (size_t)r1;
		CHK(mbedtls_asn1_write_len(&t, tail_buf, alg));
		CHK(mbedtls_asn1_write_tag(&t, tail_buf,
					   MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
		len += alg;
	}
	tail_len = len;

	/* the outer SEQUENCE header */
	h = head_buf + sizeof(head_buf);
	len = 0;
	CHK(mbedtls_asn1_write_len(&h, head_buf, cri_len + tail_len));
	CHK(mbedtls_asn1_write_tag(&h, head_buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	head_len = len;

	memcpy(der, h, head_len);
	memcpy(der + head_len, c, cri_len);
	memcpy(der + head_len + cri_len, t, tail_len);
	len = head_len + cri_len + tail_len;
	if (self_check(der, len) != 0) {
		snprintf(why, whylen, "the token's signature does not verify with its public key");
		err = -EIO;
		goto out;
	}
	pem = calloc(1, CSR_PEM_MAX);
	if (!pem) {
		err = -ENOMEM;
		goto out;
	}
	if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE REQUEST-----\n",
				     "-----END CERTIFICATE REQUEST-----\n", der, len,
				     (unsigned char *)pem, CSR_PEM_MAX, &olen) != 0) {
		free(pem);
		err = -EIO;
		goto out;
	}
	*csr_out = pem;
	err = 0;
out:
	if (err == -EIO && why && !*why)
		snprintf(why, whylen, "cannot encode the CSR");
	mbedtls_asn1_free_named_data_list(&names);
	mbedtls_pk_free(&pk);
	return err;
}
