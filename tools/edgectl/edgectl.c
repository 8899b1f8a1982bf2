/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgectl: local control of edge-agent over its UNIX socket (ctl.h).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/ctl.h"

#define DEFAULT_CONFIG "/etc/edge-agent/edge-agent.json"
#define DEFAULT_SOCKET "/var/lib/edge-agent/edgectl.sock"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NOT_RUNNING = 3, EXIT_DENIED = 4 };

static int timeout_ms = 30000;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: edgectl [OPTION]... COMMAND [ARG]...\n"
		"Local control of edge-agent over its UNIX socket.\n\n"
		"Commands:\n"
		"  status                     a readable summary (like systemctl status)\n"
		"  cmd ACTION [PARAMS-JSON]   run a command with the same handlers as MQTT,\n"
		"                             e.g. cmd config.set '{\"log_level\":\"debug\"}'\n"
		"  flush                      publish the backlog now; show backlog figures\n"
		"  nodes [reload]             CoAP nodes: last seen, accepted, refused,\n"
		"                             rate-limited; reload re-reads their keys\n"
		"  tail                       live readings until Ctrl-C\n\n"
		"Options:\n"
		"  -s, --socket PATH   agent socket (default: from the config, else %s)\n"
		"  -c, --config FILE   agent configuration to find the socket (default %s)\n"
		"  -j, --json          print the raw JSON answers\n"
		"  -n, --count N       tail: stop after N readings\n"
		"  -t, --timeout S     seconds to wait for an answer (default 30)\n"
		"  -h, --help          this text\n\n"
		"Actions: ping status config.get config.set sample-now sensor.enable\n"
		"sensor.disable flush identify restart reboot ota (docs/commands.md).\n"
		"Exit status: 0 ok, 1 the command failed, 2 usage, 3 agent not running,\n"
		"4 permission denied. Environment: EDGECTL_SOCKET.\n",
		DEFAULT_SOCKET, DEFAULT_CONFIG);
}

static int connect_agent(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "edgectl: socket path too long: %s\n", path);
		return -EXIT_USAGE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("edgectl: socket");
		return -EXIT_FAILED;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == ENOENT || errno == ECONNREFUSED) {
		fprintf(stderr,
			"edgectl: edge-agent is not running (nothing listens on %s)\n"
			"         check: systemctl status edge-agent\n",
			path);
		close(fd);
		return -EXIT_NOT_RUNNING;
	}
	if (errno == EACCES || errno == EPERM) {
		fprintf(stderr,
			"edgectl: permission denied on %s\n"
			"         run as root or as a member of the socket's group (ctl.group)\n",
			path);
		close(fd);
		return -EXIT_DENIED;
	}
	fprintf(stderr, "edgectl: %s: %s\n", path, strerror(errno));
	close(fd);
	return -EXIT_FAILED;
}

static int send_line(int fd, const char *line)
{
	size_t len = strlen(line), off = 0;

	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return send(fd, "\n", 1, MSG_NOSIGNAL) == 1 ? 0 : -EIO;
}

/* Reads one line; *buf grows as needed. 0 on success, -ETIMEDOUT, -EPIPE. */
struct reader {
	char *buf;
	size_t len, cap;
};

static int read_line(int fd, struct reader *r, char **line, int wait_ms)
{
	for (;;) {
		char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - r->buf);

			*line = strndup(r->buf, l);
			memmove(r->buf, nl + 1, r->len - l - 1);
			r->len -= l + 1;
			return *line ? 0 : -ENOMEM;
		}
		if (r->len + 4096 > r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			char *b = realloc(r->buf, cap);

			if (!b)
				return -ENOMEM;
			r->buf = b;
			r->cap = cap;
		}
		n = poll(&p, 1, wait_ms);
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = recv(fd, r->buf + r->len, r->cap - r->len, 0);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r->len += (size_t)n;
	}
}

static cJSON *request(int fd, struct reader *r, cJSON *req)
{
	char *text = cJSON_PrintUnformatted(req), *line = NULL;
	cJSON *resp = NULL;
	int rc;

	cJSON_Delete(req);
	if (!text)
		return NULL;
	rc = send_line(fd, text);
	free(text);
	if (!rc)
		rc = read_line(fd, r, &line, timeout_ms);
	if (rc) {
		fprintf(stderr, "edgectl: %s\n",
			rc == -ETIMEDOUT ? "no answer from the agent (timeout)"
			: rc == -EPIPE	 ? "the agent closed the connection"
					 : strerror(-rc));
		return NULL;
	}
	resp = cJSON_Parse(line);
	free(line);
	if (!resp)
		fprintf(stderr, "edgectl: unreadable answer from the agent\n");
	return resp;
}

