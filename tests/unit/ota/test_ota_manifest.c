/* SPDX-License-Identifier: Apache-2.0 */
/* The OTA manifest: every field good and bad, each refusal with its reason,
 * the JWS around it (ES256 only: none/HS256/RS256 built here and refused,
 * tampered payload and signature), and semver precedence. Keys and
 * signatures are made here with mbedTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/jws.h"
#include "edge/ota/manifest.h"

#define SHA "e98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f70"
#define GOOD_FIELDS                                                                                \
	"\"version\":\"1.2.3\",\"url\":\"https://updates.example.com/fw/1.2.3.img\","              \
	"\"size\":1048576,\"sha256\":\"" SHA "\",\"boards\":[\"rpi4\",\"sim\"],"                   \
	"\"installer\":\"bundle\""

struct signer {
	mbedtls_pk_context pk;
	struct edge_jws_key *pub;
	unsigned char pub_pem[512];
};

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static struct signer vendor, other;

static void make_signer(struct signer *s)
{
	mbedtls_pk_init(&s->pk);
	assert_int_equal(mbedtls_pk_setup(&s->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(s->pk),
					     mbedtls_ctr_drbg_random, &drbg),
			 0);
	assert_int_equal(mbedtls_pk_write_pubkey_pem(&s->pk, s->pub_pem, sizeof(s->pub_pem)), 0);
	assert_int_equal(edge_jws_key_parse(s->pub_pem, strlen((char *)s->pub_pem), &s->pub), 0);
}

static int setup(void **state)
{
	(void)state;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)"ota-test", 8))
		return -1;
	make_signer(&vendor);
	make_signer(&other);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	edge_jws_key_free(vendor.pub);
	edge_jws_key_free(other.pub);
	mbedtls_pk_free(&vendor.pk);
	mbedtls_pk_free(&other.pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return 0;
}

/* b64url(header) "." b64url(payload); caller frees; room for a signature. */
static char *signing_input(const char *header, const char *payload, size_t *len)
{
	size_t hl = strlen(header), pl = strlen(payload);
	char *out = malloc(hl * 2 + pl * 2 + 800);
	size_t o;

	assert_non_null(out);
	o = edge_b64url_encode((const unsigned char *)header, hl, out);
	out[o++] = '.';
	o += edge_b64url_encode((const unsigned char *)payload, pl, out + o);
	out[o] = '\0';
	*len = o;
	return out;
}

static void append_sig(char *jws, size_t o, const unsigned char *sig, size_t n)
{
	jws[o++] = '.';
	edge_b64url_encode(sig, n, jws + o);
}

/* An ES256 JWS of payload signed by s (raw r||s). */
static char *sign_es256(struct signer *s, const char *header, const char *payload)
{
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(s->pk);
	unsigned char hash[32], rs[64];
	mbedtls_mpi r, sv;
	size_t o;
	char *jws = signing_input(header, payload, &o);

	assert_int_equal(mbedtls_sha256_ret((unsigned char *)jws, o, hash, 0), 0);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&sv);
	assert_int_equal(
	    mbedtls_ecdsa_sign(&ec->grp, &r, &sv, &ec->d, hash, 32, mbedtls_ctr_drbg_random, &drbg),
	    0);
	assert_int_equal(mbedtls_mpi_write_binary(&r, rs, 32), 0);
	assert_int_equal(mbedtls_mpi_write_binary(&sv, rs + 32, 32), 0);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&sv);
	append_sig(jws, o, rs, sizeof(rs));
	return jws;
}

static int parse(const char *payload, struct edge_ota_manifest *m, char *why, size_t whylen)
{
	return edge_ota_manifest_parse(payload, strlen(payload), m, why, whylen);
}

/* ---- schema: good ---- */

static void good_full(void **state)
{
	struct edge_ota_manifest m;
	char why[160] = "";

	(void)state;
	assert_int_equal(parse("{\"version\":\"2.0.0-rc.1+build.7\",\"url\":\"http://10.0.0.1:8080/"
			       "a?b=c\",\"size\":9007199254740992,\"sha256\":\"E98DEB22BB70EED0CE"
			       "41084A016C8EF65805BABFB8BC3210ACB68D7453145F70\",\"boards\":[\"rpi"
			       "4\"],\"installer\":\"swupdate\",\"minVersion\":\"1.0.0\","
			       "\"allowDowngrade\":true}\n",
			       &m, why, sizeof(why)),
			 0);
	assert_string_equal(m.version, "2.0.0-rc.1+build.7");
	assert_string_equal(m.url, "http://10.0.0.1:8080/a?b=c");
	assert_true(m.size == (UINT64_C(1) << 53));
	assert_string_equal(m.sha256, SHA); /* folded to lower case */
	assert_int_equal(m.n_boards, 1);
	assert_string_equal(m.boards[0], "rpi4");
	assert_string_equal(m.installer, "swupdate");
	assert_string_equal(m.min_version, "1.0.0");
	assert_true(m.allow_downgrade);
	assert_true(edge_ota_manifest_has_board(&m, "rpi4"));
	assert_false(edge_ota_manifest_has_board(&m, "rpi"));
	assert_false(edge_ota_manifest_has_board(&m, "RPI4"));
}

