/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-factory: identity bundles for the production line. For one device
 * (--serial) or a batch (--count N --prefix P), each bundle directory holds
 * the device key (0600), its CSR, serial, board, claim token (0600),
 * provisioning URL and CA bundle, and an agent config fragment; a manifest
 * (CSV and/or JSON, no secrets) lists the batch.
 *
 * edge-factory nodes: identities of constrained CoAP nodes (DESIGN 5.6): the
 * gateway's keys file (0600) and a bundle per node to flash, with a DTLS-PSK
 * key or (--cert) a key and certificate from a node CA (node_pki.c), which
 * --init-ca makes together with the gateway's coaps:// certificate.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge/file.h"
#include "edge/p11.h"
#include "edge/prov_identity.h"
#include "node_pki.h"

struct opts {
	const char *serial, *prefix, *out, *board, *model, *token, *token_file, *url, *ca,
	    *platform, *install_dir, *manifest, *agent_state_dir;
	const char *p11_uri, *p11_module, *pin_file; /* the key in a PKCS#11 token */
	long count, start, width;
	bool force;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: edge-factory --out DIR (--serial S | --count N --prefix P [--start K] [--width "
	    "W])\n"
	    "                    --url URL --ca FILE (--token T | --token-file F)\n"
	    "                    [--board B] [--model M] [--platform NAME] [--install-dir PATH]\n"
	    "                    [--manifest csv|json|both] [--agent-state-dir DIR] [--force]\n"
	    "                    [--pkcs11-uri URI [--pkcs11-module SO] [--pin-file F]]\n"
	    "\n"
	    "Writes DIR/<serial>/ for each device:\n"
	    "  device.key (0600, EC P-256)  device.csr (CN = serial)  serial  board\n"
	    "  claim-token (0600)  provisioning-url  provisioning-ca.crt  agent-config.json\n"
	    "and DIR/manifest.csv / DIR/manifest.json (no secrets).\n"
	    "--install-dir: where the bundle will live on the device (paths in\n"
	    "agent-config.json); default: the bundle directory itself.\n"
	    "--agent-state-dir: the agent's state_dir in agent-config.json\n"
	    "(default /var/lib/edge-agent); the issued certificate lands there.\n"
	    "An existing identity is never replaced without --force.\n"
	    "--pkcs11-uri pkcs11:token=T;object=L;type=private: the key is made inside the\n"
	    "token (sensitive, not extractable) and the CSR signed there; no device.key is\n"
	    "written. --pin-file: the token's user PIN (copied to token.pin, 0600).\n"
	    "\n"
	    "edge-factory nodes ...: PSK keys or certificates of constrained CoAP nodes "
	    "(edge-factory nodes "
	    "--help).\n");
}

__attribute__((format(printf, 1, 2))) static int die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edge-factory: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 1;
}

/* One command-line option: a flag, a text or a count (0 to 1000000). */
struct optdef {
	const char *name;
	bool *flag;
	const char **text;
	long *count;
};

static int parse_opts(int argc, char **argv, const struct optdef *defs, size_t n)
{
	for (int i = 1; i < argc; i++) {
		const struct optdef *d = NULL;
		const char *k = argv[i], *v;
		char *end;

		for (size_t j = 0; j < n && !d; j++)
			if (strcmp(defs[j].name, k) == 0)
				d = &defs[j];
		if (!d)
			return die("unknown option %s (see --help)", k);
		if (d->flag) {
			*d->flag = true;
			continue;
		}
		if (i + 1 >= argc)
			return die("%s needs a value", k);
		v = argv[++i];
		if (d->text) {
			*d->text = v;
			continue;
		}
		*d->count = strtol(v, &end, 10);
		if (*end || *d->count < 0 || *d->count > 1000000)
			return die("%s: \"%s\" is not a count", k, v);
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	const struct optdef defs[] = {
	    {"--force", &o->force, NULL, NULL},
	    {"--serial", NULL, &o->serial, NULL},
	    {"--prefix", NULL, &o->prefix, NULL},
	    {"--out", NULL, &o->out, NULL},
	    {"--board", NULL, &o->board, NULL},
	    {"--model", NULL, &o->model, NULL},
	    {"--token", NULL, &o->token, NULL},
	    {"--token-file", NULL, &o->token_file, NULL},
	    {"--url", NULL, &o->url, NULL},
	    {"--ca", NULL, &o->ca, NULL},
	    {"--platform", NULL, &o->platform, NULL},
	    {"--install-dir", NULL, &o->install_dir, NULL},
	    {"--manifest", NULL, &o->manifest, NULL},
	    {"--agent-state-dir", NULL, &o->agent_state_dir, NULL},
	    {"--count", NULL, NULL, &o->count},
	    {"--start", NULL, NULL, &o->start},
	    {"--width", NULL, NULL, &o->width},
	    {"--pkcs11-uri", NULL, &o->p11_uri, NULL},
	    {"--pkcs11-module", NULL, &o->p11_module, NULL},
	    {"--pin-file", NULL, &o->pin_file, NULL},
	};

	memset(o, 0, sizeof(*o));
	o->start = 1;
	o->width = 4;
	o->board = "sim";
	o->model = "edge-gateway";
	o->platform = "health-data";
	o->manifest = "both";
	o->agent_state_dir = "/var/lib/edge-agent";
	if (parse_opts(argc, argv, defs, sizeof(defs) / sizeof(defs[0])))
		return 1;
	if (!o->out || !o->url || !o->ca || (!o->token == !o->token_file))
		return die("--out, --url, --ca and one of --token/--token-file are required");
	if (!o->serial == !o->prefix)
		return die("give either --serial S or --count N --prefix P");
	if (o->prefix && o->count < 1)
		return die("--prefix needs --count N (N >= 1)");
	if (strncmp(o->url, "https://", 8) != 0)
		return die("--url %s: must be https://", o->url);
	if (strcmp(o->manifest, "csv") && strcmp(o->manifest, "json") &&
	    strcmp(o->manifest, "both"))
		return die("--manifest %s: csv, json or both", o->manifest);
	if (o->serial && !edge_id_serial_valid(o->serial))
		return die("--serial %s: 1-64 characters of A-Z a-z 0-9 . _ -", o->serial);
	if (o->p11_uri) {
		struct edge_p11_uri u;
		char e[300];

		if (edge_p11_uri_parse(o->p11_uri, &u, e, sizeof(e)))
			return die("--pkcs11-uri: %s", e);
		if (!o->serial)
			return die(
			    "--pkcs11-uri: a token holds the key of one device: use --serial");
		if (*u.pin_file && o->pin_file)
			return die("--pin-file: the URI has a pin-source already");
	} else if (o->p11_module || o->pin_file) {
		return die("--pkcs11-module and --pin-file go with --pkcs11-uri");
	}
	return 0;
}

/* The i-th device serial of this run: --serial, or --prefix and a number. */
static void serial_at(const struct opts *o, size_t i, char *buf, size_t len)
{
	if (o->serial)
		snprintf(buf, len, "%s", o->serial);
	else
		snprintf(buf, len, "%s%0*ld", o->prefix, (int)o->width, o->start + (long)i);
}

static int write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return edge_file_write_atomic(path, text, strlen(text), mode);
}

