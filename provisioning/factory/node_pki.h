/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FACTORY_NODE_PKI_H
#define EDGE_FACTORY_NODE_PKI_H
/*
 * Certificates of constrained CoAP nodes (edge-factory nodes --cert, the
 * agent's ingress.coap.pki; docs/ingress.md section 1b), with mbedTLS like
 * the rest of provisioning/: a node CA, node certificates (CN = node id,
 * clientAuth) and the gateway's coaps:// certificate (serverAuth, SAN = its
 * host name or address). Keys are EC P-256. Nothing here logs: errors come
 * back as a negative errno and a sentence in err.
 */
#include <stddef.h>

struct node_ca;

/* Loads a CA certificate (PEM, its first certificate) and its private key
 * and checks that they belong together, that the certificate is a CA
 * allowed to sign certificates and that it has not expired. Caller frees
 * with node_ca_free(). */
int node_ca_load(const char *crt_file, const char *key_file, struct node_ca **out, char *err,
		 size_t errlen);
/* A new self-signed CA (CN = cn, valid days from now, path length 0):
 * *key_pem (caller frees with edge_id_secret_free()) and *crt_pem (free()),
 * and the loaded CA in *out (node_ca_free()). */
int node_ca_create(const char *cn, int days, char **key_pem, char **crt_pem, struct node_ca **out,
		   char *err, size_t errlen);
void node_ca_free(struct node_ca *ca);
/* The CA certificate as PEM; borrowed, valid while ca lives. */
const char *node_ca_pem(const struct node_ca *ca);

/* A new P-256 key (*key_pem, edge_id_secret_free()) and its certificate
 * (*crt_pem, free()) signed by ca, valid days from now (never beyond the
 * CA). server_host NULL: a node certificate, CN = cn, clientAuth.
 * server_host set: the gateway's, CN = cn, serverAuth, subjectAltName =
 * server_host (an IPv4/IPv6 address or a DNS name). The result is checked
 * against the CA before it is returned. */
int node_ca_issue(struct node_ca *ca, const char *cn, const char *server_host, int days,
		  char **key_pem, char **crt_pem, char *err, size_t errlen);

#endif