static void good_minimal_and_bounds(void **state)
{
	struct edge_ota_manifest m;
	char why[160], payload[2048], boards[1024], v63[64];
	size_t o = 0;

	(void)state;
	assert_int_equal(parse("{" GOOD_FIELDS "}", &m, why, sizeof(why)), 0);
	assert_string_equal(m.min_version, "");
	assert_false(m.allow_downgrade);
	assert_int_equal(m.n_boards, 2);
	assert_true(m.size == 1048576);
	/* 16 boards, a 31-character name, a 63-character version, size 1 */
	for (int i = 0; i < 16; i++)
		o += (size_t)snprintf(boards + o, sizeof(boards) - o, "%s\"b%d\"", i ? "," : "", i);
	memset(v63, 'a', 63);
	v63[63] = '\0';
	memcpy(v63, "1.0.0-", 6);
	snprintf(payload, sizeof(payload),
		 "{\"version\":\"%s\",\"url\":\"https://[::1]/x\",\"size\":1,\"sha256\":\"" SHA
		 "\",\"boards\":[%s,\"abcdefghijklmnopqrstuvwxyz.-_01\"],\"installer\":\"rauc\"}",
		 v63, boards);
	/* 17 names: too many */
	assert_int_equal(parse(payload, &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "boards: more than 16"));
	snprintf(payload, sizeof(payload),
		 "{\"version\":\"%s\",\"url\":\"https://[::1]/x\",\"size\":1,\"sha256\":\"" SHA
		 "\",\"boards\":[%s],\"installer\":\"rauc\"}",
		 v63, boards);
	assert_int_equal(parse(payload, &m, why, sizeof(why)), 0);
	assert_int_equal(m.n_boards, 16);
	assert_string_equal(m.version, v63);
	assert_true(m.size == 1);
	assert_int_equal(parse("{" GOOD_FIELDS ",\"boards\":[\"abcdefghijklmnopqrstuvwxyz.-_01\"]}"
			       "",
			       &m, why, sizeof(why)),
			 -EINVAL); /* boards twice */
	assert_int_equal(
	    parse("{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":1,\"sha256\":\"" SHA
		  "\",\"boards\":[\"abcdefghijklmnopqrstuvwxyz.-_01\"],\"installer\":\"rauc\"}",
		  &m, why, sizeof(why)),
	    0);
	assert_string_equal(m.boards[0], "abcdefghijklmnopqrstuvwxyz.-_01");
}

/* ---- schema: each refusal, with the field named ---- */

struct bad {
	const char *payload;
	const char *why; /* a part of the reason */
};

#define TAIL_NO_VERSION                                                                            \
	"\"url\":\"https://h/x\",\"size\":5,\"sha256\":\"" SHA                                     \
	"\",\"boards\":[\"sim\"],\"installer\":\"bundle\""
#define WITH_VERSION(v) "{\"version\":" v "," TAIL_NO_VERSION "}"
#define WITH_URL(u)                                                                                \
	"{\"version\":\"1.0.0\",\"url\":" u ",\"size\":5,\"sha256\":\"" SHA                        \
	"\",\"boards\":[\"sim\"],\"installer\":\"bundle\"}"
#define WITH_SIZE(s)                                                                               \
	"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":" s ",\"sha256\":\"" SHA           \
	"\",\"boards\":[\"sim\"],\"installer\":\"bundle\"}"
#define WITH_SHA(s)                                                                                \
	"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":5,\"sha256\":" s                   \
	",\"boards\":[\"sim\"],\"installer\":\"bundle\"}"
#define WITH_BOARDS(b)                                                                             \
	"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":5,\"sha256\":\"" SHA               \
	"\",\"boards\":" b ",\"installer\":\"bundle\"}"
