/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-sign: the vendor's tool for OTA manifests (shared/DESIGN.md 5.4).
 *
 *   keygen  an EC P-256 key pair (private PEM 0600, public PEM)
 *   sign    a manifest payload -> a compact JWS, ES256, the signature as raw
 *           r||s (RFC 7518 3.4), exactly what common/jws.c verifies
 *   verify  a JWS with a public key, as the agent would; prints the payload
 *
 * The payload is validated with the agent's own parser before it is signed,
 * and the JWS is verified with the agent's own verifier before it is
 * written: the tool never hands out a manifest a device would refuse.
 *
 * Exit status: 0 success, 1 failure (one line on stderr says why), 2 usage.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/file.h"
#include "edge/jws.h"
#include "edge/ota/manifest.h"

#define EXIT_USAGE 2
#define JWS_MAX	   (64 * 1024) /* common/jws.c's bound */
#define KEY_MAX	   (64 * 1024)

/* ES256 header; "typ" is informative, jws.c accepts it. */
static const char header_json[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("edge-ota-sign: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edge-ota-sign %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see edge-ota-sign %s --help)\n", cmd);
	return EXIT_USAGE;
}

/* ---- options ---- */

#define MAX_MULTI EDGE_OTA_BOARDS_MAX

struct opt {
	const char *name; /* "--key" */
	bool takes_value;
	bool multi; /* may repeat (--board) */
	const char *value;
	const char *values[MAX_MULTI + 1];
	size_t n;
	bool set;
};

static struct opt *find_opt(struct opt *opts, const char *name)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

/* 0, or the usage exit status after saying what is wrong. */
static int parse_opts(const char *cmd, int argc, char **argv, struct opt *opts)
{
	for (int i = 1; i < argc; i++) {
		struct opt *o = find_opt(opts, argv[i]);

		if (!o)
			return usage_error(cmd, "unknown option %s", argv[i]);
		if (o->set && !o->multi)
			return usage_error(cmd, "%s given twice", o->name);
		o->set = true;
		if (!o->takes_value)
			continue;
		if (i + 1 >= argc)
			return usage_error(cmd, "%s needs a value", o->name);
		o->value = argv[++i];
		if (o->multi) {
			if (o->n == MAX_MULTI)
				return usage_error(cmd, "%s given more than %d times", o->name,
						   MAX_MULTI);
			o->values[o->n++] = o->value;
		}
	}
	return 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/* ---- randomness and keys ---- */

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *r)
{
	static const unsigned char pers[] = "edge-ota-sign";

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, pers,
				  sizeof(pers) - 1))
		return fail("cannot seed the random generator");
	return 0;
}

static void rng_free(struct rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

static const char *curve_name(mbedtls_ecp_group_id id)
{
	const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_grp_id(id);

	return ci ? ci->name : "unknown";
}

/* Loads an unencrypted EC P-256 private key (SEC1 or PKCS#8, PEM or DER). */
static int load_private_key(const char *path, mbedtls_pk_context *pk)
{
	const mbedtls_ecp_keypair *ec;
	char err[128];
	int rc;

	rc = mbedtls_pk_parse_keyfile(pk, path, NULL);
	if (rc == MBEDTLS_ERR_PK_FILE_IO_ERROR)
		return fail("%s: cannot read the key file", path);
	if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH)
		return fail("%s: the key is encrypted; give an unencrypted PEM or DER key", path);
	if (rc) {
		mbedtls_strerror(rc, err, sizeof(err));
		return fail("%s: not a private key (%s)", path, err);
	}
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY))
		return fail("%s: a %s key; ES256 needs an EC P-256 key", path,
			    mbedtls_pk_get_name(pk));
	ec = mbedtls_pk_ec(*pk);
	if (!ec)
		return fail("%s: not an EC key", path);
	if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return fail("%s: an EC key on curve %s; ES256 needs P-256 (secp256r1)", path,
			    curve_name(ec->grp.id));
	return 0;
}

/* The public half of pk as edge_jws_key, for the check after signing. */
static int public_half(mbedtls_pk_context *pk, struct edge_jws_key **out)
{
	unsigned char der[256];
	int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof(der));

	/* mbedtls writes DER at the end of the buffer */
	if (n <= 0 || edge_jws_key_parse(der + sizeof(der) - (size_t)n, (size_t)n, out))
		return fail("cannot derive the public key from the private key");
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- keygen ---- */

