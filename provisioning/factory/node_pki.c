/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "edge/file.h"
#include "edge/prov_cert.h"
#include "edge/prov_identity.h"
#include "node_pki.h"

#define CA_FILE_MAX  (256 * 1024)
#define KEY_FILE_MAX (16 * 1024)
#define BACKDATE_S   3600 /* nodes and gateways whose clocks lag a little */

struct node_ca {
	mbedtls_x509_crt crt; /* the first certificate of the file: the issuer */
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	char issuer[512];      /* its subject, as mbedTLS writes names */
	unsigned char ski[64]; /* its subjectKeyIdentifier, for the AKI */
	size_t ski_len;	       /* 0: it has none, no AKI is written */
	int64_t not_after;     /* issued certificates never outlive it */
	char *pem;	       /* the whole CA file, for the nodes' bundles */
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A CN this file writes: 1-64 printable ASCII characters, none that a
 * distinguished name string would read as syntax. */
static bool cn_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e || strchr(",=+\\\"<>;#/", *s))
			return false;
	return true;
}

static int64_t x509_time_epoch(const mbedtls_x509_time *t)
{
	struct tm tm = {.tm_year = t->year - 1900,
			.tm_mon = t->mon - 1,
			.tm_mday = t->day,
			.tm_hour = t->hour,
			.tm_min = t->min,
			.tm_sec = t->sec};

	return (int64_t)timegm(&tm);
}

/*
 * The keyIdentifier of the CA's subjectKeyIdentifier extension. mbedTLS
 * 2.28 does not keep it, so the extensions are walked here; an issued
 * certificate's authorityKeyIdentifier must repeat it exactly (OpenSSL
 * refuses an issuer whose SKI differs from the AKI), and CAs made
 * elsewhere may not compute it the way mbedTLS would.
 */
static void find_ski(const mbedtls_x509_crt *crt, unsigned char *out, size_t cap, size_t *outlen)
{
	unsigned char *p = crt->v3_ext.p, *end = p ? p + crt->v3_ext.len : NULL;
	size_t len;

	*outlen = 0;
	if (!p)
		return;
	if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
	    mbedtls_asn1_get_tag(&p, end, &len,
				 MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3))
		return;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
		return;
	end = p + len;
	while (p < end) {
		unsigned char *ext_end, *oid;
		size_t oid_len;
		int critical;

		if (mbedtls_asn1_get_tag(&p, end, &len,
					 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
			return;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID))
			return;
		oid = p;
		p += oid_len;
		(void)mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional */
		if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING))
			return;
		if (oid_len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) &&
		    memcmp(oid, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, oid_len) == 0) {
			unsigned char *q = p;
			size_t kl;

			if (mbedtls_asn1_get_tag(&q, p + len, &kl, MBEDTLS_ASN1_OCTET_STRING) ==
				0 &&
			    kl > 0 && kl <= cap) {
				memcpy(out, q, kl);
				*outlen = kl;
			}
			return;
		}
		p = ext_end;
	}
}

static int rng_init(struct node_ca *ca)
{
	static const unsigned char pers[] = "edge-factory-nodes";

	return mbedtls_ctr_drbg_seed(&ca->drbg, mbedtls_entropy_func, &ca->entropy, pers,
				     sizeof(pers) - 1)
		   ? -EIO
		   : 0;
}

static struct node_ca *ca_alloc(void)
{
	struct node_ca *ca = calloc(1, sizeof(*ca));

	if (!ca)
		return NULL;
	mbedtls_x509_crt_init(&ca->crt);
	mbedtls_pk_init(&ca->key);
	mbedtls_entropy_init(&ca->entropy);
	mbedtls_ctr_drbg_init(&ca->drbg);
	return ca;
}

void node_ca_free(struct node_ca *ca)
{
	if (!ca)
		return;
	mbedtls_x509_crt_free(&ca->crt);
	mbedtls_pk_free(&ca->key);
	mbedtls_ctr_drbg_free(&ca->drbg);
	mbedtls_entropy_free(&ca->entropy);
	free(ca->pem);
	free(ca);
}

const char *node_ca_pem(const struct node_ca *ca)
{
	return ca->pem;
}