#define WITH_INSTALLER(i)                                                                          \
	"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":5,\"sha256\":\"" SHA               \
	"\",\"boards\":[\"sim\"],\"installer\":" i "}"
#define WITH_EXTRA(e) "{" GOOD_FIELDS "," e "}"

static const struct bad bads[] = {
    /* the document */
    {"", "empty"},
    {"not json", "not valid JSON"},
    {"[1,2]", "must be a JSON object"},
    {"{" GOOD_FIELDS "} {}", "text after the JSON object"},
    {"{" GOOD_FIELDS ",\"extra\":1}", "extra: unknown key"},
    {"{" GOOD_FIELDS ",\"Version\":\"1.0.0\"}", "Version: unknown key"},
    {"{" GOOD_FIELDS ",\"version\":\"1.0.0\"}", "version: given twice"},
    {"{\"version\":\"1.0\\u0000\"," TAIL_NO_VERSION "}", "\\u0000"},
    /* missing required keys */
    {"{" TAIL_NO_VERSION "}", "version: missing"},
    {"{\"version\":\"1.0.0\",\"size\":5,\"sha256\":\"" SHA
     "\",\"boards\":[\"sim\"],\"installer\":\"bundle\"}",
     "url: missing"},
    {"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"sha256\":\"" SHA
     "\",\"boards\":[\"sim\"],\"installer\":\"bundle\"}",
     "size: missing"},
    {"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":5,"
     "\"boards\":[\"sim\"],\"installer\":\"bundle\"}",
     "sha256: missing"},
    {"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":5,\"sha256\":\"" SHA
     "\",\"installer\":\"bundle\"}",
     "boards: missing"},
    {"{\"version\":\"1.0.0\",\"url\":\"https://h/\",\"size\":5,\"sha256\":\"" SHA
     "\",\"boards\":[\"sim\"]}",
     "installer: missing"},
    /* version */
    {WITH_VERSION("1"), "version: must be a string, not a number"},
    {WITH_VERSION("\"1.0\""), "not a semantic version"},
    {WITH_VERSION("\"01.0.0\""), "not a semantic version"},
    {WITH_VERSION("\"1.00.0\""), "not a semantic version"},
    {WITH_VERSION("\"1.0.0-\""), "not a semantic version"},
    {WITH_VERSION("\"1.0.0-01\""), "not a semantic version"},
    {WITH_VERSION("\"1.0.0-a..b\""), "not a semantic version"},
    {WITH_VERSION("\"1.0.0+\""), "not a semantic version"},
    {WITH_VERSION("\"v1.0.0\""), "not a semantic version"},
    {WITH_VERSION("\"1.0.0 \""), "not a semantic version"},
    {WITH_VERSION("\"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
     "version: longer than 63"},
    {WITH_EXTRA("\"minVersion\":\"1.0\""), "minVersion: \"1.0\" is not a semantic version"},
    {WITH_EXTRA("\"minVersion\":null"), "minVersion: must be a string, not null"},
    /* url */
    {WITH_URL("\"ftp://h/x\""), "url: must start with http:// or https://"},
    {WITH_URL("\"HTTPS://h/x\""), "url: must start with http:// or https://"},
    {WITH_URL("\"/local/file\""), "url: must start with"},
    {WITH_URL("\"https:///x\""), "url: has no host"},
    {WITH_URL("\"https://\""), "url: has no host"},
    {WITH_URL("\"https://:443/x\""), "url: has no host"},
    {WITH_URL("\"https://user@/x\""), "url: has no host"},
    {WITH_URL("\"https://[]/x\""), "url: malformed [IPv6] host"},
    {WITH_URL("\"https://h/a b\""), "url: whitespace, control or non-ASCII character at offset 11"},
    {WITH_URL("\"https://h/a\\tb\""), "url: whitespace, control"},
    {WITH_URL("\"https://h/a\\nb\""), "url: whitespace, control"},
    {WITH_URL("\"https://h/\\u00e9\""), "url: whitespace, control or non-ASCII"},
    {WITH_URL("\"\""), "url: must be 1 to 1023 characters"},
    {WITH_URL("5"), "url: must be a string, not a number"},
    /* size */
    {WITH_SIZE("0"), "size: must be an integer in [1, 2^53]"},
    {WITH_SIZE("-1"), "size: must be an integer in [1, 2^53]"},
    {WITH_SIZE("9007199254740994"), "size: must be an integer in [1, 2^53]"},
    {WITH_SIZE("1e30"), "size: must be an integer in [1, 2^53]"},
    {WITH_SIZE("1.5"), "size: must be an integer in [1, 2^53]"},
    {WITH_SIZE("\"5\""), "size: must be an integer in [1, 2^53]"},
    {WITH_SIZE("null"), "size: must be an integer"},
    /* sha256 */
    {WITH_SHA("\"e98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f7\""),
     "sha256: must be 64 hex digits"},
    {WITH_SHA("\"" SHA "0\""), "sha256: must be 64 hex digits"},
    {WITH_SHA("\"g98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f70\""),
     "sha256: must be 64 hex digits"},
    {WITH_SHA("[]"), "sha256: must be 64 hex digits"},
    /* boards */
    {WITH_BOARDS("[]"), "boards: must name at least one board"},
    {WITH_BOARDS("\"sim\""), "boards: must be an array, not a string"},
    {WITH_BOARDS("[\"sim\",\"a b\"]"), "boards[1]: must be a name"},
    {WITH_BOARDS("[\"\"]"), "boards[0]: must be a name"},
    {WITH_BOARDS("[\"abcdefghijklmnopqrstuvwxyz.-_012\"]"), "boards[0]: must be a name of 1 to 31"},
    {WITH_BOARDS("[\"sim\",7]"), "boards[1]: must be a name"},
    {WITH_BOARDS("[\"sim\",\"sim\"]"), "boards[1]: \"sim\" is listed twice"},
    {WITH_BOARDS("[\"a/b\"]"), "boards[0]: must be a name"},
    /* installer */
    {WITH_INSTALLER("\"docker\""), "installer: must be \"bundle\", \"rauc\" or \"swupdate\""},
    {WITH_INSTALLER("\"Bundle\""), "installer: must be"},
    {WITH_INSTALLER("1"), "installer: must be"},
    /* allowDowngrade */
    {WITH_EXTRA("\"allowDowngrade\":\"yes\""),
     "allowDowngrade: must be true or false, not a string"},
    {WITH_EXTRA("\"allowDowngrade\":1"), "allowDowngrade: must be true or false, not a number"},
};

static void refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct edge_ota_manifest m;
		char why[160] = "";
		int rc = parse(bads[i].payload, &m, why, sizeof(why));

		if (rc != -EINVAL || !strstr(why, bads[i].why))
			fail_msg("case %zu: %s\n  rc %d why \"%s\", expected \"%s\"", i,
				 bads[i].payload, rc, why, bads[i].why);
		/* nothing half-filled is left behind */
		assert_string_equal(m.version, "");
		assert_int_equal(m.n_boards, 0);
	}
}