struct row {
	char serial[65];
	char fp[65];
	char dir[PATH_MAX];
};

/*
 * The key made inside the token (never outside it: there is no device.key in
 * the bundle), the CSR signed by the token, and the PIN copied into the
 * bundle (0600) for the agent. A key already in the token is used only with
 * --force (a re-run for the same device), never replaced.
 */
static int token_key_and_csr(const struct opts *o, const char *serial, char **csr, char fp[65])
{
	struct edge_p11_uri u;
	struct edge_p11_key key;
	struct edge_p11 *p = NULL;
	char pin[160] = "", e[400] = "", d[200], dir[PATH_MAX], line[192];
	const char *pf;
	int rc;

	rc = edge_p11_uri_parse(o->p11_uri, &u, e, sizeof(e));
	pf = *u.pin_file ? u.pin_file : o->pin_file;
	if (!rc && pf)
		rc = edge_p11_pin_read(pf, pin, sizeof(pin), e, sizeof(e));
	if (!rc)
		rc = edge_p11_open(o->p11_module, &u, pf ? pin : NULL, &p, e, sizeof(e));
	if (!rc) {
		rc = edge_p11_generate(p, &u, &key, e, sizeof(e));
		if (rc == -EEXIST && o->force)
			rc = edge_p11_find_key(p, &u, &key, e, sizeof(e));
		else if (rc == -EEXIST)
			snprintf(e + strlen(e), sizeof(e) - strlen(e),
				 " (--force makes the CSR for the key that is there)");
	}
	if (!rc)
		rc = edge_id_csr_make_p11(p, key.point, serial, csr, e, sizeof(e));
	if (!rc)
		rc = edge_id_point_fingerprint(key.point, fp);
	edge_p11_close(p);
	if (rc) {
		die("%s: %s", serial, e);
		goto out;
	}
	fprintf(stderr, "edge-factory: %s: key in %s (%s%s)\n", serial,
		edge_p11_uri_describe(&u, d, sizeof(d)),
		key.sensitive ? "sensitive" : "NOT SENSITIVE",
		key.extractable ? ", EXTRACTABLE" : ", not extractable");
	if (pf) {
		snprintf(dir, sizeof(dir), "%s/%s", o->out, serial);
		snprintf(line, sizeof(line), "%s\n", pin);
		rc = write_text(dir, "token.pin", line, 0600);
		explicit_bzero(line, sizeof(line));
	}
out:
	explicit_bzero(pin, sizeof(pin));
	return rc;
}

