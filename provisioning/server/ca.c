/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509.h>

#include "edge/file.h"
#include "edge/prov_cert.h"
#include "edge/prov_identity.h"
#include "srv.h"

static int drbg_init(mbedtls_entropy_context *e, mbedtls_ctr_drbg_context *d)
{
	static const unsigned char pers[] = "edge-provisiond-ca";

	mbedtls_entropy_init(e);
	mbedtls_ctr_drbg_init(d);
	return mbedtls_ctr_drbg_seed(d, mbedtls_entropy_func, e, pers, sizeof(pers) - 1) ? -EIO : 0;
}

int srv_ca_load(struct srv_ca *ca, const char *crt_file, const char *key_file)
{
	char *key = NULL;
	size_t len;
	int rc;

	memset(ca, 0, sizeof(*ca));
	mbedtls_x509_crt_init(&ca->crt);
	mbedtls_pk_init(&ca->key);
	pthread_mutex_init(&ca->lock, NULL);
	rc = drbg_init(&ca->entropy, &ca->drbg);
	if (rc)
		goto err;
	rc = edge_file_read(crt_file, 64 * 1024, &ca->crt_pem, &len);
	if (rc)
		goto err;
	if (mbedtls_x509_crt_parse(&ca->crt, (const unsigned char *)ca->crt_pem, len + 1) != 0) {
		rc = -EINVAL;
		goto err;
	}
	rc = edge_file_read(key_file, 16 * 1024, &key, &len);
	if (rc)
		goto err;
	if (mbedtls_pk_parse_key(&ca->key, (const unsigned char *)key, len + 1, NULL, 0) != 0 ||
	    mbedtls_pk_check_pair(&ca->crt.pk, &ca->key) != 0) {
		rc = -EINVAL;
		goto err;
	}
	edge_id_secret_free(key);
	key = NULL;
	if (mbedtls_x509_dn_gets(ca->issuer, sizeof(ca->issuer), &ca->crt.subject) < 0) {
		rc = -EINVAL;
		goto err;
	}
	return 0;
err:
	edge_id_secret_free(key);
	srv_ca_free(ca);
	return rc;
}

void srv_ca_free(struct srv_ca *ca)
{
	mbedtls_x509_crt_free(&ca->crt);
	mbedtls_pk_free(&ca->key);
	mbedtls_ctr_drbg_free(&ca->drbg);
	mbedtls_entropy_free(&ca->entropy);
	pthread_mutex_destroy(&ca->lock);
	free(ca->crt_pem);
	ca->crt_pem = NULL;
}

int srv_ca_sign(struct srv_ca *ca, mbedtls_x509_csr *csr, const char *cn, int64_t now,
		int64_t validity_s, int64_t backdate_s, char **pem_out, int64_t *not_after)
{
	char subject[80];
	struct edge_cert_args a = {
	    .subject_key = &csr->pk,
	    .issuer_key = &ca->key,
	    .subject = subject,
	    .issuer = ca->issuer,
	    .not_before = now - backdate_s,
	    .not_after = now + validity_s,
	};
	int rc;

	if (!edge_id_serial_valid(cn))
		return -EINVAL;
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	pthread_mutex_lock(&ca->lock);
	rc = edge_cert_write(&ca->drbg, &a, pem_out);
	pthread_mutex_unlock(&ca->lock);
	if (!rc)
		*not_after = a.not_after;
	return rc;
}

int srv_ca_verify_client(struct srv_ca *ca, const unsigned char *der, size_t len, char cn[65],
			 char fp[65])
{
	mbedtls_x509_crt crt;
	const mbedtls_x509_name *n;
	unsigned char pub[256];
	uint32_t flags = 0;
	int rc = -EACCES;
	int plen;

	cn[0] = '\0';
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0)
		goto out;
	if (mbedtls_x509_crt_verify(&crt, &ca->crt, NULL, NULL, &flags, NULL, NULL) != 0)
		goto out;
	for (n = &crt.subject; n; n = n->next)
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    n->val.len < 65) {
			memcpy(cn, n->val.p, n->val.len);
			cn[n->val.len] = '\0';
		}
	plen = mbedtls_pk_write_pubkey_der(&crt.pk, pub, sizeof(pub));
	if (!cn[0] || plen <= 0)
		goto out;
	edge_id_sha256_hex(pub + sizeof(pub) - (size_t)plen, (size_t)plen, fp);
	rc = 0;