static const char keygen_usage[] =
    "usage: edge-ota-sign keygen --out-key FILE --out-pub FILE [--force]\n"
    "Makes an EC P-256 key pair for signing OTA manifests (ES256): the private\n"
    "key as PEM (SEC1) with mode 0600, the public key as PEM (SubjectPublicKeyInfo,\n"
    "what ota.manifest_key_file on the device names). Existing files are not\n"
    "replaced without --force.\n";

static int cmd_keygen(int argc, char **argv)
{
	struct opt opts[] = {{.name = "--out-key", .takes_value = true},
			     {.name = "--out-pub", .takes_value = true},
			     {.name = "--force"},
			     {0}};
	const char *key_path, *pub_path;
	unsigned char key_pem[1024], pub_pem[512];
	mbedtls_pk_context pk;
	struct rng rng;
	int rc;

	if (wants_help(argc, argv)) {
		fputs(keygen_usage, stdout);
		return 0;
	}
	rc = parse_opts("keygen", argc, argv, opts);
	if (rc)
		return rc;
	key_path = opts[0].value;
	pub_path = opts[1].value;
	if (!key_path || !pub_path)
		return usage_error("keygen", "--out-key and --out-pub are required");
	if (strcmp(key_path, pub_path) == 0)
		return usage_error("keygen", "--out-key and --out-pub name the same file");
	/* both checked before either is written: no half-made pair */
	if (!opts[2].set) {
		if (exists(key_path))
			return fail("%s exists; --force replaces it", key_path);
		if (exists(pub_path))
			return fail("%s exists; --force replaces it", pub_path);
	}
	if (rng_init(&rng)) {
		rng_free(&rng);
		return EXIT_FAILURE;
	}
	mbedtls_pk_init(&pk);
	rc = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (!rc)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
					 mbedtls_ctr_drbg_random, &rng.drbg);
	if (!rc)
		rc = mbedtls_pk_write_key_pem(&pk, key_pem, sizeof(key_pem));
	if (!rc)
		rc = mbedtls_pk_write_pubkey_pem(&pk, pub_pem, sizeof(pub_pem));
	mbedtls_pk_free(&pk);
	rng_free(&rng);
	if (rc) {
		mbedtls_platform_zeroize(key_pem, sizeof(key_pem));
		return fail("key generation failed (mbedtls -0x%04x)", (unsigned)-rc);
	}
	rc = edge_file_write_atomic(key_path, key_pem, strlen((char *)key_pem), 0600);
	mbedtls_platform_zeroize(key_pem, sizeof(key_pem));
	if (rc)
		return fail("%s: cannot write: %s", key_path, strerror(-rc));
	rc = edge_file_write_atomic(pub_path, pub_pem, strlen((char *)pub_pem), 0644);
	if (rc)
		return fail("%s: cannot write: %s", pub_path, strerror(-rc));
	return 0;
}

/* ---- sign ---- */

static const char sign_usage[] =
    "usage: edge-ota-sign sign --key FILE [--out FILE]\n"
    "         (--payload FILE.json |\n"
    "          --version V --url U (--image FILE | --size N --sha256 H)\n"
    "          --board B [--board B2 ...] --installer bundle|rauc|swupdate\n"
    "          [--min-version V] [--allow-downgrade])\n"
    "Signs an OTA manifest with an EC P-256 private key (PEM or DER, SEC1 or\n"
    "PKCS#8, unencrypted) and prints the compact JWS (ES256) or writes it to\n"
    "--out. --image computes size and sha256 from the file (--size/--sha256,\n"
    "when also given, must match it). The payload is checked with the agent's\n"
    "own rules first: a manifest the agent would refuse is not signed.\n";

/* Size and SHA-256 of a whole file, read in blocks (images are large). */
static int hash_image(const char *path, uint64_t *size, char hex[65])
{
	static unsigned char buf[1 << 16];
	mbedtls_sha256_context sha;
	unsigned char sum[32];
	uint64_t total = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("%s: cannot open: %s", path, strerror(errno));
	mbedtls_sha256_init(&sha);
	if (mbedtls_sha256_starts_ret(&sha, 0))
		rc = fail("sha256 failed");
	while (!rc) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail("%s: read failed: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (mbedtls_sha256_update_ret(&sha, buf, (size_t)n))
			rc = fail("sha256 failed");
		total += (uint64_t)n;
	}
	if (!rc && mbedtls_sha256_finish_ret(&sha, sum))
		rc = fail("sha256 failed");
	mbedtls_sha256_free(&sha);
	close(fd);
	if (rc)
		return rc;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	*size = total;
	return 0;
}