static int make_bundle(const struct opts *o, const char *serial, const char *token,
		       const char *ca_pem, const char *token_sha, struct row *row)
{
	char dir[PATH_MAX], inst[PATH_MAX], p[PATH_MAX + 64], line[512];
	char *key = NULL, *csr = NULL, *json = NULL;
	cJSON *cfg, *prov, *tls;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", o->out, serial);
	if (o->install_dir)
		snprintf(inst, sizeof(inst), "%s", o->install_dir);
	else if (!realpath(o->out, p) ||
		 snprintf(inst, sizeof(inst), "%s/%s", p, serial) >= (int)sizeof(inst))
		return -ENAMETOOLONG;
	rc = edge_mkdir_p(dir, 0700);
	if (o->p11_uri) {
		rc = rc ?: token_key_and_csr(o, serial, &csr, row->fp);
	} else {
		rc = rc ?: edge_id_key_generate(&key);
		rc = rc ?: edge_id_csr_make(key, serial, &csr);
		rc = rc ?: edge_id_pubkey_fingerprint(key, row->fp);
		rc = rc ?: write_text(dir, "device.key", key, 0600);
	}
	if (rc)
		goto out;
	rc = write_text(dir, "device.csr", csr, 0644);
	snprintf(line, sizeof(line), "%s\n", serial);
	rc = rc ?: write_text(dir, "serial", line, 0644);
	snprintf(line, sizeof(line), "%s\n", o->board);
	rc = rc ?: write_text(dir, "board", line, 0644);
	snprintf(line, sizeof(line), "%s\n", token);
	rc = rc ?: write_text(dir, "claim-token", line, 0600);
	memset(line, 0, sizeof(line));
	snprintf(line, sizeof(line), "%s\n", o->url);
	rc = rc ?: write_text(dir, "provisioning-url", line, 0644);
	rc = rc ?: write_text(dir, "provisioning-ca.crt", ca_pem, 0644);
	if (rc)
		goto out;
	/* A fragment of the agent's config (DESIGN 5.5 keys, agent/config.c). */
	cfg = cJSON_CreateObject();
	cJSON_AddStringToObject(cfg, "device_id", serial);
	cJSON_AddStringToObject(cfg, "board", o->board);
	cJSON_AddStringToObject(cfg, "state_dir", o->agent_state_dir);
	tls = cJSON_AddObjectToObject(cJSON_AddObjectToObject(cfg, "mqtt"), "tls");
	snprintf(p, sizeof(p), "%s/device.key", inst);
	cJSON_AddStringToObject(tls, "key_file", o->p11_uri ? o->p11_uri : p);
	if (o->p11_uri) {
		cJSON *pk = cJSON_AddObjectToObject(cfg, "pkcs11");

		if (o->p11_module)
			cJSON_AddStringToObject(pk, "module", o->p11_module);
		if (o->pin_file) {
			snprintf(p, sizeof(p), "%s/token.pin", inst);
			cJSON_AddStringToObject(pk, "pin_file", p);
		}
	}
	snprintf(p, sizeof(p), "%s/device.crt", o->agent_state_dir);
	cJSON_AddStringToObject(tls, "cert_file", p);
	prov = cJSON_AddObjectToObject(cfg, "provisioning");
	cJSON_AddStringToObject(prov, "url", o->url);
#define PATH_KEY(key, file)                                                                        \
	snprintf(p, sizeof(p), "%s/%s", inst, file);                                               \
	cJSON_AddStringToObject(prov, key, p)
	PATH_KEY("ca_file", "provisioning-ca.crt");
	PATH_KEY("claim_token_file", "claim-token");
	PATH_KEY("csr_file", "device.csr");
#undef PATH_KEY
	cJSON_AddStringToObject(prov, "realtime_platform", o->platform);
	cJSON_AddStringToObject(prov, "model", o->model);
	json = cJSON_Print(cfg);
	cJSON_Delete(cfg);
	if (!json) {
		rc = -ENOMEM;
		goto out;
	}
	rc = write_text(dir, "agent-config.json", json, 0644);
	snprintf(row->serial, sizeof(row->serial), "%.64s", serial);
	snprintf(row->dir, sizeof(row->dir), "%s", dir);
	(void)token_sha;
out:
	edge_id_secret_free(key);
	free(csr);
	free(json);
	return rc;
}

static int write_manifest(const struct opts *o, const struct row *rows, size_t n,
			  const char *token_sha)
{
	char path[PATH_MAX], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc = 0;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (strcmp(o->manifest, "json") != 0) {
		size_t cap = 256 + n * (PATH_MAX + 256), len = 0;
		char *csv = malloc(cap);

		if (!csv)
			return -ENOMEM;
		len += (size_t)snprintf(csv + len, cap - len,
					"serial,board,model,platform,public_key_sha256,claim_token_"
					"sha256,bundle,created\n");
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(csv + len, cap - len, "%s,%s,%s,%s,%s,%s,%s,%s\n",
						rows[i].serial, o->board, o->model, o->platform,
						rows[i].fp, token_sha, rows[i].dir, ts);
		snprintf(path, sizeof(path), "%s/manifest.csv", o->out);
		rc = edge_file_write_atomic(path, csv, len, 0644);
		free(csv);
	}
	if (!rc && strcmp(o->manifest, "csv") != 0) {
		cJSON *root = cJSON_CreateObject();
		cJSON *arr;
		char *text;

		cJSON_AddStringToObject(root, "created", ts);
		cJSON_AddStringToObject(root, "provisioningUrl", o->url);
		cJSON_AddStringToObject(root, "claimTokenSha256", token_sha);
		arr = cJSON_AddArrayToObject(root, "devices");
		for (size_t i = 0; i < n; i++) {
			cJSON *d = cJSON_CreateObject();

			cJSON_AddStringToObject(d, "serial", rows[i].serial);
			cJSON_AddStringToObject(d, "board", o->board);
			cJSON_AddStringToObject(d, "model", o->model);
			cJSON_AddStringToObject(d, "realtimePlatform", o->platform);
			cJSON_AddStringToObject(d, "publicKeySha256", rows[i].fp);
			cJSON_AddStringToObject(d, "bundle", rows[i].dir);
			cJSON_AddItemToArray(arr, d);
		}
		text = cJSON_Print(root);
		cJSON_Delete(root);
		if (!text)
			return -ENOMEM;
		snprintf(path, sizeof(path), "%s/manifest.json", o->out);
		rc = edge_file_write_atomic(path, text, strlen(text), 0644);
		free(text);
	}
	return rc;
}

