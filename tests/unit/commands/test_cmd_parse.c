/* SPDX-License-Identifier: Apache-2.0 */
/* The command payload parser: valid, malformed, oversized, missing id, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_parse.h"

static int parse(const char *action, const char *json, size_t max, struct edge_cmd *c)
{
	char err[256];

	return edge_cmd_parse(action, json, strlen(json), max, c, err, sizeof(err));
}

static void valid(void **state)
{
	struct edge_cmd c;

	(void)state;
	assert_int_equal(parse("config.set",
			       "{\"id\":\"a-1\",\"params\":{\"log_level\":\"debug\"},"
			       "\"expiresAt\":1900000000000,\"extra\":1}",
			       4096, &c),
			 0);
	assert_string_equal(c.id, "a-1");
	assert_string_equal(c.action, "config.set");
	assert_int_equal(c.expires_at, 1900000000000LL);
	assert_non_null(cJSON_GetObjectItem(c.params, "log_level"));
	assert_null(c.jws);
	assert_false(edge_cmd_expired(&c, 1800000000000ULL));
	assert_true(edge_cmd_expired(&c, 1900000000000ULL));
	edge_cmd_release(&c);
	/* params and expiresAt are optional */
	assert_int_equal(parse("ping", "{\"id\":\"b\"}", 4096, &c), 0);
	assert_non_null(c.params);
	assert_true(cJSON_IsObject(c.params));
	assert_int_equal(c.expires_at, 0);
	assert_false(edge_cmd_expired(&c, UINT64_MAX));
	edge_cmd_release(&c);
	assert_int_equal(
	    parse("ping", "{\"id\":\"c\",\"params\":null,\"jws\":\"a.b.c\"}", 4096, &c), 0);
	assert_string_equal(c.jws, "a.b.c");
	edge_cmd_release(&c);
}

static void malformed(void **state)
{
	static const struct {
		const char *json;
		const char *id; /* recovered id or "" */
	} cases[] = {
	    {"{\"id\": \"r-1\", \"params\": ", "r-1"},
	    {"{\"id\":\"r-2\",\"params\":[1]}", "r-2"},
	    {"{\"id\":\"r-3\",\"params\":\"x\"}", "r-3"},
	    {"{\"id\":\"r-4\",\"expiresAt\":\"soon\"}", "r-4"},
	    {"{\"id\":\"r-5\",\"expiresAt\":-5}", "r-5"},
	    {"{\"id\":\"r-6\",\"expiresAt\":1.5}", "r-6"},
	    {"{\"id\":\"r-7\",\"jws\":5}", "r-7"},
	    {"[\"id\",\"x\"]", ""},
	    {"\"id\"", ""},
	    {"", ""},
	    {"{\"id\":42}", ""},
	    {"{\"id\":\"\"}", ""},
	    {"{\"id\":\"has space\"}", ""},
	    {"{\"params\":{}}", ""},
	    {"\xff\xfe{\"id\":\"r-8\"", "r-8"},
	};
	struct edge_cmd c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse("ping", cases[i].json, 4096, &c);

		if (rc != -EINVAL)
			fail_msg("case %zu (%s): rc %d", i, cases[i].json, rc);
		if (strcmp(c.id, cases[i].id) != 0)
			fail_msg("case %zu: id \"%s\" != \"%s\"", i, c.id, cases[i].id);
		edge_cmd_release(&c);
	}
	/* invalid action names */
	assert_int_equal(parse("Bad Action", "{\"id\":\"x\"}", 4096, &c), -EINVAL);
	assert_string_equal(c.id, "x");
	edge_cmd_release(&c);
	assert_int_equal(parse("", "{\"id\":\"x\"}", 4096, &c), -EINVAL);
	edge_cmd_release(&c);
}

static void oversized(void **state)
{
	char *big = malloc(10000);
	struct edge_cmd c;

	(void)state;
	memset(big, 'A', 9999);
	big[9999] = '\0';
	memcpy(big, "{\"id\":\"big-1\",\"params\":{\"x\":\"", 29);
	assert_int_equal(parse("ping", big, 1024, &c), -EMSGSIZE);
	assert_string_equal(c.id, "big-1");
	assert_null(c.root);
	edge_cmd_release(&c);
	assert_int_equal(edge_cmd_parse("ping", big, 1025, 1024, &c, NULL, 0), -EMSGSIZE);
	edge_cmd_release(&c);
	free(big);
}

