/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/ctl.h"
#include "edge/file.h"
#include "edge/log.h"

#define MOD	    "ctl"
#define IN_MAX	    (64 * 1024)
#define OUT_MAX	    (256 * 1024)
#define CLIENTS_MAX 64

struct client {
	struct edge_ctl *ctl;
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
	bool tail;
	bool closing;
	uint64_t dropped;
	uid_t uid;
};

struct edge_ctl {
	struct edge_loop *loop;
	struct edge_ctl_hooks hooks;
	char group[64];
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *clients[CLIENTS_MAX];
	size_t max_clients;
	struct edge_ratelimit rl;
};

int edge_ctl_default_path(const char *configured, const char *state_dir, char *out, size_t outlen)
{
	int n = *configured ? snprintf(out, outlen, "%s", configured)
			    : snprintf(out, outlen, "%s/edgectl.sock", state_dir);

	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static void client_close(struct client *cl)
{
	struct edge_ctl *ctl = cl->ctl;

	for (size_t i = 0; i < CLIENTS_MAX; i++)
		if (ctl->clients[i] == cl)
			ctl->clients[i] = NULL;
	edge_loop_fd_del(ctl->loop, cl->fd);
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	free(cl);
}

/* Queues text + '\n'; false when the client's output is full. */
static bool queue(struct client *cl, const char *text, size_t len)
{
	if (cl->out_len + len + 1 > OUT_MAX)
		return false;
	if (cl->out_len + len + 1 > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		char *n;

		while (cap < cl->out_len + len + 1)
			cap *= 2;
		n = realloc(cl->out, cap);
		if (!n)
			return false;
		cl->out = n;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, text, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	edge_loop_fd_events(cl->ctl->loop, cl->fd, POLLIN | POLLOUT);
	return true;
}

static void reply(struct client *cl, cJSON *obj)
{
	char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;

	if (!text || !queue(cl, text, strlen(text)))
		cl->closing = true;
	free(text);
	cJSON_Delete(obj);
}

static void reply_error(struct client *cl, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddBoolToObject(o, "ok", false);
		cJSON_AddStringToObject(o, "error", msg);
	}
	reply(cl, o);
}

static void reply_result(struct client *cl, char *result_json)
{
	cJSON *o = cJSON_CreateObject(), *r = result_json ? cJSON_Parse(result_json) : NULL;

	free(result_json);
	if (!o || !r) {
		cJSON_Delete(o);
		cJSON_Delete(r);
		reply_error(cl, "out of memory");
		return;
	}
	cJSON_AddBoolToObject(o, "ok", true);
	cJSON_AddItemToObject(o, "result", r);
	reply(cl, o);
}

static void op_status(struct client *cl)
{
	const struct edge_ctl_hooks *h = &cl->ctl->hooks;
	char *json = h->status ? h->status(h->arg) : NULL;
	cJSON *body = json ? cJSON_Parse(json) : NULL, *o = cJSON_CreateObject(), *it;

	free(json);
	if (!cJSON_IsObject(body) || !o || !cJSON_AddBoolToObject(o, "ok", true)) {
		cJSON_Delete(body);
		cJSON_Delete(o);
		reply_error(cl, "out of memory");
		return;
	}
	/* "ok" first, then the hook's fields in their order */
	while ((it = body->child) != NULL)
		cJSON_AddItemToObject(o, it->string, cJSON_DetachItemViaPointer(body, it));
	cJSON_Delete(body);
	reply(cl, o);
}

static void handle_line(struct client *cl, char *line, size_t len)
{
	const struct edge_ctl_hooks *h = &cl->ctl->hooks;
	cJSON *req = cJSON_ParseWithLength(line, len);
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");

	if (!cJSON_IsString(op)) {
		reply_error(cl,
			    "expected {\"op\": \"status\"|\"cmd\"|\"flush\"|\"nodes\"|\"tail\"}");
	} else if (strcmp(op->valuestring, "status") == 0) {
		op_status(cl);
	} else if (strcmp(op->valuestring, "cmd") == 0 || strcmp(op->valuestring, "flush") == 0) {
		const cJSON *act = cJSON_GetObjectItemCaseSensitive(req, "action");
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
		const char *action = strcmp(op->valuestring, "flush") == 0 ? "flush"
				     : cJSON_IsString(act)		   ? act->valuestring
									   : NULL;
		char *ptext =
		    params && cJSON_IsObject(params) ? cJSON_PrintUnformatted(params) : NULL;

		if (!action) {
			reply_error(cl, "cmd needs \"action\"");
		} else if (params && !cJSON_IsObject(params)) {
			reply_error(cl, "params must be a JSON object");
		} else {
			EDGE_NOTICE(MOD, "local command %s from uid %u", action, (unsigned)cl->uid);
			reply_result(cl, h->command ? h->command(h->arg, action, ptext) : NULL);
		}
		free(ptext);
	} else if (strcmp(op->valuestring, "nodes") == 0) {
		const cJSON *act = cJSON_GetObjectItemCaseSensitive(req, "action");
		char *res = h->nodes
				? h->nodes(h->arg, cJSON_IsString(act) ? act->valuestring : NULL)
				: NULL;

		if (res)
			reply_result(cl, res);
		else
			reply_error(cl, "no CoAP ingress running in this agent");
	} else if (strcmp(op->valuestring, "tail") == 0) {
		cJSON *o = cJSON_CreateObject();

		cl->tail = true;
		if (o) {
			cJSON_AddBoolToObject(o, "ok", true);
			cJSON_AddBoolToObject(o, "tail", true);
		}
		reply(cl, o);
	} else {
		reply_error(cl, "unknown op");
	}
	cJSON_Delete(req);
}

static void client_cb(int fd, short revents, void *arg)
{
	struct client *cl = arg;

	if (revents & POLLOUT && cl->out_len) {
		ssize_t n = send(fd, cl->out, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(cl);
			return;
		}
		if (n > 0) {
			memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
			cl->out_len -= (size_t)n;
		}
		if (!cl->out_len)
			edge_loop_fd_events(cl->ctl->loop, fd, POLLIN);
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = recv(fd, cl->in + cl->in_len, IN_MAX - cl->in_len, MSG_DONTWAIT);
		char *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(cl);
			return;
		}
		if (n > 0)
			cl->in_len += (size_t)n;
		while (!cl->closing && (nl = memchr(cl->in, '\n', cl->in_len)) != NULL) {
			size_t len = (size_t)(nl - cl->in);

			handle_line(cl, cl->in, len);
			memmove(cl->in, nl + 1, cl->in_len - len - 1);
			cl->in_len -= len + 1;
		}
		if (cl->in_len == IN_MAX) {
			reply_error(cl, "request line longer than 64 KiB");
			cl->closing = true;
			cl->in_len = 0;
		}
	}
	if (cl->closing && !cl->out_len)
		client_close(cl);
}

