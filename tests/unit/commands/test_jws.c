/* SPDX-License-Identifier: Apache-2.0 */
/* JWS ES256 verification: good, bad signature, wrong key, alg none and
 * friends refused, malformed input. Keys and signatures are made here with
 * mbedTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <stdlib.h>
#include <string.h>

#include "edge/jws.h"

struct signer {
	mbedtls_pk_context pk;
	struct edge_jws_key *pub;
};

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static struct signer platform, other;

static void make_signer(struct signer *s, mbedtls_ecp_group_id curve)
{
	unsigned char pem[1024];

	mbedtls_pk_init(&s->pk);
	assert_int_equal(mbedtls_pk_setup(&s->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(
	    mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(s->pk), mbedtls_ctr_drbg_random, &drbg), 0);
	assert_int_equal(mbedtls_pk_write_pubkey_pem(&s->pk, pem, sizeof(pem)), 0);
	s->pub = NULL;
	if (curve == MBEDTLS_ECP_DP_SECP256R1)
		assert_int_equal(edge_jws_key_parse(pem, strlen((char *)pem), &s->pub), 0);
	else
		assert_int_equal(edge_jws_key_parse(pem, strlen((char *)pem), &s->pub), -ENOTSUP);
}

static int setup(void **state)
{
	(void)state;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)"jws-test", 8))
		return -1;
	make_signer(&platform, MBEDTLS_ECP_DP_SECP256R1);
	make_signer(&other, MBEDTLS_ECP_DP_SECP256R1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	edge_jws_key_free(platform.pub);
	edge_jws_key_free(other.pub);
	mbedtls_pk_free(&platform.pk);
	mbedtls_pk_free(&other.pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return 0;
}

/* header.payload.sig with raw r||s; caller frees. */
static char *sign(struct signer *s, const char *header, const char *payload)
{
	size_t hl = strlen(header), pl = strlen(payload);
	char *out = malloc(hl * 2 + pl * 2 + 200);
	unsigned char hash[32], rs[64];
	mbedtls_mpi r, sv;
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(s->pk);
	size_t o;

	o = edge_b64url_encode((const unsigned char *)header, hl, out);
	out[o++] = '.';
	o += edge_b64url_encode((const unsigned char *)payload, pl, out + o);
	assert_int_equal(mbedtls_sha256_ret((unsigned char *)out, o, hash, 0), 0);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&sv);
	assert_int_equal(
	    mbedtls_ecdsa_sign(&ec->grp, &r, &sv, &ec->d, hash, 32, mbedtls_ctr_drbg_random, &drbg),
	    0);
	assert_int_equal(mbedtls_mpi_write_binary(&r, rs, 32), 0);
	assert_int_equal(mbedtls_mpi_write_binary(&sv, rs + 32, 32), 0);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&sv);
	out[o++] = '.';
	edge_b64url_encode(rs, 64, out + o);
	return out;
}

static int verify(const char *jws, const struct edge_jws_key *key, char **payload)
{
	char why[128];

	return edge_jws_verify(jws, strlen(jws), key, payload, NULL, why, sizeof(why));
}

