/* SPDX-License-Identifier: Apache-2.0 */
/* What a registration left in state_dir, readable without libcurl: the agent
 * links only this and identity.c, and runs the HTTP client (client.c) in the
 * short-lived edge-prov-client process. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/cfgtab.h"
#include "edge/file.h"
#include "edge/prov_identity.h"
#include "edge/provision.h"

bool edge_prov_need_registration(const char *state_dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/device.crt", state_dir);
	if (access(p, R_OK) != 0)
		return true;
	snprintf(p, sizeof(p), "%s/provisioning.json", state_dir);
	return access(p, R_OK) != 0;
}

int edge_prov_cert_expiry(const char *path, int64_t *not_after)
{
	return edge_id_cert_file_not_after(path, not_after);
}

int edge_prov_state_load(const char *state_dir, struct edge_prov_state *st)
{
	char path[PATH_MAX];
	const cJSON *v, *mqtt;
	cJSON *root;
	char *text;
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/provisioning.json", state_dir);
	rc = edge_file_read(path, 256 * 1024, &text, NULL);
	if (rc)
		return rc;
	root = cJSON_Parse(text);
	free(text);
	rc = -EINVAL;
	if (!cJSON_IsObject(root))
		goto out;
#define COPY(obj, key, dst)                                                                        \
	do {                                                                                       \
		v = cJSON_GetObjectItemCaseSensitive(obj, key);                                    \
		if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(dst))                   \
			goto out;                                                                  \
		memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);                           \
	} while (0)
	COPY(root, "deviceId", st->device_id);
	COPY(root, "certFile", st->cert_file);
	COPY(root, "keyFile", st->key_file);
	COPY(root, "caFile", st->ca_file);
	mqtt = cJSON_GetObjectItemCaseSensitive(root, "mqtt");
	COPY(mqtt, "host", st->mqtt_host);
#undef COPY
	/* checked before any cast: a damaged file may hold 1e30 or 1.5 */
	if (edge_json_to_int(cJSON_GetObjectItemCaseSensitive(mqtt, "port"), 1, 65535,
			     &st->mqtt_port))
		goto out;
	/* optional, as in the registration response: 0 when absent or absurd */
	if (edge_json_to_i64(cJSON_GetObjectItemCaseSensitive(root, "notAfter"), 1,
			     INT64_C(999999999999), &st->not_after))
		st->not_after = 0;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