static const char *str(const cJSON *o, const char *k, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : def;
}

static double num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static void duration(double s, char *out, size_t len)
{
	uint64_t t = s > 0 ? (uint64_t)s : 0;

	if (t >= 86400)
		snprintf(out, len, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "min", t / 86400,
			 t % 86400 / 3600, t % 3600 / 60);
	else if (t >= 3600)
		snprintf(out, len, "%" PRIu64 "h %" PRIu64 "min %" PRIu64 "s", t / 3600,
			 t % 3600 / 60, t % 60);
	else if (t >= 60)
		snprintf(out, len, "%" PRIu64 "min %" PRIu64 "s", t / 60, t % 60);
	else
		snprintf(out, len, "%" PRIu64 "s", t);
}

static void when(double ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	double now = (double)time(NULL) * 1000, ago = (now - ms) / 1000;
	char rel[48], stamp[32];

	if (ms <= 0) {
		snprintf(out, len, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (ago > -2 && ago < 1) { /* clocks of a few ms apart */
		snprintf(out, len, "%s; just now", stamp);
		return;
	}
	duration(ago < 0 ? -ago : ago, rel, sizeof(rel));
	snprintf(out, len, "%s; %s %s", stamp, rel, ago < 0 ? "left" : "ago");
}

static void print_status(const cJSON *resp)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	const cJSON *sensors = cJSON_GetObjectItemCaseSensitive(st, "sensors");
	const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(st, "alerts");
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(resp, "alerts");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(st, "memory");
	const cJSON *s;
	bool connected = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "connected"));
	bool healthy = connected;
	char buf[96];

	cJSON_ArrayForEach (s, sensors)
		healthy &= !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "healthy")) ||
			   cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "enabled"));
	printf("%s edge-agent %s - device %s\n", healthy ? "\u25cf" : "\u00d7",
	       str(st, "version", "?"), str(st, "deviceId", "?"));
	printf("      Active: %s (%s) since ", connected ? "online" : "offline",
	       connected ? "connected" : "broker unreachable");
	duration(num(st, "uptimeS", 0), buf, sizeof(buf));
	printf("%s; pid %.0f\n", buf, num(resp, "pid", 0));
	printf("      Config: %s\n", str(resp, "config", "?"));
	printf("       Board: %s, boot %s, firmware %s\n", str(st, "board", "?"),
	       str(st, "boot", "?"), str(st, "firmware", "?"));
	printf("      Broker: %s:%.0f, reconnects %.0f\n", str(resp, "broker", "?"),
	       num(resp, "port", 0), num(st, "reconnects", 0));
	when(num(st, "lastPublishMs", 0), buf, sizeof(buf));
	printf("Last publish: %s\n", buf);
	printf("     Backlog: %.0f message(s), %.1f KiB; dropped %.0f (cap %.0f, errors %.0f)\n",
	       num(st, "backlog", 0), num(st, "backlogBytes", 0) / 1024, num(st, "dropped", 0),
	       num(st, "droppedCap", 0), num(st, "droppedError", 0));
	printf("     Records: %.0f built, %.0f incomplete\n", num(st, "records", 0),
	       num(st, "recordsIncomplete", 0));
	printf("      Alerts: %.0f active, %.0f total\n", num(alerts, "active", 0),
	       num(alerts, "total", 0));
	cJSON_ArrayForEach (s, rules)
		printf("              %-16s %-8s %s (%s = %g)\n", str(s, "rule", "?"),
		       str(s, "state", "?"), str(s, "severity", "?"), str(s, "metric", "?"),
		       num(s, "value", 0));
	when(num(st, "certExpiresMs", 0), buf, sizeof(buf));
	printf(" Certificate: %s\n", num(st, "certExpiresMs", 0) > 0 ? buf : "unknown");
	printf("     Sensors:\n");
	cJSON_ArrayForEach (s, sensors) {
		bool en = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "enabled"));
		bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "healthy"));

		when(num(s, "lastReadingMs", 0), buf, sizeof(buf));
		printf("              %s %-12s %-9s %.0f readings, %.0f errors, last %s%s%s\n",
		       !en  ? "-"
		       : ok ? "\u25cf"
			    : "\u00d7",
		       s->string,
		       !en  ? "disabled"
		       : ok ? "healthy"
			    : "failing",
		       num(s, "readings", 0), num(s, "errors", 0), buf,
		       str(s, "error", NULL) ? ": " : "", str(s, "error", ""));
	}
	printf("      Memory: rss %.1f MiB, pss %.1f MiB\n", num(mem, "rssKb", 0) / 1024,
	       num(mem, "pssKb", 0) / 1024);
	printf("  Last error: %s\n", *str(st, "lastError", "") ? str(st, "lastError", "") : "-");
}

