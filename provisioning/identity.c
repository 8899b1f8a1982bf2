/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "edge/file.h"
#include "edge/prov_identity.h"

#define KEY_PEM_MAX  1024
#define CSR_PEM_MAX  2048
#define KEY_FILE_MAX (16 * 1024)

bool edge_id_serial_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= 64 && s[0] != '.' && s[0] != '-';
}

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *r)
{
	static const unsigned char pers[] = "edge-identity";

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, pers,
				  sizeof(pers) - 1) != 0) {
		mbedtls_ctr_drbg_free(&r->drbg);
		mbedtls_entropy_free(&r->entropy);
		return -EIO;
	}
	return 0;
}

static void rng_free(struct rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

void edge_id_secret_free(char *pem)
{
	if (!pem)
		return;
	mbedtls_platform_zeroize(pem, strlen(pem));
	free(pem);
}

static int parse_p256_key(mbedtls_pk_context *pk, const char *pem)
{
	const mbedtls_ecp_keypair *ec;

	if (mbedtls_pk_parse_key(pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0) != 0)
		return -EINVAL;
	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
		return -EINVAL;
	ec = mbedtls_pk_ec(*pk);
	if (!ec || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return -EINVAL;
	return 0;
}

int edge_id_key_generate(char **pem_out)
{
	mbedtls_pk_context pk;
	struct rng r;
	char *buf;
	int err;

	buf = calloc(1, KEY_PEM_MAX);
	if (!buf)
		return -ENOMEM;
	err = rng_init(&r);
	if (err)
		goto err_buf;
	mbedtls_pk_init(&pk);
	if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
				mbedtls_ctr_drbg_random, &r.drbg) != 0 ||
	    mbedtls_pk_write_key_pem(&pk, (unsigned char *)buf, KEY_PEM_MAX) != 0) {
		err = -EIO;
		goto err_pk;
	}
	mbedtls_pk_free(&pk);
	rng_free(&r);
	*pem_out = buf;
	return 0;

err_pk:
	mbedtls_pk_free(&pk);
	rng_free(&r);
err_buf:
	edge_id_secret_free(buf);
	return err;
}

int edge_id_key_write(const char *path, const char *pem)
{
	return edge_file_write_atomic(path, pem, strlen(pem), 0600);
}

int edge_id_key_load(const char *path, char **pem_out)
{
	mbedtls_pk_context pk;
	char *buf = NULL;
	size_t len;
	int err;

	err = edge_file_read(path, KEY_FILE_MAX, &buf, &len);
	if (err)
		return err;
	mbedtls_pk_init(&pk);
	err = parse_p256_key(&pk, buf);
	mbedtls_pk_free(&pk);
	if (err) {
		edge_id_secret_free(buf);
		return err;
	}
	*pem_out = buf;
	return 0;
}

int edge_id_csr_make(const char *key_pem, const char *cn, char **csr_out)
{
	mbedtls_x509write_csr req;
	mbedtls_pk_context pk;
	char subject[80];
	struct rng r;
	char *buf;
	int err;

	if (!edge_id_serial_valid(cn))
		return -EINVAL;
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	buf = calloc(1, CSR_PEM_MAX);
	if (!buf)
		return -ENOMEM;
	mbedtls_pk_init(&pk);
	err = parse_p256_key(&pk, key_pem);
	if (err)
		goto err_pk;
	err = rng_init(&r);
	if (err)
		goto err_pk;
	mbedtls_x509write_csr_init(&req);
	mbedtls_x509write_csr_set_md_alg(&req, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&req, &pk);
	if (mbedtls_x509write_csr_set_subject_name(&req, subject) != 0 ||
	    mbedtls_x509write_csr_pem(&req, (unsigned char *)buf, CSR_PEM_MAX,
				      mbedtls_ctr_drbg_random, &r.drbg) != 0) {
		err = -EIO;
		goto err_req;
	}
	mbedtls_x509write_csr_free(&req);
	rng_free(&r);
	mbedtls_pk_free(&pk);
	*csr_out = buf;
	return 0;

err_req:
	mbedtls_x509write_csr_free(&req);
	rng_free(&r);
err_pk:
	mbedtls_pk_free(&pk);
	free(buf);
	return err;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void edge_id_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char d[32];

	mbedtls_sha256_ret(data, len, d, 0);
	hex_encode(d, sizeof(d), hex);
}

static int pk_fingerprint(mbedtls_pk_context *pk, char hex[65])
{
	unsigned char der[256];
	int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof(der));

	if (n <= 0)
		return -EINVAL;
	edge_id_sha256_hex(der + sizeof(der) - (size_t)n, (size_t)n, hex);
	return 0;
}

int edge_id_pubkey_fingerprint(const char *pem, char hex[65])
{
	size_t len = strlen(pem) + 1;
	int err = -EINVAL;

	if (strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----")) {
		mbedtls_x509_csr csr;

		mbedtls_x509_csr_init(&csr);
		if (mbedtls_x509_csr_parse(&csr, (const unsigned char *)pem, len) == 0)
			err = pk_fingerprint(&csr.pk, hex);
		mbedtls_x509_csr_free(&csr);
	} else if (strstr(pem, "-----BEGIN CERTIFICATE-----")) {
		mbedtls_x509_crt crt;

		mbedtls_x509_crt_init(&crt);
		if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, len) == 0)
			err = pk_fingerprint(&crt.pk, hex);
		mbedtls_x509_crt_free(&crt);
	} else {
		mbedtls_pk_context pk;

		mbedtls_pk_init(&pk);
		if (mbedtls_pk_parse_key(&pk, (const unsigned char *)pem, len, NULL, 0) == 0)
			err = pk_fingerprint(&pk, hex);
		mbedtls_pk_free(&pk);
	}
	return err;
}

int edge_id_cert_not_after(const char *pem, int64_t *not_after)
{
	mbedtls_x509_crt crt;
	struct tm tm = {0};
	int err = 0;

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, strlen(pem) + 1) != 0) {
		err = -EINVAL;
		goto out;
	}
	tm.tm_year = crt.valid_to.year - 1900;
	tm.tm_mon = crt.valid_to.mon - 1;
	tm.tm_mday = crt.valid_to.day;
	tm.tm_hour = crt.valid_to.hour;
	tm.tm_min = crt.valid_to.min;
	tm.tm_sec = crt.valid_to.sec;
	*not_after = (int64_t)timegm(&tm);
out:
	mbedtls_x509_crt_free(&crt);
	return err;
}

int edge_id_cert_file_not_after(const char *path, int64_t *not_after)
{
	char *buf;
	int err = edge_file_read(path, 64 * 1024, &buf, NULL);

	if (err)
		return err;
	err = edge_id_cert_not_after(buf, not_after);
	free(buf);
	return err;
}
