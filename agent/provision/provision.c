/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/config.h"
#include "agent/provision.h"
#include "edge/board.h"
#include "edge/log.h"
#include "edge/loop.h"
#include "edge/provision.h"
#include "edge/spawn.h"

#define MOD		 "provision"
#define RENEW_RECHECK_MS (12ull * 3600 * 1000)
#define RESPAWN_MS	 30000
#define LINE_MAX_LEN	 2048
#define STOP_MS		 1000 /* SIGTERM to SIGKILL when a reload disables provisioning */

#define FIELD_SIZE(type, member) sizeof(((type *)0)->member)

enum job { JOB_NONE, JOB_REGISTER, JOB_RENEW };

/* What the helper's command line needs, copied from the config and board. */
struct settings {
	bool enabled;
	char device_id[FIELD_SIZE(struct edge_config, device_id)];
	char board[FIELD_SIZE(struct edge_config, board)];
	char state_dir[EDGE_PATH_MAX];
	char cert_file[EDGE_PATH_MAX];
	char key_file[EDGE_PATH_MAX];
	char url[EDGE_PATH_MAX];
	char ca_file[EDGE_PATH_MAX];
	char claim_token_file[EDGE_PATH_MAX];
	char csr_file[EDGE_PATH_MAX];
	char pkcs11_module[EDGE_PATH_MAX]; /* for a pkcs11: key_file */
	char pin_file[EDGE_PATH_MAX];
	char realtime_platform[FIELD_SIZE(struct edge_config, provisioning.realtime_platform)];
	uint32_t renew_before_days;
	char sensors[EDGE_BOARD_MAX_SENSORS][FIELD_SIZE(struct edge_board_sensor, compatible)];
	size_t n_sensors;
};

/* One helper at a time. */
struct edge_provision {
	struct edge_loop *loop;
	struct edge_provision_hooks hooks;
	struct settings s;
	enum job job;		  /* what runs, or what the timer starts next */
	struct edge_spawn *child; /* the running edge-prov-client, or NULL */
	bool registered;	  /* a REGISTERED or RENEWED line arrived */
	bool refused;		  /* a FAILED line arrived: do not start it again */
	struct edge_timer *timer;
	struct edge_ratelimit rl_retry;
};

void edge_provision_apply_state(struct edge_config *cfg)
{
	struct edge_prov_state st;

	if (!cfg->provisioning.enabled || edge_prov_state_load(cfg->state_dir, &st) != 0)
		return;
	/* The platform names the broker at registration; it wins over mqtt.host/port. */
	if (strcmp(cfg->mqtt.host, st.mqtt_host) != 0 || cfg->mqtt.port != (uint32_t)st.mqtt_port)
		EDGE_INFO(MOD, "broker from the registration: %s:%d", st.mqtt_host, st.mqtt_port);
	snprintf(cfg->mqtt.host, sizeof(cfg->mqtt.host), "%s", st.mqtt_host);
	cfg->mqtt.port = (uint32_t)st.mqtt_port;
}

static void copy_settings(struct settings *s, const struct edge_config *c,
			  const struct edge_board *b)
{
	s->enabled = c->provisioning.enabled;
	snprintf(s->device_id, sizeof(s->device_id), "%s", c->device_id);
	snprintf(s->board, sizeof(s->board), "%s", c->board);
	snprintf(s->state_dir, sizeof(s->state_dir), "%s", c->state_dir);
	snprintf(s->cert_file, sizeof(s->cert_file), "%s", c->mqtt.tls.cert_file);
	snprintf(s->key_file, sizeof(s->key_file), "%s", c->mqtt.tls.key_file);
	snprintf(s->url, sizeof(s->url), "%s", c->provisioning.url);
	snprintf(s->ca_file, sizeof(s->ca_file), "%s", c->provisioning.ca_file);
	snprintf(s->claim_token_file, sizeof(s->claim_token_file), "%s",
		 c->provisioning.claim_token_file);
	snprintf(s->csr_file, sizeof(s->csr_file), "%s", c->provisioning.csr_file);
	snprintf(s->pkcs11_module, sizeof(s->pkcs11_module), "%s", c->pkcs11.module);
	snprintf(s->pin_file, sizeof(s->pin_file), "%s", c->pkcs11.pin_file);
	snprintf(s->realtime_platform, sizeof(s->realtime_platform), "%s",
		 c->provisioning.realtime_platform);
	s->renew_before_days = c->provisioning.renew_before_days;
	s->n_sensors = 0;
	for (size_t i = 0; i < b->n_sensors && i < EDGE_BOARD_MAX_SENSORS; i++)
		snprintf(s->sensors[s->n_sensors++], sizeof(s->sensors[0]), "%s",
			 b->sensors[i].compatible);
}

static void report_error(struct edge_provision *p, const char *msg)
{
	if (p->hooks.error)
		p->hooks.error(p->hooks.arg, msg);
}

/*
 * The value of key in an event line of edge-prov-client:
 *   event=RENEWED status=200 ... mqtt=host:port message=free text
 * Tokens are "key=value" separated by spaces; message= comes last and runs
 * to the end of the line, so nothing inside it is taken for a key.
 */