/* ---- edge-factory nodes ------------------------------------------------- */

struct nodes_opts {
	const char *out, *keys_file, *id, *prefix, *revoke, *gateway;
	const char *ca_cert, *ca_key, *ca_cn; /* the node CA (--cert, --gateway-cert) */
	long count, start, width, bits, port, days, ca_days;
	bool text_keys, force, cert, init_ca, gateway_cert;
};

/* File names in --out of --init-ca and --gateway-cert (docs/ingress.md) */
#define NODE_CA_CRT "node-ca.crt"
#define NODE_CA_KEY "node-ca.key"
#define GW_CRT	    "coap-gw.crt"
#define GW_KEY	    "coap-gw.key"

static void nodes_usage(FILE *f)
{
	fprintf(f,
		"usage: edge-factory nodes --out DIR (--id ID | --count N --prefix P [--start K] "
		"[--width W])\n"
		"                          [--keys-file FILE] [--key-bits 128|256] [--text-keys]\n"
		"                          [--gateway HOST] [--port 5684] [--force]\n"
		"       edge-factory nodes --out DIR (--id ID | --count N --prefix P ...) --cert\n"
		"                          --ca-cert FILE --ca-key FILE [--days 825] [...]\n"
		"       edge-factory nodes --init-ca --out DIR [--ca-cn NAME] [--ca-days 3650]\n"
		"                          [--gateway HOST] [--days 825] [--force]\n"
		"       edge-factory nodes --gateway-cert --out DIR --ca-cert FILE --ca-key FILE\n"
		"                          [--gateway HOST] [--days 825] [--force]\n"
		"       edge-factory nodes --keys-file FILE --revoke ID\n"
		"\n"
		"Adds nodes to the gateway's keys file (default DIR/nodes.json, mode 0600, the\n"
		"agent's ingress.coap.keys_file) and writes DIR/<id>/ for each node to flash:\n"
		"  node.json (id, psk_hex, uri; 0600)  psk.hex (0600)  [psk.txt (0600)]\n"
		"The PSK identity is the node id (1-64 of A-Z a-z 0-9 . _ -). Keys are random,\n"
		"--key-bits long (default 128); --text-keys makes 32 printable characters\n"
		"(about 190 bits) for nodes and tools that take the key as text\n"
		"(coap-client-openssl -k). An existing node is never re-keyed without --force.\n"
		"--revoke marks a node revoked (the agent answers it 4.03 after a reload).\n"
		"\n"
		"Certificate nodes (the agent's ingress.coap.pki):\n"
		"--init-ca makes a node CA and the gateway's coaps:// certificate in DIR:\n"
		"  " NODE_CA_KEY " (0600, keep it off the gateway)  " NODE_CA_CRT
		" (-> ingress.coap.pki.ca_file)\n"
		"  " GW_KEY " (0600, -> pki.key_file)  " GW_CRT
		" (CN and subjectAltName = --gateway, -> pki.cert_file)\n"
		"--cert gives each node an EC P-256 key and a certificate (CN = node id,\n"
		"clientAuth) from the CA of --ca-cert/--ca-key instead of a PSK; DIR/<id>/ holds\n"
		"  node.key (0600)  node.crt  ca.crt (the CA, to check the gateway)  node.json\n"
		"and the keys file lists the node without psk_hex (certificate only).\n"
		"--gateway-cert makes a new " GW_KEY "/" GW_CRT " in DIR from that CA (renewal;\n"
		"the agent takes them at a reload). Certificates are valid --days (default 825,\n"
		"never beyond the CA); a re-issued node certificate does not invalidate the old\n"
		"one, which stays valid until it expires: --revoke the node to shut it out.\n");
}

static int random_bytes(uint8_t *out, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(out + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	return 0;
}

/* 32 characters of [0-9A-Za-z], each uniform (rejection sampling). */
static int random_text(char *out, size_t n)
{
	static const char set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t i = 0;

	while (i < n) {
		uint8_t b[32];
		int rc = random_bytes(b, sizeof(b));

		if (rc)
			return rc;
		for (size_t j = 0; j < sizeof(b) && i < n; j++)
			if (b[j] < 248) /* 4 * 62 */
				out[i++] = set[b[j] % 62];
		explicit_bzero(b, sizeof(b));
	}
	out[n] = '\0';
	return 0;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* 1 to 64 characters: letters, digits and those of punct. */
static bool name_ok(const char *s, const char *punct)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(punct, *s)))
			return false;
	return true;
}

/* the gateway's address or DNS name in its certificate */
static bool host_ok(const char *s)
{
	return name_ok(s, ".-:");
}

