/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the OTA manifest (edge/ota/manifest.h). The first byte
 * picks the path:
 *   0 mod 3: the rest is a compact JWS checked with a fixed P-256 key (the
 *            seeds are signed with its private half, made by edge-ota-sign)
 *   1 mod 3: the rest is a payload given to the schema directly
 *   2 mod 3: the rest is two versions split at the first NUL, compared
 * An accepted manifest must obey the schema's promises and survive
 * edge_ota_manifest_to_json() -> parse unchanged; semver comparison must be
 * antisymmetric and agree with validity.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/jws.h"
#include "edge/ota/manifest.h"
#include "fuzz_util.h"

static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEX+o8HfRL1YFLMLtyYvKm5+IzvmSe\n"
			      "+qDMk4J83hNstclJAfBSBTi33fDM5Dv8cB9e4ILOPIQRXSq2ovYBv7Ov5w==\n"
			      "-----END PUBLIC KEY-----\n";

static struct edge_jws_key *key;

static void check_manifest(const struct edge_ota_manifest *m)
{
	struct edge_ota_manifest back;
	char why[160];
	char *json;

	if (!edge_semver_valid(m->version) ||
	    (m->min_version[0] && !edge_semver_valid(m->min_version)))
		abort();
	if (m->size < 1 || m->size > (UINT64_C(1) << 53) || strlen(m->sha256) != 64)
		abort();
	if (m->n_boards < 1 || m->n_boards > EDGE_OTA_BOARDS_MAX ||
	    !edge_ota_manifest_has_board(m, m->boards[m->n_boards - 1]))
		abort();
	if (strncmp(m->url, "http://", 7) && strncmp(m->url, "https://", 8))
		abort();
	json = edge_ota_manifest_to_json(m);
	if (!json)
		return; /* out of memory */
	if (edge_ota_manifest_parse(json, strlen(json), &back, why, sizeof(why)) != 0 ||
	    memcmp(m, &back, sizeof(back)) != 0)
		abort();
	free(json);
}

static int sign_of(int v)
{
	return (v > 0) - (v < 0);
}

static void check_semver(const uint8_t *data, size_t size)
{
	char a[128], b[128];
	int ab, ba;

	fuzz_take_string(&data, &size, a, sizeof(a));
	fuzz_take_string(&data, &size, b, sizeof(b));
	ab = edge_semver_cmp(a, b);
	ba = edge_semver_cmp(b, a);
	if (sign_of(ab) != -sign_of(ba) || edge_semver_cmp(a, a) != 0)
		abort();
	/* invalid versions sort before every valid one */
	if (edge_semver_valid(a) && !edge_semver_valid(b) && ab <= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_ota_manifest m;
	char why[160];
	int rc;

	if (!key && edge_jws_key_parse(pub_pem, sizeof(pub_pem) - 1, &key))
		abort();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		rc = edge_ota_manifest_verify((const char *)data + 1, size - 1, key, &m, why,
					      sizeof(why));
		break;
	case 1:
		rc =
		    edge_ota_manifest_parse((const char *)data + 1, size - 1, &m, why, sizeof(why));
		break;
	default:
		check_semver(data + 1, size - 1);
		return 0;
	}
	if (rc == 0)
		check_manifest(&m);
	else if (m.version[0] || m.n_boards) /* a refusal leaves nothing behind */
		abort();
	return 0;
}
