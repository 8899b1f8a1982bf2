/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-provisiond: the reference provisioning API (DESIGN 5.3) and its admin
 * commands. See docs/provisioning.md.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edge/file.h"
#include "edge/log.h"
#include "srv.h"

#define MOD "provisiond"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: edge-provisiond COMMAND [options]\n"
	    "\n"
	    "commands (each takes --config FILE or --state-dir DIR):\n"
	    "  serve                      run the HTTPS API\n"
	    "  init-ca [--cn NAME] [--days N] [--server-name DNS] [--server-ip IP] [--force]\n"
	    "                             create the fleet CA and the API's TLS certificate\n"
	    "  admin-token                create the admin token (printed once)\n"
	    "  admin migrate              create or upgrade the registry schema (SQLite or\n"
	    "                             PostgreSQL; safe to run from several hosts at once)\n"
	    "  token create --batch B --uses N --expires WHEN\n"
	    "                             create a claim token (printed once); WHEN is a\n"
	    "                             duration from now (30d, 12h) or YYYY-MM-DD\n"
	    "  token revoke --batch B     revoke every claim token of a batch\n"
	    "  devices list [--json]      list registered devices\n"
	    "  device revoke ID           revoke a device (renewal and re-registration refused)\n"
	    "\n"
	    "options: --log-level LEVEL (error|warning|notice|info|debug)\n"
	    "         --help-config   print every config key: type, bounds, default\n"
	    "         --help, --version\n");
}

struct opts {
	const char *config, *state_dir, *batch, *expires, *cn, *server_name, *server_ip;
	long uses, days;
	bool force, json;
	const char *args[4];
	int n_args;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->uses = -1;
	o->days = 3650;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field)                                                                           \
	if (strcmp(a, name) == 0) {                                                                \
		if (!v) {                                                                          \
			fprintf(stderr, "edge-provisiond: %s needs a value\n", name);              \
			return -EINVAL;                                                            \
		}                                                                                  \
		field = v;                                                                         \
		i++;                                                                               \
		continue;                                                                          \
	}
		OPT("--config", o->config)
		OPT("--state-dir", o->state_dir)
		OPT("--batch", o->batch)
		OPT("--expires", o->expires)
		OPT("--cn", o->cn)
		OPT("--server-name", o->server_name)
		OPT("--server-ip", o->server_ip)
#undef OPT
		if (strcmp(a, "--uses") == 0 || strcmp(a, "--days") == 0) {
			char *end;
			long n = v ? strtol(v, &end, 10) : 0;

			if (!v || *end || n < 1 || n > 100000000) {
				fprintf(stderr, "edge-provisiond: %s needs a positive number\n", a);
				return -EINVAL;
			}
			*(a[2] == 'u' ? &o->uses : &o->days) = n;
			i++;
			continue;
		}
		if (strcmp(a, "--log-level") == 0 && v) {
			int l = edge_log_level_from_name(v);

			if (l < 0) {
				fprintf(stderr, "edge-provisiond: unknown log level %s\n", v);
				return -EINVAL;
			}
			edge_log_set_level((enum edge_log_level)l);
			i++;
			continue;
		}
		if (strcmp(a, "--force") == 0) {
			o->force = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (a[0] == '-') {
			fprintf(stderr, "edge-provisiond: unknown option %s (see --help)\n", a);
			return -EINVAL;
		}
		if (o->n_args == 4) {
			fprintf(stderr, "edge-provisiond: too many arguments\n");
			return -EINVAL;
		}
		o->args[o->n_args++] = a;
	}
	return 0;
}

static int load_config(const struct opts *o, struct srv_config *cfg)
{
	char err[SRV_ERR_LEN];
	int rc;

	if (o->config) {
		rc = srv_config_load(o->config, cfg, err, sizeof(err));
		if (rc)
			fprintf(stderr, "edge-provisiond: %s\n", err);
		return rc;
	}
	if (!o->state_dir) {
		fprintf(stderr, "edge-provisiond: --config FILE or --state-dir DIR is required\n");
		return -EINVAL;
	}
	rc = srv_config_defaults(cfg, o->state_dir);
	if (rc)
		fprintf(stderr, "edge-provisiond: %s\n", strerror(-rc));
	return rc;
}

static int open_registry(const struct srv_config *cfg, struct srv_registry **reg)
{
	struct srv_registry_opts ro = {.connections = 1};
	char err[SRV_ERR_LEN] = "";
	int rc = edge_mkdir_p(cfg->state_dir, 0700);

	if (rc)
		snprintf(err, sizeof(err), "state_dir %s: %s", cfg->state_dir, strerror(-rc));
	else
		rc = srv_registry_open_opts(srv_service_registry_url(cfg), &ro, reg, err,
					    sizeof(err));
	if (rc)
		fprintf(stderr, "edge-provisiond: registry: %s\n", err[0] ? err : strerror(-rc));
	return rc;
}

