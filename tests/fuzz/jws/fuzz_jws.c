/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: JWS parsing and ES256 verification (jws.h). First byte
 * even: the rest is a compact JWS verified with a fixed P-256 key (the seed
 * corpus holds JWSs signed with its private half, so the verify path is
 * reached); odd: the rest is parsed as a public key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/jws.h"

static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERxw+dYxJBChbun5TEY7Q9SSt6wdX\n"
			      "0lvS+Oew1236cUzdUg96yoqLkXrMN/Ud6PDJu+OthYOC5wLcJaEtCfeoWA==\n"
			      "-----END PUBLIC KEY-----\n";

static struct edge_jws_key *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *payload = NULL, why[128];
	unsigned char *buf;
	size_t plen = 0;

	if (!key && edge_jws_key_parse(pub_pem, sizeof(pub_pem) - 1, &key))
		abort();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct edge_jws_key *k = NULL;

		if (edge_jws_key_parse(data + 1, size - 1, &k) == 0)
			edge_jws_key_free(k);
		return 0;
	}
	if (edge_jws_verify((const char *)data + 1, size - 1, key, &payload, &plen, why,
			    sizeof(why)) == 0) {
		if (!payload || strlen(payload) > plen)
			abort();
	}
	free(payload);
	buf = malloc(size * 3 / 4 + 4);
	if (buf) {
		edge_b64url_decode((const char *)data + 1, size - 1, buf);
		free(buf);
	}
	return 0;
}
