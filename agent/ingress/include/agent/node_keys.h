/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_NODE_KEYS_H
#define EDGE_AGENT_NODE_KEYS_H
/*
 * The node keys file (ingress.coap.keys_file, made by `edge-factory nodes`):
 *   {"nodes":[{"id":"node-01","psk_hex":"<32-64 hex digits>","revoked":false}]}
 * One DTLS-PSK key (128-256 bits) per node; the PSK identity is the node id
 * (1-64 characters of A-Z a-z 0-9 . _ -). psk_hex may be left out for a node
 * that authenticates only with a certificate (ingress.coap.pki: node id =
 * the certificate's CN): the file is the one list of nodes either way, so
 * revocation, counters and `edgectl nodes` work alike. The file must be a regular file
 * owned by root or by the agent's user with no group or other permissions
 * (0600 or 0400): anyone who reads it can impersonate every node.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_NODE_ID_MAX   64
#define EDGE_NODE_KEY_MIN  16
#define EDGE_NODE_KEY_MAX  32
#define EDGE_NODES_MAX	   20000
#define EDGE_NODE_KEYS_MAX (4u << 20) /* bytes of the file */

struct edge_node_key {
	char id[EDGE_NODE_ID_MAX + 1];
	uint8_t key[EDGE_NODE_KEY_MAX];
	uint8_t key_len; /* 0: no PSK (certificate only) */
	bool revoked;
};

/* Sorted by id. */
struct edge_node_keys {
	size_t n;
	struct edge_node_key *v;
};

/* Checks the file's owner and mode, then parses it. On failure err holds
 * one line naming the file and the problem; *out is left empty. Caller frees
 * with edge_node_keys_free() (which wipes the keys). */
int edge_node_keys_load(const char *path, struct edge_node_keys *out, char *err, size_t errlen);
int edge_node_keys_parse(const char *json, size_t len, const char *origin,
			 struct edge_node_keys *out, char *err, size_t errlen);
/* The entry for id (not NUL-terminated, idlen bytes), or NULL. Borrowed
 * until the set is freed. */
const struct edge_node_key *edge_node_keys_find(const struct edge_node_keys *k, const char *id,
						size_t idlen);
void edge_node_keys_free(struct edge_node_keys *k);
bool edge_node_id_valid(const char *s, size_t n);

#endif