static int cmd_migrate(const struct srv_config *cfg)
{
	char err[SRV_ERR_LEN] = "";
	int from = 0, to = 0;
	int rc = edge_mkdir_p(cfg->state_dir, 0700);

	rc =
	    rc ?: srv_registry_migrate(srv_service_registry_url(cfg), &from, &to, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "edge-provisiond: admin migrate: %s\n",
			err[0] ? err : strerror(-rc));
		return 1;
	}
	printf("registry schema: version %d -> %d%s\n", from, to,
	       from == to ? " (already current)" : "");
	return 0;
}

static int cmd_token_revoke(const struct opts *o, const struct srv_config *cfg)
{
	struct srv_registry *reg;
	int64_t n = 0;
	int rc;

	if (!o->batch) {
		fprintf(stderr, "edge-provisiond: token revoke needs --batch B\n");
		return 2;
	}
	if (open_registry(cfg, &reg))
		return 1;
	rc = srv_registry_token_revoke_batch(reg, o->batch, &n);
	srv_registry_close(reg);
	if (rc) {
		fprintf(stderr, "edge-provisiond: token revoke %s: %s\n", o->batch,
			rc == -ENOENT ? "no token of that batch" : strerror(-rc));
		return 1;
	}
	printf("revoked %lld token(s) of batch %s\n", (long long)n, o->batch);
	return 0;
}

