/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/node_keys.h"
#include "edge/file.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool edge_node_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > EDGE_NODE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct edge_node_key *)a)->id, ((const struct edge_node_key *)b)->id);
}

void edge_node_keys_free(struct edge_node_keys *k)
{
	if (!k)
		return;
	if (k->v) {
		explicit_bzero(k->v, k->n * sizeof(*k->v));
		free(k->v);
	}
	k->v = NULL;
	k->n = 0;
}

int edge_node_keys_parse(const char *json, size_t len, const char *origin,
			 struct edge_node_keys *out, char *err, size_t errlen)
{
	const cJSON *nodes, *it;
	cJSON *root = cJSON_ParseWithLength(json, len);
	size_t n = 0, i = 0;
	int rc = 0;

	out->n = 0;
	out->v = NULL;
	if (!root)
		return fail(err, errlen, "%s: not valid JSON", origin);
	nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(nodes)) {
		rc = fail(err, errlen, "%s: expected {\"nodes\": [...]}", origin);
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(nodes);
	if (n > EDGE_NODES_MAX) {
		rc = fail(err, errlen, "%s: more than %d nodes", origin, EDGE_NODES_MAX);
		goto out;
	}
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", origin);
		goto out;
	}
	cJSON_ArrayForEach (it, nodes) {
		struct edge_node_key *k = &out->v[i];
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		const cJSON *psk = cJSON_GetObjectItemCaseSensitive(it, "psk_hex");
		const cJSON *rev = cJSON_GetObjectItemCaseSensitive(it, "revoked");
		size_t hl;

		if (!cJSON_IsObject(it) || !cJSON_IsString(id) ||
		    !edge_node_id_valid(id->valuestring, strlen(id->valuestring))) {
			rc =
			    fail(err, errlen,
				 "%s: nodes[%zu].id: 1-64 characters of A-Z a-z 0-9 . _ - required",
				 origin, i);
			goto out;
		}
		/* no psk_hex: a node that authenticates with a certificate only
		 * (ingress.coap.pki); it gets no PSK handshake */
		if (!psk) {
			hl = 0;
		} else if (!cJSON_IsString(psk) || (hl = strlen(psk->valuestring)) % 2 ||
			   hl < 2 * EDGE_NODE_KEY_MIN || hl > 2 * EDGE_NODE_KEY_MAX) {
			rc = fail(err, errlen, "%s: nodes[%zu].psk_hex: %d-%d hex digits required",
				  origin, i, 2 * EDGE_NODE_KEY_MIN, 2 * EDGE_NODE_KEY_MAX);
			goto out;
		}
		for (size_t j = 0; j < hl / 2; j++) {
			int hi = hexval(psk->valuestring[2 * j]),
			    lo = hexval(psk->valuestring[2 * j + 1]);

			if (hi < 0 || lo < 0) {
				rc = fail(err, errlen, "%s: nodes[%zu].psk_hex: not hexadecimal",
					  origin, i);
				goto out;
			}
			k->key[j] = (uint8_t)(hi << 4 | lo);
		}
		if (rev && !cJSON_IsBool(rev)) {
			rc = fail(err, errlen, "%s: nodes[%zu].revoked: true or false", origin, i);
			goto out;
		}
		k->key_len = (uint8_t)(hl / 2);
		k->revoked = cJSON_IsTrue(rev);
		memcpy(k->id, id->valuestring, strlen(id->valuestring) + 1);
		i++;
	}
	out->n = n;
	qsort(out->v, n, sizeof(*out->v), by_id);
	for (i = 1; i < n; i++)
		if (strcmp(out->v[i - 1].id, out->v[i].id) == 0) {
			rc = fail(err, errlen, "%s: node %s appears twice", origin, out->v[i].id);
			goto out;
		}
out:
	/* cJSON's copy of the keys: wipe before freeing */
	cJSON_ArrayForEach (it, nodes) {
		cJSON *psk = cJSON_GetObjectItemCaseSensitive(it, "psk_hex");

		if (cJSON_IsString(psk))
			explicit_bzero(psk->valuestring, strlen(psk->valuestring));
	}
	cJSON_Delete(root);
	if (rc) {
		out->n = n;
		edge_node_keys_free(out);
	}
	return rc;
}

int edge_node_keys_load(const char *path, struct edge_node_keys *out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	out->n = 0;
	out->v = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = -EPERM;
		snprintf(err, errlen, "%s: owned by uid %u: must be root's (or the agent's)", path,
			 (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & 077) {
		rc = -EPERM;
		snprintf(err, errlen,
			 "%s: mode %04o: node keys must not be readable by others "
			 "(chmod 600)",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((uint64_t)st.st_size > EDGE_NODE_KEYS_MAX) {
		rc = fail(err, errlen, "%s: larger than %u bytes", path, EDGE_NODE_KEYS_MAX);
		goto out;
	}
	rc = edge_file_read_fd(fd, (size_t)st.st_size, &buf);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", path);
		else
			snprintf(err, errlen, "%s: read failed", path);
		goto out;
	}
	len = (size_t)st.st_size;
	rc = edge_node_keys_parse(buf, len, path, out, err, errlen);
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

const struct edge_node_key *edge_node_keys_find(const struct edge_node_keys *k, const char *id,
						size_t idlen)
{
	size_t lo = 0, hi = k->n;

	if (idlen > EDGE_NODE_ID_MAX)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(k->v[mid].id, id, idlen);

		if (c == 0 && k->v[mid].id[idlen] != '\0')
			c = 1;
		if (c == 0)
			return &k->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
