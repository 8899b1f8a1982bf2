/* SPDX-License-Identifier: Apache-2.0 */
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
#include <time.h>
#include <unistd.h>

#include "edge/file.h"
#include "edge/prov_identity.h"
#include "edge/provision.h"
#include "srv.h"

static void test_serial_rules(void **state)
{
	(void)state;
	assert_true(edge_id_serial_valid("GW-0001"));
	assert_true(edge_id_serial_valid("a.b_c-9"));
	assert_false(edge_id_serial_valid(""));
	assert_false(edge_id_serial_valid("-lead"));
	assert_false(edge_id_serial_valid("has space"));
	assert_false(edge_id_serial_valid("slash/x"));
	assert_false(edge_id_serial_valid("CN=x,O=y"));
	assert_false(edge_id_serial_valid(
	    "01234567890123456789012345678901234567890123456789012345678901234"));
}

static void test_key_csr_roundtrip(void **state)
{
	char *key = NULL, *csr = NULL, *loaded = NULL;
	char kfp[65], cfp[65], fp[65], err[256];
	char dir[] = "/tmp/prov-id-XXXXXX", path[512];
	mbedtls_x509_csr parsed;
	struct stat st;

	(void)state;
	assert_int_equal(edge_id_key_generate(&key), 0);
	assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----"));
	assert_int_equal(edge_id_csr_make(key, "GW-0042", &csr), 0);
	assert_non_null(strstr(csr, "-----BEGIN CERTIFICATE REQUEST-----"));
	assert_int_equal(edge_id_pubkey_fingerprint(key, kfp), 0);
	assert_int_equal(edge_id_pubkey_fingerprint(csr, cfp), 0);
	assert_string_equal(kfp, cfp);

	/* The server accepts it for the right serial only. */
	assert_int_equal(srv_csr_check(csr, "GW-0042", &parsed, fp, err, sizeof(err)), 0);
	assert_string_equal(fp, kfp);
	mbedtls_x509_csr_free(&parsed);
	assert_int_equal(srv_csr_check(csr, "GW-0043", &parsed, fp, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "common name"));
	mbedtls_x509_csr_free(&parsed);

	/* A flipped signature byte fails the signature check. */
	{
		char *bad = strdup(csr);
		char *end = strstr(bad, "-----END");
		char *p = end - 6;

		*p = *p == 'A' ? 'B' : 'A';
		assert_int_not_equal(srv_csr_check(bad, "GW-0042", &parsed, fp, err, sizeof(err)),
				     0);
		mbedtls_x509_csr_free(&parsed);
		free(bad);
	}

	/* Key file: 0600 even with a permissive umask, atomic, loadable. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/device.key", dir);
	umask(0);
	assert_int_equal(edge_id_key_write(path, key), 0);
	umask(022);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(edge_id_key_load(path, &loaded), 0);
	assert_string_equal(loaded, key);
	unlink(path);
	rmdir(dir);

	/* Bad inputs. */
	assert_int_equal(edge_id_csr_make(key, "bad cn", &csr /* untouched */), -EINVAL);
	assert_int_equal(edge_id_csr_make("not a key", "GW-1", &csr), -EINVAL);
	edge_id_secret_free(loaded);
	edge_id_secret_free(key);
	free(csr);
}

