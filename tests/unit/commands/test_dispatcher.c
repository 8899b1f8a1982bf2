/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command dispatcher (agent/commands/commands.c) with a real dedup file
 * and outbox in a temporary directory, the sim board (reboot requests are
 * recorded by the sim HAL) and the real loop. The three edge_uplink_*
 * functions it calls are stubbed below and record the answers, so the
 * uplink's archive member is never linked in. Signed commands use a P-256
 * key made at test time with mbedTLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_parse.h"
#include "agent/commands.h"
#include "edge/board.h"
#include "edge/file.h"
#include "edge/hal/sim.h"
#include "edge/jws.h"
#include "edge/time.h"
#include "edge_test.h"

/* ---- the uplink, stubbed ---------------------------------------------------- */

#define PUBS_MAX 32

struct answer {
	char topic[256];
	char payload[4096];
	int qos;
	bool retain;
	bool has_correlation;
	unsigned char correlation[64];
	size_t correlation_len;
};

static struct {
	struct answer pubs[PUBS_MAX];
	int n_pubs;
	char sub[256];
	int sub_qos;
	int subs;
} up;

int edge_uplink_publish(struct edge_uplink *u, const char *topic, const void *payload, size_t len,
			int qos, bool retain, const void *correlation, size_t correlation_len)
{
	struct answer *a;

	(void)u;
	if (up.n_pubs == PUBS_MAX)
		return -ENOSPC;
	a = &up.pubs[up.n_pubs++];
	snprintf(a->topic, sizeof(a->topic), "%s", topic);
	snprintf(a->payload, sizeof(a->payload), "%.*s", (int)len, (const char *)payload);
	a->qos = qos;
	a->retain = retain;
	a->has_correlation = correlation != NULL;
	a->correlation_len = correlation_len;
	if (correlation && correlation_len <= sizeof(a->correlation))
		memcpy(a->correlation, correlation, correlation_len);
	return 0;
}

int edge_uplink_subscribe(struct edge_uplink *u, const char *topic, int qos)
{
	(void)u;
	snprintf(up.sub, sizeof(up.sub), "%s", topic);
	up.sub_qos = qos;
	up.subs++;
	return 0;
}

void edge_uplink_stats(const struct edge_uplink *u, struct edge_uplink_stats *out)
{
	(void)u;
	memset(out, 0, sizeof(*out));
	out->connected = true;
}

/* ---- keys and signatures ---------------------------------------------------- */

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_pk_context platform_key, other_key;

static int make_key(mbedtls_pk_context *pk)
{
	mbedtls_pk_init(pk);
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)))
		return -1;
	return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
				   mbedtls_ctr_drbg_random, &drbg);
}

static int group_setup(void **state)
{
	(void)state;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)"dispatcher", 10))
		return -1;
	return make_key(&platform_key) || make_key(&other_key) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mbedtls_pk_free(&platform_key);
	mbedtls_pk_free(&other_key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return 0;
}

/* ES256 compact JWS of payload: the DER signature of mbedtls_pk_sign()
 * turned into the raw r || s of JWS. Caller frees. */
static char *jws_of(mbedtls_pk_context *pk, const char *payload)
{
	static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
	unsigned char hash[32], der[MBEDTLS_ECDSA_MAX_LEN], rs[64], *p, *end;
	size_t n, der_len, seq_len;
	char *out = malloc(strlen(payload) * 2 + 256);
	mbedtls_mpi r, s;

	assert_non_null(out);
	n = edge_b64url_encode((const unsigned char *)header, strlen(header), out);
	out[n++] = '.';
	n += edge_b64url_encode((const unsigned char *)payload, strlen(payload), out + n);
	assert_int_equal(mbedtls_sha256_ret((const unsigned char *)out, n, hash, 0), 0);
	assert_int_equal(mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), der, &der_len,
					 mbedtls_ctr_drbg_random, &drbg),
			 0);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	p = der;
	end = der + der_len;
	assert_int_equal(mbedtls_asn1_get_tag(&p, end, &seq_len,
					      MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE),
			 0);
	assert_int_equal(mbedtls_asn1_get_mpi(&p, end, &r), 0);
	assert_int_equal(mbedtls_asn1_get_mpi(&p, end, &s), 0);
	assert_int_equal(mbedtls_mpi_write_binary(&r, rs, 32), 0);
	assert_int_equal(mbedtls_mpi_write_binary(&s, rs + 32, 32), 0);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	out[n++] = '.';
	edge_b64url_encode(rs, sizeof(rs), out + n);
	return out;
}

