/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "edge/log.h"
#include "edge/provision.h"
#include "edge/time.h"
#include "agent/provision.h"

#define MOD		 "provision"
#define RENEW_RECHECK_MS (12ull * 3600 * 1000)
#define RESPAWN_MS	 30000
#define LINE_MAX_LEN	 2048

extern char **environ;

enum job { JOB_NONE, JOB_REGISTER, JOB_RENEW };

/* One child at a time; the agent owns it through this state. */
struct edge_agent_prov {
	struct edge_agent *a;
	enum job job;
	pid_t pid;
	int fd; /* the child's stdout */
	char line[LINE_MAX_LEN];
	size_t len;
	bool registered; /* a REGISTERED or RENEWED line arrived */
	bool refused;	 /* a FAILED line arrived: do not start it again */
	struct edge_timer *timer;
	struct edge_ratelimit rl_retry;
};

static struct edge_agent_prov g_prov = {.pid = -1, .fd = -1};

void edge_agent_prov_apply_state(struct edge_agent *a)
{
	struct edge_prov_state st;

	if (!a->cfg.provisioning.enabled || edge_prov_state_load(a->cfg.state_dir, &st) != 0)
		return;
	/* The platform names the broker at registration; it wins over mqtt.host/port. */
	if (strcmp(a->cfg.mqtt.host, st.mqtt_host) != 0 ||
	    a->cfg.mqtt.port != (uint32_t)st.mqtt_port)
		EDGE_INFO(MOD, "broker from the registration: %s:%d", st.mqtt_host, st.mqtt_port);
	snprintf(a->cfg.mqtt.host, sizeof(a->cfg.mqtt.host), "%s", st.mqtt_host);
	a->cfg.mqtt.port = (uint32_t)st.mqtt_port;
}

static void reconfigure_uplink(struct edge_agent *a)
{
	char *will = edge_status_json(a, false, NULL);

	if (will)
		edge_uplink_reconfigure(a->uplink, &a->cfg, a->status_topic, will);
	free(will);
}