out:
	mbedtls_x509_crt_free(&crt);
	return rc;
}

static int gen_key(mbedtls_ctr_drbg_context *d, mbedtls_pk_context *pk)
{
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
				mbedtls_ctr_drbg_random, d))
		return -EIO;
	return 0;
}

static int write_key(const char *path, mbedtls_pk_context *pk)
{
	unsigned char buf[1024];
	int rc;

	if (mbedtls_pk_write_key_pem(pk, buf, sizeof(buf)))
		return -EIO;
	rc = edge_file_write_atomic(path, buf, strlen((char *)buf), 0600);
	mbedtls_platform_zeroize(buf, sizeof(buf));
	return rc;
}

int srv_ca_init_files(const char *dir, const char *ca_cn, int days, const char *server_dns,
		      const char *server_ip, bool force, char *err, size_t errlen)
{
	char p_cakey[PATH_MAX], p_cacrt[PATH_MAX], p_skey[PATH_MAX], p_scrt[PATH_MAX];
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context cakey, skey;
	char ca_subject[128], s_subject[128];
	char *ca_pem = NULL, *s_pem = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	snprintf(p_cakey, sizeof(p_cakey), "%s/ca.key", dir);
	snprintf(p_cacrt, sizeof(p_cacrt), "%s/ca.crt", dir);
	snprintf(p_skey, sizeof(p_skey), "%s/server.key", dir);
	snprintf(p_scrt, sizeof(p_scrt), "%s/server.crt", dir);
	if (!force && access(p_cakey, F_OK) == 0) {
		snprintf(err, errlen, "%s exists: refusing to replace the fleet CA without --force",
			 p_cakey);
		return -EEXIST;
	}
	rc = edge_mkdir_p(dir, 0700);
	if (rc) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(ca_subject, sizeof(ca_subject), "CN=%s", ca_cn);
	snprintf(s_subject, sizeof(s_subject), "CN=%s",
		 server_dns ? server_dns : "edge-provisiond");
	mbedtls_pk_init(&cakey);
	mbedtls_pk_init(&skey);
	rc = drbg_init(&ent, &drbg);
	rc = rc ?: gen_key(&drbg, &cakey);
	rc = rc ?: gen_key(&drbg, &skey);
	if (!rc) {
		int64_t until = now + (int64_t)days * 86400;
		struct edge_cert_args ca = {.subject_key = &cakey,
					    .issuer_key = &cakey,
					    .subject = ca_subject,
					    .issuer = ca_subject,
					    .not_before = now - 300,
					    .not_after = until,
					    .is_ca = true};
		struct edge_cert_args srv = {.subject_key = &skey,
					     .issuer_key = &cakey,
					     .subject = s_subject,
					     .issuer = ca_subject,
					     .not_before = now - 300,
					     .not_after = until,
					     .server = true,
					     .dns = server_dns,
					     .ip = server_ip};

		rc = edge_cert_write(&drbg, &ca, &ca_pem);
		rc = rc ?: edge_cert_write(&drbg, &srv, &s_pem);
	}
	if (rc) {
		snprintf(err, errlen, "key or certificate generation failed (%s)", strerror(-rc));
		goto out;
	}
	rc = write_key(p_cakey, &cakey);
	rc = rc ?: edge_file_write_atomic(p_cacrt, ca_pem, strlen(ca_pem), 0644);
	rc = rc ?: write_key(p_skey, &skey);
	rc = rc ?: edge_file_write_atomic(p_scrt, s_pem, strlen(s_pem), 0644);
	if (rc)
		snprintf(err, errlen, "writing into %s: %s", dir, strerror(-rc));
out:
	free(ca_pem);
	free(s_pem);
	mbedtls_pk_free(&cakey);
	mbedtls_pk_free(&skey);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	return rc;
}