/* The CA from PEM text (certificate first in crt_pem); names are for err. */
static int ca_from_pem(struct node_ca *ca, const char *crt_pem, const char *key_pem,
		       const char *crt_name, const char *key_name, char *err, size_t errlen)
{
	if (mbedtls_x509_crt_parse(&ca->crt, (const unsigned char *)crt_pem, strlen(crt_pem) + 1) <
		0 ||
	    ca->crt.raw.len == 0)
		return fail(err, errlen, "%s: no PEM certificate", crt_name);
	if (!ca->crt.ca_istrue ||
	    mbedtls_x509_crt_check_key_usage(&ca->crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0)
		return fail(err, errlen,
			    "%s: not a CA certificate (basicConstraints CA:TRUE, "
			    "keyCertSign)",
			    crt_name);
	if (mbedtls_x509_time_is_past(&ca->crt.valid_to))
		return fail(err, errlen, "%s: the CA certificate has expired", crt_name);
	if (mbedtls_pk_parse_key(&ca->key, (const unsigned char *)key_pem, strlen(key_pem) + 1,
				 NULL, 0) != 0)
		return fail(err, errlen, "%s: no PEM private key (or encrypted)", key_name);
	if (mbedtls_pk_check_pair(&ca->crt.pk, &ca->key) != 0)
		return fail(err, errlen, "%s: not the key of %s", key_name, crt_name);
	if (mbedtls_x509_dn_gets(ca->issuer, sizeof(ca->issuer), &ca->crt.subject) < 0)
		return fail(err, errlen, "%s: subject too long", crt_name);
	find_ski(&ca->crt, ca->ski, sizeof(ca->ski), &ca->ski_len);
	ca->not_after = x509_time_epoch(&ca->crt.valid_to);
	ca->pem = strdup(crt_pem);
	if (!ca->pem) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int node_ca_load(const char *crt_file, const char *key_file, struct node_ca **out, char *err,
		 size_t errlen)
{
	struct node_ca *ca = ca_alloc();
	char *crt = NULL, *key = NULL;
	int rc;

	if (!ca) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = edge_file_read(crt_file, CA_FILE_MAX, &crt, NULL);
	if (rc) {
		snprintf(err, errlen, "%s: %s", crt_file, strerror(-rc));
		goto out;
	}
	rc = edge_file_read(key_file, KEY_FILE_MAX, &key, NULL);
	if (rc) {
		snprintf(err, errlen, "%s: %s", key_file, strerror(-rc));
		goto out;
	}
	rc = ca_from_pem(ca, crt, key, crt_file, key_file, err, errlen);
	if (!rc && rng_init(ca)) {
		snprintf(err, errlen, "random generator: seeding failed");
		rc = -EIO;
	}
out:
	free(crt);
	edge_id_secret_free(key);
	if (rc) {
		node_ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

/* A node (clientAuth) or the gateway (serverAuth, subjectAltName = host as
 * an address or a DNS name), issued by ca. */
static void issued_args(struct node_ca *ca, const char *server_host, struct edge_cert_args *a)
{
	unsigned char addr[16];

	a->issuer_key = &ca->key;
	a->issuer = ca->issuer;
	a->aki_mode = ca->ski_len ? EDGE_CERT_AKI_GIVEN : EDGE_CERT_AKI_NONE;
	a->aki = ca->ski;
	a->aki_len = ca->ski_len;
	a->server = server_host != NULL;
	if (server_host && (inet_pton(AF_INET, server_host, addr) == 1 ||
			    inet_pton(AF_INET6, server_host, addr) == 1))
		a->ip = server_host;
	else
		a->dns = server_host;
}

static int parse_key(mbedtls_pk_context *pk, const char *pem)
{
	return mbedtls_pk_parse_key(pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0) ? -EIO
											      : 0;
}

int node_ca_create(const char *cn, int days, char **key_pem, char **crt_pem, struct node_ca **out,
		   char *err, size_t errlen)
{
	struct node_ca *ca = ca_alloc();
	mbedtls_pk_context pk;
	char subject[128];
	char *key = NULL, *crt = NULL;
	int64_t now = (int64_t)time(NULL);
	struct edge_cert_args a = {.subject_key = &pk,
				   .issuer_key = &pk,
				   .subject = subject,
				   .issuer = subject,
				   .not_before = now - BACKDATE_S,
				   .not_after = now + (int64_t)days * 86400,
				   .is_ca = true};
	int rc;

	mbedtls_pk_init(&pk);
	if (!ca) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!cn_ok(cn)) {
		rc = fail(
		    err, errlen,
		    "CA name \"%s\": 1-64 printable characters, none of , = + \\ \" < > ; # /", cn);
		goto out;
	}
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	rc = rng_init(ca);
	rc = rc ?: edge_id_key_generate(&key);
	rc = rc ?: parse_key(&pk, key);
	rc = rc ?: edge_cert_write(&ca->drbg, &a, &crt);
	if (rc) {
		snprintf(err, errlen, "making the CA key and certificate failed (%s)",
			 strerror(-rc));
		goto out;
	}
	/* the freshly made CA goes through the same checks as a loaded one */
	rc = ca_from_pem(ca, crt, key, "the new CA certificate", "the new CA key", err, errlen);
out:
	mbedtls_pk_free(&pk);
	if (rc) {
		edge_id_secret_free(key);
		free(crt);
		node_ca_free(ca);
		return rc;
	}
	*key_pem = key;
	*crt_pem = crt;
	*out = ca;
	return 0;
}

/* Parses an issued certificate and verifies it against the CA, as the
 * gateway's OpenSSL will: a CA whose subject mbedTLS cannot reproduce
 * would otherwise make certificates no peer accepts. */
static int check_issued(struct node_ca *ca, const char *crt_pem, char *err, size_t errlen)
{
	mbedtls_x509_crt crt, *trust = &ca->crt;
	mbedtls_x509_crt *next = ca->crt.next;
	uint32_t flags = 0;
	int rc = 0;

	mbedtls_x509_crt_init(&crt);
	ca->crt.next = NULL; /* trust the issuer alone, not the rest of its file */
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)crt_pem, strlen(crt_pem) + 1) ||
	    mbedtls_x509_crt_verify(&crt, trust, NULL, NULL, &flags, NULL, NULL)) {
		char why[200];

		mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
		why[strcspn(why, "\n")] = '\0';
		rc = fail(err, errlen, "the issued certificate does not verify against the CA (%s)",
			  why[0] ? why : "unreadable");
	}
	ca->crt.next = next;
	mbedtls_x509_crt_free(&crt);
	return rc;
}