/* "key=value" from an event line; message= runs to the end of the line. */
static const char *field(const char *line, const char *key, char *out, size_t outlen)
{
	char pat[32];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	if (!p) {
		if (strncmp(line, pat + 1, strlen(pat) - 1) != 0)
			return NULL;
		p = line - 1;
	}
	p += strlen(pat);
	n = strcmp(key, "message") == 0 ? strlen(p) : strcspn(p, " ");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static void on_line(struct edge_agent_prov *p, const char *line)
{
	struct edge_agent *a = p->a;
	char ev[24], status[16] = "0", msg[512] = "", mqtt[300] = "", na[24] = "0", retry[16] = "",
		     claim[4] = "0";
	long http;

	if (!field(line, "event", ev, sizeof(ev))) {
		EDGE_DEBUG(MOD, "edge-prov-client: %s", line);
		return;
	}
	field(line, "status", status, sizeof(status));
	field(line, "message", msg, sizeof(msg));
	field(line, "mqtt", mqtt, sizeof(mqtt));
	field(line, "not_after", na, sizeof(na));
	field(line, "retry_ms", retry, sizeof(retry));
	field(line, "claim_created", claim, sizeof(claim));
	http = strtol(status, NULL, 10);
	if (strcmp(msg, "-") == 0)
		msg[0] = '\0';
	if (strcmp(ev, "REGISTERED") == 0) {
		p->registered = true;
		EDGE_NOTICE(MOD,
			    "registered as %s (HTTP %ld): certificate %s valid until %s, broker "
			    "%s%s",
			    a->cfg.device_id, http, a->cfg.mqtt.tls.cert_file, na, mqtt,
			    strcmp(claim, "1") == 0 ? "; realtime platform claim created" : "");
	} else if (strcmp(ev, "RENEWED") == 0) {
		p->registered = true;
		EDGE_NOTICE(MOD, "certificate renewed, valid until %s: reconnecting", na);
	} else if (strcmp(ev, "RETRYING") == 0) {
		EDGE_LOG_RL(&p->rl_retry, EDGE_LOG_WARNING, MOD,
			    "provisioning API unavailable (%s%s%s): retrying in %s ms", msg,
			    http ? ", HTTP " : "", http ? status : "", retry);
	} else if (strcmp(ev, "FAILED") == 0) {
		p->refused = true;
		EDGE_ERR(MOD,
			 "registration refused%s%s: %s; not retrying (readings stay in the "
			 "outbox; fix provisioning.* and restart)",
			 http ? " with HTTP " : "", http ? status : "", msg);
		snprintf(a->last_error, sizeof(a->last_error), "registration refused: %.200s", msg);
	} else if (strcmp(ev, "RENEW_FAILED") == 0) {
		EDGE_WARN(MOD, "certificate renewal refused%s%s: %s; keeping the current one",
			  http ? " with HTTP " : "", http ? status : "", msg);
	}
}

static void schedule(struct edge_agent_prov *p, bool after_renewal);
static int spawn_job(struct edge_agent_prov *p, enum job job);

static void reap(struct edge_agent_prov *p)
{
	struct edge_agent *a = p->a;
	enum job job = p->job;
	int status = 0;
	pid_t r = waitpid(p->pid, &status, WNOHANG);

	if (r == 0) { /* stdout closed, process not gone yet: look again soon */
		edge_loop_timer_set(a->loop, p->timer, 50, 0);
		return;
	}
	p->pid = -1;
	p->job = JOB_NONE;
	if (job == JOB_REGISTER && p->registered) {
		edge_agent_prov_apply_state(a);
		reconfigure_uplink(a);
		a->last_error[0] = '\0';
		edge_uplink_start(a->uplink);
		schedule(p, false);
	} else if (job == JOB_RENEW && p->registered) {
		edge_agent_prov_apply_state(a);
		reconfigure_uplink(a);
		edge_uplink_reconnect(a->uplink);
		schedule(p, true);
	} else if (p->refused) {
		if (job == JOB_RENEW)
			schedule(p, false);
	} else {
		EDGE_WARN(MOD, "edge-prov-client ended (%s %d) without a result; again in %d s",
			  WIFSIGNALED(status) ? "signal" : "status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
			  RESPAWN_MS / 1000);
		p->job = job; /* what the timer runs next */
		edge_loop_timer_set(a->loop, p->timer, RESPAWN_MS, 0);
	}
}

static void on_output(int fd, short revents, void *arg)
{
	struct edge_agent_prov *p = arg;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || p->len == sizeof(p->line) - 1) {
				p->line[p->len] = '\0';
				on_line(p, p->line);
				p->len = 0;
			} else {
				p->line[p->len++] = buf[i];
			}
		}
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(revents & (POLLHUP | POLLERR)))
		return;
	edge_loop_fd_del(p->a->loop, fd);
	close(fd);
	p->fd = -1;
	reap(p);
}

/* Where edge-prov-client lives: beside this executable. */
static int helper_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(out, len, "%s/edge-prov-client", self) >= (int)len)
		return -ENAMETOOLONG;
	return access(out, X_OK) == 0 ? 0 : -errno;
}