static int print_result(const cJSON *resp, bool json)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
	const char *status = str(res, "status", "error");
	char *text;

	if (json) {
		text = cJSON_PrintUnformatted(res);
		printf("%s\n", text ? text : "null");
		free(text);
	} else {
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(res, "data");

		printf("%s: %s\n", status, str(res, "message", ""));
		if (data && !cJSON_IsNull(data) && cJSON_GetArraySize(data)) {
			text = cJSON_Print(data);
			printf("%s\n", text ? text : "");
			free(text);
		}
	}
	return strcmp(status, "ok") == 0 ? 0 : EXIT_FAILED;
}

static int print_nodes(const cJSON *resp, bool json)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(res, "nodes"), *n;
	const char *status = str(res, "status", "error");
	char buf[96];

	if (json || !nodes) {
		char *text = json ? cJSON_PrintUnformatted(res) : NULL;

		if (json)
			printf("%s\n", text ? text : "null");
		else
			printf("%s: %s\n", status, str(res, "message", ""));
		free(text);
		return strcmp(status, "ok") == 0 ? 0 : EXIT_FAILED;
	}
	printf("Keys: %s%s%s\n", str(res, "keysFile", "?"), *str(res, "keysError", "") ? " - " : "",
	       str(res, "keysError", ""));
	printf("%-24s %-8s %-8s %9s %9s %9s %9s  %s\n", "NODE", "STATE", "SESSION", "ACCEPTED",
	       "REFUSED", "RATE-LIM", "READINGS", "LAST SEEN");
	cJSON_ArrayForEach (n, nodes) {
		bool revoked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "revoked"));
		bool session = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(n, "session"));

		when(num(n, "lastSeenMs", 0), buf, sizeof(buf));
		printf("%-24s %-8s %-8s %9.0f %9.0f %9.0f %9.0f  %s\n", str(n, "id", "?"),
		       revoked ? "revoked" : "ok", session ? "open" : "-", num(n, "accepted", 0),
		       num(n, "refused", 0), num(n, "rateLimited", 0), num(n, "readings", 0), buf);
	}
	printf("%d node(s)\n", cJSON_GetArraySize(nodes));
	return 0;
}

static int tail(int fd, struct reader *r, bool json, long count)
{
	for (long n = 0; count <= 0 || n < count;) {
		char *line = NULL;
		int rc = read_line(fd, r, &line, -1);
		cJSON *o;

		if (rc) {
			fprintf(stderr, "edgectl: %s\n",
				rc == -EPIPE ? "the agent closed the connection" : strerror(-rc));
			return EXIT_FAILED;
		}
		o = cJSON_Parse(line);
		if (cJSON_GetObjectItemCaseSensitive(o, "dropped")) {
			/* the agent's note that this client was too slow: not a reading */
			if (json)
				printf("%s\n", line);
			else
				fprintf(stderr, "edgectl: %.0f reading(s) dropped (output too slow)\n",
					num(o, "dropped", 0));
			fflush(stdout);
			cJSON_Delete(o);
			free(line);
			continue;
		} else if (json || !o) {
			printf("%s\n", line);
		} else {
			time_t t = (time_t)(num(o, "timestamp", 0) / 1000);
			struct tm tm;
			char stamp[32];
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");

			gmtime_r(&t, &tm);
			strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
			printf("%s  %-10s %-18s %14.10g %s\n", stamp, str(o, "sensor", "?"),
			       str(o, "metric", "?"), cJSON_IsNumber(v) ? v->valuedouble : 0,
			       str(o, "unit", ""));
		}
		fflush(stdout);
		cJSON_Delete(o);
		free(line);
		n++;
	}
	return 0;
}

