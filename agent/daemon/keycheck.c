/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "edge/p11.h"
#include "keycheck.h"

/* A secret that does not exist yet is fine here: the device key is made at
 * first registration and the claim token may be gone once registered. */
static int check_file(const char *path, const char *key, char *err, size_t errlen)
{
	char e[400];
	int rc;

	if (!*path || access(path, F_OK) != 0)
		return 0;
	rc = edge_secret_check(path, "file", e, sizeof(e));
	if (rc)
		snprintf(err, errlen, "%s: %s", key, e);
	return rc;
}

int edge_agent_check_keys(const struct edge_config *cfg, bool probe_token, char *err, size_t errlen)
{
	const char *key = cfg->mqtt.tls.key_file;
	int rc;

	if (edge_p11_is_uri(key)) {
		struct edge_p11_key k;

		if (*cfg->pkcs11.pin_file &&
		    (rc = check_file(cfg->pkcs11.pin_file, "pkcs11.pin_file", err, errlen)) != 0)
			return rc;
		if (probe_token &&
		    (rc = edge_p11_check_key(key, cfg->pkcs11.module, cfg->pkcs11.pin_file,
					     "mqtt.tls.key_file", &k, err, errlen)) != 0)
			return rc;
	} else if ((rc = check_file(key, "mqtt.tls.key_file", err, errlen)) != 0) {
		return rc;
	}
	if (cfg->provisioning.enabled &&
	    (rc = check_file(cfg->provisioning.claim_token_file, "provisioning.claim_token_file",
			     err, errlen)) != 0)
		return rc;
	return 0;
}
