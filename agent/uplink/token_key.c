/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL 3 deprecates the ENGINE API, but the pkcs11 provider is not
 * packaged in Debian 12: the engine is the PKCS#11 path OpenSSL offers here. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "edge/p11.h"
#include "token_key.h"

struct edge_token_key {
	ENGINE *engine; /* functional reference (ENGINE_init) */
	EVP_PKEY *pkey;
};

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no OpenSSL reason");
	ERR_clear_error();
}

void edge_token_key_free(struct edge_token_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	if (k->engine) {
		ENGINE_finish(k->engine); /* libp11 logs out and C_Finalize()s */
		ENGINE_free(k->engine);
	}
	free(k);
}

/* The engine failed to give a key: walk the token ourselves for a reason a
 * person can act on (token absent, wrong PIN, no such object). */
static void diagnose(const struct edge_config *c, char *why, size_t len)
{
	struct edge_p11_key key;
	char e[400];

	if (edge_p11_check_key(c->mqtt.tls.key_file, c->pkcs11.module, c->pkcs11.pin_file,
			       "mqtt.tls.key_file", &key, e, sizeof(e)) != 0)
		snprintf(why, len, "%.299s", e);
}

int edge_token_key_load(const struct edge_config *c, struct edge_token_key **out, SSL_CTX **ctx,
			char *why, size_t whylen)
{
	struct edge_p11_uri u;
	struct edge_token_key *k;
	char pin[160], e[300], uri[EDGE_PATH_MAX];
	const char *pin_file, *module, *q;
	X509_VERIFY_PARAM *vp;
	SSL_CTX *sc;
	int rc;

	rc = edge_p11_uri_parse(c->mqtt.tls.key_file, &u, e, sizeof(e));
	if (rc) {
		snprintf(why, whylen, "mqtt.tls.key_file: %s", e);
		return rc;
	}
	pin_file = *u.pin_file ? u.pin_file : c->pkcs11.pin_file;
	pin[0] = '\0';
	if (*pin_file && (rc = edge_p11_pin_read(pin_file, pin, sizeof(pin), e, sizeof(e))) != 0) {
		snprintf(why, whylen, "mqtt.tls.key_file: %s", e);
		return rc;
	}
	module = *u.module	     ? u.module
		 : *c->pkcs11.module ? c->pkcs11.module
				     : edge_p11_default_module();
	/* pin-source and module-path are ours; the engine gets the rest. */
	q = strchr(c->mqtt.tls.key_file, '?');
	snprintf(uri, sizeof(uri), "%.*s",
		 q ? (int)(q - c->mqtt.tls.key_file) : (int)strlen(c->mqtt.tls.key_file),
		 c->mqtt.tls.key_file);

	k = calloc(1, sizeof(*k));
	if (!k) {
		rc = -ENOMEM;
		goto out;
	}
	rc = -EIO;
	ENGINE_load_builtin_engines();
	k->engine = ENGINE_by_id("pkcs11");
	if (!k->engine) {
		ERR_clear_error();
		snprintf(why, whylen,
			 "mqtt.tls.key_file: OpenSSL's pkcs11 engine is not installed "
			 "(libengine-pkcs11-openssl)");
		goto err_k;
	}
	if (!ENGINE_ctrl_cmd_string(k->engine, "MODULE_PATH", module, 0) ||
	    !ENGINE_init(k->engine)) {
		ssl_reason(e, sizeof(e));
		ENGINE_free(k->engine);
		k->engine = NULL;
		snprintf(why, whylen, "mqtt.tls.key_file: pkcs11 engine with module %.100s: %.150s",
			 module, e);
		goto err_k;
	}
	if (*pin && !ENGINE_ctrl_cmd_string(k->engine, "PIN", pin, 0)) {
		snprintf(why, whylen, "mqtt.tls.key_file: the pkcs11 engine refused the PIN");
		goto err_k;
	}
	k->pkey = ENGINE_load_private_key(k->engine, uri, NULL, NULL);
	if (!k->pkey) {
		char d[200];

		ERR_clear_error();
		snprintf(why, whylen,
			 "mqtt.tls.key_file: %s: the pkcs11 engine found no usable key",
			 edge_p11_uri_describe(&u, d, sizeof(d)));
		/* let the module go before walking the token again */
		ENGINE_finish(k->engine);
		ENGINE_free(k->engine);
		k->engine = NULL;
		diagnose(c, why, whylen);
		rc = -ENOENT;
		goto err_k;
	}
	sc = SSL_CTX_new(TLS_client_method());
	if (!sc) {
		snprintf(why, whylen, "out of memory (SSL_CTX_new)");
		rc = -ENOMEM;
		goto err_k;
	}
	/* What libmosquitto would do on its own context (see token_key.h for
	 * why it cannot here): TLS floor, the CA, peer verification and the
	 * broker's name or address checked against its certificate. */
	if (SSL_CTX_set_min_proto_version(sc, strcmp(c->mqtt.tls.version, "tlsv1.3") == 0
						  ? TLS1_3_VERSION
						  : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_file(sc, c->mqtt.tls.ca_file) != 1) {
		ssl_reason(e, sizeof(e));
		snprintf(why, whylen, "mqtt.tls.ca_file %.100s: %.150s", c->mqtt.tls.ca_file, e);
		goto err_ctx;
	}
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
	vp = SSL_CTX_get0_param(sc);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, c->mqtt.host) != 1) {
		ERR_clear_error(); /* not an address: a host name */
		if (X509_VERIFY_PARAM_set1_host(vp, c->mqtt.host, 0) != 1) {
			snprintf(why, whylen,
				 "mqtt.host %.100s: cannot be checked against the "
				 "broker certificate",
				 c->mqtt.host);
			goto err_ctx;
		}
	}
	if (SSL_CTX_use_certificate_chain_file(sc, c->mqtt.tls.cert_file) != 1) {
		ssl_reason(e, sizeof(e));
		snprintf(why, whylen, "mqtt.tls.cert_file %.100s: %.150s", c->mqtt.tls.cert_file,
			 e);
		goto err_ctx;
	}
	if (SSL_CTX_use_PrivateKey(sc, k->pkey) != 1 || SSL_CTX_check_private_key(sc) != 1) {
		ssl_reason(e, sizeof(e));
		snprintf(why, whylen,
			 "mqtt.tls.key_file: the token key does not belong to certificate %.100s "
			 "(%.100s)",
			 c->mqtt.tls.cert_file, e);
		goto err_ctx;
	}
	*ctx = sc;
	*out = k;
	rc = 0;
	goto out;

err_ctx:
	SSL_CTX_free(sc);
err_k:
	edge_token_key_free(k);
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	return rc;
}