/* A command payload {"id","expiresAt","params","jws"} whose JWS signs the
 * same content for action and device (docs/commands.md). Caller frees. */
static char *signed_command(mbedtls_pk_context *pk, const char *id, const char *action,
			    const char *device, const char *params)
{
	int64_t exp = (int64_t)edge_wall_ms() + 60000;
	char content[512], *jws, *out;

	snprintf(content, sizeof(content),
		 "{\"id\":\"%s\",\"action\":\"%s\",\"deviceId\":\"%s\",\"expiresAt\":%" PRId64
		 ",\"params\":%s}",
		 id, action, device, exp, params);
	jws = jws_of(pk, content);
	out = malloc(strlen(jws) + 512);
	assert_non_null(out);
	sprintf(out, "{\"id\":\"%s\",\"expiresAt\":%" PRId64 ",\"params\":%s,\"jws\":\"%s\"}", id,
		exp, params, jws);
	free(jws);
	return out;
}

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
	char dir[256];
	struct edge_loop *loop;
	struct edge_store *store;
	struct edge_board board;
	struct edge_config cfg;
	struct edge_commands *c;
	int status_calls;
	int stops;
	int stop_code;
};

static char uplink_token; /* never dereferenced: the stubs ignore it */

static char *status_hook(void *arg)
{
	struct fx *f = arg;

	f->status_calls++;
	return strdup("{\"state\":\"online\",\"uptime\":42}");
}

static void stop_hook(void *arg, int exit_code, const char *why)
{
	struct fx *f = arg;

	(void)why;
	f->stops++;
	f->stop_code = exit_code;
}

static void make(struct fx *f)
{
	struct edge_commands_deps deps = {
	    .loop = f->loop,
	    .store = f->store,
	    .uplink = (struct edge_uplink *)(void *)&uplink_token,
	    .cfg = &f->cfg,
	    .board = &f->board,
	    .config_path = "/nonexistent/edge-agent.json",
	};
	struct edge_commands_hooks hooks = {
	    .stop = stop_hook, .status_json = status_hook, .arg = f};

	assert_int_equal(edge_commands_new(&deps, &hooks, &f->c), 0);
}

