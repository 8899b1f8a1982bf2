/* SPDX-License-Identifier: Apache-2.0 */
/* state.json and history.json: save/load round trips in a temporary
 * directory, a missing file is idle, corrupt files are -EINVAL with a reason
 * naming the key, history caps, the failed list and forgetting. */
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

#include "edge/file.h"
#include "edge/ota/state.h"
#include "edge_test.h"

#define SHA  "e98deb22bb70eed0ce41084a016c8ef65805babfb8bc3210acb68d7453145f70"
#define SHA2 "0000000000000000000000000000000000000000000000000000000000000001"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return edge_test_tmpdir("ota-state", dir, sizeof(dir));
}

static int teardown(void **state)
{
	(void)state;
	edge_test_rmtree(dir);
	return 0;
}

static void write_state(const char *json)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(edge_file_write_atomic(path, json, strlen(json), 0600), 0);
}

static void full_record(struct edge_ota_record *r)
{
	memset(r, 0, sizeof(*r));
	r->state = EDGE_OTA_DOWNLOADING;
	strcpy(r->ota_id, "cmd-42");
	strcpy(r->m.version, "1.3.0-rc.2");
	strcpy(r->m.url, "https://updates.example.com/1.3.0.img");
	r->m.size = 123456789;
	strcpy(r->m.sha256, SHA);
	strcpy(r->m.boards[0], "rpi4");
	strcpy(r->m.boards[1], "sim");
	r->m.n_boards = 2;
	strcpy(r->m.installer, "bundle");
	strcpy(r->m.min_version, "1.0.0");
	r->m.allow_downgrade = true;
	strcpy(r->from_version, "1.2.0");
	r->offset = 8388608;
	r->resumed_from = 4194304;
	strcpy(r->validator, "lm:Wed, 21 Oct 2015 07:28:00 GMT");
	r->attempt = 3;
	strcpy(r->target_slot, "B");
	strcpy(r->booted_slot, "A");
	strcpy(r->boot_id, "3f1e2d9c-7c1a-4f0e-9b7c-2a1d0c9e8f7a");
	r->trial_starts = 2;
	r->trial_since_ms = 1733380000000;
	r->started_ms = 1733370000000;
	r->deadline_ms = 1733456400000;
	strcpy(r->result, "");
	strcpy(r->reason, "HTTP 503, \"retrying\"\n(quoted)");
	r->ts_ms = 1733380001234;
}

static void state_names(void **state)
{
	(void)state;
	for (int s = EDGE_OTA_IDLE; s <= EDGE_OTA_ROLLED_BACK; s++) {
		const char *n = edge_ota_state_name((enum edge_ota_state)s);

		assert_non_null(n);
		assert_int_equal(edge_ota_state_from_name(n), s);
	}
	assert_string_equal(edge_ota_state_name(EDGE_OTA_ROLLED_BACK), "rolled_back");
	assert_null(edge_ota_state_name((enum edge_ota_state)99));
	assert_int_equal(edge_ota_state_from_name("Idle"), -1);
	assert_int_equal(edge_ota_state_from_name(NULL), -1);
}

static void missing_is_idle(void **state)
{
	struct edge_ota_record r;
	struct edge_ota_history h;
	char why[200] = "";

	(void)state;
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(edge_ota_state_load(dir, &r, why, sizeof(why)), 0);
	assert_int_equal(r.state, EDGE_OTA_IDLE);
	assert_string_equal(r.ota_id, "");
	assert_true(r.offset == 0);
	memset(&h, 0xa5, sizeof(h));
	assert_int_equal(edge_ota_history_load(dir, &h, why, sizeof(why)), 0);
	assert_int_equal(h.n_last, 0);
	assert_int_equal(h.n_failed, 0);
}

