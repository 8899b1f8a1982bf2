/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11-bench: the device key in a PKCS#11 token against the key in a file,
 * in the same run, against the same mosquitto (require_certificate):
 *   1. TLS handshakes (TCP connect + SSL_connect with the client
 *      certificate): wall time per handshake (median, p95) and this
 *      process's CPU time per handshake, which includes the token's signing
 *      when the module runs in-process (SoftHSM2);
 *   2. MQTT QoS 1 publish throughput after the handshake, through
 *      libmosquitto with the same SSL_CTX (MOSQ_OPT_SSL_CTX, as the agent):
 *      the token is used only in the handshake, so the two should match.
 * The two keys alternate in rounds so that load from other processes falls
 * on both. The token key is loaded the way agent/uplink/token_key.c does:
 * OpenSSL's pkcs11 engine with an explicit module and PIN.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

struct opts {
	const char *ca, *file_cert, *file_key, *tok_cert, *tok_uri, *module, *pin;
	int port, handshakes, rounds, messages;
};

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "p11-bench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static SSL_CTX *make_ctx(const struct opts *o, const char *cert, EVP_PKEY *pkey, const char *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (!c || SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_file(c, o->ca) != 1)
		die("SSL_CTX / CA");
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(c), "127.0.0.1") != 1)
		die("verify param");
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1)
		die("certificate");
	if ((pkey ? SSL_CTX_use_PrivateKey(c, pkey)
		  : SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM)) != 1 ||
	    SSL_CTX_check_private_key(c) != 1)
		die("private key");
	/* every handshake a full one: no session resumption */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	return c;
}

static EVP_PKEY *token_key(const struct opts *o, ENGINE **eng)
{
	char pin[160] = "";
	FILE *f = fopen(o->pin, "r");
	EVP_PKEY *k;
	ENGINE *e;

	if (!f || !fgets(pin, sizeof(pin), f))
		die("PIN file");
	fclose(f);
	pin[strcspn(pin, "\r\n")] = '\0';
	ENGINE_load_builtin_engines();
	e = ENGINE_by_id("pkcs11");
	if (!e || !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", o->module, 0) || !ENGINE_init(e) ||
	    !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0))
		die("pkcs11 engine");
	k = ENGINE_load_private_key(e, o->tok_uri, NULL, NULL);
	if (!k)
		die("token key");
	*eng = e;
	return k;
}

/* One full handshake; returns its wall time in microseconds. */
static uint64_t handshake(SSL_CTX *c, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	uint64_t t0 = bench_now_us();
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	SSL *s;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	s = SSL_new(c);
	if (!s || SSL_set_fd(s, fd) != 1 || SSL_connect(s) != 1)
		die("handshake");
	t0 = bench_now_us() - t0;
	SSL_shutdown(s);
	SSL_free(s);
	close(fd);
	return t0;
}

struct acks {
	int acked;
};

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)mid;
	((struct acks *)arg)->acked++;
}

/* Connects with c, publishes n QoS 1 messages, waits for every PUBACK;
 * returns messages per second from the first publish to the last PUBACK. */
static double publish_rate(SSL_CTX *c, int port, int n, const char *id)
{
	struct acks k = {0};
	struct mosquitto *m = mosquitto_new(id, true, &k);
	char payload[180];
	double t0;
	int sent = 0;

	if (!m)
		die("mosquitto_new");
	mosquitto_int_option(m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	mosquitto_void_option(m, MOSQ_OPT_SSL_CTX, c);
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 128);
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_publish_callback_set(m, on_publish);
	if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
		die("mosquitto_connect");
	memset(payload, 'x', sizeof(payload));
	t0 = bench_now_s();
	while (k.acked < n) {
		while (sent < n && sent - k.acked < 128) {
			if (mosquitto_publish(m, NULL, "bench/p11", sizeof(payload), payload, 1,
					      false) != MOSQ_ERR_SUCCESS)
				die("publish");
			sent++;
		}
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			die("loop");
	}
	t0 = bench_now_s() - t0;
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	return n / t0;
}