static bool field(const char *line, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *t = line;

	while (*(t += strspn(t, " "))) {
		size_t tlen = strcspn(t, " ");
		const char *eq = memchr(t, '=', tlen);
		bool rest = eq && eq - t == 7 && memcmp(t, "message", 7) == 0;

		if (eq && (size_t)(eq - t) == klen && memcmp(t, key, klen) == 0) {
			const char *v = eq + 1;
			size_t n = rest ? strlen(v) : tlen - (size_t)(v - t);

			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		if (rest)
			break;
		t += tlen;
	}
	return false;
}

static void on_line(void *arg, const char *line, size_t len)
{
	struct edge_provision *p = arg;
	char ev[24], status[16] = "0", msg[512] = "", mqtt[300] = "", na[24] = "0", retry[16] = "",
		     claim[4] = "0", err[256];
	long http;

	(void)len;
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
			    p->s.device_id, http, p->s.cert_file, na, mqtt,
			    strcmp(claim, "1") == 0 ? "; realtime platform claim created" : "");
	} else if (strcmp(ev, "RENEWED") == 0) {
		p->registered = true;
		EDGE_NOTICE(MOD, "certificate renewed, valid until %s: reconnecting", na);
	} else if (strcmp(ev, "RETRYING") == 0) {
		EDGE_LOG_RL(&p->rl_retry, EDGE_LOG_WARNING, MOD,
			    "%s not done (%s%s%s): retrying in %s ms",
			    p->job == JOB_RENEW ? "certificate renewal" : "registration", msg,
			    http ? ", HTTP " : "", http ? status : "", retry);
	} else if (strcmp(ev, "FAILED") == 0) {
		p->refused = true;
		EDGE_ERR(MOD,
			 "registration refused%s%s: %s; not retrying (readings stay in the "
			 "outbox; fix provisioning.* and restart)",
			 http ? " with HTTP " : "", http ? status : "", msg);
		snprintf(err, sizeof(err), "registration refused: %.200s", msg);
		report_error(p, err);
	} else if (strcmp(ev, "RENEW_FAILED") == 0) {
		EDGE_WARN(MOD, "certificate renewal refused%s%s: %s; keeping the current one",
			  http ? " with HTTP " : "", http ? status : "", msg);
	}
}

static void schedule(struct edge_provision *p, bool after_renewal);

static void on_exit_cb(void *arg, const struct edge_spawn_exit *e)
{
	struct edge_provision *p = arg;
	enum job job = p->job;
	int status = e->status;

	edge_spawn_free(p->child);
	p->child = NULL;
	p->job = JOB_NONE;
	if (!p->s.enabled) /* stopped by a reload that removed provisioning */
		return;
	if (job == JOB_REGISTER && p->registered) {
		if (p->hooks.registered)
			p->hooks.registered(p->hooks.arg);
		schedule(p, false);
	} else if (job == JOB_RENEW && p->registered) {
		if (p->hooks.renewed)
			p->hooks.renewed(p->hooks.arg);
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
		edge_loop_timer_set(p->loop, p->timer, RESPAWN_MS, 0);
	}
}

static int spawn_job(struct edge_provision *p, enum job job)
{
	const struct settings *s = &p->s;
	char helper[PATH_MAX], days[32], ppid[24], default_key[PATH_MAX];
	const char *argv[40 + 2 * EDGE_BOARD_MAX_SENSORS];
	struct edge_spawn_opts o = {0};
	int rc, n = 0;

	rc = edge_spawn_helper_path("edge-prov-client", helper, sizeof(helper));
	if (rc) {
		EDGE_ERR(MOD, "cannot run %s: %s", helper, strerror(-rc));
		report_error(p, "provisioning helper edge-prov-client missing");
		return rc;
	}
	snprintf(days, sizeof(days), "%u", s->renew_before_days);
	snprintf(default_key, sizeof(default_key), "%s/device.key", s->state_dir);
	argv[n++] = helper;
	argv[n++] = "--url", argv[n++] = s->url;
	argv[n++] = "--ca", argv[n++] = s->ca_file;
	argv[n++] = "--token-file", argv[n++] = s->claim_token_file;
	argv[n++] = "--device-id", argv[n++] = s->device_id;
	argv[n++] = "--state-dir", argv[n++] = s->state_dir;
	argv[n++] = "--board", argv[n++] = s->board;
	argv[n++] = "--renew-before-days", argv[n++] = days;
	argv[n++] = "--seconds", argv[n++] = job == JOB_RENEW ? "600" : "0";
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	argv[n++] = "--parent-pid", argv[n++] = ppid; /* gone with the agent */
	if (strcmp(s->key_file, default_key) != 0)
		argv[n++] = "--key", argv[n++] = s->key_file;
	if (*s->csr_file)
		argv[n++] = "--csr", argv[n++] = s->csr_file;
	if (*s->pkcs11_module) /* only read for a pkcs11: key */
		argv[n++] = "--pkcs11-module", argv[n++] = s->pkcs11_module;
	if (*s->pin_file)
		argv[n++] = "--pin-file", argv[n++] = s->pin_file;
	if (*s->realtime_platform)
		argv[n++] = "--platform", argv[n++] = s->realtime_platform;
	if (job == JOB_RENEW)
		argv[n++] = "--renewals", argv[n++] = "1";
	for (size_t i = 0; i < s->n_sensors; i++)
		argv[n++] = "--sensor", argv[n++] = s->sensors[i];
	argv[n] = NULL;

	o.path = helper;
	o.argv = argv;
	o.max_line = LINE_MAX_LEN;
	o.line = on_line;
	o.exit = on_exit_cb;
	o.arg = p;
	p->registered = p->refused = false;
	p->job = job;
	rc = edge_spawn_start(p->loop, &o, &p->child);
	if (rc) {
		EDGE_ERR(MOD, "cannot start %s: %s", helper, strerror(-rc));
		return rc;
	}
	EDGE_DEBUG(MOD, "started edge-prov-client (pid %d) to %s", (int)edge_spawn_pid(p->child),
		   job == JOB_RENEW ? "renew" : "register");
	return 0;
}