static void save_load_round_trip(void **state)
{
	struct edge_ota_record r, back;
	char why[200] = "", path[300];
	struct stat st;
	char *json;

	(void)state;
	full_record(&r);
	assert_int_equal(edge_ota_state_save(dir, &r), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(edge_ota_state_load(dir, &back, why, sizeof(why)), 0);
	assert_memory_equal(&r, &back, sizeof(r));
	/* the keys are camelCase and the state is its name */
	json = edge_ota_state_to_json(&r);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"state\":\"downloading\""));
	assert_non_null(strstr(json, "\"resumedFrom\":4194304"));
	assert_non_null(strstr(json, "\"trialSinceMs\":1733380000000"));
	assert_non_null(strstr(json, "\"manifest\":{\"version\":\"1.3.0-rc.2\""));
	free(json);

	/* the biggest values survive exactly (digits, not %.15g) */
	r.m.size = UINT64_C(1) << 53;
	r.offset = r.m.size - 1;
	r.resumed_from = r.m.size;
	r.ts_ms = INT64_C(1) << 53;
	r.attempt = UINT32_MAX;
	assert_int_equal(edge_ota_state_save(dir, &r), 0);
	assert_int_equal(edge_ota_state_load(dir, &back, why, sizeof(why)), 0);
	assert_memory_equal(&r, &back, sizeof(r));
	full_record(&r);
	/* every state, and an idle record without a manifest */
	for (int s = EDGE_OTA_IDLE; s <= EDGE_OTA_ROLLED_BACK; s++) {
		r.state = (enum edge_ota_state)s;
		assert_int_equal(edge_ota_state_save(dir, &r), 0);
		assert_int_equal(edge_ota_state_load(dir, &back, why, sizeof(why)), 0);
		assert_memory_equal(&r, &back, sizeof(r));
	}
	memset(&r, 0, sizeof(r));
	r.state = EDGE_OTA_IDLE;
	strcpy(r.result, "success");
	r.ts_ms = 5;
	assert_int_equal(edge_ota_state_save(dir, &r), 0);
	json = edge_ota_state_to_json(&r);
	assert_non_null(strstr(json, "\"manifest\":null"));
	free(json);
	assert_int_equal(edge_ota_state_load(dir, &back, why, sizeof(why)), 0);
	assert_memory_equal(&r, &back, sizeof(r));
}

static void save_refuses_what_load_would(void **state)
{
	struct edge_ota_record r, back;
	char why[200];

	(void)state;
	full_record(&r);
	assert_int_equal(edge_ota_state_save(dir, &r), 0);
	/* each of these would leave a file the next start cannot read */
	r.offset = r.m.size + 1;
	assert_int_equal(edge_ota_state_save(dir, &r), -EINVAL);
	full_record(&r);
	strcpy(r.result, "maybe");
	assert_int_equal(edge_ota_state_save(dir, &r), -EINVAL);
	full_record(&r);
	r.ts_ms = -1;
	assert_int_equal(edge_ota_state_save(dir, &r), -EINVAL);
	full_record(&r);
	r.state = (enum edge_ota_state)42;
	assert_int_equal(edge_ota_state_save(dir, &r), -EINVAL);
	full_record(&r);
	strcpy(r.m.url, "file:///etc/passwd");
	assert_int_equal(edge_ota_state_save(dir, &r), -EINVAL);
	/* and the good file is still there */
	assert_int_equal(edge_ota_state_load(dir, &back, why, sizeof(why)), 0);
	full_record(&r);
	assert_memory_equal(&r, &back, sizeof(r));
}

struct corrupt {
	const char *json;
	const char *why;
};

#define M                                                                                          \
	"\"manifest\":{\"version\":\"1.0.0\",\"url\":\"https://h/"                                 \
	"\",\"size\":100,\"sha256\":\"" SHA "\",\"boards\":[\"sim\"],\"installer\":\"bundle\"}"