static int nodes_parse(int argc, char **argv, struct nodes_opts *o)
{
	const struct optdef defs[] = {
	    {"--force", &o->force, NULL, NULL},
	    {"--text-keys", &o->text_keys, NULL, NULL},
	    {"--cert", &o->cert, NULL, NULL},
	    {"--init-ca", &o->init_ca, NULL, NULL},
	    {"--gateway-cert", &o->gateway_cert, NULL, NULL},
	    {"--out", NULL, &o->out, NULL},
	    {"--keys-file", NULL, &o->keys_file, NULL},
	    {"--id", NULL, &o->id, NULL},
	    {"--prefix", NULL, &o->prefix, NULL},
	    {"--revoke", NULL, &o->revoke, NULL},
	    {"--gateway", NULL, &o->gateway, NULL},
	    {"--ca-cert", NULL, &o->ca_cert, NULL},
	    {"--ca-key", NULL, &o->ca_key, NULL},
	    {"--ca-cn", NULL, &o->ca_cn, NULL},
	    {"--count", NULL, NULL, &o->count},
	    {"--start", NULL, NULL, &o->start},
	    {"--width", NULL, NULL, &o->width},
	    {"--key-bits", NULL, NULL, &o->bits},
	    {"--port", NULL, NULL, &o->port},
	    {"--days", NULL, NULL, &o->days},
	    {"--ca-days", NULL, NULL, &o->ca_days},
	};
	bool ca_files;
	int actions;

	memset(o, 0, sizeof(*o));
	o->start = 1;
	o->width = 4;
	o->port = 5684;
	o->gateway = "gateway.local";
	o->ca_cn = "edge node CA";
	if (parse_opts(argc, argv, defs, sizeof(defs) / sizeof(defs[0])))
		return 1;
	ca_files = o->ca_cert || o->ca_key;
	actions = !!o->revoke + o->init_ca + o->gateway_cert;
	if (actions > 1)
		return die("--revoke, --init-ca and --gateway-cert are separate runs");
	if (o->revoke) {
		if (!o->keys_file)
			return die("--revoke needs --keys-file");
		return 0;
	}
	if (o->days == 0)
		o->days = 825;
	if (o->ca_days == 0)
		o->ca_days = 3650;
	if (o->days > 36500 || o->ca_days > 36500)
		return die("--days, --ca-days: 1 to 36500");
	if (!o->out)
		return die("nodes: --out DIR is required");
	if ((o->cert || o->init_ca || o->gateway_cert) && !host_ok(o->gateway))
		return die("--gateway %s: a host name or address of 1-64 characters of A-Z a-z 0-9 "
			   ". - :",
			   o->gateway);
	if (o->init_ca || o->gateway_cert) {
		if (o->id || o->prefix || o->cert || o->keys_file || o->text_keys || o->bits)
			return die("%s makes certificates in --out only: no nodes, keys file or "
				   "PSK options with it",
				   o->init_ca ? "--init-ca" : "--gateway-cert");
		if (o->init_ca && ca_files)
			return die(
			    "--init-ca makes a new CA: --ca-cert/--ca-key are for --cert and "
			    "--gateway-cert");
		if (o->gateway_cert && (!o->ca_cert || !o->ca_key))
			return die("--gateway-cert needs --ca-cert FILE and --ca-key FILE");
		return 0;
	}
	if (!o->id == !o->prefix)
		return die("nodes: give either --id ID or --count N --prefix P");
	if (o->prefix && o->count < 1)
		return die("--prefix needs --count N (N >= 1)");
	if (o->cert) {
		if (!o->ca_cert || !o->ca_key)
			return die("--cert needs --ca-cert FILE and --ca-key FILE (a node CA: "
				   "edge-factory nodes --init-ca)");
		if (o->text_keys || o->bits)
			return die("--text-keys and --key-bits are for PSK nodes, not with --cert");
	} else if (ca_files) {
		return die("--ca-cert/--ca-key go with --cert (certificate nodes)");
	}
	if (o->bits == 0)
		o->bits = 128;
	if (o->bits != 128 && o->bits != 256)
		return die("--key-bits: 128 or 256");
	if (o->port < 1 || o->port > 65535)
		return die("--port: 1-65535");
	return 0;
}

/* The keys file as a cJSON tree ({"nodes":[]} when it does not exist). */
static cJSON *keys_read(const char *path)
{
	char *buf = NULL;
	size_t len;
	int rc = edge_file_read(path, 4u << 20, &buf, &len);
	cJSON *root;

	if (rc == -ENOENT) {
		root = cJSON_CreateObject();
		cJSON_AddArrayToObject(root, "nodes");
		return root;
	}
	if (rc) {
		die("%s: %s", path, strerror(-rc));
		return NULL;
	}
	root = cJSON_ParseWithLength(buf, len);
	explicit_bzero(buf, len);
	free(buf);
	if (!root || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "nodes"))) {
		die("%s: not a keys file ({\"nodes\": [...]})", path);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static cJSON *keys_find(cJSON *root, const char *id)
{
	cJSON *it;

	cJSON_ArrayForEach (it, cJSON_GetObjectItemCaseSensitive(root, "nodes")) {
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(it, "id");

		if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0)
			return it;
	}
	return NULL;
}