static void recover_and_names(void **state)
{
	char id[65];

	(void)state;
	assert_true(edge_cmd_recover_id("{ \"id\" :\n \"k:9\" ", 16, id, sizeof(id)));
	assert_string_equal(id, "k:9");
	assert_false(edge_cmd_recover_id("{\"id\":\"unterminated", 19, id, sizeof(id)));
	assert_false(edge_cmd_recover_id("{\"idx\":\"a\"}", 11, id, sizeof(id)));
	assert_true(edge_cmd_id_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
	assert_false(edge_cmd_id_valid("x/y"));
	assert_true(edge_cmd_action_valid("sensor.enable"));
	assert_true(edge_cmd_action_valid("sample-now"));
	assert_false(edge_cmd_action_valid("Ping"));
	assert_false(edge_cmd_action_valid("a/b"));
}

static void topics(void **state)
{
	char action[33];

	(void)state;
	assert_int_equal(edge_cmd_action_from_topic("commands/{device_id}/{action}", "dev-1",
						    "commands/dev-1/ping", action, sizeof(action)),
			 0);
	assert_string_equal(action, "ping");
	assert_int_equal(edge_cmd_action_from_topic("commands/{device_id}/{action}", "dev-1",
						    "commands/dev-2/ping", action, sizeof(action)),
			 -EINVAL);
	assert_int_equal(edge_cmd_action_from_topic("commands/{device_id}/{action}", "dev-1",
						    "commands/dev-1/a/b", action, sizeof(action)),
			 -EINVAL);
	assert_int_equal(edge_cmd_action_from_topic("commands/{device_id}/{action}", "dev-1",
						    "commands/dev-1/", action, sizeof(action)),
			 -EINVAL);
}

static void signed_content(void **state)
{
	struct edge_cmd c;
	char why[128];
	const char *ok = "{\"id\":\"s-1\",\"action\":\"reboot\",\"deviceId\":\"dev-1\","
			 "\"expiresAt\":1900000000000,\"params\":{\"confirm\":true}}";

	(void)state;
	assert_int_equal(parse("reboot",
			       "{\"id\":\"s-1\",\"params\":{\"confirm\":true},"
			       "\"expiresAt\":1900000000000}",
			       4096, &c),
			 0);
	assert_int_equal(edge_cmd_check_signed(&c, "dev-1", ok, strlen(ok), why, sizeof(why)), 0);
	assert_int_equal(edge_cmd_check_signed(&c, "dev-2", ok, strlen(ok), why, sizeof(why)),
			 -EBADMSG);
	strcpy(c.action, "restart");
	assert_int_equal(edge_cmd_check_signed(&c, "dev-1", ok, strlen(ok), why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "action"));
	strcpy(c.action, "reboot");
	cJSON_ReplaceItemInObject(c.params, "confirm", cJSON_CreateFalse());
	assert_int_equal(edge_cmd_check_signed(&c, "dev-1", ok, strlen(ok), why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "params"));
	edge_cmd_release(&c);
	/* no expiresAt in the command: refused even when the signature matches the rest */
	assert_int_equal(
	    parse("reboot", "{\"id\":\"s-1\",\"params\":{\"confirm\":true}}", 4096, &c), 0);
	assert_int_equal(edge_cmd_check_signed(&c, "dev-1", ok, strlen(ok), why, sizeof(why)),
			 -EBADMSG);
	edge_cmd_release(&c);
}

static void result_doc(void **state)
{
	cJSON *data = cJSON_CreateObject(), *r;
	char *json;

	(void)state;
	cJSON_AddNumberToObject(data, "n", 3);
	json = edge_cmd_result_json("x-1", EDGE_CMD_EXPIRED, "late", data);
	r = cJSON_Parse(json);
	assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, "x-1");
	assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "expired");
	assert_string_equal(cJSON_GetObjectItem(r, "message")->valuestring, "late");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "data"), "n")->valueint, 3);
	assert_int_equal(cJSON_GetArraySize(r), 4);
	cJSON_Delete(r);
	free(json);
	json = edge_cmd_result_json("", EDGE_CMD_UNKNOWN_ACTION, NULL, NULL);
	assert_non_null(strstr(json, "\"id\":null"));
	assert_non_null(strstr(json, "\"unknown_action\""));
	assert_non_null(strstr(json, "\"data\":null"));
	free(json);
	cJSON_Delete(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid),	  cmocka_unit_test(malformed),
	    cmocka_unit_test(oversized),  cmocka_unit_test(recover_and_names),
	    cmocka_unit_test(topics),	  cmocka_unit_test(signed_content),
	    cmocka_unit_test(result_doc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
