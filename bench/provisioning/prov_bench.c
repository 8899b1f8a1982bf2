/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prov-bench: registrations per second against a running edge-provisiond,
 * beside the raw mbedTLS certificate-signing rate with the same fleet CA,
 * measured in the same run. Keys and CSRs are generated before timing.
 *
 *   prov-bench --state-dir DIR --url https://127.0.0.1:PORT --token-file F
 *              [--devices 1000] [--clients 8]
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "edge/file.h"
#include "edge/prov_identity.h"
#include "edge/time.h"
#include "srv.h"

struct dev {
	char serial[48];
	char *csr;
	char *body;
};

struct run {
	struct dev *devs;
	size_t n;
	atomic_size_t next;
	atomic_size_t ok, fail;
	const char *url, *ca, *token;
};

static size_t sink(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

static void *client(void *arg)
{
	struct run *r = arg;
	struct curl_slist *h = NULL;
	char url[512], auth[300];
	CURL *e = curl_easy_init();
	size_t i;

	snprintf(url, sizeof(url), "%s/v1/devices/register", r->url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_CAINFO, r->ca);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
	/* Every device is a new TLS connection, as in the field. */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
		long status = 0;

		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->devs[i].body);
		if (curl_easy_perform(e) == CURLE_OK &&
		    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    (status == 201 || status == 200))
			atomic_fetch_add(&r->ok, 1);
		else
			atomic_fetch_add(&r->fail, 1);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *state = NULL, *url = NULL, *token_file = NULL;
	size_t n = 1000, clients = 8, sign_n;
	char ca_crt[512], ca_key[512], err[256], fp[65];
	char *token = NULL;
	struct srv_ca ca;
	struct run r = {0};
	double t0, t_sign, t_check_sign, t_reg;
	pthread_t th[64];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--state-dir") == 0)
			state = argv[i + 1];
		else if (strcmp(argv[i], "--url") == 0)
			url = argv[i + 1];
		else if (strcmp(argv[i], "--token-file") == 0)
			token_file = argv[i + 1];
		else if (strcmp(argv[i], "--devices") == 0)
			n = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--clients") == 0)
			clients = strtoul(argv[i + 1], NULL, 10);
	}
	if (!state || !url || !token_file || n == 0 || clients == 0 || clients > 64) {
		fprintf(stderr, "usage: prov-bench --state-dir DIR --url URL --token-file F "
				"[--devices N] [--clients C<=64]\n");
		return 2;
	}
	if (edge_file_read(token_file, 4096, &token, NULL))
		return 1;
	token[strcspn(token, "\r\n")] = '\0';
	snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", state);
	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", state);
	if (srv_ca_load(&ca, ca_crt, ca_key)) {
		fprintf(stderr, "prov-bench: cannot load the CA from %s\n", state);
		return 1;
	}
	fprintf(stderr, "generating %zu keys and CSRs...\n", n);
	r.devs = calloc(n, sizeof(*r.devs));
	for (size_t i = 0; i < n; i++) {
		char *key = NULL;
		cJSON *o = cJSON_CreateObject();

		snprintf(r.devs[i].serial, sizeof(r.devs[i].serial), "BENCH-%06zu-%ld", i,
			 (long)time(NULL) % 100000);
		if (edge_id_key_generate(&key) ||
		    edge_id_csr_make(key, r.devs[i].serial, &r.devs[i].csr))
			return 1;
		edge_id_secret_free(key);
		cJSON_AddStringToObject(o, "serial", r.devs[i].serial);
		cJSON_AddStringToObject(o, "board", "sim");
		cJSON_AddStringToObject(o, "model", "edge-gateway");
		cJSON_AddStringToObject(o, "firmware", "0.1.0");
		cJSON_AddStringToObject(o, "csr", r.devs[i].csr);
		cJSON_AddStringToObject(o, "realtimePlatform", "health-data");
		r.devs[i].body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}

	/* Baseline 1: raw mbedTLS signing (CSR parsed beforehand), one thread. */
	sign_n = n < 500 ? n : 500;
	{
		mbedtls_x509_csr *csrs = calloc(sign_n, sizeof(*csrs));

		for (size_t i = 0; i < sign_n; i++)
			if (srv_csr_check(r.devs[i].csr, r.devs[i].serial, &csrs[i], fp, err,
					  sizeof(err)))
				return 1;
		t0 = bench_now_s();
		for (size_t i = 0; i < sign_n; i++) {
			char *pem = NULL;
			int64_t na;

			if (srv_ca_sign(&ca, &csrs[i], r.devs[i].serial, (int64_t)time(NULL),
					86400 * 365, 300, &pem, &na))
				return 1;
			free(pem);
		}
		t_sign = bench_now_s() - t0;
		/* Baseline 2: CSR parse + signature check + sign (the server's crypto). */
		t0 = bench_now_s();
		for (size_t i = 0; i < sign_n; i++) {
			mbedtls_x509_csr c;
			char *pem = NULL;
			int64_t na;

			if (srv_csr_check(r.devs[i].csr, r.devs[i].serial, &c, fp, err,
					  sizeof(err)) ||
			    srv_ca_sign(&ca, &c, r.devs[i].serial, (int64_t)time(NULL), 86400 * 365,
					300, &pem, &na))
				return 1;
			mbedtls_x509_csr_free(&c);
			free(pem);
		}
		t_check_sign = bench_now_s() - t0;
		for (size_t i = 0; i < sign_n; i++)
			mbedtls_x509_csr_free(&csrs[i]);
		free(csrs);
	}

	/* Registrations over HTTPS, concurrent clients, a new connection each. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r.n = n;
	r.url = url;
	r.ca = ca_crt;
	r.token = token;
	t0 = bench_now_s();
	for (size_t i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, client, &r);
	for (size_t i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	t_reg = bench_now_s() - t0;

	{
		double sign_rate = (double)sign_n / t_sign;
		double cs_rate = (double)sign_n / t_check_sign;
		double reg_rate = (double)r.ok / t_reg;

		printf("\nprovisioning benchmark: %zu devices, %zu concurrent clients, loopback\n",
		       n, clients);
		printf("%-48s %12s\n", "measurement", "per second");
		printf("%-48s %12.1f\n", "raw mbedTLS certificate signing (1 thread)", sign_rate);
		printf("%-48s %12.1f\n", "CSR check + signing (1 thread)", cs_rate);
		printf("%-48s %12.1f\n", "registrations via edge-provisiond (HTTPS)", reg_rate);
		printf("%-48s %12.2f\n", "ratio registrations / raw signing", reg_rate / sign_rate);
		printf("registrations: %zu ok, %zu failed, %.2f s\n", (size_t)r.ok, (size_t)r.fail,
		       t_reg);
	}
	for (size_t i = 0; i < n; i++) {
		free(r.devs[i].csr);
		free(r.devs[i].body);
	}
	free(r.devs);
	free(token);
	srv_ca_free(&ca);
	curl_global_cleanup();
	return r.fail ? 1 : 0;
}
