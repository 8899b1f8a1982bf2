/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 URIs (RFC 7512) as edge/p11.h reads them, PIN files and the mode
 * check of secret files. The token side runs against real tokens in
 * integration.test_pkcs11*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/p11.h"

static void parses_path_and_query(void **state)
{
	struct edge_p11_uri u;
	char err[300] = "";

	(void)state;
	assert_true(edge_p11_is_uri("pkcs11:object=x"));
	assert_false(edge_p11_is_uri("/etc/edge-agent/device.key"));
	assert_false(edge_p11_is_uri(NULL));
	assert_int_equal(
	    edge_p11_uri_parse("pkcs11:token=My%20Token;object=device;type=private;"
			       "id=%01%02;serial=0123;manufacturer=SoftHSM%20project"
			       "?pin-source=file:/etc/edge-agent/token.pin&module-path="
			       "/usr/lib/softhsm/libsofthsm2.so",
			       &u, err, sizeof(err)),
	    0);
	assert_string_equal(u.token, "My Token");
	assert_string_equal(u.object, "device");
	assert_string_equal(u.type, "private");
	assert_int_equal(u.id_len, 2);
	assert_int_equal(u.id[0], 1);
	assert_int_equal(u.id[1], 2);
	assert_string_equal(u.serial, "0123");
	assert_string_equal(u.manufacturer, "SoftHSM project");
	assert_string_equal(u.pin_file, "/etc/edge-agent/token.pin");
	assert_string_equal(u.module, "/usr/lib/softhsm/libsofthsm2.so");
	/* a plain path and file:// are accepted as pin-source */
	assert_int_equal(
	    edge_p11_uri_parse("pkcs11:object=k?pin-source=/run/pin", &u, err, sizeof(err)), 0);
	assert_string_equal(u.pin_file, "/run/pin");
	assert_int_equal(
	    edge_p11_uri_parse("pkcs11:object=k?pin-source=file:///run/pin", &u, err, sizeof(err)),
	    0);
	assert_string_equal(u.pin_file, "/run/pin");
	/* library and slot attributes are accepted and not used */
	assert_int_equal(edge_p11_uri_parse("pkcs11:object=k;slot-id=3;library-manufacturer=x", &u,
					    err, sizeof(err)),
			 0);
}

static void refuses_with_a_reason(void **state)
{
	static const struct {
		const char *uri, *needle;
	} bad[] = {
	    {"/etc/key.pem", "must start with pkcs11:"},
	    {"pkcs11:object=k?pin-value=1234", "must not be written in the configuration"},
	    {"pkcs11:object=k;type=cert", "only type=private"},
	    {"pkcs11:object=k;colour=blue", "unknown attribute \"colour\""},
	    {"pkcs11:object=k?colour=blue", "unknown query attribute \"colour\""},
	    {"pkcs11:token=edge", "names no key"},
	    {"pkcs11:object=%4", "bad percent-encoding"},
	    {"pkcs11:object=a%00b", "NUL"},
	    {"pkcs11:token=%zz;object=k", "bad percent-encoding"},
	    {"pkcs11:object", "without a value"},
	    {"pkcs11:object=k?pin-source=relative/pin", "absolute"},
	    {"pkcs11:token=123456789012345678901234567890123;object=k", "longer than 32"},
	};
	struct edge_p11_uri u;
	char err[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(edge_p11_uri_parse(bad[i].uri, &u, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].needle))
			fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].uri, err, bad[i].needle);
	}
}

static char tmpdir[64];

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void secrets_and_pins(void **state)
{
	char err[400], pin[64], path[128];
	const char *p;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-p11-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	p = write_file("ok.pin", "4321\n", 0600);
	assert_int_equal(edge_secret_check(p, "PIN file", err, sizeof(err)), 0);
	assert_int_equal(edge_p11_pin_read(p, pin, sizeof(pin), err, sizeof(err)), 0);
	assert_string_equal(pin, "4321");
	p = write_file("owner-ro.pin", "9\r\n", 0400);
	assert_int_equal(edge_p11_pin_read(p, pin, sizeof(pin), err, sizeof(err)), 0);
	assert_string_equal(pin, "9");
	/* group or others may read or write: refused, the mode in the message */
	for (mode_t m = 0; m < 4; m++) {
		static const mode_t modes[] = {0644, 0640, 0604, 0620};

		p = write_file("loose.pin", "4321\n", modes[m]);
		assert_int_equal(edge_p11_pin_read(p, pin, sizeof(pin), err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "lets group or others"));
		assert_non_null(strstr(err, "chmod 600"));
	}
	p = write_file("empty.pin", "\n", 0600);
	assert_int_equal(edge_p11_pin_read(p, pin, sizeof(pin), err, sizeof(err)), -EINVAL);
	assert_int_equal(edge_secret_check(tmpdir, "key", err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_int_equal(edge_secret_check(path, "key", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
	snprintf(path, sizeof(path), "rm -rf %s", tmpdir);
	assert_int_equal(system(path), 0);
}

static void module_errors_name_the_module(void **state)
{
	struct edge_p11_uri u;
	struct edge_p11 *p = NULL;
	char err[300];

	(void)state;
	assert_int_equal(edge_p11_uri_parse("pkcs11:token=edge;object=k", &u, err, sizeof(err)), 0);
	assert_int_equal(edge_p11_open("/nonexistent/libnone.so", &u, NULL, &p, err, sizeof(err)),
			 -ENOENT);
	assert_null(p);
	assert_non_null(strstr(err, "/nonexistent/libnone.so"));
	edge_p11_close(NULL);
	assert_non_null(strstr(edge_p11_default_module(), "p11-kit-proxy"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_path_and_query),
	    cmocka_unit_test(refuses_with_a_reason),
	    cmocka_unit_test(secrets_and_pins),
	    cmocka_unit_test(module_errors_name_the_module),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
