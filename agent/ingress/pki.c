/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKI mode of the coaps:// endpoint (DESIGN 5.6, docs/ingress.md section 1b):
 * nodes with an X.509 certificate from ingress.coap.pki.ca_file, on the same
 * endpoint as the PSK nodes. The node id is the certificate's subject CN,
 * under the same rules as a PSK identity (1-64 of A-Z a-z 0-9 . _ -), and it
 * must be listed in the keys file (an entry without psk_hex is a
 * certificate-only node), so that revocation, counters and reloads are the
 * PSK mode's.
 *
 * The one file of the agent besides agent/uplink that includes OpenSSL:
 * libcoap-3-openssl does the DTLS with OpenSSL, the client certificate is
 * an X509 of that library (coap_session_get_tls() hands out the SSL), and
 * the CN libcoap passes to its callback is not the CN (4.3.1 prefers a SAN
 * DNS name and cuts the subject at the first '/'): "bad/node-01" would
 * become node-01. So the CN is read here from the certificate itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/file.h"
#include "ingress_priv.h"

#define PEM_MAX (256u << 10) /* a CA bundle, a certificate or a key */

/* The node id of a certificate: its only subject CN, if that is a valid
 * node id. 0, -ENOENT (no CN), -EINVAL (several CNs, or characters a node id
 * cannot have: "bad/node" must not become "bad" or "node"). */
static int cert_node_id(X509 *x, char *out, size_t outlen)
{
	const X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	const ASN1_STRING *d;
	int i, len;

	if (!name)
		return -ENOENT;
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return -ENOENT;
	if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return -EINVAL; /* two CNs: which one is the node? neither */
	d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	len = d ? ASN1_STRING_length(d) : 0;
	/* PrintableString/UTF8String/IA5String hold the node id's characters as
	 * single bytes; BMPString and UniversalString do not and are refused by
	 * the character check below (a NUL or a high byte is not allowed) */
	if (len <= 0 || (size_t)len >= outlen ||
	    !edge_node_id_valid((const char *)ASN1_STRING_get0_data(d), (size_t)len))
		return -EINVAL;
	memcpy(out, ASN1_STRING_get0_data(d), (size_t)len);
	out[len] = '\0';
	return 0;
}

/* libcoap calls this for each certificate of the chain OpenSSL has verified
 * (never for one that failed); depth 0 is the node's. Returning 0 fails the
 * handshake: an unknown node or a CN that is no node id gets no session, as
 * an unknown PSK identity. A revoked node completes it and is answered 4.03
 * (handler.c), as in PSK mode. */
static int validate_cn(const char *cn, const uint8_t *der, size_t der_len, coap_session_t *s,
		       unsigned depth, int validated, void *arg)
{
	struct edge_ingress *in = arg;
	const uint8_t *p = der;
	char id[EDGE_NODE_ID_MAX + 1], where[80] = "?";
	const coap_address_t *from = coap_session_get_addr_remote(s);
	X509 *x;
	int rc;

	(void)cn;
	if (depth > 0)
		return validated;
	if (from)
		ingress_addr_str(from, where, sizeof(where));
	x = der_len <= PEM_MAX ? d2i_X509(NULL, &p, (long)der_len) : NULL;
	rc = x ? cert_node_id(x, id, sizeof(id)) : -EINVAL;
	X509_free(x);
	if (rc) {
		in->st.pki_bad_cn++;
		EDGE_LOG_RL(&in->rl_hs, EDGE_LOG_WARNING, MOD,
			    "handshake from %s refused: the certificate's CN is %s", where,
			    rc == -ENOENT ? "missing"
					  : "not a node id (1-64 of A-Za-z0-9._-, one CN)");
		return 0;
	}
	if (!edge_node_keys_find(&in->keys, id, strlen(id))) {
		in->st.unknown_identity++;
		EDGE_LOG_RL(&in->rl_hs, EDGE_LOG_WARNING, MOD,
			    "handshake from %s refused: certificate for unknown node \"%s\"", where,
			    id);
		return 0;
	}
	return validated;
}

struct node *ingress_session_node(struct edge_ingress *in, coap_session_t *s)
{
	const coap_bin_const_t *psk = coap_session_get_psk_identity(s);
	coap_tls_library_t lib;
	char id[EDGE_NODE_ID_MAX + 1];
	SSL *ssl;

	/* 4.3.1 never returns NULL here: a session without PSK has length 0 */
	if (psk && psk->length)
		return ingress_node_find(in, (const char *)psk->s, psk->length);
	if (!in->pki.on || coap_session_get_proto(s) != COAP_PROTO_DTLS)
		return NULL;
	ssl = coap_session_get_tls(s, &lib);
	if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL)
		return NULL;
	/* the handshake verified it already; checked again because a session
	 * without a verified certificate must never get a node */
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	if (cert_node_id(SSL_get0_peer_certificate(ssl), id, sizeof(id)))
		return NULL;
	return ingress_node_find(in, id, strlen(id));
}

/* Reads a whole PEM file (NUL-terminated) after checking that OpenSSL can
 * use it; key files must not be readable by others (like the keys file). */