static void accept_cb(int fd, short revents, void *arg)
{
	struct edge_ctl *ctl = arg;

	(void)revents;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *cl;
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		size_t slot, used = 0;

		if (cfd < 0)
			return;
		for (slot = 0; slot < CLIENTS_MAX; slot++)
			used += ctl->clients[slot] != NULL;
		for (slot = 0; slot < CLIENTS_MAX && ctl->clients[slot]; slot++)
			;
		if (used >= ctl->max_clients || slot == CLIENTS_MAX) {
			static const char busy[] =
			    "{\"ok\":false,\"error\":\"too many edgectl clients\"}\n";

			if (send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				EDGE_DEBUG(MOD, "busy reply: %s", strerror(errno));
			close(cfd);
			EDGE_LOG_RL(&ctl->rl, EDGE_LOG_WARNING, MOD,
				    "refused an edgectl client: %zu connected", used);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (cl)
			cl->in = malloc(IN_MAX);
		if (!cl || !cl->in) {
			if (cl)
				free(cl);
			close(cfd);
			continue;
		}
		cl->ctl = ctl;
		cl->fd = cfd;
		cl->uid = (uid_t)-1;
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
			cl->uid = cred.uid;
		if (edge_loop_fd_add(ctl->loop, cfd, POLLIN, client_cb, cl)) {
			free(cl->in);
			free(cl);
			close(cfd);
			continue;
		}
		ctl->clients[slot] = cl;
	}
}

/* A socket file nobody answers on is stale (a killed agent): remove it. */
static int clear_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		rc = -EADDRINUSE;
	else if (unlink(path) < 0 && errno != ENOENT)
		rc = -errno;
	close(fd);
	return rc;
}

