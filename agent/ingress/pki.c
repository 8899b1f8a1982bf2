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
#include <openssl/x509v3.h>
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

static void files_free(struct ingress_pki_files *f)
{
	if (f->key) {
		explicit_bzero(f->key, f->key_len);
		free(f->key);
	}
	free(f->ca);
	free(f->cert);
	X509_STORE_free(f->trust);
	memset(f, 0, sizeof(*f));
}

void ingress_pki_free(struct ingress_pki *p)
{
	files_free(&p->files);
	explicit_bzero(p->dummy_psk, sizeof(p->dummy_psk));
	p->on = false;
}

/* Every certificate of the CA file into a store of its own, which each
 * handshake verifies against (per_handshake()); each must be a CA. */
static int trust_from_pem(struct ingress_pki_files *f, const struct ingress_settings *s, char *err,
			  size_t errlen)
{
	BIO *b = BIO_new_mem_buf(f->ca, (int)f->ca_len);
	X509 *x;
	int n = 0, rc = 0;

	f->trust = X509_STORE_new();
	if (!b || !f->trust) {
		BIO_free(b);
		snprintf(err, errlen, "ingress.coap.pki.ca_file: out of memory");
		return -ENOMEM;
	}
	while (!rc && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		n++;
		if (X509_check_ca(x) < 1) {
			rc = -EINVAL;
			snprintf(err, errlen,
				 "ingress.coap.pki.ca_file: %s: certificate %d is not a CA "
				 "(basicConstraints CA:TRUE)",
				 s->pki_ca_file, n);
		} else if (X509_STORE_add_cert(f->trust, x) != 1) {
			rc = -ENOMEM;
			snprintf(err, errlen,
				 "ingress.coap.pki.ca_file: %s: certificate %d: cannot "
				 "add it (twice in the file?)",
				 s->pki_ca_file, n);
		}
		X509_free(x);
	}
	BIO_free(b);
	if (!rc && n == 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "ingress.coap.pki.ca_file: %s: no PEM certificate",
			 s->pki_ca_file);
	}
	return rc;
}

/* Every check libcoap would only make at a handshake (and then only log):
 * the CA file holds CA certificates, the certificate and key parse, belong
 * together and the certificate has not expired. */
static int check_pem(struct ingress_pki_files *f, const struct ingress_settings *s, char *err,
		     size_t errlen)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	BIO *b;
	int rc;

	rc = trust_from_pem(f, s, err, errlen);
	if (rc)
		goto out;
	b = BIO_new_mem_buf(f->cert, (int)f->cert_len);
	cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!cert) {
		rc = -EINVAL;
		snprintf(err, errlen, "ingress.coap.pki.cert_file: %s: no PEM certificate",
			 s->pki_cert_file);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "ingress.coap.pki.cert_file: %s: the certificate has expired",
			 s->pki_cert_file);
		goto out;
	}
	b = BIO_new_mem_buf(f->key, (int)f->key_len);
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
	return rc;
}

/* Reads and checks the three files of s into f (empty on failure). */
static int load_files(struct ingress_pki_files *f, const struct ingress_settings *s, char *err,
		      size_t errlen)
{
	int rc;

	memset(f, 0, sizeof(*f));
	rc = read_pem("ingress.coap.pki.ca_file", s->pki_ca_file, false, &f->ca, &f->ca_len, err,
		      errlen);
	if (!rc)
		rc = read_pem("ingress.coap.pki.cert_file", s->pki_cert_file, false, &f->cert,
			      &f->cert_len, err, errlen);
	if (!rc)
		rc = read_pem("ingress.coap.pki.key_file", s->pki_key_file, true, &f->key,
			      &f->key_len, err, errlen);
	if (!rc)
		rc = check_pem(f, s, err, errlen);
	if (rc)
		files_free(f);
	return rc;
}

/*
 * libcoap 4.3.1 calls this at each ClientHello, after it has put the
 * gateway's certificate, key and CA names of the current set-up on the new
 * SSL. libcoap also adds the CA to the trust store of its SSL_CTX, shared by
 * every handshake, and never takes one out: after a reload with another CA
 * the old one would still be trusted there. So each handshake verifies
 * against a store of its own, the CA file as read last (OpenSSL uses an
 * SSL's verify store instead of its SSL_CTX's when it has one). A
 * handshake holds a reference: a reload in its middle does not free it.
 */
static int per_handshake(void *tls, coap_dtls_pki_t *setup)
{
	struct edge_ingress *in = setup ? setup->cn_call_back_arg : NULL;

	if (!tls || !in || !in->pki.files.trust)
		return 0; /* fails the handshake */
	return SSL_set1_verify_cert_store((SSL *)tls, in->pki.files.trust) == 1;
}

int ingress_pki_prepare(struct edge_ingress *in, coap_dtls_spsk_t *spsk)
{
	/* libcoap 4.3.1 (OpenSSL >= 1.1.1) treats a ClientHello as PSK only when
	 * the context has a default PSK key; with only the identity callback every
	 * PSK node would be steered to the certificate ciphers and fail. The
	 * default key never authenticates anyone: with validate_id_call_back set,
	 * libcoap uses the callback's key and refuses when it returns NULL
	 * (coap_dtls_psk_server_callback). Random anyway. Set even when the
	 * files cannot be used yet: a reload may turn certificates on. */
	if (getrandom(in->pki.dummy_psk, sizeof(in->pki.dummy_psk), 0) !=
	    (ssize_t)sizeof(in->pki.dummy_psk))
		return -EIO;
	spsk->psk_info.key.s = in->pki.dummy_psk;
	spsk->psk_info.key.length = sizeof(in->pki.dummy_psk);
	return 0;
}