static int read_pem(const char *key, const char *path, bool secret, uint8_t **out, size_t *outlen,
		    char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	char *text = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	*out = NULL;
	*outlen = 0;
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > PEM_MAX) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: %s: not a regular file of 1 byte to %u KiB", key, path,
			 PEM_MAX >> 10);
		goto out;
	}
	if (secret && (st.st_mode & 077)) {
		rc = -EPERM;
		snprintf(err, errlen,
			 "%s: %s: mode %04o: a private key must not be readable by "
			 "others (chmod 600)",
			 key, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	rc = edge_file_read_fd(fd, (size_t)st.st_size, &text);
	buf = (uint8_t *)text;
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", key);
		else
			snprintf(err, errlen, "%s: %s: read failed", key, path);
		goto out;
	}
	len = (size_t)st.st_size;
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

void ingress_pki_free(struct ingress_pki *p)
{
	if (p->key) {
		explicit_bzero(p->key, p->key_len);
		free(p->key);
	}
	free(p->ca);
	free(p->cert);
	memset(p, 0, sizeof(*p));
}

/* Every check libcoap would only make at the first handshake (and then
 * only log): the CA has a certificate, the certificate and key parse and
 * belong together. */
static int check_pem(const struct ingress_pki *p, const struct ingress_settings *s, char *err,
		     size_t errlen)
{
	BIO *b = BIO_new_mem_buf(p->ca, (int)p->ca_len);
	X509 *ca = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = 0;

	BIO_free(b);
	if (!ca) {
		rc = -EINVAL;
		snprintf(err, errlen, "ingress.coap.pki.ca_file: %s: no PEM certificate",
			 s->pki_ca_file);
		goto out;
	}
	b = BIO_new_mem_buf(p->cert, (int)p->cert_len);
	cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!cert) {
		rc = -EINVAL;
		snprintf(err, errlen, "ingress.coap.pki.cert_file: %s: no PEM certificate",
			 s->pki_cert_file);
		goto out;
	}
	b = BIO_new_mem_buf(p->key, (int)p->key_len);
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!key) {
		rc = -EINVAL;
		snprintf(err, errlen,
			 "ingress.coap.pki.key_file: %s: no PEM private key (or encrypted)",
			 s->pki_key_file);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		rc = -EINVAL;
		snprintf(err, errlen, "ingress.coap.pki.key_file: %s: not the key of %s",
			 s->pki_key_file, s->pki_cert_file);
	}
out:
	ERR_clear_error(); /* what failed is said above; OpenSSL's queue must not leak into
			      libcoap's */
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_free(ca);
	return rc;
}

int ingress_pki_load(struct ingress_pki *p, const struct ingress_settings *s, char *err,
		     size_t errlen)
{
	int rc;

	ingress_pki_free(p);
	rc = read_pem("ingress.coap.pki.ca_file", s->pki_ca_file, false, &p->ca, &p->ca_len, err,
		      errlen);
	if (!rc)
		rc = read_pem("ingress.coap.pki.cert_file", s->pki_cert_file, false, &p->cert,
			      &p->cert_len, err, errlen);
	if (!rc)
		rc = read_pem("ingress.coap.pki.key_file", s->pki_key_file, true, &p->key,
			      &p->key_len, err, errlen);
	if (!rc)
		rc = check_pem(p, s, err, errlen);
	if (rc)
		ingress_pki_free(p);
	return rc;
}

int ingress_pki_setup(struct edge_ingress *in, coap_dtls_spsk_t *spsk)
{
	coap_dtls_pki_t pki;

	/* libcoap 4.3.1 (OpenSSL >= 1.1.1) treats a ClientHello as PSK only when
	 * the context has a default PSK key; with only the identity callback every
	 * PSK node would be steered to the certificate ciphers and fail. The
	 * default key never authenticates anyone: with validate_id_call_back set,
	 * libcoap uses the callback's key and refuses when it returns NULL
	 * (coap_dtls_psk_server_callback). Random anyway. */
	if (getrandom(in->pki.dummy_psk, sizeof(in->pki.dummy_psk), 0) !=
	    (ssize_t)sizeof(in->pki.dummy_psk))
		return -EIO;
	spsk->psk_info.key.s = in->pki.dummy_psk;
	spsk->psk_info.key.length = sizeof(in->pki.dummy_psk);

	memset(&pki, 0, sizeof(pki));
	pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	pki.verify_peer_cert = 1; /* client certificates required (FAIL_IF_NO_PEER_CERT) */
	pki.check_common_ca = 1;  /* signed by ca_file, the only CA trusted */
	pki.allow_self_signed = 0;
	pki.allow_expired_certs = 0;
	pki.cert_chain_validation = 1;
	pki.cert_chain_verify_depth = 2; /* node -> (intermediate) -> CA */
	pki.check_cert_revocation = 0;	 /* revocation is the keys file's "revoked" */
	pki.validate_cn_call_back = validate_cn;
	pki.cn_call_back_arg = in;
	/* in memory, read once (ingress_pki_load): libcoap parses the PEM at
	 * each handshake, and would re-open the files for each with key_type
	 * PEM (a key file that went away would fail handshakes, not the start) */
	pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
	pki.pki_key.key.pem_buf.ca_cert = in->pki.ca;
	pki.pki_key.key.pem_buf.ca_cert_len = in->pki.ca_len;
	pki.pki_key.key.pem_buf.public_cert = in->pki.cert;
	pki.pki_key.key.pem_buf.public_cert_len = in->pki.cert_len;
	pki.pki_key.key.pem_buf.private_key = in->pki.key;
	pki.pki_key.key.pem_buf.private_key_len = in->pki.key_len;
	if (!coap_context_set_pki(in->ctx, &pki))
		return -EIO;
	return 0;
}