int edge_ctl_new(struct edge_loop *loop, const struct edge_ctl_cfg *cfg,
		 const struct edge_ctl_hooks *hooks, struct edge_ctl **out)
{
	struct edge_ctl *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(ctl->path)], *slash;
	mode_t old;
	int rc;

	if (!ctl)
		return -ENOMEM;
	ctl->loop = loop;
	ctl->hooks = *hooks;
	ctl->fd = -1;
	ctl->max_clients = cfg->max_clients ? cfg->max_clients : 1;
	if (ctl->max_clients > CLIENTS_MAX)
		ctl->max_clients = CLIENTS_MAX;
	ctl->rl = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 3);
	rc = snprintf(ctl->path, sizeof(ctl->path), "%s", cfg->path) >= (int)sizeof(ctl->path)
		 ? -ENAMETOOLONG
		 : 0;
	if (rc == 0 && (size_t)snprintf(ctl->group, sizeof(ctl->group), "%s",
					cfg->group ? cfg->group : "") >= sizeof(ctl->group))
		rc = -ENAMETOOLONG;
	if (rc) {
		EDGE_ERR(MOD, "control socket path longer than %zu characters",
			 sizeof(ctl->path) - 1);
		goto err;
	}
	snprintf(dir, sizeof(dir), "%s", ctl->path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		edge_mkdir_p(dir, 0750);
	}
	rc = clear_stale(ctl->path);
	if (rc) {
		EDGE_ERR(MOD, "%s: %s", ctl->path,
			 rc == -EADDRINUSE ? "another agent is serving this control socket"
			 : rc == -EEXIST   ? "exists and is not a socket"
					   : strerror(-rc));
		goto err;
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		rc = -errno;
		goto err;
	}
	memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);
	old = umask(0117); /* the file is born 0660: no window with wider access */
	rc = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (rc == 0 && chmod(ctl->path, 0660) < 0)
		rc = -errno;
	if (rc == 0 && *ctl->group) {
		struct group *g = getgrnam(ctl->group);

		if (!g)
			EDGE_WARN(MOD, "ctl.group %s: no such group; keeping ours", ctl->group);
		else if (chown(ctl->path, (uid_t)-1, g->gr_gid) < 0)
			EDGE_WARN(MOD, "ctl.group %s: %s", ctl->group, strerror(errno));
	}
	if (rc == 0 && listen(ctl->fd, 8) < 0)
		rc = -errno;
	if (rc == 0)
		rc = edge_loop_fd_add(loop, ctl->fd, POLLIN, accept_cb, ctl);
	if (rc) {
		EDGE_ERR(MOD, "%s: %s", ctl->path, strerror(-rc));
		unlink(ctl->path);
		goto err;
	}
	EDGE_INFO(MOD, "edgectl socket %s", ctl->path);
	*out = ctl;
	return 0;
err:
	if (ctl->fd >= 0)
		close(ctl->fd);
	free(ctl);
	return rc;
}

void edge_ctl_free(struct edge_ctl *ctl)
{
	if (!ctl)
		return;
	for (size_t i = 0; i < CLIENTS_MAX; i++)
		if (ctl->clients[i])
			client_close(ctl->clients[i]);
	edge_loop_fd_del(ctl->loop, ctl->fd);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}

void edge_ctl_reading(struct edge_ctl *ctl, const char *sensor, const char *metric,
		      const char *value, const char *unit, uint64_t ts_ms)
{
	char line[320];
	int n = -1;

	if (!ctl)
		return;
	for (size_t i = 0; i < CLIENTS_MAX; i++) {
		struct client *cl = ctl->clients[i];

		if (!cl || !cl->tail || cl->closing)
			continue;
		if (n < 0)
			n = snprintf(line, sizeof(line),
				     "{\"sensor\":\"%s\",\"metric\":\"%s\",\"value\":%s,"
				     "\"unit\":\"%s\",\"timestamp\":%" PRIu64 "}",
				     sensor, metric, value, unit, ts_ms);
		if (n <= 0 || (size_t)n >= sizeof(line))
			return;
		if (cl->dropped) {
			char note[48];
			int m =
			    snprintf(note, sizeof(note), "{\"dropped\":%" PRIu64 "}", cl->dropped);

			/* Only together with the reading after it: a note alone would
			 * be followed by another note instead of the reading. */
			if (cl->out_len + (size_t)m + 1 + (size_t)n + 1 > OUT_MAX ||
			    !queue(cl, note, (size_t)m)) {
				cl->dropped++;
				continue;
			}
			cl->dropped = 0;
		}
		if (!queue(cl, line, (size_t)n))
			cl->dropped++;
	}
}