static int keys_write(const char *path, cJSON *root)
{
	char *text = cJSON_Print(root);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = edge_file_write_atomic(path, text, strlen(text), 0600);
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

/* Removes files of the other kind of node from a bundle (a node re-made
 * with --force as a PSK or a certificate node). */
static int drop_stale(const char *dir, const char *const *names)
{
	char path[PATH_MAX];

	for (; *names; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

static int node_bundle(const struct nodes_opts *o, const char *id, const char *psk_hex,
		       const char *text)
{
	char dir[PATH_MAX], line[256];
	cJSON *b = cJSON_CreateObject();
	char *json;
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", o->out, id);
	rc = edge_mkdir_p(dir, 0700);
	if (rc)
		return rc;
	cJSON_AddStringToObject(b, "id", id);
	cJSON_AddStringToObject(b, "psk_hex", psk_hex);
	if (text)
		cJSON_AddStringToObject(b, "psk_text", text);
	snprintf(line, sizeof(line), "coaps://%s:%ld/v1/readings", o->gateway, o->port);
	cJSON_AddStringToObject(b, "uri", line);
	cJSON_AddStringToObject(b, "content_formats", "110 (SenML JSON) or 112 (SenML CBOR)");
	json = cJSON_Print(b);
	cJSON_Delete(b);
	if (!json)
		return -ENOMEM;
	rc = write_text(dir, "node.json", json, 0600);
	explicit_bzero(json, strlen(json));
	free(json);
	snprintf(line, sizeof(line), "%s\n", psk_hex);
	rc = rc ?: write_text(dir, "psk.hex", line, 0600);
	if (text) {
		snprintf(line, sizeof(line), "%s\n", text);
		rc = rc ?: write_text(dir, "psk.txt", line, 0600);
	}
	explicit_bzero(line, sizeof(line));
	return rc ?: drop_stale(dir, (const char *const[]){"node.key", "node.crt", "ca.crt", NULL});
}

/* A certificate node's bundle: its key (0600), its certificate, the CA (to
 * check the gateway with) and node.json, which holds no secret here. */
static int node_cert_bundle(const struct nodes_opts *o, struct node_ca *ca, const char *id,
			    char *err, size_t errlen)
{
	char dir[PATH_MAX], uri[256];
	char *key = NULL, *crt = NULL, *json = NULL;
	cJSON *b;
	int rc;

	rc = node_ca_issue(ca, id, NULL, (int)o->days, &key, &crt, err, errlen);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/%s", o->out, id);
	snprintf(uri, sizeof(uri), "coaps://%s:%ld/v1/readings", o->gateway, o->port);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "id", id);
	cJSON_AddStringToObject(b, "auth", "certificate");
	cJSON_AddStringToObject(b, "key_file", "node.key");
	cJSON_AddStringToObject(b, "cert_file", "node.crt");
	cJSON_AddStringToObject(b, "ca_file", "ca.crt");
	cJSON_AddStringToObject(b, "uri", uri);
	cJSON_AddStringToObject(b, "content_formats", "110 (SenML JSON) or 112 (SenML CBOR)");
	json = cJSON_Print(b);
	cJSON_Delete(b);
	rc = json ? edge_mkdir_p(dir, 0700) : -ENOMEM;
	rc = rc ?: write_text(dir, "node.key", key, 0600);
	rc = rc ?: write_text(dir, "node.crt", crt, 0644);
	rc = rc ?: write_text(dir, "ca.crt", node_ca_pem(ca), 0644);
	rc = rc ?: write_text(dir, "node.json", json, 0644);
	rc = rc ?: drop_stale(dir, (const char *const[]){"psk.hex", "psk.txt", NULL});
	if (rc)
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
	edge_id_secret_free(key);
	free(crt);
	free(json);
	return rc;
}

/* A key (0600) and a certificate into --out, under the names given. */
static int write_pair(const char *dir, const char *key_name, const char *key, const char *crt_name,
		      const char *crt)
{
	int rc = write_text(dir, key_name, key, 0600);

	return rc ?: write_text(dir, crt_name, crt, 0644);
}

static int refuse_existing(const struct nodes_opts *o, const char *name, const char *what)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", o->out, name);
	if (o->force || access(path, F_OK) != 0)
		return 0;
	return die("%s exists: refusing to replace %s (use --force)", path, what);
}

/* --init-ca: a node CA and the gateway's certificate from it. */
static int nodes_init_ca(const struct nodes_opts *o)
{
	char *ca_key = NULL, *ca_crt = NULL, *gw_key = NULL, *gw_crt = NULL, err[400];
	struct node_ca *ca = NULL;
	int rc, ret = 1;

	if (refuse_existing(o, NODE_CA_KEY, "the node CA") ||
	    refuse_existing(o, GW_KEY, "the gateway's key"))
		return 1;
	rc = node_ca_create(o->ca_cn, (int)o->ca_days, &ca_key, &ca_crt, &ca, err, sizeof(err));
	if (!rc)
		rc = node_ca_issue(ca, o->gateway, o->gateway, (int)o->days, &gw_key, &gw_crt, err,
				   sizeof(err));
	if (rc) {
		die("%s", err);
		goto out;
	}
	rc = edge_mkdir_p(o->out, 0700);
	rc = rc ?: write_pair(o->out, NODE_CA_KEY, ca_key, NODE_CA_CRT, ca_crt);
	rc = rc ?: write_pair(o->out, GW_KEY, gw_key, GW_CRT, gw_crt);
	if (rc) {
		die("writing into %s: %s", o->out, strerror(-rc));
		goto out;
	}
	printf("node CA \"%s\" and the certificate of %s in %s:\n"
	       "  %s -> ingress.coap.pki.ca_file, %s -> pki.cert_file, %s (0600) -> "
	       "pki.key_file\n"
	       "  %s (0600) signs the nodes (--cert): keep it off the gateway\n",
	       o->ca_cn, o->gateway, o->out, NODE_CA_CRT, GW_CRT, GW_KEY, NODE_CA_KEY);
	ret = 0;
out:
	edge_id_secret_free(ca_key);
	edge_id_secret_free(gw_key);
	free(ca_crt);
	free(gw_crt);
	node_ca_free(ca);
	return ret;
}

/* --gateway-cert: a new key and certificate of the gateway from the CA. */
static int nodes_gateway_cert(const struct nodes_opts *o)
{
	char *key = NULL, *crt = NULL, err[400];
	struct node_ca *ca = NULL;
	int rc;

	if (refuse_existing(o, GW_KEY, "the gateway's key"))
		return 1;
	rc = node_ca_load(o->ca_cert, o->ca_key, &ca, err, sizeof(err));
	if (!rc)
		rc = node_ca_issue(ca, o->gateway, o->gateway, (int)o->days, &key, &crt, err,
				   sizeof(err));
	node_ca_free(ca);
	if (rc)
		return die("%s", err);
	rc = edge_mkdir_p(o->out, 0700);
	rc = rc ?: write_pair(o->out, GW_KEY, key, GW_CRT, crt);
	edge_id_secret_free(key);
	free(crt);
	if (rc)
		return die("writing into %s: %s", o->out, strerror(-rc));
	printf("certificate of %s in %s/%s, key in %s/%s (0600): copy them over the agent's\n"
	       "ingress.coap.pki.cert_file/key_file and reload (edgectl nodes reload)\n",
	       o->gateway, o->out, GW_CRT, o->out, GW_KEY);
	return 0;
}

/* a node id, as the agent's keys file takes them */
static bool node_id_ok(const char *s)
{
	return name_ok(s, "._-");
}

static int nodes_main(int argc, char **argv)
{
	char keys_path[PATH_MAX], id[80], err[PATH_MAX + 256];
	struct node_ca *ca = NULL;
	struct nodes_opts o;
	cJSON *root, *arr;
	size_t n;
	int rc, ret = 1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			nodes_usage(stdout);
			return 0;
		}
	if (nodes_parse(argc, argv, &o))
		return 2;
	if (o.init_ca)
		return nodes_init_ca(&o);
	if (o.gateway_cert)
		return nodes_gateway_cert(&o);
	if (o.keys_file)
		snprintf(keys_path, sizeof(keys_path), "%s", o.keys_file);
	else
		snprintf(keys_path, sizeof(keys_path), "%s/nodes.json", o.out);
	root = keys_read(keys_path);
	if (!root)
		return 1;
	arr = cJSON_GetObjectItemCaseSensitive(root, "nodes");
	if (o.revoke) {
		cJSON *e = keys_find(root, o.revoke);

		if (!e) {
			ret = die("%s: no node %s", keys_path, o.revoke);
			goto out;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(e, "revoked");
		cJSON_AddBoolToObject(e, "revoked", true);
		rc = keys_write(keys_path, root);
		if (rc) {
			ret = die("%s: %s", keys_path, strerror(-rc));
			goto out;
		}
		printf("node %s revoked in %s (reload the agent: edgectl nodes reload)\n", o.revoke,
		       keys_path);
		ret = 0;
		goto out;
	}
	n = o.id ? 1 : (size_t)o.count;
	/* check every id before writing anything */
	for (size_t i = 0; i < n; i++) {
		if (o.id)
			snprintf(id, sizeof(id), "%s", o.id);
		else
			snprintf(id, sizeof(id), "%s%0*ld", o.prefix, (int)o.width,
				 o.start + (long)i);
		if (!node_id_ok(id)) {
			ret = die("node id %s: 1-64 characters of A-Z a-z 0-9 . _ -", id);
			goto out;
		}
		if (!o.force && keys_find(root, id)) {
			ret = die("%s already has node %s: refusing to re-key it (use --force)",
				  keys_path, id);
			goto out;
		}
	}
	if (o.cert && (rc = node_ca_load(o.ca_cert, o.ca_key, &ca, err, sizeof(err))) != 0) {
		ret = die("%s", err);
		goto out;
	}
	if ((rc = edge_mkdir_p(o.out, 0700)) != 0) {
		ret = die("--out %s: %s", o.out, strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < n && o.cert; i++) {
		cJSON *e;

		if (o.id)
			snprintf(id, sizeof(id), "%s", o.id);
		else
			snprintf(id, sizeof(id), "%s%0*ld", o.prefix, (int)o.width,
				 o.start + (long)i);
		rc = node_cert_bundle(&o, ca, id, err, sizeof(err));
		if (rc) {
			ret = die("bundle %s: %s", id, err);
			goto out;
		}
		/* listed without psk_hex: a certificate-only node */
		e = keys_find(root, id);
		if (e)
			cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "id", id);
		cJSON_AddBoolToObject(e, "revoked", false);
		cJSON_AddItemToArray(arr, e);
	}
	for (size_t i = 0; i < n && !o.cert; i++) {
		uint8_t key[32];
		char hex[65], text[33], *t = NULL;
		size_t klen = (size_t)o.bits / 8;
		cJSON *e;

		if (o.id)
			snprintf(id, sizeof(id), "%s", o.id);
		else
			snprintf(id, sizeof(id), "%s%0*ld", o.prefix, (int)o.width,
				 o.start + (long)i);
		if (o.text_keys) {
			rc = random_text(text, 32);
			memcpy(key, text, 32);
			klen = 32;
			t = text;
		} else {
			rc = random_bytes(key, klen);
		}
		if (rc) {
			ret = die("random: %s", strerror(-rc));
			goto out;
		}
		to_hex(key, klen, hex);
		e = keys_find(root, id);
		if (e)
			cJSON_Delete(cJSON_DetachItemViaPointer(arr, e));
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "id", id);
		cJSON_AddStringToObject(e, "psk_hex", hex);
		cJSON_AddBoolToObject(e, "revoked", false);
		cJSON_AddItemToArray(arr, e);
		rc = node_bundle(&o, id, hex, t);
		explicit_bzero(key, sizeof(key));
		explicit_bzero(hex, sizeof(hex));
		explicit_bzero(text, sizeof(text));
		if (rc) {
			ret = die("bundle %s: %s", id, strerror(-rc));
			goto out;
		}
	}
	rc = keys_write(keys_path, root);
	if (rc) {
		ret = die("%s: %s", keys_path, strerror(-rc));
		goto out;
	}
	printf("%zu %snode(s) in %s; bundles in %s (keys file mode 0600: copy it to the gateway "
	       "as root)\n",
	       n, o.cert ? "certificate " : "", keys_path, o.out);
	ret = 0;
out:
	node_ca_free(ca);
	/* the tree holds keys: wipe them */
	{
		cJSON *it;

		cJSON_ArrayForEach (it, arr) {
			cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "psk_hex");

			if (cJSON_IsString(k))
				explicit_bzero(k->valuestring, strlen(k->valuestring));
		}
	}
	cJSON_Delete(root);
	return ret;
}