static int parse_expiry(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int64_t d;
	const char *end;

	if (srv_parse_duration(s, &d) == 0 && strpbrk(s, "smhd")) {
		*out = (int64_t)time(NULL) + d;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!end || *end)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int cmd_token_create(const struct opts *o, const struct srv_config *cfg)
{
	struct srv_registry *reg;
	char token[48], hash[65];
	int64_t expires;
	int rc;

	if (!o->batch || o->uses < 1 || !o->expires) {
		fprintf(stderr,
			"edge-provisiond: token create needs --batch B --uses N --expires WHEN\n");
		return 2;
	}
	if (parse_expiry(o->expires, &expires) || expires <= (int64_t)time(NULL)) {
		fprintf(stderr,
			"edge-provisiond: --expires %s: not a future time (30d, 12h, YYYY-MM-DD)\n",
			o->expires);
		return 2;
	}
	if (open_registry(cfg, &reg))
		return 1;
	rc = srv_token_generate(token);
	if (!rc) {
		srv_token_hash(token, hash);
		rc = srv_registry_token_add(reg, hash, o->batch, o->uses, expires);
	}
	srv_registry_close(reg);
	if (rc) {
		fprintf(stderr, "edge-provisiond: token create: %s\n", strerror(-rc));
		return 1;
	}
	/* The only time the token exists in clear on the server side. */
	printf("%s\n", token);
	fprintf(stderr, "batch %s: %ld uses, expires %lld (stored as its SHA-256 only)\n", o->batch,
		o->uses, (long long)expires);
	memset(token, 0, sizeof(token));
	return 0;
}

static void print_device(const struct srv_device *d, void *arg)
{
	const struct opts *o = arg;

	if (o->json)
		printf("{\"deviceId\":\"%s\",\"board\":\"%s\",\"platform\":\"%s\",\"batch\":\"%s\","
		       "\"notAfter\":%lld,\"revoked\":%s}\n",
		       d->id, d->board, d->platform, d->batch, (long long)d->not_after,
		       d->revoked ? "true" : "false");
	else
		printf("%-24s %-12s %-16s %-12s %-12lld %s\n", d->id, d->board, d->platform,
		       d->batch, (long long)d->not_after, d->revoked ? "revoked" : "active");
}

static int cmd_devices_list(const struct opts *o, const struct srv_config *cfg)
{
	struct srv_registry *reg;
	int rc;

	if (open_registry(cfg, &reg))
		return 1;
	if (!o->json)
		printf("%-24s %-12s %-16s %-12s %-12s %s\n", "DEVICE", "BOARD", "PLATFORM", "BATCH",
		       "NOT_AFTER", "STATE");
	rc = srv_registry_device_each(reg, print_device, (void *)(uintptr_t)o);
	srv_registry_close(reg);
	if (rc) {
		fprintf(stderr, "edge-provisiond: devices list: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_device_revoke(const struct opts *o, const struct srv_config *cfg)
{
	struct srv_registry *reg;
	struct srv_dynsec *ds = NULL;
	int rc;

	if (o->n_args < 3) {
		fprintf(stderr, "edge-provisiond: device revoke needs a device id\n");
		return 2;
	}
	if (open_registry(cfg, &reg))
		return 1;
	rc = srv_registry_device_revoke(reg, o->args[2], (int64_t)time(NULL));
	srv_registry_close(reg);
	if (rc) {
		fprintf(stderr, "edge-provisiond: device revoke %s: %s\n", o->args[2],
			rc == -ENOENT ? "unknown device" : strerror(-rc));
		return 1;
	}
	if (cfg->dynsec_host && srv_dynsec_new(cfg, &ds) == 0) {
		rc = srv_dynsec_device_remove(ds, o->args[2]);
		if (rc)
			fprintf(stderr, "edge-provisiond: broker ACL removal: %s\n", strerror(-rc));
		srv_dynsec_free(ds);
	}
	printf("revoked %s\n", o->args[2]);
	return 0;
}

static int cmd_admin_token(const struct opts *o, const struct srv_config *cfg)
{
	char token[48];
	int rc;

	if (!o->force && access(cfg->admin_token_file, F_OK) == 0) {
		fprintf(stderr, "edge-provisiond: %s exists (use --force to replace it)\n",
			cfg->admin_token_file);
		return 1;
	}
	rc = edge_mkdir_p(cfg->state_dir, 0700);
	rc = rc ?: srv_token_generate(token);
	if (!rc) {
		char line[50];

		snprintf(line, sizeof(line), "%s\n", token);
		rc = edge_file_write_atomic(cfg->admin_token_file, line, strlen(line), 0600);
	}
	if (rc) {
		fprintf(stderr, "edge-provisiond: admin-token %s: %s\n", cfg->admin_token_file,
			strerror(-rc));
		return 1;
	}
	printf("%s\n", token);
	return 0;
}

static int cmd_init_ca(const struct opts *o, const struct srv_config *cfg)
{
	char err[SRV_ERR_LEN];
	int rc = srv_ca_init_files(cfg->state_dir, o->cn ? o->cn : "edge fleet CA", (int)o->days,
				   o->server_name ? o->server_name : "localhost",
				   o->server_ip ? o->server_ip : "127.0.0.1", o->force, err,
				   sizeof(err));

	if (rc) {
		fprintf(stderr, "edge-provisiond: init-ca: %s\n", err);
		return 1;
	}
	printf("fleet CA: %s/ca.crt (key ca.key, 0600); API TLS: %s/server.crt\n", cfg->state_dir,
	       cfg->state_dir);
	return 0;
}

static int cmd_serve(const struct srv_config *cfg)
{
	struct srv_service *svc = NULL;
	struct srv_http *http = NULL;
	char err[SRV_ERR_LEN];
	sigset_t set;
	int sig = 0, rc;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Worker threads inherit the mask; only sigwait() below takes them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = srv_service_new(cfg, &svc, err, sizeof(err));
	if (rc) {
		EDGE_ERR(MOD, "%s", err);
		return 1;
	}
	rc = srv_http_start(svc, &http, err, sizeof(err));
	if (rc) {
		EDGE_ERR(MOD, "%s", err);
		srv_service_free(svc);
		return 1;
	}
	EDGE_NOTICE(MOD, "listening on https://%s:%d (claims into %s%s%s)", cfg->listen_addr,
		    cfg->port, cfg->gitops_dir, cfg->k8s_url ? " and " : "",
		    cfg->k8s_url ? cfg->k8s_url : "");
	while (sigwait(&set, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	EDGE_NOTICE(MOD, "signal %d: stopping", sig);
	srv_http_stop(http);
	srv_service_free(svc);
	return 0;
}

int main(int argc, char **argv)
{
	struct srv_config cfg;
	struct opts o;
	const char *cmd, *sub;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--help-config") == 0) {
			srv_config_print_reference(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("edge-provisiond %s\n", EDGE_VERSION);
			return 0;
		}
	}
	if (parse_opts(argc, argv, &o))
		return 2;
	if (o.n_args < 1) {
		fprintf(stderr,
			"usage: edge-provisiond serve|init-ca|admin-token|admin migrate|token "
			"create|token revoke|devices list|device revoke ... (see --help)\n");
		return 2;
	}
	cmd = o.args[0];
	sub = o.n_args > 1 ? o.args[1] : "";
	if (strcmp(cmd, "serve") && strcmp(cmd, "init-ca") && strcmp(cmd, "token") &&
	    strcmp(cmd, "devices") && strcmp(cmd, "device") && strcmp(cmd, "admin-token") &&
	    strcmp(cmd, "admin")) {
		fprintf(stderr, "edge-provisiond: unknown command %s (see --help)\n", cmd);
		return 2;
	}
	if (load_config(&o, &cfg))
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(cmd, "serve") == 0)
		rc = cmd_serve(&cfg);
	else if (strcmp(cmd, "init-ca") == 0)
		rc = cmd_init_ca(&o, &cfg);
	else if (strcmp(cmd, "admin-token") == 0)
		rc = cmd_admin_token(&o, &cfg);
	else if (strcmp(cmd, "admin") == 0 && strcmp(sub, "migrate") == 0)
		rc = cmd_migrate(&cfg);
	else if (strcmp(cmd, "token") == 0 && strcmp(sub, "create") == 0)
		rc = cmd_token_create(&o, &cfg);
	else if (strcmp(cmd, "token") == 0 && strcmp(sub, "revoke") == 0)
		rc = cmd_token_revoke(&o, &cfg);
	else if (strcmp(cmd, "devices") == 0 && strcmp(sub, "list") == 0)
		rc = cmd_devices_list(&o, &cfg);
	else if (strcmp(cmd, "device") == 0 && strcmp(sub, "revoke") == 0)
		rc = cmd_device_revoke(&o, &cfg);
	else {
		fprintf(stderr, "edge-provisiond: unknown command %s %s (see --help)\n", cmd, sub);
		rc = 2;
	}
	srv_config_free(&cfg);
	curl_global_cleanup();
	return rc;
}