static void oversized_payload(void **state)
{
	struct edge_ota_manifest m;
	char why[160] = "";
	size_t n = EDGE_OTA_PAYLOAD_MAX + 1;
	char *big = malloc(n + 1);

	(void)state;
	assert_non_null(big);
	/* a valid manifest padded with whitespace beyond the cap */
	memset(big, ' ', n);
	memcpy(big, "{" GOOD_FIELDS "}", strlen("{" GOOD_FIELDS "}"));
	big[n] = '\0';
	assert_int_equal(edge_ota_manifest_parse(big, n, &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "larger than 8192 bytes"));
	/* exactly at the cap it is read */
	assert_int_equal(edge_ota_manifest_parse(big, n - 1, &m, why, sizeof(why)), 0);
	free(big);
}

static void to_json_round_trip(void **state)
{
	struct edge_ota_manifest m, back;
	char why[160];
	char *json;

	(void)state;
	assert_int_equal(parse("{" GOOD_FIELDS ",\"minVersion\":\"1.0.0-beta.2\","
			       "\"allowDowngrade\":true}",
			       &m, why, sizeof(why)),
			 0);
	json = edge_ota_manifest_to_json(&m);
	assert_non_null(json);
	assert_int_equal(parse(json, &back, why, sizeof(why)), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	free(json);
	/* sizes print as digits: cJSON's own number printing would turn 2^53
	 * into 9.00719925474099e+15, which reads back as another size */
	for (uint64_t size = (UINT64_C(1) << 53) - 3; size <= (UINT64_C(1) << 53); size++) {
		char digits[32];

		m.size = size;
		json = edge_ota_manifest_to_json(&m);
		assert_non_null(json);
		snprintf(digits, sizeof(digits), "\"size\":%llu,", (unsigned long long)size);
		assert_non_null(strstr(json, digits));
		assert_int_equal(parse(json, &back, why, sizeof(why)), 0);
		assert_true(back.size == size);
		free(json);
	}
	/* optional keys stay out when unset */
	assert_int_equal(parse("{" GOOD_FIELDS "}", &m, why, sizeof(why)), 0);
	json = edge_ota_manifest_to_json(&m);
	assert_non_null(json);
	assert_null(strstr(json, "minVersion"));
	assert_null(strstr(json, "allowDowngrade"));
	assert_int_equal(parse(json, &back, why, sizeof(why)), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	free(json);
}

/* ---- the JWS ---- */

static int verify(const char *jws, const struct edge_jws_key *key, struct edge_ota_manifest *m,
		  char *why, size_t whylen)
{
	return edge_ota_manifest_verify(jws, strlen(jws), key, m, why, whylen);
}

static void jws_good(void **state)
{
	char *jws = sign_es256(&vendor, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", "{" GOOD_FIELDS "}");
	struct edge_ota_manifest m;
	char why[160] = "";

	(void)state;
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), 0);
	assert_string_equal(m.version, "1.2.3");
	assert_string_equal(m.sha256, SHA);
	/* the right signature under another key */
	assert_int_equal(verify(jws, other.pub, &m, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "signature does not verify"));
	assert_string_equal(m.version, "");
	free(jws);
}

static void jws_other_algs_refused(void **state)
{
	static const char payload[] = "{" GOOD_FIELDS "}";
	struct edge_ota_manifest m;
	unsigned char mac[32], rsa_sig[256];
	char why[160];
	size_t o;
	char *jws;

	(void)state;
	/* alg none, empty signature */
	jws = signing_input("{\"alg\":\"none\"}", payload, &o);
	jws[o] = '.';
	jws[o + 1] = '\0';
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "alg none refused"));
	free(jws);

	/* HS256 keyed with the public key's PEM (the classic confusion) */
	jws = signing_input("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, &o);
	assert_int_equal(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
					 vendor.pub_pem, strlen((char *)vendor.pub_pem),
					 (unsigned char *)jws, o, mac),
			 0);
	append_sig(jws, o, mac, sizeof(mac));
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "alg HS256 refused"));
	free(jws);

	/* RS256 with a 2048-bit-sized signature */
	jws = signing_input("{\"alg\":\"RS256\"}", payload, &o);
	assert_int_equal(mbedtls_ctr_drbg_random(&drbg, rsa_sig, sizeof(rsa_sig)), 0);
	append_sig(jws, o, rsa_sig, sizeof(rsa_sig));
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "alg RS256 refused"));
	free(jws);

	/* ES256 but with a header the verifier does not understand */
	jws = sign_es256(&vendor, "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", payload);
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -ENOTSUP);
	free(jws);
}

