/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgectl: local control of edge-agent over its UNIX socket (ctl.h).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/ctl.h"
#include "edge/file.h"
#include "reply.h"

#define DEFAULT_CONFIG "/etc/edge-agent/edge-agent.json"
#define DEFAULT_SOCKET "/var/lib/edge-agent/edgectl.sock"

enum { EXIT_FAILED = EDGECTL_EXIT_FAILED, EXIT_USAGE = 2, EXIT_NOT_RUNNING = 3, EXIT_DENIED = 4 };

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
		"  ota status|cancel          the update in hand, its history, the firmware\n"
		"  ota install MANIFEST-FILE  install a signed manifest (edge-ota-sign);\n"
		"                             add --retry-failed to retry a failed version\n"
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

/* Sends req (consumed) and returns the answer line (caller frees), or
 * NULL after saying why. */
static char *request(int fd, struct reader *r, cJSON *req)
{
	char *text = cJSON_PrintUnformatted(req), *line = NULL;
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
	return line;
}

static int tail(int fd, struct reader *r, bool json, long count)
{
	for (long n = 0; count <= 0 || n < count;) {
		char *line = NULL;
		int rc = read_line(fd, r, &line, -1);

		if (rc) {
			fprintf(stderr, "edgectl: %s\n",
				rc == -EPIPE ? "the agent closed the connection" : strerror(-rc));
			return EXIT_FAILED;
		}
		n += edgectl_tail_line(line, json, stdout, stderr);
		free(line);
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
	cJSON *req;
	char *answer;
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
	} else if (strcmp(verb, "ota") == 0) {
		cJSON *params = cJSON_AddObjectToObject(req, "params");
		const char *op = optind < argc ? argv[optind] : "";
		bool install = strcmp(op, "install") == 0;
		int extra = argc - optind - 1;

		if (!params ||
		    !(((strcmp(op, "status") == 0 || strcmp(op, "cancel") == 0) && extra == 0) ||
		      (install && (extra == 1 || (extra == 2 && strcmp(argv[optind + 2],
								       "--retry-failed") == 0))))) {
			fprintf(stderr, "edgectl: usage: edgectl ota status|cancel|install "
					"MANIFEST-FILE [--retry-failed]\n");
			cJSON_Delete(req);
			return EXIT_USAGE;
		}
		cJSON_AddStringToObject(req, "op", "cmd");
		cJSON_AddStringToObject(req, "action", "ota");
		cJSON_AddStringToObject(params, "op", op);
		if (install) {
			char *jws = NULL;
			size_t len = 0;
			int frc = edge_file_read(argv[optind + 1], 64 * 1024, &jws, &len);

			if (frc) {
				fprintf(stderr, "edgectl: %s: %s\n", argv[optind + 1],
					frc == -EFBIG ? "larger than a manifest can be"
						      : strerror(-frc));
				cJSON_Delete(req);
				return EXIT_USAGE;
			}
			jws[strcspn(jws, " \t\r\n")] = '\0';
			cJSON_AddStringToObject(params, "manifest", jws);
			free(jws);
			if (extra == 2)
				cJSON_AddBoolToObject(params, "retryFailed", true);
		}
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
	answer = request(fd, &r, req);
	if (!answer) {
		rc = EXIT_FAILED;
	} else if (strcmp(verb, "nodes") == 0) {
		cJSON *resp = cJSON_Parse(answer);

		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok")))
			rc = edgectl_answer(verb, answer, json, stdout, stderr);
		else
			rc = edgectl_print_nodes(resp, json, stdout);
		cJSON_Delete(resp);
	} else {
		rc = edgectl_answer(verb, answer, json, stdout, stderr);
		if (rc == EDGECTL_TAIL_FOLLOWS)
			rc = tail(fd, &r, json, count);
	}
	free(answer);
	free(r.buf);
	close(fd);
	return rc;
}