static void test_ca_sign_and_expiry(void **state)
{
	char dir[] = "/tmp/prov-ca-XXXXXX", crt[512], keyp[512], err[256], fp[65], cn[65];
	char *key = NULL, *csr = NULL, *cert = NULL;
	mbedtls_x509_csr parsed;
	mbedtls_x509_crt x;
	struct srv_ca ca;
	int64_t na = 0, na2 = 0, now = (int64_t)time(NULL);

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    srv_ca_init_files(dir, "test CA", 1, "localhost", "127.0.0.1", false, err, sizeof(err)),
	    0);
	/* never silently replaced */
	assert_int_equal(
	    srv_ca_init_files(dir, "test CA", 1, "localhost", "127.0.0.1", false, err, sizeof(err)),
	    -EEXIST);
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(keyp, sizeof(keyp), "%s/ca.key", dir);
	assert_int_equal(srv_ca_load(&ca, crt, keyp), 0);
	assert_int_equal(edge_id_key_generate(&key), 0);
	assert_int_equal(edge_id_csr_make(key, "GW-7", &csr), 0);
	assert_int_equal(srv_csr_check(csr, "GW-7", &parsed, fp, err, sizeof(err)), 0);
	assert_int_equal(srv_ca_sign(&ca, &parsed, "GW-7", now, 3600, 300, &cert, &na), 0);
	assert_int_equal(na, now + 3600);
	assert_int_equal(edge_id_cert_not_after(cert, &na2), 0);
	assert_int_equal(na2, na);
	/* verifies against the CA and names the device */
	mbedtls_x509_crt_init(&x);
	assert_int_equal(mbedtls_x509_crt_parse(&x, (const unsigned char *)cert, strlen(cert) + 1),
			 0);
	{
		char cfp[65];

		assert_int_equal(srv_ca_verify_client(&ca, x.raw.p, x.raw.len, cn, cfp), 0);
		assert_string_equal(cn, "GW-7");
		assert_string_equal(cfp, fp);
	}
	mbedtls_x509_crt_free(&x);
	mbedtls_x509_csr_free(&parsed);
	srv_ca_free(&ca);
	edge_id_secret_free(key);
	free(csr);
	free(cert);
	{
		const char *files[] = {"ca.crt", "ca.key", "server.crt", "server.key"};

		for (size_t i = 0; i < 4; i++) {
			snprintf(crt, sizeof(crt), "%s/%s", dir, files[i]);
			unlink(crt);
		}
		rmdir(dir);
	}
}

/* provisioning.json as a registration leaves it, and damaged: numbers are
 * checked before any cast (mqtt.port 1e30 reached (int)). */
static void test_state_file(void **state)
{
	char dir[] = "/tmp/prov-state-XXXXXX", path[64];
	struct edge_prov_state st;
	const char *head = "{\"deviceId\":\"d1\",\"certFile\":\"c\",\"keyFile\":\"k\","
			   "\"caFile\":\"a\",\"mqtt\":{\"host\":\"b\",\"port\":";
	static const struct {
		const char *tail;
		int rc, port;
		int64_t not_after;
	} cases[] = {
	    {"8883},\"notAfter\":1900000000}", 0, 8883, 1900000000},
	    {"1e30},\"notAfter\":1900000000}", -EINVAL, 0, 0},
	    {"-1}}", -EINVAL, 0, 0},
	    {"88.5}}", -EINVAL, 0, 0},
	    {"\"8883\"}}", -EINVAL, 0, 0},
	    {"8883},\"notAfter\":1e30}", 0, 8883, 0},
	    {"8883},\"notAfter\":-5}", 0, 8883, 0},
	};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/provisioning.json", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[512];

		snprintf(json, sizeof(json), "%s%s", head, cases[i].tail);
		assert_int_equal(edge_file_write_atomic(path, json, strlen(json), 0600), 0);
		if (edge_prov_state_load(dir, &st) != cases[i].rc)
			fail_msg("case %zu: %s", i, json);
		if (cases[i].rc == 0 &&
		    (st.mqtt_port != cases[i].port || st.not_after != cases[i].not_after))
			fail_msg("case %zu: port %d notAfter %lld", i, st.mqtt_port,
				 (long long)st.not_after);
	}
	assert_string_equal(st.mqtt_host, "b");
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_serial_rules),
	    cmocka_unit_test(test_key_csr_roundtrip),
	    cmocka_unit_test(test_ca_sign_and_expiry),
	    cmocka_unit_test(test_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