static void good(void **state)
{
	char *jws = sign(&platform, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", "{\"id\":\"c-1\"}");
	char *payload = NULL;

	(void)state;
	assert_int_equal(verify(jws, platform.pub, &payload), 0);
	assert_string_equal(payload, "{\"id\":\"c-1\"}");
	free(payload);
	free(jws);
}

static void bad_signature(void **state)
{
	char *jws = sign(&platform, "{\"alg\":\"ES256\"}", "{\"id\":\"c-1\"}");
	char *payload = NULL, *dot = strrchr(jws, '.');

	(void)state;
	/* a flipped bit in the signature */
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	assert_int_equal(verify(jws, platform.pub, &payload), -EBADMSG);
	assert_null(payload);
	free(jws);
	/* a changed payload under a good signature */
	jws = sign(&platform, "{\"alg\":\"ES256\"}", "{\"id\":\"c-1\"}");
	{
		char *p = strchr(jws, '.') + 1;

		p[2] = p[2] == 'a' ? 'b' : 'a';
	}
	assert_int_equal(verify(jws, platform.pub, &payload), -EBADMSG);
	free(jws);
}

static void wrong_key(void **state)
{
	char *jws = sign(&other, "{\"alg\":\"ES256\"}", "{\"id\":\"c-1\"}");
	char *payload = NULL;

	(void)state;
	assert_int_equal(verify(jws, platform.pub, &payload), -EBADMSG);
	assert_int_equal(verify(jws, other.pub, &payload), 0);
	free(payload);
	assert_int_equal(verify(jws, NULL, &payload), -EBADMSG);
	free(jws);
}

static void refused_algs(void **state)
{
	static const char *const headers[] = {
	    "{\"alg\":\"none\"}",
	    "{\"alg\":\"HS256\"}",
	    "{\"alg\":\"ES384\"}",
	    "{\"alg\":\"es256\"}",
	    "{\"typ\":\"JWT\"}",
	    "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}",
	    "{\"alg\":\"ES256\",\"jwk\":{}}",
	};
	char *payload = NULL;
	char buf[256], *p;

	(void)state;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		char *jws = sign(&platform, headers[i], "{\"id\":\"c-1\"}");
		int rc = verify(jws, platform.pub, &payload);

		if (rc == 0)
			fail_msg("header %s accepted", headers[i]);
		free(jws);
	}
	/* alg none with an empty signature, the classic */
	p = buf + edge_b64url_encode((const unsigned char *)"{\"alg\":\"none\"}", 15, buf);
	*p++ = '.';
	p += edge_b64url_encode((const unsigned char *)"{}", 2, p);
	strcpy(p, ".");
	assert_int_equal(verify(buf, platform.pub, &payload), -ENOTSUP);
}

static void malformed(void **state)
{
	static const char *const cases[] = {
	    "",
	    ".",
	    "..",
	    "a.b",
	    "a.b.c.d",
	    "!!!.e30.AAAA",
	    "e30.e30.AAAA",
	    "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
	    "eyJhbGciOiJFUzI1NiJ9.!!."
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "A",
	    "bm90IGpzb24.e30.AAAA",
	};
	char *payload = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (verify(cases[i], platform.pub, &payload) == 0)
			fail_msg("case %zu accepted", i);
		assert_null(payload);
	}
}

static void keys(void **state)
{
	struct signer p384;
	struct edge_jws_key *k = NULL;

	(void)state;
	make_signer(&p384, MBEDTLS_ECP_DP_SECP384R1); /* asserts -ENOTSUP */
	mbedtls_pk_free(&p384.pk);
	assert_int_equal(edge_jws_key_parse("not a key", 9, &k), -EINVAL);
	assert_int_equal(edge_jws_key_load("/nonexistent/key.pem", &k), -ENOENT);
}

static void base64url(void **state)
{
	unsigned char out[16];
	char enc[16];

	(void)state;
	assert_int_equal(edge_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc), 3);
	assert_string_equal(enc, "-_8");
	assert_int_equal(edge_b64url_decode("-_8", 3, out), 2);
	assert_memory_equal(out, "\xfb\xff", 2);
	assert_int_equal(edge_b64url_decode("-_8=", 4, out), 2);
	assert_int_equal(edge_b64url_decode("A", 1, out), -EINVAL);
	assert_int_equal(edge_b64url_decode("+/", 2, out), -EINVAL);
	assert_int_equal(edge_b64url_decode("-_9", 3, out), -EINVAL); /* non-zero tail bits */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good),	 cmocka_unit_test(bad_signature),
	    cmocka_unit_test(wrong_key), cmocka_unit_test(refused_algs),
	    cmocka_unit_test(malformed), cmocka_unit_test(keys),
	    cmocka_unit_test(base64url),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