static int find_socket(const char *sock, const char *config, char *out, size_t outlen)
{
	struct edge_config *cfg;
	char err[512];
	int rc;

	if (sock) {
		snprintf(out, outlen, "%s", sock);
		return 0;
	}
	if (getenv("EDGECTL_SOCKET") && *getenv("EDGECTL_SOCKET")) {
		snprintf(out, outlen, "%s", getenv("EDGECTL_SOCKET"));
		return 0;
	}
	if (!config && access(DEFAULT_CONFIG, R_OK) != 0) {
		snprintf(out, outlen, "%s", DEFAULT_SOCKET);
		return 0;
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	rc = edge_config_load(config ? config : DEFAULT_CONFIG, cfg, err, sizeof(err));
	if (rc)
		fprintf(stderr, "edgectl: %s\n", err);
	else
		rc = edge_ctl_default_path(cfg->ctl.socket, cfg->state_dir, out, outlen);
	free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"count", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *config = NULL, *verb;
	char path[256];
	bool json = false;
	long count = 0;
	struct reader r = {0};
	cJSON *req, *resp;
	int c, fd, rc;

	while ((c = getopt_long(argc, argv, "s:c:jn:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 't':
			timeout_ms = (int)(strtod(optarg, NULL) * 1000);
			if (timeout_ms <= 0)
				timeout_ms = 30000;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	verb = argv[optind++];
	req = cJSON_CreateObject();
	if (!req)
		return EXIT_FAILED;
	if (strcmp(verb, "status") == 0 || strcmp(verb, "flush") == 0 ||
	    strcmp(verb, "tail") == 0) {
		if (optind < argc) {
			fprintf(stderr, "edgectl: %s takes no arguments\n", verb);
			cJSON_Delete(req);
			return EXIT_USAGE;
		}
		cJSON_AddStringToObject(req, "op", verb);
	} else if (strcmp(verb, "nodes") == 0) {
		if (argc - optind > 1 || (optind < argc && strcmp(argv[optind], "reload") &&
					  strcmp(argv[optind], "list"))) {
			fprintf(stderr, "edgectl: usage: edgectl nodes [list|reload]\n");
			cJSON_Delete(req);
			return EXIT_USAGE;
		}
		cJSON_AddStringToObject(req, "op", "nodes");
		cJSON_AddStringToObject(req, "action", optind < argc ? argv[optind] : "list");
	} else if (strcmp(verb, "cmd") == 0) {
		cJSON *params = NULL;

		if (optind >= argc || argc - optind > 2) {
			fprintf(stderr, "edgectl: usage: edgectl cmd ACTION [PARAMS-JSON]\n");
			cJSON_Delete(req);
			return EXIT_USAGE;
		}
		cJSON_AddStringToObject(req, "op", "cmd");
		cJSON_AddStringToObject(req, "action", argv[optind]);
		if (argc - optind == 2) {
			params = cJSON_Parse(argv[optind + 1]);
			if (!cJSON_IsObject(params)) {
				fprintf(stderr, "edgectl: PARAMS must be a JSON object, e.g. "
						"'{\"seconds\": 5}'\n");
				cJSON_Delete(params);
				cJSON_Delete(req);
				return EXIT_USAGE;
			}
			cJSON_AddItemToObject(req, "params", params);
		}
	} else {
		fprintf(stderr, "edgectl: unknown command \"%s\" (see --help)\n", verb);
		cJSON_Delete(req);
		return EXIT_USAGE;
	}
	if (find_socket(sock, config, path, sizeof(path))) {
		cJSON_Delete(req);
		return EXIT_USAGE;
	}
	fd = connect_agent(path);
	if (fd < 0) {
		cJSON_Delete(req);
		return -fd;
	}
	resp = request(fd, &r, req);
	if (!resp) {
		rc = EXIT_FAILED;
	} else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		fprintf(stderr, "edgectl: %s\n", str(resp, "error", "the agent refused"));
		rc = EXIT_FAILED;
	} else if (strcmp(verb, "status") == 0) {
		if (json) {
			char *t = cJSON_PrintUnformatted(resp);

			printf("%s\n", t ? t : "");
			free(t);
		} else {
			print_status(resp);
		}
		rc = 0;
	} else if (strcmp(verb, "tail") == 0) {
		rc = tail(fd, &r, json, count);
	} else if (strcmp(verb, "nodes") == 0) {
		rc = print_nodes(resp, json);
	} else {
		rc = print_result(resp, json);
	}
	cJSON_Delete(resp);
	free(r.buf);
	close(fd);
	return rc;
}
