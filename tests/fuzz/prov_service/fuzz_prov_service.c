/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: edge-provisiond's API as a client sees it, below HTTP:
 * the URL path (device_path() of http.c), the Authorization header
 * (srv_bearer()), the TLS peer certificate's DER, and the register, renew
 * and device lookup flows of service.c against a real registry (SQLite),
 * fleet CA and claim files in a scratch state dir.
 *
 * device_path() is static in http.c: this file includes http.c, so the
 * real function is tested and the server needs no test entry point (the
 * rest of http.c, the libmicrohttpd glue, is compiled but not called; the
 * routing below is route()'s without the connection).
 *
 * Set-up: a new CA (srv_ca_init_files), a claim token and an admin token,
 * and device GW-0001 registered with a key made here, whose certificate
 * is the peer certificate of "mutual TLS" inputs.
 * Input: flags, URL NUL, Authorization header NUL, [DER length (2 bytes,
 * big endian) + DER], body. Flags bit 0: the peer certificate is GW-0001's,
 * bit 1: it is the DER of the input, bit 2: no Authorization header.
 * Checks: device_path() gives back an id that rebuilds the URL; a bearer is
 * the header's token; every answer is a JSON object with a known status,
 * never 500; every 200/201 is one the agent's parser accepts
 * (edge_prov_parse_response) and names the device asked for.
 */
#include "http.c"

#include <cjson/cJSON.h>
#include <mbedtls/x509_crt.h>

#include "edge/prov_identity.h"
#include "edge/provision.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLAIM_TOKEN "fuzz-claim-token-0123456789abcdefghijkl"
#define ADMIN_TOKEN "fuzz-admin-token-0123456789abcdefghijkl"

static struct srv_config cfg;
static struct srv_service *svc;
static unsigned char *device_der;
static size_t device_der_len;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_prov_service: %s: %s\n", what, why);
	abort();
}

static void init(void)
{
	struct srv_registry *reg;
	struct srv_response resp = {0};
	struct edge_prov_response parsed;
	mbedtls_x509_crt crt;
	char err[SRV_ERR_LEN], hash[65], *key = NULL, *csr = NULL, *body;
	const char *why;

	edge_log_set_level(EDGE_LOG_ERR);
	if (srv_config_defaults(&cfg, fuzz_tmpdir()))
		die("config", "defaults");
	if (srv_ca_init_files(fuzz_tmpdir(), "edge fuzz CA", 3650, "localhost", "127.0.0.1", false,
			      err, sizeof(err)))
		die("init-ca", err);
	fuzz_write_file(cfg.admin_token_file, ADMIN_TOKEN "\n", strlen(ADMIN_TOKEN) + 1);
	srv_token_hash(CLAIM_TOKEN, hash);
	if (srv_registry_open(cfg.db_file, &reg) ||
	    srv_registry_token_add(reg, hash, "fuzz", 1000000000, 4102444800))
		die("registry", cfg.db_file);
	srv_registry_close(reg);
	if (srv_service_new(&cfg, &svc, err, sizeof(err)))
		die("service", err);

	/* GW-0001, registered: its certificate is the mutual-TLS peer */
	if (edge_id_key_generate(&key) || edge_id_csr_make(key, "GW-0001", &csr))
		die("identity", "key or CSR");
	body = malloc(strlen(csr) * 2 + 128);
	if (!body)
		abort();
	strcpy(body, "{\"serial\":\"GW-0001\",\"csr\":\"");
	for (const char *p = csr; *p; p++) {
		if (*p == '\n')
			strcat(body, "\\n");
		else
			strncat(body, p, 1);
	}
	strcat(body, "\"}");
	srv_service_register(svc, CLAIM_TOKEN, body, strlen(body), &resp);
	if (resp.status != 201 ||
	    edge_prov_parse_response(resp.body, strlen(resp.body), &parsed, &why))
		die("register GW-0001", resp.body ? resp.body : "no body");
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)parsed.certificate,
				   strlen(parsed.certificate) + 1))
		die("register GW-0001", "certificate does not parse");
	device_der_len = crt.raw.len;
	device_der = malloc(device_der_len);
	if (!device_der)
		abort();
	memcpy(device_der, crt.raw.p, device_der_len);
	mbedtls_x509_crt_free(&crt);
	edge_prov_response_clear(&parsed);
	srv_response_clear(&resp);
	edge_id_secret_free(key);
	free(csr);
	free(body);
}

