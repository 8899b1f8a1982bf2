/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the edgectl control socket's line protocol
 * (agent/ctl/ctl.c) end to end: the real edge_ctl on a UNIX socket in a
 * scratch directory, served by the real loop, with stub hooks; each input
 * is one client connection.
 *
 * Input: a control byte, then the bytes the client sends (a newline is
 * added at the end). Control bit 0: the status hook fails (NULL), bit 1:
 * it answers a JSON array; bit 2: first send a line over the 64 KiB limit;
 * bit 3: after the answers, three readings go to tail clients.
 * The command hook echoes the action and params; action "fuzz-null" makes
 * it fail, "fuzz-bad" makes it answer something that is not JSON.
 * Checks: every request line gets exactly one answer line, in order,
 * unless the server closed the connection (output over its bound, or the
 * line limit); every line the server sends is a JSON object ("ok" with
 * "error" or an answer; a reading or a {"dropped":N} note in tail mode);
 * params reach the command hook as a JSON object; nothing hangs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/ctl.h"
#include "edge/log.h"
#include "edge/loop.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINE_LIMIT (64 * 1024)

static struct edge_loop *loop;
static struct edge_ctl *ctl;
static char sock_path[300];
static unsigned status_mode;

static char *status_hook(void *arg)
{
	(void)arg;
	if (status_mode == 1)
		return NULL;
	if (status_mode == 2)
		return strdup("[1,2]");
	return strdup("{\"status\":{\"deviceId\":\"GW-0001\",\"uptimeS\":12},\"alerts\":[],"
		      "\"connected\":true,\"pid\":42}");
}

static char *command_hook(void *arg, const char *action, const char *params_json)
{
	cJSON *r, *p = NULL;
	char *out;

	(void)arg;
	if (params_json) {
		p = cJSON_Parse(params_json);
		if (!cJSON_IsObject(p))
			abort(); /* ctl hands over objects only */
	}
	if (strcmp(action, "fuzz-null") == 0) {
		cJSON_Delete(p);
		return NULL;
	}
	if (strcmp(action, "fuzz-bad") == 0) {
		cJSON_Delete(p);
		return strdup("{not json");
	}
	r = cJSON_CreateObject();
	if (!r)
		abort();
	cJSON_AddStringToObject(r, "id", "local-1");
	cJSON_AddStringToObject(r, "status", "ok");
	cJSON_AddStringToObject(r, "message", action);
	cJSON_AddItemToObject(r, "data", p ? p : cJSON_CreateNull());
	out = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return out;
}

static void init(void)
{
	struct edge_ctl_cfg cfg = {.path = sock_path, .group = "", .max_clients = 4};
	struct edge_ctl_hooks hooks = {.status = status_hook, .command = command_hook};

	edge_log_set_level(EDGE_LOG_ERR);
	fuzz_path(sock_path, sizeof(sock_path), "edgectl.sock");
	if (edge_loop_new(&loop) || edge_ctl_new(loop, &cfg, &hooks, &ctl))
		abort();
}

struct client {
	int fd;
	char *in;
	size_t in_len, in_cap;
	bool eof;
	size_t lines;	/* complete lines received */
	bool tail_seen; /* the server answered {"ok":true,"tail":true} */
};

/* One line from the server. */
static void check_line(struct client *c, const char *line, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(line, len);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");

	if (!cJSON_IsObject(o))
		abort();
	if (cJSON_IsBool(ok)) {
		if (cJSON_IsFalse(ok) &&
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "error")))
			abort();
		if (cJSON_IsTrue(ok) && !cJSON_GetObjectItemCaseSensitive(o, "result") &&
		    !cJSON_GetObjectItemCaseSensitive(o, "status") &&
		    !cJSON_GetObjectItemCaseSensitive(o, "tail"))
			abort();
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "tail")))
			c->tail_seen = true;
		c->lines++;
	} else if (!c->tail_seen || (!cJSON_GetObjectItemCaseSensitive(o, "dropped") &&
				     !cJSON_GetObjectItemCaseSensitive(o, "sensor"))) {
		abort(); /* readings only go to tail clients */
	}
	cJSON_Delete(o);
}

static void receive(struct client *c)
{
	for (;;) {
		char *nl;
		ssize_t n;

		if (c->in_len == c->in_cap) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 4096;
			c->in = realloc(c->in, c->in_cap);
			if (!c->in)
				abort();
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			c->eof = true;
			break;
		}
		if (n < 0)
			break;
		c->in_len += (size_t)n;
		while ((nl = memchr(c->in, '\n', c->in_len)) != NULL) {
			size_t l = (size_t)(nl - c->in);

			check_line(c, c->in, l);
			memmove(c->in, nl + 1, c->in_len - l - 1);
			c->in_len -= l + 1;
		}
	}
}

/* Sends out (all of it, unless the server closes), serving the loop and
 * reading answers meanwhile, then waits for `want` answers or the end. */
static void converse(struct client *c, const char *out, size_t len, size_t want)
{
	size_t off = 0;

	for (int spins = 0; !c->eof && (off < len || c->lines < want); spins++) {
		if (spins > 100000)
			abort(); /* the server neither answers nor closes */
		if (off < len) {
			ssize_t n = send(c->fd, out + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0)
				off += (size_t)n;
			else if (errno == EPIPE || errno == ECONNRESET)
				c->eof = true;
		}
		if (edge_loop_run_once(loop, 1))
			abort();
		receive(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client c = {.fd = -1};
	unsigned flags;
	char *out;
	size_t want = 0;

	if (size < 1)
		return 0;
	if (!loop)
		init();
	flags = data[0];
	status_mode = flags & 1 ? 1 : flags & 2 ? 2 : 0;
	data++;
	size--;

	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	if (flags & 4) {
		/* a request line over the limit: one error answer, then the end */
		char *big = malloc(LINE_LIMIT + 16);

		if (!big)
			abort();
		memset(big, ' ', LINE_LIMIT + 16);
		converse(&c, big, LINE_LIMIT + 16, 1);
		free(big);
		for (int i = 0; i < 100 && !c.eof; i++) {
			if (edge_loop_run_once(loop, 1))
				abort();
			receive(&c);
		}
		if (!c.eof || c.lines != 1)
			abort();
	} else {
		out = malloc(size + 1);
		if (!out)
			abort();
		memcpy(out, data, size);
		out[size] = '\n';
		for (size_t i = 0; i <= size; i++)
			want += out[i] == '\n';
		converse(&c, out, size + 1, want);
		free(out);
		if (c.lines > want || (c.lines < want && !c.eof))
			abort();
		if (flags & 8 && !c.eof) {
			for (int i = 0; i < 3; i++)
				edge_ctl_reading(ctl, "pulse_oximeter", "heart_rate", "72", "bpm",
						 1800000000000ULL + (uint64_t)i);
			for (int i = 0; i < 3; i++) {
				if (edge_loop_run_once(loop, 0))
					abort();
				receive(&c);
			}
		}
	}
	/* hang up and let the server free the slot */
	close(c.fd);
	for (int i = 0; i < 3; i++)
		if (edge_loop_run_once(loop, 0))
			abort();
	free(c.in);
	return 0;
}