struct result {
	uint64_t *us;
	size_t n;
	double cpu, rate;
};

static void report(const char *name, struct result *r)
{
	qsort(r->us, r->n, sizeof(r->us[0]), bench_cmp_u64);
	printf("%-6s handshakes %zu: median %.2f ms, p95 %.2f ms, CPU %.2f ms/handshake; "
	       "publish %.0f msg/s\n",
	       name, r->n, (double)r->us[r->n / 2] / 1000.0,
	       (double)r->us[r->n * 95 / 100] / 1000.0, r->cpu * 1000.0 / (double)r->n, r->rate);
}

int main(int argc, char **argv)
{
	struct opts o = {.handshakes = 50, .rounds = 4, .messages = 20000};
	struct result res[2] = {0};
	ENGINE *eng = NULL;
	EVP_PKEY *tk;
	SSL_CTX *ctx[2];

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--port"))
			o.port = atoi(v);
		else if (!strcmp(k, "--ca"))
			o.ca = v;
		else if (!strcmp(k, "--file-cert"))
			o.file_cert = v;
		else if (!strcmp(k, "--file-key"))
			o.file_key = v;
		else if (!strcmp(k, "--token-cert"))
			o.tok_cert = v;
		else if (!strcmp(k, "--token-uri"))
			o.tok_uri = v;
		else if (!strcmp(k, "--module"))
			o.module = v;
		else if (!strcmp(k, "--pin-file"))
			o.pin = v;
		else if (!strcmp(k, "--handshakes"))
			o.handshakes = atoi(v);
		else if (!strcmp(k, "--rounds"))
			o.rounds = atoi(v);
		else if (!strcmp(k, "--messages"))
			o.messages = atoi(v);
		else
			die("unknown option");
	}
	if (!o.port || !o.ca || !o.file_cert || !o.file_key || !o.tok_cert || !o.tok_uri ||
	    !o.module || !o.pin || o.handshakes < 1 || o.rounds < 1 || o.messages < 1)
		die("usage: p11-bench --port P --ca F --file-cert F --file-key F --token-cert F "
		    "--token-uri U --module SO --pin-file F [--handshakes N] [--rounds R] "
		    "[--messages M]");
	mosquitto_lib_init();
	tk = token_key(&o, &eng);
	ctx[0] = make_ctx(&o, o.file_cert, NULL, o.file_key);
	ctx[1] = make_ctx(&o, o.tok_cert, tk, NULL);
	for (int i = 0; i < 2; i++) {
		res[i].us = calloc((size_t)(o.handshakes * o.rounds), sizeof(uint64_t));
		if (!res[i].us)
			die("out of memory");
		handshake(ctx[i], o.port); /* warm-up: engine login, caches */
	}
	for (int r = 0; r < o.rounds; r++)
		for (int i = 0; i < 2; i++) {
			double c0 = cpu_s();

			for (int h = 0; h < o.handshakes; h++)
				res[i].us[res[i].n++] = handshake(ctx[i], o.port);
			res[i].cpu += cpu_s() - c0;
		}
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 2; i++) {
			double rate = publish_rate(ctx[i], o.port, o.messages / 2,
						   i ? "bench-token" : "bench-file");

			res[i].rate += rate / 2;
		}
	report("file", &res[0]);
	report("token", &res[1]);
	printf("ratio token/file: handshake median %.2f, CPU per handshake %.2f, publish rate "
	       "%.2f\n",
	       (double)res[1].us[res[1].n / 2] / (double)res[0].us[res[0].n / 2],
	       res[1].cpu / res[0].cpu, res[1].rate / res[0].rate);
	for (int i = 0; i < 2; i++) {
		SSL_CTX_free(ctx[i]);
		free(res[i].us);
	}
	EVP_PKEY_free(tk);
	ENGINE_finish(eng);
	ENGINE_free(eng);
	mosquitto_lib_cleanup();
	return 0;
}