static int spawn_job(struct edge_agent_prov *p, enum job job)
{
	const struct edge_config *c = &p->a->cfg;
	char helper[PATH_MAX], days[32], default_key[PATH_MAX];
	const char *argv[64];
	posix_spawn_file_actions_t fa;
	int pipefd[2], rc, n = 0;
	pid_t pid;

	rc = helper_path(helper, sizeof(helper));
	if (rc) {
		EDGE_ERR(MOD, "cannot run %s: %s", helper, strerror(-rc));
		snprintf(p->a->last_error, sizeof(p->a->last_error),
			 "provisioning helper edge-prov-client missing");
		return rc;
	}
	snprintf(days, sizeof(days), "%u", c->provisioning.renew_before_days);
	snprintf(default_key, sizeof(default_key), "%s/device.key", c->state_dir);
	argv[n++] = helper;
	argv[n++] = "--url", argv[n++] = c->provisioning.url;
	argv[n++] = "--ca", argv[n++] = c->provisioning.ca_file;
	argv[n++] = "--token-file", argv[n++] = c->provisioning.claim_token_file;
	argv[n++] = "--device-id", argv[n++] = c->device_id;
	argv[n++] = "--state-dir", argv[n++] = c->state_dir;
	argv[n++] = "--board", argv[n++] = c->board;
	argv[n++] = "--renew-before-days", argv[n++] = days;
	argv[n++] = "--seconds", argv[n++] = job == JOB_RENEW ? "600" : "0";
	if (strcmp(c->mqtt.tls.key_file, default_key) != 0)
		argv[n++] = "--key", argv[n++] = c->mqtt.tls.key_file;
	if (*c->provisioning.csr_file)
		argv[n++] = "--csr", argv[n++] = c->provisioning.csr_file;
	if (*c->provisioning.realtime_platform)
		argv[n++] = "--platform", argv[n++] = c->provisioning.realtime_platform;
	if (job == JOB_RENEW)
		argv[n++] = "--renewals", argv[n++] = "1";
	for (size_t i = 0; i < p->a->board.n_sensors && n < 60; i++)
		argv[n++] = "--sensor", argv[n++] = p->a->board.sensors[i].compatible;
	argv[n] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	/* posix_spawn takes char *const[]; it does not write to the strings */
	rc = posix_spawn(&pid, helper, &fa, NULL, (char *const *)(uintptr_t)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc) {
		close(pipefd[0]);
		EDGE_ERR(MOD, "cannot start %s: %s", helper, strerror(rc));
		return -rc;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	p->pid = pid;
	p->fd = pipefd[0];
	p->job = job;
	p->len = 0;
	p->registered = p->refused = false;
	edge_loop_fd_add(p->a->loop, p->fd, POLLIN, on_output, p);
	EDGE_DEBUG(MOD, "started edge-prov-client (pid %d) to %s", (int)pid,
		   job == JOB_RENEW ? "renew" : "register");
	return 0;
}

static void on_timer(void *arg)
{
	struct edge_agent_prov *p = arg;

	if (p->pid > 0 && p->fd < 0) { /* waiting for the exit status */
		reap(p);
		return;
	}
	if (p->pid > 0)
		return;
	if (spawn_job(p, p->job == JOB_REGISTER ? JOB_REGISTER : JOB_RENEW) != 0)
		edge_loop_timer_set(p->a->loop, p->timer, RESPAWN_MS, 0);
}

/* Arms the renewal: when the certificate enters renew_before_days of its
 * expiry, or halfway through a lifetime shorter than that after a renewal;
 * re-checked at least twice a day. */
static void schedule(struct edge_agent_prov *p, bool after_renewal)
{
	const struct edge_config *c = &p->a->cfg;
	int64_t not_after = 0, now = (int64_t)time(NULL), due;

	if (edge_prov_cert_expiry(c->mqtt.tls.cert_file, &not_after) != 0) {
		EDGE_WARN(MOD, "cannot read the expiry of %s: renewal checks in 12 h",
			  c->mqtt.tls.cert_file);
		due = (int64_t)(RENEW_RECHECK_MS / 1000);
	} else {
		due = not_after - (int64_t)c->provisioning.renew_before_days * 86400 - now;
		if (due <= 0 && after_renewal)
			due = (not_after - now) / 2;
		if (due < 0)
			due = 0;
		if (due > (int64_t)(RENEW_RECHECK_MS / 1000))
			due = (int64_t)(RENEW_RECHECK_MS / 1000);
	}
	p->job = JOB_RENEW;
	edge_loop_timer_set(p->a->loop, p->timer, (uint64_t)due * 1000, 0);
}

int edge_agent_prov_start(struct edge_agent *a, bool *hold_uplink)
{
	const struct edge_config *c = &a->cfg;
	struct edge_agent_prov *p = &g_prov;
	int rc;

	*hold_uplink = false;
	if (!c->provisioning.enabled)
		return 0;
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->pid = -1;
	p->fd = -1;
	p->rl_retry = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 5);
	rc = edge_loop_timer_add(a->loop, UINT64_MAX, 0, on_timer, p, &p->timer);
	if (rc)
		return rc;
	a->prov = p;
	*hold_uplink =
	    edge_prov_need_registration(c->state_dir) || access(c->mqtt.tls.cert_file, R_OK) != 0;
	if (!*hold_uplink) {
		schedule(p, false);
		return 0;
	}
	EDGE_NOTICE(MOD, "no device certificate yet: registering with %s (sampling goes on)",
		    c->provisioning.url);
	if (spawn_job(p, JOB_REGISTER) != 0) {
		p->job = JOB_REGISTER;
		edge_loop_timer_set(a->loop, p->timer, RESPAWN_MS, 0);
	}
	return 0;
}

void edge_agent_prov_stop(struct edge_agent *a)
{
	struct edge_agent_prov *p = a->prov;

	if (!p)
		return;
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	if (p->fd >= 0) {
		edge_loop_fd_del(a->loop, p->fd);
		close(p->fd);
	}
	edge_loop_timer_del(a->loop, p->timer);
	memset(p, 0, sizeof(*p));
	a->prov = NULL;
}