static void jws_tampered(void **state)
{
	struct edge_ota_manifest m;
	char why[160];
	char *jws, *p, *forged, *sig;
	size_t o;

	(void)state;
	/* a flipped character in the signature */
	jws = sign_es256(&vendor, "{\"alg\":\"ES256\"}", "{" GOOD_FIELDS "}");
	sig = strrchr(jws, '.') + 1;
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -EBADMSG);
	free(jws);

	/* another payload (a new URL) under the old signature */
	jws = sign_es256(&vendor, "{\"alg\":\"ES256\"}", "{" GOOD_FIELDS "}");
	forged = signing_input("{\"alg\":\"ES256\"}",
			       "{\"version\":\"1.2.3\",\"url\":\"https://evil.example/x\","
			       "\"size\":1048576,\"sha256\":\"" SHA "\",\"boards\":[\"rpi4\"],"
			       "\"installer\":\"bundle\"}",
			       &o);
	p = strrchr(jws, '.');
	strcpy(forged + o, p);
	assert_int_equal(verify(forged, vendor.pub, &m, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "signature does not verify"));
	free(forged);
	free(jws);

	/* a truncated signature, a missing part */
	jws = sign_es256(&vendor, "{\"alg\":\"ES256\"}", "{" GOOD_FIELDS "}");
	jws[strlen(jws) - 4] = '\0';
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -EINVAL);
	*strrchr(jws, '.') = '\0';
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -EINVAL);
	free(jws);
}