static const struct corrupt corrupts[] = {
    {"", "line 1: not valid JSON"},
    {"{\"state\":\"idle\",\n\"otaId\":", "line 2: not valid JSON"},
    {"{\"state\":\"idle\"", "not valid JSON"},
    {"[]", "the top level must be an object"},
    {"{}", "state: must be a state name, not null"},
    {"{\"state\":3}", "state: must be a state name, not a number"},
    {"{\"state\":\"paused\"}", "state: \"paused\" is not a state"},
    {"{\"state\":\"downloading\",\"offset\":-1}", "offset: must be an integer in [0, 2^53]"},
    {"{\"state\":\"downloading\",\"offset\":1.5}", "offset: must be an integer"},
    {"{\"state\":\"downloading\",\"offset\":\"5\"}", "offset: must be an integer"},
    {"{\"state\":\"downloading\",\"offset\":1e300}", "offset: must be an integer"},
    {"{\"state\":\"downloading\"," M ",\"offset\":101}", "offset: 101 or resumedFrom 0 beyond"},
    {"{\"state\":\"downloading\"," M ",\"resumedFrom\":200}", "beyond the manifest's size 100"},
    {"{\"state\":\"downloading\",\"offset\":5}", "offset: set without a manifest"},
    {"{\"state\":\"trial\",\"attempt\":4294967296}",
     "attempt: must be an integer in [0, 4294967295]"},
    {"{\"state\":\"trial\",\"trialStarts\":true}", "trialStarts: must be an integer"},
    {"{\"state\":\"trial\",\"trialSinceMs\":-5}", "trialSinceMs: must be milliseconds"},
    {"{\"state\":\"trial\",\"tsMs\":9007199254740994}", "tsMs: must be milliseconds in [0, 2^53]"},
    {"{\"state\":\"trial\",\"otaId\":5}", "otaId: must be a string, not a number"},
    {"{\"state\":\"trial\",\"otaId\":"
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "\"}",
     "otaId: longer than 63 characters"},
    {"{\"state\":\"trial\",\"targetSlot\":\"A B\"}", "targetSlot: must be \"\" or a slot name"},
    {"{\"state\":\"trial\",\"bootedSlot\":\"ABCDEFGH\"}", "bootedSlot: longer than 7"},
    {"{\"state\":\"failed\",\"result\":\"crashed\"}", "result: must be \"\", \"success\""},
    {"{\"state\":\"failed\",\"result\":null}", "result: must be a string, not null"},
    {"{\"state\":\"trial\",\"manifest\":5}", "manifest. must be a JSON object, not a number"},
    {"{\"state\":\"trial\",\"manifest\":{\"version\":\"1.0\"}}",
     "manifest.version: \"1.0\" is not a semantic version"},
    {"{\"state\":\"trial\",\"manifest\":{\"version\":\"1.0.0\"}}", "manifest.url: missing"},
};

static void corrupt_state(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(corrupts) / sizeof(corrupts[0]); i++) {
		struct edge_ota_record r;
		char why[256] = "", want[300];
		int rc;

		write_state(corrupts[i].json);
		rc = edge_ota_state_load(dir, &r, why, sizeof(why));
		if (rc != -EINVAL || !strstr(why, corrupts[i].why))
			fail_msg("case %zu: %s\n  rc %d why \"%s\", expected \"%s\"", i,
				 corrupts[i].json, rc, why, corrupts[i].why);
		/* the reason names the file first */
		snprintf(want, sizeof(want), "%s/state.json: ", dir);
		assert_memory_equal(why, want, strlen(want));
		assert_int_equal(r.state, EDGE_OTA_IDLE);
	}
}

static void tolerant_of_unknown_and_absent_keys(void **state)
{
	struct edge_ota_record r;
	char why[256] = "";

	(void)state;
	/* a newer agent's keys, also inside the manifest, are ignored; keys an
	 * older agent did not write stay zero */
	write_state("{\"state\":\"trial\",\"futureKey\":{\"a\":1},\"manifest\":{\"version\":"
		    "\"2.0.0\",\"url\":\"https://h/\",\"size\":100,\"sha256\":\"" SHA
		    "\",\"boards\":[\"sim\"],\"installer\":\"rauc\",\"newConstraint\":true},"
		    "\"trialStarts\":1}");
	assert_int_equal(edge_ota_state_load(dir, &r, why, sizeof(why)), 0);
	assert_int_equal(r.state, EDGE_OTA_TRIAL);
	assert_string_equal(r.m.version, "2.0.0");
	assert_int_equal(r.trial_starts, 1);
	assert_true(r.offset == 0);
	assert_string_equal(r.target_slot, "");
}

