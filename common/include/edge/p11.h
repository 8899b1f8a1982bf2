/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_P11_H
#define EDGE_P11_H
/*
 * Device keys that stay in a token (TPM 2.0 through tpm2-pkcs11, a secure
 * element, an HSM, SoftHSM2 in tests), named by RFC 7512 URIs such as
 *   pkcs11:token=edge;object=device;type=private?pin-source=file:/etc/edge-agent/token.pin
 *
 * This is plain PKCS#11: the module is dlopen()ed and driven through its
 * function list, so nothing here links OpenSSL (the daemon's TLS side loads
 * the same key through OpenSSL's pkcs11 engine in agent/uplink). Used for
 * what the engine cannot do: checking a token and a key before starting
 * (--check-config), making a key inside the token (edge-factory) and signing
 * a CSR in it (provisioning). Nothing here logs; every failure fills err
 * with one line that names the token and the object.
 *
 * The private key never leaves the token: keys are made CKA_SENSITIVE and
 * not CKA_EXTRACTABLE, and only its public point is ever read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_P11_PREFIX "pkcs11:"

/* The module used when none is configured: p11-kit's proxy, which loads
 * every module registered on the system (/usr/share/p11-kit/modules/, e.g.
 * softhsm2, tpm2_pkcs11, opensc). Its path for the target architecture
 * comes from p11-kit-1.pc at build time. Static string. */
const char *edge_p11_default_module(void);

/* True when s names a key in a token rather than a file. */
bool edge_p11_is_uri(const char *s);

/* The parts of a PKCS#11 URI this project uses. Empty strings match any. */
struct edge_p11_uri {
	char token[33];	       /* token label (CK_TOKEN_INFO.label) */
	char manufacturer[33]; /* token manufacturer */
	char serial[17];       /* token serial number */
	char model[17];	       /* token model */
	char object[128];      /* CKA_LABEL of the key */
	unsigned char id[64];  /* CKA_ID */
	size_t id_len;
	char type[16];	    /* "private" or "" (other types are refused) */
	char pin_file[256]; /* pin-source=file:PATH (or a plain path) */
	char module[256];   /* module-path=PATH */
};

/* Parses uri. -EINVAL with err set ("pin-value: ...") for a malformed URI,
 * an unknown attribute, a PIN given inline (pin-value: the PIN belongs in a
 * file, never in a configuration) or a type other than private. */
int edge_p11_uri_parse(const char *uri, struct edge_p11_uri *u, char *err, size_t errlen);

/* "token \"edge\" object \"device\"" for messages. */
const char *edge_p11_uri_describe(const struct edge_p11_uri *u, char *buf, size_t len);

/* Reads a PIN file (first line, at most 128 bytes). The file must not be
 * readable or writable by group or others (-EPERM, err says the mode). */
int edge_p11_pin_read(const char *path, char *pin, size_t pinlen, char *err, size_t errlen);

struct edge_p11;

/* Loads module (NULL or "": the URI's module-path, else edge_p11_default_module()), initialises it,
 * finds the token matching u, opens a read-write session and logs in with pin (NULL when the token
 * needs none). *out: caller frees with edge_p11_close(). Errors: -ENOENT module or token not found,
 * -EACCES wrong or locked PIN, -EIO anything else; err names the module or the token. */
int edge_p11_open(const char *module, const struct edge_p11_uri *u, const char *pin,
		  struct edge_p11 **out, char *err, size_t errlen);
/* Logs out, closes the session, finalises and unloads. NULL is a no-op. */
void edge_p11_close(struct edge_p11 *p);

/* What the token says about the key of u. */
struct edge_p11_key {
	bool sensitive;		 /* CKA_SENSITIVE */
	bool extractable;	 /* CKA_EXTRACTABLE */
	bool always_sensitive;	 /* CKA_ALWAYS_SENSITIVE */
	bool never_extractable;	 /* CKA_NEVER_EXTRACTABLE */
	unsigned char point[65]; /* uncompressed P-256 public point (04 || X || Y) */
};

/* Finds the EC P-256 private key of u (exactly one must match) and its
 * public point (from the private key or from the public key with the same
 * CKA_ID/label). -ENOENT no such object, -EINVAL not EC P-256 or several
 * match. The key is remembered for edge_p11_sign(). */
int edge_p11_find_key(struct edge_p11 *p, const struct edge_p11_uri *u, struct edge_p11_key *key,
		      char *err, size_t errlen);

/* Makes an EC P-256 key pair inside the token with label and id of u
 * (CKA_TOKEN, private key CKA_SENSITIVE, not CKA_EXTRACTABLE, sign only).
 * -EEXIST when a private key with that label or id exists already. The new
 * key is remembered for edge_p11_sign(). */
int edge_p11_generate(struct edge_p11 *p, const struct edge_p11_uri *u, struct edge_p11_key *key,
		      char *err, size_t errlen);

/* ECDSA (CKM_ECDSA) of a 32-byte digest with the remembered key: sig is
 * r || s, 32 bytes each. */
int edge_p11_sign(struct edge_p11 *p, const unsigned char digest[32], unsigned char sig[64],
		  char *err, size_t errlen);

/* The whole check of --check-config and of the helpers: parse, PIN (from
 * the URI's pin-source, else pin_file), open, find the key. module and
 * pin_file may be NULL or "". what names the configuration key in err. */
int edge_p11_check_key(const char *uri, const char *module, const char *pin_file, const char *what,
		       struct edge_p11_key *key, char *err, size_t errlen);

/* A secret file (private key, claim token, PIN): refuses one that group or
 * others may read or write, or that is not a regular file. -EPERM with err
 * "<what> <path>: mode 0644 lets group or others read it (chmod 600)". */
int edge_secret_check(const char *path, const char *what, char *err, size_t errlen);

#endif