/* A decimal integer option as a JSON number; the schema bounds it. */
static int size_arg(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*out = v;
	return 0;
}

enum {
	S_KEY,
	S_OUT,
	S_PAYLOAD,
	S_VERSION,
	S_URL,
	S_IMAGE,
	S_SIZE,
	S_SHA256,
	S_BOARD,
	S_INSTALLER,
	S_MIN,
	S_DOWNGRADE,
};

/* The manifest from the field options: built as JSON and given to the
 * agent's parser, so every check and message is the agent's. */
static int manifest_from_opts(struct opt *o, struct edge_ota_manifest *m)
{
	char why[160], hex[65], size_text[24];
	uint64_t size = 0, image_size = 0;
	cJSON *root, *boards;
	char *text;
	int rc;

	if (o[S_SIZE].set && size_arg(o[S_SIZE].value, &size))
		return usage_error("sign", "--size: \"%s\" is not a decimal integer",
				   o[S_SIZE].value);
	if (o[S_IMAGE].set) {
		rc = hash_image(o[S_IMAGE].value, &image_size, hex);
		if (rc)
			return rc;
		if (o[S_SIZE].set && size != image_size)
			return fail("--size %llu does not match %s (%llu bytes)",
				    (unsigned long long)size, o[S_IMAGE].value,
				    (unsigned long long)image_size);
		if (o[S_SHA256].set && strcasecmp(o[S_SHA256].value, hex) != 0)
			return fail("--sha256 does not match %s (%s)", o[S_IMAGE].value, hex);
		size = image_size;
	}
	if (size > (UINT64_C(1) << 53))
		return fail("manifest refused: size: must be an integer in [1, 2^53]");
	/* digits, not a double: cJSON would print 2^53 as 9.00719925474099e+15 */
	snprintf(size_text, sizeof(size_text), "%llu", (unsigned long long)size);
	root = cJSON_CreateObject();
	boards = root ? cJSON_AddArrayToObject(root, "boards") : NULL;
	rc = boards ? 0 : -ENOMEM;
	if (!rc &&
	    (!cJSON_AddStringToObject(root, "version", o[S_VERSION].value) ||
	     !cJSON_AddStringToObject(root, "url", o[S_URL].value) ||
	     !cJSON_AddRawToObject(root, "size", size_text) ||
	     !cJSON_AddStringToObject(root, "sha256", o[S_IMAGE].set ? hex : o[S_SHA256].value) ||
	     !cJSON_AddStringToObject(root, "installer", o[S_INSTALLER].value)))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < o[S_BOARD].n; i++)
		if (!cJSON_AddItemToArray(boards, cJSON_CreateString(o[S_BOARD].values[i])))
			rc = -ENOMEM;
	if (!rc && o[S_MIN].set && !cJSON_AddStringToObject(root, "minVersion", o[S_MIN].value))
		rc = -ENOMEM;
	if (!rc && o[S_DOWNGRADE].set && !cJSON_AddTrueToObject(root, "allowDowngrade"))
		rc = -ENOMEM;
	text = rc ? NULL : cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return fail("out of memory");
	rc = edge_ota_manifest_parse(text, strlen(text), m, why, sizeof(why));
	free(text);
	if (rc)
		return fail("manifest refused: %s", why);
	return 0;
}

static int manifest_from_file(const char *path, struct edge_ota_manifest *m)
{
	char why[160], *text;
	size_t len;
	int rc = edge_file_read(path, EDGE_OTA_PAYLOAD_MAX, &text, &len);

	if (rc == -EFBIG)
		return fail("%s: larger than %d bytes (the agent refuses it unread)", path,
			    EDGE_OTA_PAYLOAD_MAX);
	if (rc)
		return fail("%s: cannot read: %s", path, strerror(-rc));
	rc = edge_ota_manifest_parse(text, len, m, why, sizeof(why));
	free(text);
	if (rc)
		return fail("%s: manifest refused: %s", path, why);
	return 0;
}