static void unreadable_and_oversized(void **state)
{
	struct edge_ota_record r;
	char why[256] = "", path[300], *big;
	size_t n = 64 * 1024 + 1;
	int rc;

	(void)state;
	/* a symlink loop: an I/O error, not -EINVAL, and not "missing" */
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(symlink("state.json", path), 0);
	rc = edge_ota_state_load(dir, &r, why, sizeof(why));
	assert_int_equal(rc, -ELOOP);
	assert_non_null(strstr(why, "cannot read"));
	assert_int_equal(unlink(path), 0);
	/* a directory where the file should be */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(edge_ota_state_load(dir, &r, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	assert_int_equal(rmdir(path), 0);
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"state\":\"idle\"}", 16);
	assert_int_equal(edge_file_write_atomic(path, big, n, 0600), 0);
	free(big);
	assert_int_equal(edge_ota_state_load(dir, &r, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "larger than"));
}

/* ---- history ---- */

static struct edge_ota_outcome outcome(int i, const char *result, const char *sha)
{
	struct edge_ota_outcome o;

	memset(&o, 0, sizeof(o));
	snprintf(o.ota_id, sizeof(o.ota_id), "cmd-%d", i);
	snprintf(o.version, sizeof(o.version), "1.0.%d", i);
	snprintf(o.sha256, sizeof(o.sha256), "%s", sha);
	snprintf(o.result, sizeof(o.result), "%s", result);
	snprintf(o.reason, sizeof(o.reason), "%s", strcmp(result, "success") ? "trial failed" : "");
	o.ts_ms = 1733380000000 + i;
	return o;
}

static void history_add_and_caps(void **state)
{
	struct edge_ota_history h, back;
	struct edge_ota_outcome o;
	char why[256] = "";

	(void)state;
	memset(&h, 0, sizeof(h));
	for (int i = 0; i < EDGE_OTA_HISTORY_MAX + 5; i++) {
		o = outcome(i, "success", SHA);
		edge_ota_history_add(&h, &o);
	}
	assert_int_equal(h.n_last, EDGE_OTA_HISTORY_MAX);
	assert_int_equal(h.n_failed, 0);
	/* newest first, the oldest dropped */
	assert_string_equal(h.last[0].version, "1.0.20");
	assert_string_equal(h.last[EDGE_OTA_HISTORY_MAX - 1].version, "1.0.5");

	/* failures join the failed list, newest first, capped */
	for (int i = 0; i < EDGE_OTA_FAILED_MAX + 3; i++) {
		o = outcome(100 + i, i % 2 ? "rolled_back" : "failure", SHA);
		edge_ota_history_add(&h, &o);
	}
	assert_int_equal(h.n_failed, EDGE_OTA_FAILED_MAX);
	assert_string_equal(h.failed[0].version, "1.0.134");
	assert_string_equal(h.failed[EDGE_OTA_FAILED_MAX - 1].version, "1.0.103");
	assert_true(edge_ota_history_is_failed(&h, "1.0.103", SHA));
	assert_false(edge_ota_history_is_failed(&h, "1.0.102", SHA));  /* dropped */
	assert_false(edge_ota_history_is_failed(&h, "1.0.103", SHA2)); /* other image */
	assert_false(edge_ota_history_is_failed(&h, "1.0.5", SHA));    /* succeeded */

	/* the same pair failing again is listed once, moved to the front */
	o = outcome(110, "failure", SHA);
	edge_ota_history_add(&h, &o);
	assert_int_equal(h.n_failed, EDGE_OTA_FAILED_MAX);
	assert_string_equal(h.failed[0].version, "1.0.110");
	assert_string_equal(h.failed[1].version, "1.0.134");
	for (size_t i = 1; i < h.n_failed; i++)
		assert_string_not_equal(h.failed[i].version, "1.0.110");

	/* save and load keep all of it */
	assert_int_equal(edge_ota_history_save(dir, &h), 0);
	assert_int_equal(edge_ota_history_load(dir, &back, why, sizeof(why)), 0);
	assert_memory_equal(&h, &back, sizeof(h));
}

static void history_forget(void **state)
{
	struct edge_ota_history h, back;
	struct edge_ota_outcome o;
	char why[256] = "";

	(void)state;
	memset(&h, 0, sizeof(h));
	o = outcome(1, "rolled_back", SHA);
	edge_ota_history_add(&h, &o);
	o = outcome(2, "failure", SHA2);
	edge_ota_history_add(&h, &o);
	o = outcome(3, "failure", SHA);
	edge_ota_history_add(&h, &o);
	assert_int_equal(h.n_failed, 3);
	/* an operator's retryFailed of 1.0.2 that then succeeded */
	edge_ota_history_forget_failed(&h, "1.0.2", SHA2);
	assert_int_equal(h.n_failed, 2);
	assert_false(edge_ota_history_is_failed(&h, "1.0.2", SHA2));
	assert_true(edge_ota_history_is_failed(&h, "1.0.1", SHA));
	assert_true(edge_ota_history_is_failed(&h, "1.0.3", SHA));
	/* forgetting what is not there changes nothing */
	edge_ota_history_forget_failed(&h, "9.9.9", SHA);
	assert_int_equal(h.n_failed, 2);
	/* the outcomes themselves stay */
	assert_int_equal(h.n_last, 3);
	assert_int_equal(edge_ota_history_save(dir, &h), 0);
	assert_int_equal(edge_ota_history_load(dir, &back, why, sizeof(why)), 0);
	assert_memory_equal(&h, &back, sizeof(h));
}

static void history_corrupt_and_tolerant(void **state)
{
	static const struct corrupt bad[] = {
	    {"{\"last\":5}", "last: must be an array, not a number"},
	    {"{\"failed\":{}}", "failed: must be an array, not an object"},
	    {"{\"last\":[7]}", "last[0]. must be an object"},
	    {"{\"last\":[{\"version\":\"1.0.0\",\"result\":\"meh\"}]}", "last[0].result: must be"},
	    {"{\"last\":[{\"version\":\"1.0.0\"}]}", "last[0]. needs version and result"},
	    {"{\"last\":[{\"version\":\"1.0.0\",\"result\":\"success\",\"sha256\":\"abc\"}]}",
	     "last[0].sha256: must be \"\" or 64 hex digits"},
	    {"{\"failed\":[{\"version\":\"1.0.0\"}]}", "failed[0]. needs version and sha256"},
	    {"{\"failed\":[{\"version\":\"\",\"sha256\":\"" SHA "\"}]}",
	     "failed[0].version: must not be empty"},
	    {"{\"failed\":[{\"version\":\"1.0.0\",\"sha256\":\"xyz\"}]}",
	     "failed[0].sha256: must be 64 hex digits"},
	};
	struct edge_ota_history h;
	char path[300], why[256], big[16384];
	size_t o;

	(void)state;
	snprintf(path, sizeof(path), "%s/history.json", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    edge_file_write_atomic(path, bad[i].json, strlen(bad[i].json), 0600), 0);
		why[0] = '\0';
		if (edge_ota_history_load(dir, &h, why, sizeof(why)) != -EINVAL ||
		    !strstr(why, bad[i].why) || !strstr(why, "history.json: "))
			fail_msg("case %zu: %s\n  why \"%s\", expected \"%s\"", i, bad[i].json, why,
				 bad[i].why);
	}
	/* more entries than this agent keeps (a newer agent's caps): the
	 * newest are kept, unknown keys ignored */
	o = (size_t)snprintf(big, sizeof(big), "{\"v\":2,\"last\":[");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
				      "%s{\"version\":\"2.0.%d\",\"result\":\"success\",\"x\":1}",
				      i ? "," : "", i);
	o += (size_t)snprintf(big + o, sizeof(big) - o, "],\"failed\":[");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
				      "%s{\"version\":\"3.0.%d\",\"sha256\":\"" SHA "\"}",
				      i ? "," : "", i);
	snprintf(big + o, sizeof(big) - o, "]}");
	assert_int_equal(edge_file_write_atomic(path, big, strlen(big), 0600), 0);
	assert_int_equal(edge_ota_history_load(dir, &h, why, sizeof(why)), 0);
	assert_int_equal(h.n_last, EDGE_OTA_HISTORY_MAX);
	assert_int_equal(h.n_failed, EDGE_OTA_FAILED_MAX);
	assert_string_equal(h.last[0].version, "2.0.0");
	assert_string_equal(h.failed[EDGE_OTA_FAILED_MAX - 1].version, "3.0.31");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(state_names),
	    EDGE_TEST_CASE(missing_is_idle),
	    EDGE_TEST_CASE(save_load_round_trip),
	    EDGE_TEST_CASE(save_refuses_what_load_would),
	    EDGE_TEST_CASE(corrupt_state),
	    EDGE_TEST_CASE(tolerant_of_unknown_and_absent_keys),
	    EDGE_TEST_CASE(unreadable_and_oversized),
	    EDGE_TEST_CASE(history_add_and_caps),
	    EDGE_TEST_CASE(history_forget),
	    EDGE_TEST_CASE(history_corrupt_and_tolerant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
