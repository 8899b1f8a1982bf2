/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>

#include "edge/prov_identity.h"
#include "srv.h"

#define CSR_MAX 4096

bool srv_platform_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 54 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* A printable string field of at most cap-1 bytes; absent -> "" unless required. */
static int get_str(const cJSON *root, const char *key, char *dst, size_t cap, bool required,
		   char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	size_t n;

	dst[0] = '\0';
	if (!v || cJSON_IsNull(v)) {
		if (required) {
			snprintf(err, errlen, "missing \"%s\"", key);
			return -EINVAL;
		}
		return 0;
	}
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	n = strlen(v->valuestring);
	if (n >= cap) {
		snprintf(err, errlen, "\"%s\" is longer than %zu characters", key, cap - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v->valuestring[i] < 0x20 || v->valuestring[i] == 0x7f) {
			snprintf(err, errlen, "\"%s\" holds control characters", key);
			return -EINVAL;
		}
	memcpy(dst, v->valuestring, n + 1);
	return 0;
}

void srv_register_req_clear(struct srv_register_req *r)
{
	free(r->csr);
	free(r->sensors_json);
	memset(r, 0, sizeof(*r));
}

static cJSON *parse_object(const char *body, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *root;

	if (len == 0) {
		snprintf(err, errlen, "empty body: expected a JSON object");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		size_t off = at && at >= body && at <= body + len ? (size_t)(at - body) : 0;

		snprintf(err, errlen, "malformed JSON near byte %zu", off);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "body must be a JSON object");
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int srv_parse_register(const char *body, size_t len, struct srv_register_req *out, char *err,
		       size_t errlen)
{
	const cJSON *csr, *sensors, *s;
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	root = parse_object(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	rc = get_str(root, "serial", out->serial, sizeof(out->serial), true, err, errlen);
	rc = rc ?: get_str(root, "board", out->board, sizeof(out->board), false, err, errlen);
	rc = rc ?: get_str(root, "model", out->model, sizeof(out->model), false, err, errlen);
	rc = rc
		 ?: get_str(root, "firmware", out->firmware, sizeof(out->firmware), false, err,
			    errlen);
	rc = rc
		 ?: get_str(root, "realtimePlatform", out->platform, sizeof(out->platform), false,
			    err, errlen);
	if (rc)
		goto err;
	if (!edge_id_serial_valid(out->serial)) {
		snprintf(err, errlen, "\"serial\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
		rc = -EINVAL;
		goto err;
	}
	if (out->platform[0] && !srv_platform_name_valid(out->platform)) {
		snprintf(err, errlen,
			 "\"realtimePlatform\" must be a DNS label of at most 54 characters");
		rc = -EINVAL;
		goto err;
	}
	csr = cJSON_GetObjectItemCaseSensitive(root, "csr");
	if (!cJSON_IsString(csr)) {
		snprintf(err, errlen, "\"csr\" (PEM) is missing or not a string");
		rc = -EINVAL;
		goto err;
	}
	if (strlen(csr->valuestring) > CSR_MAX) {
		snprintf(err, errlen, "\"csr\" is larger than %d bytes", CSR_MAX);
		rc = -EINVAL;
		goto err;
	}
	out->csr = strdup(csr->valuestring);
	sensors = cJSON_GetObjectItemCaseSensitive(root, "sensors");
	if (sensors && !cJSON_IsNull(sensors)) {
		if (!cJSON_IsArray(sensors) || cJSON_GetArraySize(sensors) > 64) {
			snprintf(err, errlen, "\"sensors\" must be an array of at most 64 entries");
			rc = -EINVAL;
			goto err;
		}
		cJSON_ArrayForEach (s, sensors) {
			if (!cJSON_IsString(s) && !cJSON_IsObject(s)) {
				snprintf(err, errlen,
					 "\"sensors\" entries must be strings or objects");
				rc = -EINVAL;
				goto err;
			}
		}
		out->sensors_json = cJSON_PrintUnformatted(sensors);
	} else {
		out->sensors_json = strdup("[]");
	}
	if (!out->csr || !out->sensors_json) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto err;
	}
	cJSON_Delete(root);
	return 0;

err:
	cJSON_Delete(root);
	srv_register_req_clear(out);
	return rc;
}

int srv_parse_renew(const char *body, size_t len, char **csr_out, char *err, size_t errlen)
{
	const cJSON *csr;
	cJSON *root = parse_object(body, len, err, errlen);

	if (!root)
		return -EINVAL;
	csr = cJSON_GetObjectItemCaseSensitive(root, "csr");
	if (!cJSON_IsString(csr) || strlen(csr->valuestring) > CSR_MAX) {
		snprintf(err, errlen, "\"csr\" (PEM) is missing, not a string or too large");
		cJSON_Delete(root);
		return -EINVAL;
	}
	*csr_out = strdup(csr->valuestring);
	cJSON_Delete(root);
	return *csr_out ? 0 : -ENOMEM;
}

int srv_csr_check(const char *pem, const char *expect_cn, mbedtls_x509_csr *csr, char fp[65],
		  char *err, size_t errlen)
{
	unsigned char hash[MBEDTLS_MD_MAX_SIZE];
	const mbedtls_md_info_t *md;
	const mbedtls_ecp_keypair *ec;
	const mbedtls_x509_name *n;
	unsigned char der[256];
	int cn_count = 0;
	int len;

	mbedtls_x509_csr_init(csr);
	if (!strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----") ||
	    mbedtls_x509_csr_parse(csr, (const unsigned char *)pem, strlen(pem) + 1) != 0) {
		snprintf(err, errlen, "\"csr\" is not a PEM certificate signing request");
		return -EINVAL;
	}
	ec = mbedtls_pk_get_type(&csr->pk) == MBEDTLS_PK_ECKEY ? mbedtls_pk_ec(csr->pk) : NULL;
	if (!ec || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		snprintf(err, errlen, "CSR key must be EC P-256");
		return -EINVAL;
	}
	md = mbedtls_md_info_from_type(csr->sig_md);
	if (!md || csr->sig_md == MBEDTLS_MD_MD5 || csr->sig_md == MBEDTLS_MD_SHA1 ||
	    mbedtls_md(md, csr->cri.p, csr->cri.len, hash) != 0 ||
	    mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk, csr->sig_md, hash,
				  mbedtls_md_get_size(md), csr->sig.p, csr->sig.len) != 0) {
		snprintf(err, errlen, "CSR signature does not verify");
		return -EINVAL;
	}
	for (n = &csr->subject; n; n = n->next) {
		if (!n->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
			continue;
		cn_count++;
		if (n->val.len != strlen(expect_cn) ||
		    memcmp(n->val.p, expect_cn, n->val.len) != 0) {
			snprintf(err, errlen, "CSR common name does not match the serial \"%s\"",
				 expect_cn);
			return -EINVAL;
		}
	}
	if (cn_count != 1) {
		snprintf(err, errlen, "CSR must have exactly one common name (the serial)");
		return -EINVAL;
	}
	len = mbedtls_pk_write_pubkey_der(&csr->pk, der, sizeof(der));
	if (len <= 0) {
		snprintf(err, errlen, "CSR public key cannot be encoded");
		return -EINVAL;
	}
	edge_id_sha256_hex(der + sizeof(der) - (size_t)len, (size_t)len, fp);
	return 0;
}