/* header.payload.signature of payload; caller frees. */
static int make_jws(mbedtls_pk_context *pk, struct rng *rng, const char *payload, char **out)
{
	size_t hl = sizeof(header_json) - 1, pl = strlen(payload);
	char *jws = malloc((hl + 2) / 3 * 4 + (pl + 2) / 3 * 4 + 90 + 3);
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
	unsigned char hash[32], rs[64];
	mbedtls_mpi r, s;
	size_t o;
	int rc;

	if (!jws)
		return fail("out of memory");
	o = edge_b64url_encode((const unsigned char *)header_json, hl, jws);
	jws[o++] = '.';
	o += edge_b64url_encode((const unsigned char *)payload, pl, jws + o);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	/* RFC 6979 deterministic k: no dependence on the RNG's quality at
	 * signing time (the RNG only blinds the computation) */
	rc = mbedtls_sha256_ret((const unsigned char *)jws, o, hash, 0);
	if (!rc)
		rc = mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, sizeof(hash),
						MBEDTLS_MD_SHA256, mbedtls_ctr_drbg_random,
						&rng->drbg);
	/* JWS ES256: r and s as 32-byte big-endian integers, concatenated */
	if (!rc)
		rc = mbedtls_mpi_write_binary(&r, rs, 32);
	if (!rc)
		rc = mbedtls_mpi_write_binary(&s, rs + 32, 32);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	if (rc) {
		free(jws);
		return fail("signing failed (mbedtls -0x%04x)", (unsigned)-rc);
	}
	jws[o++] = '.';
	edge_b64url_encode(rs, sizeof(rs), jws + o);
	*out = jws;
	return 0;
}

static int write_output(const char *path, const char *jws)
{
	size_t n = strlen(jws);
	char *line;
	int rc;

	if (!path) {
		if (printf("%s\n", jws) < 0 || fflush(stdout))
			return fail("cannot write to stdout: %s", strerror(errno));
		return 0;
	}
	line = malloc(n + 2);
	if (!line)
		return fail("out of memory");
	memcpy(line, jws, n);
	line[n] = '\n';
	rc = edge_file_write_atomic(path, line, n + 1, 0644);
	free(line);
	if (rc)
		return fail("%s: cannot write: %s", path, strerror(-rc));
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	struct opt o[] = {
	    [S_KEY] = {.name = "--key", .takes_value = true},
	    [S_OUT] = {.name = "--out", .takes_value = true},
	    [S_PAYLOAD] = {.name = "--payload", .takes_value = true},
	    [S_VERSION] = {.name = "--version", .takes_value = true},
	    [S_URL] = {.name = "--url", .takes_value = true},
	    [S_IMAGE] = {.name = "--image", .takes_value = true},
	    [S_SIZE] = {.name = "--size", .takes_value = true},
	    [S_SHA256] = {.name = "--sha256", .takes_value = true},
	    [S_BOARD] = {.name = "--board", .takes_value = true, .multi = true},
	    [S_INSTALLER] = {.name = "--installer", .takes_value = true},
	    [S_MIN] = {.name = "--min-version", .takes_value = true},
	    [S_DOWNGRADE] = {.name = "--allow-downgrade"},
	    {0},
	};
	struct edge_ota_manifest m, back;
	struct edge_jws_key *pub = NULL;
	mbedtls_pk_context pk;
	char *payload = NULL, *jws = NULL, why[160];
	struct rng rng;
	int rc;

	if (wants_help(argc, argv)) {
		fputs(sign_usage, stdout);
		return 0;
	}
	rc = parse_opts("sign", argc, argv, o);
	if (rc)
		return rc;
	if (!o[S_KEY].set)
		return usage_error("sign", "--key is required");
	if (o[S_PAYLOAD].set) {
		for (int i = S_VERSION; i <= S_DOWNGRADE; i++)
			if (o[i].set)
				return usage_error("sign", "--payload and %s exclude each other",
						   o[i].name);
	} else {
		static const int required[] = {S_VERSION, S_URL, S_BOARD, S_INSTALLER};

		for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
			if (!o[required[i]].set)
				return usage_error("sign", "%s is required (or --payload)",
						   o[required[i]].name);
		if (!o[S_IMAGE].set && (!o[S_SIZE].set || !o[S_SHA256].set))
			return usage_error("sign", "--image, or both --size and --sha256, "
						   "are required");
	}

	/* the key first: a wrong key should not cost an image's hashing */
	mbedtls_pk_init(&pk);
	rc = load_private_key(o[S_KEY].value, &pk);
	if (rc)
		goto out;
	rc = o[S_PAYLOAD].set ? manifest_from_file(o[S_PAYLOAD].value, &m)
			      : manifest_from_opts(o, &m);
	if (rc)
		goto out;
	/* what is signed is the canonical form of what was checked */
	payload = edge_ota_manifest_to_json(&m);
	if (!payload) {
		rc = fail("out of memory");
		goto out;
	}
	if (rng_init(&rng)) {
		rng_free(&rng);
		rc = EXIT_FAILURE;
		goto out;
	}
	rc = make_jws(&pk, &rng, payload, &jws);
	rng_free(&rng);
	if (rc)
		goto out;
	rc = public_half(&pk, &pub);
	if (rc)
		goto out;
	if (edge_ota_manifest_verify(jws, strlen(jws), pub, &back, why, sizeof(why))) {
		rc = fail("the signed manifest does not verify: %s", why);
		goto out;
	}
	rc = write_output(o[S_OUT].value, jws);
out:
	edge_jws_key_free(pub);
	free(jws);
	free(payload);
	mbedtls_pk_free(&pk);
	return rc;
}

