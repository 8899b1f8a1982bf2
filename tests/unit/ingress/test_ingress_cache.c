/* SPDX-License-Identifier: Apache-2.0 */
/* The ingress module's per-node bookkeeping: message-id cache, token
 * bucket, seen ring (agent/ingress/cache.c) and the keys file
 * (node_keys.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ingress_cache.h"
#include "agent/node_keys.h"

static struct edge_coap_answer answer(uint8_t code, const char *diag)
{
	struct edge_coap_answer a;

	memset(&a, 0, sizeof(a));
	a.code = code;
	snprintf(a.diag, sizeof(a.diag), "%s", diag);
	return a;
}

static void mid_cache_replays(void **state)
{
	struct edge_mid_cache c;
	struct edge_coap_answer a = answer(EDGE_COAP_CODE(2, 4), ""), b;
	const struct edge_coap_answer *got;
	const uint8_t tok[] = {1, 2, 3, 4};

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_null(edge_mid_cache_find(&c, 7, 0x1234, tok, 4, 1000));
	a.has_block1 = true;
	a.block1 = 0x16;
	edge_mid_cache_put(&c, 7, 0x1234, tok, 4, &a, 1000);
	got = edge_mid_cache_find(&c, 7, 0x1234, tok, 4, 1000 + 93000); /* MAX_TRANSMIT_WAIT */
	assert_non_null(got);
	assert_int_equal(got->code, EDGE_COAP_CODE(2, 4));
	assert_true(got->has_block1 && got->block1 == 0x16);
	/* another peer, message id or token is another exchange */
	assert_null(edge_mid_cache_find(&c, 8, 0x1234, tok, 4, 2000));
	assert_null(edge_mid_cache_find(&c, 7, 0x1235, tok, 4, 2000));
	assert_null(edge_mid_cache_find(&c, 7, 0x1234, tok, 3, 2000));
	assert_null(edge_mid_cache_find(&c, 7, 0x1234, NULL, 0, 2000));
	/* the exchange lifetime ends it */
	assert_null(edge_mid_cache_find(&c, 7, 0x1234, tok, 4, 1000 + EDGE_EXCHANGE_LIFETIME_MS));
	/* an empty token is a token too */
	b = answer(EDGE_COAP_CODE(4, 0), "record 0: unknown metric x");
	edge_mid_cache_put(&c, 7, 0x1, NULL, 0, &b, 5000);
	got = edge_mid_cache_find(&c, 7, 0x1, NULL, 0, 5001);
	assert_non_null(got);
	assert_string_equal(got->diag, "record 0: unknown metric x");
	/* a new session from the peer forgets its exchanges */
	edge_mid_cache_forget_peer(&c, 7);
	assert_null(edge_mid_cache_find(&c, 7, 0x1, NULL, 0, 5001));
}

static void mid_cache_ring(void **state)
{
	struct edge_mid_cache c;
	struct edge_coap_answer a = answer(EDGE_COAP_CODE(2, 4), "");

	(void)state;
	memset(&c, 0, sizeof(c));
	for (uint16_t mid = 0; mid < EDGE_MID_CACHE_SLOTS + 2; mid++)
		edge_mid_cache_put(&c, 1, mid, NULL, 0, &a, 100);
	/* the two oldest made room; the newest (the one a NSTART=1 node can
	 * still retransmit) are there */
	assert_null(edge_mid_cache_find(&c, 1, 0, NULL, 0, 100));
	assert_null(edge_mid_cache_find(&c, 1, 1, NULL, 0, 100));
	for (uint16_t mid = 2; mid < EDGE_MID_CACHE_SLOTS + 2; mid++)
		assert_non_null(edge_mid_cache_find(&c, 1, mid, NULL, 0, 100));
	/* tokens over 8 bytes are not cached */
	edge_mid_cache_put(&c, 1, 99, (const uint8_t *)"123456789", 9, &a, 100);
	assert_null(edge_mid_cache_find(&c, 1, 99, (const uint8_t *)"123456789", 9, 100));
}