static void write_public_key(struct fx *f, mbedtls_pk_context *pk)
{
	unsigned char pem[1024];
	int n = snprintf(f->cfg.commands.signing_key_file, sizeof(f->cfg.commands.signing_key_file),
			 "%.200s/platform.pub.pem", f->dir);

	assert_true(n > 0 && (size_t)n < sizeof(f->cfg.commands.signing_key_file));
	assert_int_equal(mbedtls_pk_write_pubkey_pem(pk, pem, sizeof(pem)), 0);
	assert_int_equal(edge_file_write_atomic(f->cfg.commands.signing_key_file, pem,
						strlen((char *)pem), 0644),
			 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct edge_store_cfg scfg = {.max_rows = 1000, .max_bytes = 1 << 20};
	char err[256];

	if (!f)
		return -1;
	memset(&up, 0, sizeof(up));
	edge_sim_reset();
	if (edge_test_env_open("dispatcher", f->dir, sizeof(f->dir), &f->loop))
		return -1;
	scfg.dir = f->dir;
	if (edge_store_open(&scfg, &f->store, NULL, 0))
		return -1;
	if (edge_board_load("sim", NULL, &f->board, err, sizeof(err)))
		return -1;
	edge_config_defaults(&f->cfg);
	snprintf(f->cfg.device_id, sizeof(f->cfg.device_id), "dev-1");
	snprintf(f->cfg.board, sizeof(f->cfg.board), "sim");
	snprintf(f->cfg.state_dir, sizeof(f->cfg.state_dir), "%s", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_commands_free(f->c);
	edge_store_close(f->store);
	edge_test_env_close(f->dir, f->loop);
	edge_sim_reset();
	free(f);
	return 0;
}

/* A message on commands/dev-1/<action>. */
static void deliver(struct fx *f, const char *action, const char *payload,
		    const char *response_topic, const void *corr, size_t corr_len)
{
	char topic[128];
	struct edge_mqtt_message m = {
	    .topic = topic,
	    .payload = payload,
	    .len = strlen(payload),
	    .response_topic = response_topic,
	    .correlation = corr,
	    .correlation_len = corr_len,
	};

	snprintf(topic, sizeof(topic), "commands/dev-1/%s", action);
	edge_commands_message(f->c, &m);
}

static const struct answer *last(void)
{
	assert_true(up.n_pubs > 0);
	return &up.pubs[up.n_pubs - 1];
}

/* The "status" of an answer, and its "id" ("" for null). */
static void parse_answer(const char *json, char *status, size_t slen, char *id, size_t idlen,
			 char *message, size_t mlen)
{
	cJSON *r = cJSON_Parse(json);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(r, "id");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r, "message");

	assert_non_null(r);
	assert_true(cJSON_IsString(st));
	assert_true(cJSON_IsString(i) || cJSON_IsNull(i));
	snprintf(status, slen, "%s", st->valuestring);
	snprintf(id, idlen, "%s", cJSON_IsString(i) ? i->valuestring : "");
	snprintf(message, mlen, "%s", cJSON_IsString(msg) ? msg->valuestring : "");
	cJSON_Delete(r);
}

#define ANSWER(json, st, idv)                                                                      \
	do {                                                                                       \
		char s_[32], i_[80], m_[256];                                                      \
		parse_answer((json), s_, sizeof(s_), i_, sizeof(i_), m_, sizeof(m_));              \
		assert_string_equal(s_, (st));                                                     \
		assert_string_equal(i_, (idv));                                                    \
	} while (0)

static struct edge_commands_stats stats(struct fx *f)
{
	struct edge_commands_stats st;

	edge_commands_stats(f->c, &st);
	return st;
}

static bool stopped(void *arg)
{
	return ((struct fx *)arg)->stops > 0;
}

/* ---- tests ------------------------------------------------------------------ */

static void answer_goes_to_the_responses_topic(void **state)
{
	struct fx *f = *state;

	make(f);
	deliver(f, "ping", "{\"id\":\"p1\"}", NULL, NULL, 0);
	assert_int_equal(up.n_pubs, 1);
	assert_string_equal(last()->topic, "devices/dev-1/responses/ping");
	assert_int_equal(last()->qos, 1);
	assert_false(last()->retain);
	assert_false(last()->has_correlation);
	ANSWER(last()->payload, "ok", "p1");
	assert_non_null(strstr(last()->payload, "\"pong\":true"));
	assert_int_equal(stats(f).received, 1);
	assert_int_equal(stats(f).executed, 1);
}

static void answer_goes_to_the_response_topic_with_correlation(void **state)
{
	struct fx *f = *state;
	static const unsigned char corr[] = {0xde, 0xad, 0x00, 0xef};

	make(f);
	deliver(f, "ping", "{\"id\":\"p2\"}", "app/replies/7", corr, sizeof(corr));
	assert_int_equal(up.n_pubs, 1);
	assert_string_equal(last()->topic, "app/replies/7");
	assert_true(last()->has_correlation);
	assert_int_equal(last()->correlation_len, sizeof(corr));
	assert_memory_equal(last()->correlation, corr, sizeof(corr));
	ANSWER(last()->payload, "ok", "p2");
	/* a wildcard is no topic to publish on: the configured one instead */
	deliver(f, "ping", "{\"id\":\"p3\"}", "app/+/7", corr, sizeof(corr));
	assert_int_equal(up.n_pubs, 2);
	assert_string_equal(last()->topic, "devices/dev-1/responses/ping");
	assert_true(last()->has_correlation);
}

static void duplicate_id_gets_the_stored_answer(void **state)
{
	struct fx *f = *state;
	char first[4096];

	make(f);
	deliver(f, "status", "{\"id\":\"s1\"}", NULL, NULL, 0);
	assert_int_equal(f->status_calls, 1);
	ANSWER(last()->payload, "ok", "s1");
	assert_non_null(strstr(last()->payload, "\"uptime\":42"));
	snprintf(first, sizeof(first), "%s", last()->payload);
	deliver(f, "status", "{\"id\":\"s1\"}", NULL, NULL, 0);
	assert_int_equal(f->status_calls, 1); /* not run again */
	assert_int_equal(up.n_pubs, 2);
	assert_string_equal(last()->payload, first);
	assert_int_equal(stats(f).duplicates, 1);
	assert_int_equal(stats(f).executed, 1);
	/* another id runs */
	deliver(f, "status", "{\"id\":\"s2\"}", NULL, NULL, 0);
	assert_int_equal(f->status_calls, 2);
	/* remembered across a restart of the dispatcher */
	edge_commands_free(f->c);
	f->c = NULL;
	make(f);
	deliver(f, "status", "{\"id\":\"s1\"}", NULL, NULL, 0);
	assert_int_equal(f->status_calls, 2);
	assert_string_equal(last()->payload, first);
}

static void expired_command_is_not_run(void **state)
{
	struct fx *f = *state;
	char payload[128];

	make(f);
	snprintf(payload, sizeof(payload), "{\"id\":\"e1\",\"expiresAt\":%" PRIu64 "}",
		 edge_wall_ms() - 1000);
	deliver(f, "status", payload, NULL, NULL, 0);
	assert_int_equal(f->status_calls, 0);
	ANSWER(last()->payload, "expired", "e1");
	assert_int_equal(stats(f).expired, 1);
	assert_int_equal(stats(f).executed, 0);
	/* one that expires later runs */
	snprintf(payload, sizeof(payload), "{\"id\":\"e2\",\"expiresAt\":%" PRIu64 "}",
		 edge_wall_ms() + 60000);
	deliver(f, "status", payload, NULL, NULL, 0);
	assert_int_equal(f->status_calls, 1);
	ANSWER(last()->payload, "ok", "e2");
}

static void require_signed_refuses_unsigned_high_risk_actions(void **state)
{
	struct fx *f = *state;
	unsigned reboots = edge_sim_reboot_requests();

	f->cfg.commands.require_signed = true;
	write_public_key(f, &platform_key);
	make(f);
	deliver(f, "restart", "{\"id\":\"r1\"}", NULL, NULL, 0);
	ANSWER(last()->payload, "rejected", "r1");
	assert_non_null(strstr(last()->payload, "restart needs a signed command"));
	deliver(f, "reboot", "{\"id\":\"b1\",\"params\":{\"confirm\":true}}", NULL, NULL, 0);
	ANSWER(last()->payload, "rejected", "b1");
	deliver(f, "config.set", "{\"id\":\"c1\",\"params\":{\"log_level\":\"debug\"}}", NULL, NULL,
		0);
	ANSWER(last()->payload, "rejected", "c1");
	assert_int_equal(stats(f).rejected, 3);
	assert_int_equal(stats(f).executed, 0);
	/* low-risk actions need no signature */
	deliver(f, "ping", "{\"id\":\"p1\"}", NULL, NULL, 0);
	ANSWER(last()->payload, "ok", "p1");
	/* nothing was scheduled */
	edge_test_run_until(f->loop, NULL, NULL, 400);
	assert_int_equal(f->stops, 0);
	assert_int_equal(edge_sim_reboot_requests(), reboots);
}

static void signed_commands_run(void **state)
{
	struct fx *f = *state;
	unsigned reboots = edge_sim_reboot_requests();
	char *cmd;

	f->cfg.commands.require_signed = true;
	write_public_key(f, &platform_key);
	make(f);
	cmd = signed_command(&platform_key, "r1", "restart", "dev-1", "{}");
	deliver(f, "restart", cmd, NULL, NULL, 0);
	free(cmd);
	ANSWER(last()->payload, "ok", "r1");
	assert_true(edge_test_run_until(f->loop, stopped, f, 2000));
	assert_int_equal(f->stops, 1);
	assert_int_equal(f->stop_code, EDGE_EXIT_RESTART);

	cmd = signed_command(&platform_key, "b1", "reboot", "dev-1", "{\"confirm\":true}");
	deliver(f, "reboot", cmd, NULL, NULL, 0);
	free(cmd);
	ANSWER(last()->payload, "ok", "b1");
	edge_test_run_until(f->loop, NULL, NULL, 500);
	assert_int_equal(edge_sim_reboot_requests(), reboots + 1);
}

static void bad_signature_is_rejected_and_not_remembered(void **state)
{
	struct fx *f = *state;
	char *cmd, *sig;

	f->cfg.commands.require_signed = true;
	write_public_key(f, &platform_key);
	make(f);
	/* a flipped character in the signature */
	cmd = signed_command(&platform_key, "r9", "restart", "dev-1", "{}");
	sig = strrchr(cmd, '.') + 3;
	*sig = *sig == 'A' ? 'B' : 'A';
	deliver(f, "restart", cmd, NULL, NULL, 0);
	free(cmd);
	ANSWER(last()->payload, "rejected", "r9");
	/* signed by another key */
	cmd = signed_command(&other_key, "r9", "restart", "dev-1", "{}");
	deliver(f, "restart", cmd, NULL, NULL, 0);
	free(cmd);
	ANSWER(last()->payload, "rejected", "r9");
	/* signed for another device */
	cmd = signed_command(&platform_key, "r9", "restart", "dev-2", "{}");
	deliver(f, "restart", cmd, NULL, NULL, 0);
	free(cmd);
	ANSWER(last()->payload, "rejected", "r9");
	assert_int_equal(stats(f).rejected, 3);
	edge_test_run_until(f->loop, NULL, NULL, 400);
	assert_int_equal(f->stops, 0);
	/* the forgeries did not take the id: the genuine command runs */
	cmd = signed_command(&platform_key, "r9", "restart", "dev-1", "{}");
	deliver(f, "restart", cmd, NULL, NULL, 0);
	free(cmd);
	ANSWER(last()->payload, "ok", "r9");
	assert_int_equal(stats(f).duplicates, 0);
	assert_true(edge_test_run_until(f->loop, stopped, f, 2000));
}

static void unknown_action(void **state)
{
	struct fx *f = *state;

	make(f);
	deliver(f, "frobnicate", "{\"id\":\"u1\"}", NULL, NULL, 0);
	assert_string_equal(last()->topic, "devices/dev-1/responses/frobnicate");
	ANSWER(last()->payload, edge_cmd_status_str(EDGE_CMD_UNKNOWN_ACTION), "u1");
	assert_int_equal(stats(f).unknown, 1);
	assert_int_equal(stats(f).executed, 0);
}

static void malformed_payloads(void **state)
{
	struct fx *f = *state;
	static const unsigned char corr[] = {7};

	make(f);
	/* valid JSON, bad params: answered with its id */
	deliver(f, "ping", "{\"id\":\"m1\",\"params\":5}", NULL, NULL, 0);
	assert_int_equal(up.n_pubs, 1);
	ANSWER(last()->payload, "error", "m1");
	assert_non_null(strstr(last()->payload, "params must be an object"));
	/* damaged, but the id can be recovered */
	deliver(f, "ping", "{\"id\":\"m2\", \"params\": {", NULL, NULL, 0);
	assert_int_equal(up.n_pubs, 2);
	ANSWER(last()->payload, "error", "m2");
	/* no id, nobody to answer: nothing */
	deliver(f, "ping", "not json at all", NULL, NULL, 0);
	assert_int_equal(up.n_pubs, 2);
	/* no id, but a requester waiting on its correlation data: id null */
	deliver(f, "ping", "not json at all", "app/replies/1", corr, sizeof(corr));
	assert_int_equal(up.n_pubs, 3);
	assert_string_equal(last()->topic, "app/replies/1");
	ANSWER(last()->payload, "error", "");
	assert_int_equal(stats(f).malformed, 4);
	assert_int_equal(stats(f).executed, 0);
	/* an error answer is not stored: the same id well-formed runs */
	deliver(f, "ping", "{\"id\":\"m1\"}", NULL, NULL, 0);
	ANSWER(last()->payload, "ok", "m1");
}

static void other_topics_are_ignored(void **state)
{
	struct fx *f = *state;
	struct edge_mqtt_message m = {
	    .topic = "commands/dev-2/ping", .payload = "{\"id\":\"x\"}", .len = 10};

	make(f);
	edge_commands_message(f->c, &m);
	assert_int_equal(up.n_pubs, 0);
	assert_int_equal(stats(f).received, 0);
}

static void connected_subscribes_the_command_topic(void **state)
{
	struct fx *f = *state;

	make(f);
	edge_commands_connected(f->c);
	assert_int_equal(up.subs, 1);
	assert_string_equal(up.sub, "commands/dev-1/+");
	assert_int_equal(up.sub_qos, 1);
}

static void run_local(void **state)
{
	struct fx *f = *state;
	char *r;

	f->cfg.commands.require_signed = true;
	write_public_key(f, &platform_key);
	make(f);
	r = edge_commands_run_local(f->c, "ping", NULL);
	ANSWER(r, "ok", "local-1");
	free(r);
	/* no dedup locally: each request runs */
	r = edge_commands_run_local(f->c, "status", "{}");
	ANSWER(r, "ok", "local-2");
	free(r);
	r = edge_commands_run_local(f->c, "status", NULL);
	free(r);
	assert_int_equal(f->status_calls, 2);
	r = edge_commands_run_local(f->c, "frobnicate", NULL);
	ANSWER(r, edge_cmd_status_str(EDGE_CMD_UNKNOWN_ACTION), "local-4");
	free(r);
	r = edge_commands_run_local(f->c, "ping", "[1]");
	ANSWER(r, "error", "local-5");
	assert_non_null(strstr(r, "params must be a JSON object"));
	free(r);
	/* trusted by the socket's permissions: no signature needed */
	r = edge_commands_run_local(f->c, "restart", NULL);
	ANSWER(r, "ok", "local-6");
	free(r);
	assert_true(edge_test_run_until(f->loop, stopped, f, 2000));
	assert_int_equal(f->stop_code, EDGE_EXIT_RESTART);
	assert_int_equal(up.n_pubs, 0); /* local answers are returned, not published */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    EDGE_TEST_CASE(answer_goes_to_the_responses_topic),
	    EDGE_TEST_CASE(answer_goes_to_the_response_topic_with_correlation),
	    EDGE_TEST_CASE(duplicate_id_gets_the_stored_answer),
	    EDGE_TEST_CASE(expired_command_is_not_run),
	    EDGE_TEST_CASE(require_signed_refuses_unsigned_high_risk_actions),
	    EDGE_TEST_CASE(signed_commands_run),
	    EDGE_TEST_CASE(bad_signature_is_rejected_and_not_remembered),
	    EDGE_TEST_CASE(unknown_action),
	    EDGE_TEST_CASE(malformed_payloads),
	    EDGE_TEST_CASE(other_topics_are_ignored),
	    EDGE_TEST_CASE(connected_subscribes_the_command_topic),
	    EDGE_TEST_CASE(run_local),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
