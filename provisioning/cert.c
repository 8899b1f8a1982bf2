/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "edge/prov_cert.h"

#define CRT_PEM_MAX 4096

static void fmt_time(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int random_serial(mbedtls_ctr_drbg_context *d, mbedtls_mpi *serial)
{
	unsigned char b[16];

	if (mbedtls_ctr_drbg_random(d, b, sizeof(b)) != 0)
		return -EIO;
	b[0] &= 0x7f;
	b[0] |= 0x01; /* positive and never zero */
	return mbedtls_mpi_read_binary(serial, b, sizeof(b)) ? -ENOMEM : 0;
}

static int set_ext(mbedtls_x509write_cert *w, const char *oid, size_t oid_len,
		   const unsigned char *v, size_t len)
{
	return mbedtls_x509write_crt_set_extension(w, oid, oid_len, 0, v, len) ? -EIO : 0;
}

/* extendedKeyUsage = SEQUENCE { id-kp-clientAuth (.2) | id-kp-serverAuth (.1) } */
static int set_eku(mbedtls_x509write_cert *w, bool server)
{
	unsigned char eku[] = {0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06,
			       0x01, 0x05, 0x05, 0x07, 0x03, 0x02};

	if (server)
		eku[11] = 0x01;
	return set_ext(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		       MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), eku, sizeof(eku));
}

/* subjectAltName = SEQUENCE { [2] dNSName, [7] iPAddress } (either may be absent) */
static int set_san(mbedtls_x509write_cert *w, const char *dns, const char *ip)
{
	unsigned char san[2 + (2 + 64) + (2 + 16)], addr[16];
	size_t n = 2, dl = dns ? strlen(dns) : 0, al = 0;

	if (ip) {
		if (inet_pton(AF_INET, ip, addr) == 1)
			al = 4;
		else if (inet_pton(AF_INET6, ip, addr) == 1)
			al = 16;
		else
			return -EINVAL;
	}
	if (dns && (dl == 0 || dl > 64))
		return -EINVAL;
	if (dns) {
		san[n++] = 0x82;
		san[n++] = (unsigned char)dl;
		memcpy(san + n, dns, dl);
		n += dl;
	}
	if (ip) {
		san[n++] = 0x87;
		san[n++] = (unsigned char)al;
		memcpy(san + n, addr, al);
		n += al;
	}
	san[0] = 0x30;
	san[1] = (unsigned char)(n - 2);
	return set_ext(w, MBEDTLS_OID_SUBJECT_ALT_NAME,
		       MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), san, n);
}

static int set_aki(mbedtls_x509write_cert *w, const struct edge_cert_args *a)
{
	unsigned char v[4 + 64];

	switch (a->aki_mode) {
	case EDGE_CERT_AKI_FROM_KEY:
		return mbedtls_x509write_crt_set_authority_key_identifier(w) ? -EIO : 0;
	case EDGE_CERT_AKI_NONE:
		return 0;
	case EDGE_CERT_AKI_GIVEN:
		break;
	}
	if (!a->aki || a->aki_len == 0 || a->aki_len > 64)
		return -EINVAL;
	/* SEQUENCE { [0] keyIdentifier } */
	v[0] = 0x30;
	v[1] = (unsigned char)(a->aki_len + 2);
	v[2] = 0x80;
	v[3] = (unsigned char)a->aki_len;
	memcpy(v + 4, a->aki, a->aki_len);
	return set_ext(w, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
		       MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), v, a->aki_len + 4);
}

int edge_cert_write(mbedtls_ctr_drbg_context *drbg, const struct edge_cert_args *a, char **pem_out)
{
	char nb[16], na[16];
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	char *buf = calloc(1, CRT_PEM_MAX);
	int rc = -EIO;

	if (!buf)
		return -ENOMEM;
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	fmt_time(a->not_before, nb);
	fmt_time(a->not_after, na);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, a->subject_key);
	mbedtls_x509write_crt_set_issuer_key(&w, a->issuer_key);
	if (random_serial(drbg, &serial) || mbedtls_x509write_crt_set_serial(&w, &serial) ||
	    mbedtls_x509write_crt_set_subject_name(&w, a->subject) ||
	    mbedtls_x509write_crt_set_issuer_name(&w, a->issuer) ||
	    mbedtls_x509write_crt_set_validity(&w, nb, na) ||
	    mbedtls_x509write_crt_set_basic_constraints(&w, a->is_ca, 0) ||
	    mbedtls_x509write_crt_set_subject_key_identifier(&w))
		goto out;
	rc = set_aki(&w, a);
	if (rc)
		goto out;
	rc = -EIO;
	if (a->is_ca) {
		if (mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN |
								MBEDTLS_X509_KU_CRL_SIGN))
			goto out;
	} else if (mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) ||
		   set_eku(&w, a->server)) {
		goto out;
	}
	if (a->dns || a->ip) {
		rc = set_san(&w, a->dns, a->ip);
		if (rc)
			goto out;
		rc = -EIO;
	}
	if (mbedtls_x509write_crt_pem(&w, (unsigned char *)buf, CRT_PEM_MAX,
				      mbedtls_ctr_drbg_random, drbg) != 0)
		goto out;
	*pem_out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	return rc;
}