static void start_or_retry(struct edge_provision *p, enum job job)
{
	if (spawn_job(p, job) != 0) {
		p->job = job;
		edge_loop_timer_set(p->loop, p->timer, RESPAWN_MS, 0);
	}
}

static void on_timer(void *arg)
{
	struct edge_provision *p = arg;

	if (p->child || !p->s.enabled)
		return;
	start_or_retry(p, p->job == JOB_REGISTER ? JOB_REGISTER : JOB_RENEW);
}

/* Arms the renewal: when the certificate enters renew_before_days of its
 * expiry, or halfway through a lifetime shorter than that after a renewal;
 * re-checked at least twice a day. */
static void schedule(struct edge_provision *p, bool after_renewal)
{
	const struct settings *s = &p->s;
	int64_t not_after = 0, now = (int64_t)time(NULL), due;

	if (edge_prov_cert_expiry(s->cert_file, &not_after) != 0) {
		EDGE_WARN(MOD, "cannot read the expiry of %s: renewal checks in 12 h",
			  s->cert_file);
		due = (int64_t)(RENEW_RECHECK_MS / 1000);
	} else {
		due = not_after - (int64_t)s->renew_before_days * 86400 - now;
		if (due <= 0 && after_renewal)
			due = (not_after - now) / 2;
		if (due < 0)
			due = 0;
		if (due > (int64_t)(RENEW_RECHECK_MS / 1000))
			due = (int64_t)(RENEW_RECHECK_MS / 1000);
	}
	p->job = JOB_RENEW;
	edge_loop_timer_set(p->loop, p->timer, (uint64_t)due * 1000, 0);
}

static bool need_registration(const struct settings *s)
{
	return edge_prov_need_registration(s->state_dir) || access(s->cert_file, R_OK) != 0;
}

/* Registers now, or arms the renewal. Returns whether registration runs. */
static bool resume(struct edge_provision *p)
{
	if (!need_registration(&p->s)) {
		schedule(p, false);
		return false;
	}
	EDGE_NOTICE(MOD, "no device certificate yet: registering with %s (sampling goes on)",
		    p->s.url);
	start_or_retry(p, JOB_REGISTER);
	return true;
}

int edge_provision_new(struct edge_loop *loop, const struct edge_config *cfg,
		       const struct edge_board *board, const struct edge_provision_hooks *hooks,
		       struct edge_provision **out, bool *hold_uplink)
{
	struct edge_provision *p;
	int rc;

	*out = NULL;
	*hold_uplink = false;
	if (!cfg->provisioning.enabled)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	if (hooks)
		p->hooks = *hooks;
	copy_settings(&p->s, cfg, board);
	p->rl_retry = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 5);
	rc = edge_loop_timer_add(loop, UINT64_MAX, 0, on_timer, p, &p->timer);
	if (rc) {
		free(p);
		return rc;
	}
	*hold_uplink = resume(p);
	*out = p;
	return 0;
}

void edge_provision_reconfigure(struct edge_provision *p, const struct edge_config *cfg,
				const struct edge_board *board)
{
	bool was = p ? p->s.enabled : false;

	if (!p)
		return;
	copy_settings(&p->s, cfg, board);
	if (was && !p->s.enabled) {
		EDGE_NOTICE(MOD, "provisioning removed from the configuration: no renewals");
		edge_loop_timer_set(p->loop, p->timer, UINT64_MAX, 0);
		if (p->child)
			edge_spawn_stop(p->child, STOP_MS);
	} else if (!was && p->s.enabled && !p->child) {
		resume(p);
	}
}

void edge_provision_free(struct edge_provision *p)
{
	if (!p)
		return;
	edge_spawn_free(p->child); /* bounded: TERM, wait, KILL, reap */
	edge_loop_timer_del(p->loop, p->timer);
	free(p);
}