/* An answer held for the COMMIT (code 0) is replaced by the final one in the
 * same slot: the exchange's other entries are not pushed out. */
static void mid_cache_held_then_final(void **state)
{
	struct edge_mid_cache c;
	struct edge_coap_answer held = answer(0, ""), done = answer(EDGE_COAP_CODE(2, 4), "");
	const struct edge_coap_answer *got;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (uint16_t mid = 0; mid < EDGE_MID_CACHE_SLOTS - 1; mid++)
		edge_mid_cache_put(&c, 1, mid, NULL, 0, &done, 100);
	edge_mid_cache_put(&c, 1, 500, (const uint8_t *)"ab", 2, &held, 100);
	got = edge_mid_cache_find(&c, 1, 500, (const uint8_t *)"ab", 2, 100);
	assert_non_null(got);
	assert_int_equal(got->code, 0);
	edge_mid_cache_put(&c, 1, 500, (const uint8_t *)"ab", 2, &done, 101);
	got = edge_mid_cache_find(&c, 1, 500, (const uint8_t *)"ab", 2, 101);
	assert_non_null(got);
	assert_int_equal(got->code, EDGE_COAP_CODE(2, 4));
	for (uint16_t mid = 0; mid < EDGE_MID_CACHE_SLOTS - 1; mid++)
		assert_non_null(edge_mid_cache_find(&c, 1, mid, NULL, 0, 101));
}

static void token_bucket(void **state)
{
	struct edge_token_bucket b;
	uint64_t wait;

	(void)state;
	memset(&b, 0, sizeof(b));
	/* starts full: burst 3 at once, then 2/s */
	for (int i = 0; i < 3; i++)
		assert_int_equal(edge_token_bucket_take(&b, 2.0, 3, 10000), 0);
	wait = edge_token_bucket_take(&b, 2.0, 3, 10000);
	assert_true(wait >= 500 && wait <= 501);
	wait = edge_token_bucket_take(&b, 2.0, 3, 10250); /* half a token back */
	assert_true(wait >= 250 && wait <= 251);
	assert_int_equal(edge_token_bucket_take(&b, 2.0, 3, 10500), 0);
	assert_true(edge_token_bucket_take(&b, 2.0, 3, 10500) > 0);
	/* refills to the burst, no further */
	for (int i = 0; i < 3; i++)
		assert_int_equal(edge_token_bucket_take(&b, 2.0, 3, 100000), 0);
	assert_true(edge_token_bucket_take(&b, 2.0, 3, 100000) > 0);
	/* a clock that does not move gives nothing back */
	assert_true(edge_token_bucket_take(&b, 2.0, 3, 99999) > 0);
}

static void seen_ring(void **state)
{
	struct edge_seen_ring r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_false(edge_seen_has(&r, 0));
	assert_false(edge_seen_has(&r, 1763762000000ull));
	edge_seen_add(&r, 1763762000000ull);
	assert_true(edge_seen_has(&r, 1763762000000ull));
	for (uint64_t i = 1; i <= EDGE_SEEN_SLOTS; i++)
		edge_seen_add(&r, 1763762000000ull + i);
	assert_false(edge_seen_has(&r, 1763762000000ull)); /* pushed out */
	assert_true(edge_seen_has(&r, 1763762000000ull + EDGE_SEEN_SLOTS));
}