static void jws_signed_but_refused(void **state)
{
	struct edge_ota_manifest m;
	char why[160] = "";
	char *jws, *big;
	size_t n = EDGE_OTA_PAYLOAD_MAX + 64;

	(void)state;
	/* a good signature over a payload the schema refuses */
	jws = sign_es256(&vendor, "{\"alg\":\"ES256\"}", "{" GOOD_FIELDS ",\"eval\":\"x\"}");
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "eval: unknown key"));
	free(jws);

	/* an oversized payload is refused before its signature is checked:
	 * with no key at all the answer is still "larger than" */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{" GOOD_FIELDS "}", strlen("{" GOOD_FIELDS "}"));
	big[n] = '\0';
	jws = sign_es256(&vendor, "{\"alg\":\"ES256\"}", big);
	assert_int_equal(verify(jws, NULL, &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "larger than 8192 bytes"));
	assert_int_equal(verify(jws, vendor.pub, &m, why, sizeof(why)), -EINVAL);
	free(jws);
	free(big);
}

/* ---- semver ---- */

static void semver_valid(void **state)
{
	static const char *const good[] = {
	    "0.0.0",
	    "1.2.3",
	    "10.20.30",
	    "1.1.2-prerelease+meta",
	    "1.0.0-alpha",
	    "1.0.0-alpha.beta",
	    "1.0.0-alpha.1",
	    "1.0.0-0.3.7",
	    "1.0.0-x.7.z.92",
	    "1.0.0-x-y-z.--",
	    "1.0.0+001",
	    "1.0.0-rc.1+build.123",
	    "2.0.0+build.1848",
	    "1.0.0-0A.is.legal",
	    "99999999999999999999999.999999999999999999.99999999999999999",
	};
	static const char *const bad[] = {
	    "",	      "1",	"1.2",	    "1.2.3.4",	  "01.1.1",	  "1.01.1",   "1.1.01",
	    "1.2.3-", "1.2.3+", "1.2.3-01", "1.2.3-a..b", "+invalid",	  "-invalid", "1.2.3-a+b+c",
	    "a.b.c",  "1.2.3 ", " 1.2.3",   "1.2.3-é",	  "1.2-SNAPSHOT", "v1.2.3",   "1.2.3-+",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!edge_semver_valid(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (edge_semver_valid(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
	assert_false(edge_semver_valid(NULL));
}

static void semver_precedence(void **state)
{
	/* semver.org section 11, then the numeric parts */
	static const char *const chain[] = {
	    "not-a-version", "1.0.0-alpha",
	    "1.0.0-alpha.1", "1.0.0-alpha.beta",
	    "1.0.0-beta",    "1.0.0-beta.2",
	    "1.0.0-beta.11", "1.0.0-rc.1",
	    "1.0.0",	     "1.0.9",
	    "1.0.10",	     "1.9.0",
	    "1.10.0",	     "2.0.0",
	    "2.1.0",	     "2.1.1",
	    "10.0.0",	     "99999999999999999999.0.0",
	};
	size_t n = sizeof(chain) / sizeof(chain[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = edge_semver_cmp(chain[i], chain[j]);
			int want = (i > j) - (i < j);

			if ((c > 0) - (c < 0) != want)
				fail_msg("cmp(%s, %s) = %d, want sign %d", chain[i], chain[j], c,
					 want);
		}
	/* build metadata is ignored */
	assert_int_equal(edge_semver_cmp("1.0.0+a", "1.0.0+b"), 0);
	assert_int_equal(edge_semver_cmp("1.0.0-rc.1+x", "1.0.0-rc.1"), 0);
	/* numeric identifiers sort before alphanumeric ones, by value */
	assert_true(edge_semver_cmp("1.0.0-2", "1.0.0-10") < 0);
	assert_true(edge_semver_cmp("1.0.0-10", "1.0.0-a") < 0);
	assert_true(edge_semver_cmp("1.0.0-a10", "1.0.0-a9") < 0); /* ASCII */
	assert_true(edge_semver_cmp("1.0.0-Z", "1.0.0-a") < 0);
	/* invalid ones sort first and among themselves by strcmp */
	assert_true(edge_semver_cmp("01.0.0", "0.0.0") < 0);
	assert_true(edge_semver_cmp("abc", "abd") < 0);
	assert_int_equal(edge_semver_cmp("junk", "junk"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_full),
	    cmocka_unit_test(good_minimal_and_bounds),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(oversized_payload),
	    cmocka_unit_test(to_json_round_trip),
	    cmocka_unit_test(jws_good),
	    cmocka_unit_test(jws_other_algs_refused),
	    cmocka_unit_test(jws_tampered),
	    cmocka_unit_test(jws_signed_but_refused),
	    cmocka_unit_test(semver_valid),
	    cmocka_unit_test(semver_precedence),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