/* ---- verify ---- */

static const char verify_usage[] =
    "usage: edge-ota-sign verify --pub FILE [--in FILE.jws]\n"
    "Checks a manifest JWS as the agent does (ES256 only, the signature with the\n"
    "public key, then the payload's schema) and prints its payload JSON. The JWS\n"
    "is read from --in or from stdin. Exit 0 when it verifies, 1 (with the\n"
    "reason) when it does not.\n";

/* All of stdin, at most max bytes. */
static int read_stdin(size_t max, char **out, size_t *len)
{
	char *buf = malloc(max + 1);
	size_t got = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + got, max + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	struct opt o[] = {
	    {.name = "--pub", .takes_value = true}, {.name = "--in", .takes_value = true}, {0}};
	const char *src;
	struct edge_jws_key *key = NULL;
	struct edge_ota_manifest m;
	char *text = NULL, *payload = NULL, why[160];
	size_t len = 0, plen = 0;
	int rc;

	if (wants_help(argc, argv)) {
		fputs(verify_usage, stdout);
		return 0;
	}
	rc = parse_opts("verify", argc, argv, o);
	if (rc)
		return rc;
	if (!o[0].set)
		return usage_error("verify", "--pub is required");
	rc = edge_jws_key_load(o[0].value, &key);
	if (rc == -EINVAL)
		return fail("%s: not a PEM or DER public key (SubjectPublicKeyInfo)", o[0].value);
	if (rc == -ENOTSUP)
		return fail("%s: not an EC P-256 public key (ES256 needs one)", o[0].value);
	if (rc)
		return fail("%s: cannot read: %s", o[0].value, strerror(-rc));
	src = o[1].set ? o[1].value : "stdin";
	rc = o[1].set ? edge_file_read(o[1].value, JWS_MAX, &text, &len)
		      : read_stdin(JWS_MAX, &text, &len);
	if (rc) {
		rc = rc == -EFBIG ? fail("%s: larger than %d bytes", src, JWS_MAX)
				  : fail("%s: cannot read: %s", src, strerror(-rc));
		goto out;
	}
	/* a JWS file usually ends with a newline; whitespace is not base64url */
	while (len && strchr(" \t\r\n", text[len - 1]))
		text[--len] = '\0';
	if (edge_ota_manifest_verify(text, len, key, &m, why, sizeof(why))) {
		rc = fail("%s: manifest refused: %s", src, why);
		goto out;
	}
	/* print the payload exactly as signed (the check above passed, so
	 * this cannot fail but for memory) */
	if (edge_jws_verify(text, len, key, &payload, &plen, why, sizeof(why))) {
		rc = fail("%s: %s", src, why);
		goto out;
	}
	if (fwrite(payload, 1, plen, stdout) != plen || putchar('\n') == EOF || fflush(stdout))
		rc = fail("cannot write to stdout: %s", strerror(errno));
out:
	free(payload);
	free(text);
	edge_jws_key_free(key);
	return rc;
}

/* ---- main ---- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
} cmds[] = {
    {"keygen", cmd_keygen, keygen_usage},
    {"sign", cmd_sign, sign_usage},
    {"verify", cmd_verify, verify_usage},
};

static void usage(FILE *f)
{
	fputs("usage: edge-ota-sign keygen|sign|verify [options]   (COMMAND --help for its "
	      "options)\n"
	      "Keys and signed manifests for edge-agent's OTA updates (ES256 JWS).\n\n",
	      f);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		fputs(cmds[i].usage, f);
		fputc('\n', f);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr,
		"edge-ota-sign: unknown command \"%s\" (keygen, sign, verify; see --help)\n",
		argv[1]);
	return EXIT_USAGE;
}