int main(int argc, char **argv)
{
	char *token = NULL, *ca_pem = NULL;
	char token_sha[65], serial[80], path[PATH_MAX];
	struct row *rows = NULL;
	struct opts o;
	size_t n, len;
	int rc, ret = 1;

	if (argc > 1 && strcmp(argv[1], "nodes") == 0)
		return nodes_main(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	if (parse(argc, argv, &o))
		return 2;
	n = o.serial ? 1 : (size_t)o.count;
	if (o.token) {
		token = strdup(o.token);
	} else if ((rc = edge_file_read(o.token_file, 4096, &token, &len)) != 0) {
		return die("--token-file %s: %s", o.token_file, strerror(-rc));
	}
	if (!token)
		return 1;
	token[strcspn(token, "\r\n")] = '\0';
	if (!token[0]) {
		ret = die("the claim token is empty");
		goto out;
	}
	edge_id_sha256_hex(token, strlen(token), token_sha);
	rc = edge_file_read(o.ca, 256 * 1024, &ca_pem, NULL);
	if (rc || !strstr(ca_pem, "-----BEGIN CERTIFICATE-----")) {
		ret = die("--ca %s: %s", o.ca, rc ? strerror(-rc) : "no PEM certificate in it");
		goto out;
	}
	rows = calloc(n, sizeof(*rows));
	if (!rows)
		goto out;
	/* Check every serial before writing anything. */
	for (size_t i = 0; i < n; i++) {
		serial_at(&o, i, serial, sizeof(serial));
		if (!edge_id_serial_valid(serial)) {
			ret = die("serial %s: 1-64 characters of A-Z a-z 0-9 . _ -", serial);
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s/device.key", o.out, serial);
		if (!o.force && access(path, F_OK) == 0) {
			ret = die("%s exists: refusing to replace a device identity (use --force)",
				  path);
			goto out;
		}
	}
	if ((rc = edge_mkdir_p(o.out, 0700)) != 0) {
		ret = die("--out %s: %s", o.out, strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		serial_at(&o, i, serial, sizeof(serial));
		rc = make_bundle(&o, serial, token, ca_pem, token_sha, &rows[i]);
		if (rc) {
			ret = die("bundle %s: %s", serial, strerror(-rc));
			goto out;
		}
	}
	rc = write_manifest(&o, rows, n, token_sha);
	if (rc) {
		ret = die("manifest in %s: %s", o.out, strerror(-rc));
		goto out;
	}
	printf("%zu identit%s in %s (manifest: %s)\n", n, n == 1 ? "y" : "ies", o.out, o.manifest);
	ret = 0;
out:
	if (token) {
		memset(token, 0, strlen(token));
		free(token);
	}
	free(ca_pem);
	free(rows);
	return ret;
}