static void check_path(const char *url, const char *suffix, const char *id)
{
	char again[512];

	if (!id[0] || strlen(id) > 64 || strchr(id, '/'))
		abort();
	snprintf(again, sizeof(again), "/v1/devices/%s%s", id, suffix);
	if (strcmp(again, url) != 0)
		abort();
}

static void check_bearer(const char *header, const char *bearer)
{
	if (!bearer)
		return;
	if (strncasecmp(header, "Bearer ", 7) != 0 || bearer < header + 7 ||
	    bearer >= header + strlen(header) || *bearer == ' ' || strlen(bearer) > 256)
		abort();
	for (const char *p = header + 7; p < bearer; p++)
		if (*p != ' ')
			abort();
}

static void check_answer(const struct srv_response *r, const char *device)
{
	static const unsigned known[] = {200, 201, 400, 401, 403, 404, 409, 503};
	struct edge_prov_response parsed;
	const char *why;
	cJSON *o;
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]) && known[i] != r->status; i++)
		;
	if (i == sizeof(known) / sizeof(known[0]) || !r->body)
		abort(); /* 500 is a server fault, whatever the client sent */
	o = cJSON_Parse(r->body);
	if (!cJSON_IsObject(o))
		abort();
	cJSON_Delete(o);
	if (r->status >= 300 || !device)
		return;
	if (edge_prov_parse_response(r->body, strlen(r->body), &parsed, &why) != 0)
		abort(); /* the agent would refuse what the server answered */
	if (strcmp(parsed.device_id, device) != 0)
		abort();
	edge_prov_response_clear(&parsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[512], auth[512], id[65];
	struct srv_response resp = {0};
	const unsigned char *der = NULL;
	size_t der_len = 0;
	const char *bearer;
	unsigned flags;
	char *body;

	if (size < 1)
		return 0;
	if (!svc)
		init();
	flags = data[0];
	data++;
	size--;
	fuzz_take_string(&data, &size, url, sizeof(url));
	fuzz_take_string(&data, &size, auth, sizeof(auth));
	if (flags & 1) {
		der = device_der;
		der_len = device_der_len;
	} else if (flags & 2 && size >= 2) {
		der_len = (size_t)data[0] << 8 | data[1];
		der_len = der_len < size - 2 ? der_len : size - 2;
		der = data + 2;
		data += 2 + der_len;
		size -= 2 + der_len;
	}
	/* libmicrohttpd hands over a NUL-terminated copy of the body */
	body = malloc(size + 1);
	if (!body)
		abort();
	memcpy(body, data, size);
	body[size] = '\0';

	bearer = srv_bearer(flags & 4 ? NULL : auth);
	if (!(flags & 4))
		check_bearer(auth, bearer);
	if (strcmp(url, "/v1/devices/register") == 0) {
		struct srv_register_req req;
		char err[SRV_ERR_LEN];
		bool parsed = srv_parse_register(body, size, &req, err, sizeof(err)) == 0;

		srv_service_register(svc, bearer, body, size, &resp);
		check_answer(&resp, parsed ? req.serial : NULL);
		if (parsed)
			srv_register_req_clear(&req);
	} else if (device_path(url, "/renew", id)) {
		check_path(url, "/renew", id);
		srv_service_renew(svc, id, der, der_len, body, size, &resp);
		check_answer(&resp, id);
	} else if (device_path(url, "", id)) {
		check_path(url, "", id);
		srv_service_device_get(svc, bearer, id, &resp);
		check_answer(&resp, NULL);
		if (resp.status == 200 && (!bearer || strcmp(bearer, ADMIN_TOKEN) != 0))
			abort(); /* the registry only answers the admin */
	}
	srv_response_clear(&resp);
	free(body);
	return 0;
}
