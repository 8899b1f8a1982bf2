/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/prov_identity.h"
#include "edge/provision.h"

#define PEM_MAX (64 * 1024)

void edge_prov_response_clear(struct edge_prov_response *r)
{
	free(r->device_id);
	free(r->certificate);
	free(r->ca_chain);
	free(r->mqtt_host);
	free(r->topics_json);
	free(r->platform_name);
	free(r->platform_claim);
	memset(r, 0, sizeof(*r));
}

static int dup_str(const cJSON *o, const char *key, size_t max, char **dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > max)
		return -EINVAL;
	*dst = strdup(v->valuestring);
	return *dst ? 0 : -ENOMEM;
}

static bool host_ok(const char *h)
{
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '.' || *h == '-' || *h == ':' ||
		      *h == '[' || *h == ']'))
			return false;
	return true;
}

/* Certificates only: at least one PEM block and every block a CERTIFICATE.
 * A CSR or key block beside them would be what the helper's "certificate
 * for our key" check looks at (edge_id_pubkey_fingerprint() takes a CSR
 * first), while TLS presents the certificate. */
static bool only_certificates(const char *pem)
{
	static const char begin[] = "-----BEGIN ", cert[] = "-----BEGIN CERTIFICATE-----";
	const char *p = strstr(pem, begin);

	if (!p)
		return false;
	for (; p; p = strstr(p + 1, begin))
		if (strncmp(p, cert, sizeof(cert) - 1) != 0)
			return false;
	return true;
}

int edge_prov_parse_response(const char *body, size_t len, struct edge_prov_response *out,
			     const char **why)
{
	const cJSON *mqtt, *port, *topics, *rp, *na;
	cJSON *root;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	*why = "malformed JSON";
	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root))
		goto out;
	*why = "deviceId missing or invalid";
	if (dup_str(root, "deviceId", 64, &out->device_id) || !edge_id_serial_valid(out->device_id))
		goto out;
	*why = "certificate missing or not PEM certificates";
	if (dup_str(root, "certificate", PEM_MAX, &out->certificate) ||
	    !only_certificates(out->certificate))
		goto out;
	*why = "caChain missing or not PEM certificates";
	if (dup_str(root, "caChain", PEM_MAX, &out->ca_chain) || !only_certificates(out->ca_chain))
		goto out;
	*why = "mqtt.host/port missing or invalid";
	mqtt = cJSON_GetObjectItemCaseSensitive(root, "mqtt");
	port = cJSON_GetObjectItemCaseSensitive(mqtt, "port");
	if (!cJSON_IsObject(mqtt) || dup_str(mqtt, "host", 253, &out->mqtt_host) ||
	    !host_ok(out->mqtt_host) || !cJSON_IsNumber(port) || port->valuedouble < 1 ||
	    port->valuedouble > 65535)
		goto out;
	out->mqtt_port = (int)port->valuedouble;
	topics = cJSON_GetObjectItemCaseSensitive(root, "topics");
	if (cJSON_IsObject(topics)) {
		out->topics_json = cJSON_PrintUnformatted(topics);
		if (!out->topics_json) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rp = cJSON_GetObjectItemCaseSensitive(root, "realtimePlatform");
	if (cJSON_IsObject(rp)) {
		*why = "realtimePlatform malformed";
		if (dup_str(rp, "name", 63, &out->platform_name) ||
		    dup_str(rp, "claim", 79, &out->platform_claim))
			goto out;
		out->platform_created =
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rp, "created"));
	}
	na = cJSON_GetObjectItemCaseSensitive(root, "notAfter");
	if (cJSON_IsNumber(na) && na->valuedouble > 0 && na->valuedouble < 1e12)
		out->not_after = (int64_t)na->valuedouble;
	*why = NULL;
	rc = 0;
out:
	cJSON_Delete(root);
	if (rc)
		edge_prov_response_clear(out);
	return rc;
}

void edge_prov_parse_error(const char *body, size_t len, char *buf, size_t cap)
{
	cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	size_t j = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	if (cJSON_IsString(e)) {
		/* Printable ASCII only: the text ends up in logs. */
		for (const char *p = e->valuestring; *p && j + 1 < cap; p++)
			buf[j++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		buf[j] = '\0';
	}
	cJSON_Delete(root);
}