static void setup_data(struct edge_ingress *in, const struct ingress_pki_files *f,
		       coap_dtls_pki_t *pki)
{
	memset(pki, 0, sizeof(*pki));
	pki->version = COAP_DTLS_PKI_SETUP_VERSION;
	pki->verify_peer_cert = 1; /* client certificates required (FAIL_IF_NO_PEER_CERT) */
	pki->check_common_ca = 1;  /* signed by ca_file, the only CA trusted */
	pki->allow_self_signed = 0;
	pki->allow_expired_certs = 0;
	pki->cert_chain_validation = 1;
	pki->cert_chain_verify_depth = 2; /* node -> (intermediate) -> CA */
	pki->check_cert_revocation = 0;	  /* revocation is the keys file's "revoked" */
	pki->validate_cn_call_back = validate_cn;
	pki->cn_call_back_arg = in;
	pki->additional_tls_setup_call_back = per_handshake;
	/* in memory, as read and checked (load_files): libcoap parses the PEM
	 * at each handshake, and would re-open the files for each with key_type
	 * PEM (a key file that went away would fail handshakes, not the start) */
	pki->pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
	pki->pki_key.key.pem_buf.ca_cert = f->ca;
	pki->pki_key.key.pem_buf.ca_cert_len = f->ca_len;
	pki->pki_key.key.pem_buf.public_cert = f->cert;
	pki->pki_key.key.pem_buf.public_cert_len = f->cert_len;
	pki->pki_key.key.pem_buf.private_key = f->key;
	pki->pki_key.key.pem_buf.private_key_len = f->key_len;
}

/* True for an established certificate session whose client certificate
 * the CA file now in force (arg) does not verify: the same check as a
 * handshake's (chain to the CA, validity, clientAuth purpose, depth). */
static bool cert_refused(coap_session_t *s, void *arg)
{
	const coap_bin_const_t *psk = coap_session_get_psk_identity(s);
	coap_tls_library_t lib;
	X509_STORE_CTX *v;
	SSL *ssl;
	X509 *leaf;
	bool ok;

	if ((psk && psk->length) || coap_session_get_proto(s) != COAP_PROTO_DTLS)
		return false; /* a PSK session: the keys file decides */
	ssl = coap_session_get_tls(s, &lib);
	if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL)
		return false;
	leaf = SSL_get0_peer_certificate(ssl);
	if (!leaf)
		return true; /* no PSK and no certificate: nothing authenticates it */
	v = X509_STORE_CTX_new();
	ok = v && X509_STORE_CTX_init(v, arg, leaf, SSL_get_peer_cert_chain(ssl)) == 1 &&
	     X509_STORE_CTX_set_default(v, "ssl_client") == 1;
	if (ok) {
		X509_STORE_CTX_set_depth(v, 2 + 1); /* as cert_chain_verify_depth above */
		ok = X509_verify_cert(v) == 1;
	}
	X509_STORE_CTX_free(v);
	ERR_clear_error();
	return !ok;
}

int ingress_pki_reload(struct edge_ingress *in, char *err, size_t errlen)
{
	struct ingress_pki_files next, old;
	coap_dtls_pki_t pki;
	bool was_on = in->pki.on;
	size_t closed = 0;
	int rc;

	if (!in->set.pki_enabled || !in->ctx)
		return 0;
	rc = load_files(&next, &in->set, err, errlen);
	if (rc)
		goto fail;
	/* libcoap 4.3.1 copies the set-up into its context (coap_openssl.c,
	 * coap_dtls_context_set_pki) and reads it at each ClientHello: a second
	 * call replaces it for the handshakes to come; the SSLs of established
	 * sessions hold what they were made with */
	setup_data(in, &next, &pki);
	if (!coap_context_set_pki(in->ctx, &pki)) {
		files_free(&next);
		if (was_on) { /* it may have taken part of it: the running files again */
			setup_data(in, &in->pki.files, &pki);
			(void)coap_context_set_pki(in->ctx, &pki);
		}
		rc = -EIO;
		snprintf(err, errlen, "libcoap refused the certificate set-up");
		goto fail;
	}
	old = in->pki.files;
	in->pki.files = next;
	files_free(&old);
	in->pki.on = true;
	in->pki.error[0] = '\0';
	if (was_on)
		closed = ingress_sess_close_if(in, cert_refused, in->pki.files.trust);
	if (was_on)
		EDGE_NOTICE(MOD,
			    "certificates re-read (%s, %s); %zu certificate session(s) the CA "
			    "file no longer accepts closed",
			    in->set.pki_ca_file, in->set.pki_cert_file, closed);
	else
		EDGE_NOTICE(MOD, "certificates on (%s, %s)", in->set.pki_ca_file,
			    in->set.pki_cert_file);
	return 0;
fail:
	snprintf(in->pki.error, sizeof(in->pki.error), "%s", err);
	return rc;
}