int node_ca_issue(struct node_ca *ca, const char *cn, const char *server_host, int days,
		  char **key_pem, char **crt_pem, char *err, size_t errlen)
{
	mbedtls_pk_context pk;
	char subject[80], *key = NULL, *crt = NULL;
	int64_t now = (int64_t)time(NULL);
	struct edge_cert_args a = {.subject_key = &pk,
				   .subject = subject,
				   .not_before = now - BACKDATE_S,
				   .not_after = now + (int64_t)days * 86400};
	int rc;

	if (!cn_ok(cn))
		return fail(err, errlen,
			    "CN \"%s\": 1-64 printable characters, none of , = + \\ \" < > ; # /",
			    cn);
	if (server_host && (!*server_host || strlen(server_host) > 64))
		return fail(err, errlen, "gateway host \"%s\": 1-64 characters", server_host);
	issued_args(ca, server_host, &a);
	if (a.not_after > ca->not_after)
		a.not_after = ca->not_after;
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	mbedtls_pk_init(&pk);
	rc = edge_id_key_generate(&key);
	rc = rc ?: parse_key(&pk, key);
	rc = rc ?: edge_cert_write(&ca->drbg, &a, &crt);
	mbedtls_pk_free(&pk);
	if (rc)
		snprintf(err, errlen, "%s: key or certificate generation failed (%s)", cn,
			 strerror(-rc));
	else
		rc = check_issued(ca, crt, err, errlen);
	if (rc) {
		edge_id_secret_free(key);
		free(crt);
		return rc;
	}
	*key_pem = key;
	*crt_pem = crt;
	return 0;
}