static void keys_parse(void **state)
{
	const char *good = "{\"nodes\":[{\"id\":\"node-02\",\"psk_hex\":"
			   "\"000102030405060708090a0b0c0d0e0f\"},"
			   "{\"id\":\"node-01\",\"psk_hex\":\"00112233445566778899AABBCCDDEEFF"
			   "00112233445566778899aabbccddeeff\",\"revoked\":true}]}";
	static const char *const bad[] = {
	    "[]",
	    "{\"nodes\":{}}",
	    "{\"nodes\":[{\"psk_hex\":\"000102030405060708090a0b0c0d0e0f\"}]}",
	    "{\"nodes\":[{\"id\":\"a b\",\"psk_hex\":\"000102030405060708090a0b0c0d0e0f\"}]}",
	    "{\"nodes\":[{\"id\":\"a\",\"psk_hex\":\"000102030405060708090a0b0c0d0e\"}]}",
	    "{\"nodes\":[{\"id\":\"a\",\"psk_hex\":\"000102030405060708090a0b0c0d0e0g\"}]}",
	    "{\"nodes\":[{\"id\":\"a\",\"psk_hex\":\"000102030405060708090a0b0c0d0e0f\","
	    "\"revoked\":1}]}",
	    "{\"nodes\":[{\"id\":\"a\",\"psk_hex\":\"000102030405060708090a0b0c0d0e0f\"},"
	    "{\"id\":\"a\",\"psk_hex\":\"000102030405060708090a0b0c0d0e0f\"}]}", /* psk_hex may be
										    left out
										    (certificate-only
										    node), but not
										    be empty or null
										  */
	    "{\"nodes\":[{\"id\":\"a\",\"psk_hex\":\"\"}]}",
	    "{\"nodes\":[{\"id\":\"a\",\"psk_hex\":null}]}",
	};
	struct edge_node_keys k;
	const struct edge_node_key *e;
	char err[256];

	(void)state;
	assert_int_equal(edge_node_keys_parse(good, strlen(good), "t", &k, err, sizeof(err)), 0);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.v[0].id, "node-01"); /* sorted */
	e = edge_node_keys_find(&k, "node-02xyz", 7);
	assert_non_null(e);
	assert_int_equal(e->key_len, 16);
	assert_int_equal(e->key[15], 0x0f);
	assert_false(e->revoked);
	e = edge_node_keys_find(&k, "node-01", 7);
	assert_non_null(e);
	assert_int_equal(e->key_len, 32);
	assert_int_equal(e->key[9], 0x99);
	assert_int_equal(e->key[10], 0xaa);
	assert_true(e->revoked);
	assert_null(edge_node_keys_find(&k, "node-0", 6));
	assert_null(edge_node_keys_find(&k, "node-011", 8));
	edge_node_keys_free(&k);
	/* a node without psk_hex: listed (PKI mode), no PSK */
	assert_int_equal(edge_node_keys_parse("{\"nodes\":[{\"id\":\"cert-1\",\"revoked\":true}]}",
					      42, "t", &k, err, sizeof(err)),
			 0);
	e = edge_node_keys_find(&k, "cert-1", 6);
	assert_non_null(e);
	assert_int_equal(e->key_len, 0);
	assert_true(e->revoked);
	edge_node_keys_free(&k);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    edge_node_keys_parse(bad[i], strlen(bad[i]), "keys.json", &k, err, sizeof(err)),
		    -EINVAL);
		assert_non_null(strstr(err, "keys.json"));
		assert_int_equal(k.n, 0);
	}
	assert_true(edge_node_id_valid("a.b_c-D9", 8));
	assert_false(edge_node_id_valid("", 0));
	assert_false(edge_node_id_valid("a/b", 3));
}

static void keys_file_mode(void **state)
{
	char path[] = "/tmp/edge-keys-XXXXXX";
	const char *json = "{\"nodes\":[{\"id\":\"n1\",\"psk_hex\":"
			   "\"000102030405060708090a0b0c0d0e0f\"}]}";
	struct edge_node_keys k;
	char err[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(edge_node_keys_load(path, &k, err, sizeof(err)), 0);
	assert_int_equal(k.n, 1);
	edge_node_keys_free(&k);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(edge_node_keys_load(path, &k, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(edge_node_keys_load(path, &k, err, sizeof(err)), -EPERM);
	unlink(path);
	assert_int_equal(edge_node_keys_load(path, &k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(mid_cache_replays),
	    cmocka_unit_test(mid_cache_ring),
	    cmocka_unit_test(mid_cache_held_then_final),
	    cmocka_unit_test(token_bucket),
	    cmocka_unit_test(seen_ring),
	    cmocka_unit_test(keys_parse),
	    cmocka_unit_test(keys_file_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
