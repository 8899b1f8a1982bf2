/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OTA state machine (edge/ota/ota.h). One update at a time; its record
 * (struct edge_ota_record) is state.json. The rule that makes every crash
 * recoverable: save() the record that names the next step, then start the
 * step. A step is a helper child (edge-ota-fetch, edge-ota-install) whose
 * lines and exit move the machine on.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge/file.h"
#include "edge/jws.h"
#include "edge/log.h"
#include "edge/ota/manifest.h"
#include "edge/ota/ota.h"
#include "edge/ota/progress.h"
#include "edge/ota/state.h"
#include "edge/spawn.h"
#include "edge/time.h"

#define MOD		    "ota"
#define RESPAWN_MS	    5000u  /* a helper that died without a verdict */
#define REBOOT_DELAY_MS	    1500u  /* lets the report reach the broker first */
#define HEALTH_TICK_MS	    1000u  /* trial checks */
#define REPORT_EVERY_MS	    30000u /* download reports: every 30 s ... */
#define REPORT_EVERY_PCT    5u	   /* ... or 5 % */
#define HELPER_STOP_MS	    3000u
#define HEALTH_CMD_LIMIT_MS 120000u
#define MAX_VERIFY_RETRIES  1u /* a corrupt image on disk: downloaded again once */

enum step {
	S_NONE,
	S_BOOTED,   /* boot-X booted: which slot runs */
	S_FETCH,    /* edge-ota-fetch */
	S_VERIFY,   /* verify: re-hash the image */
	S_MARKBAD,  /* boot-X mark-bad target, before writing it */
	S_INSTALL,  /* write the target slot */
	S_TRIAL,    /* boot-X trial target */
	S_COMMIT,   /* boot-X commit target */
	S_HEALTH,   /* ota.health_cmd */
	S_ROLLBACK, /* boot-X mark-bad target after a failed trial */
	S_CANCEL,   /* boot-X mark-bad target after a cancelled install */
	S_GOODBOOT, /* boot-X commit booted: a healthy ordinary start */
	S_FALLBACK, /* boot-X mark-bad target: the boot loader fell back by itself */
};

static const char *const step_names[] = {"none",    "booted",	 "download", "verify", "mark-bad",
					 "install", "trial",	 "commit",   "health", "rollback",
					 "cancel",  "good-boot", "fallback"};

enum tjob { T_NONE, T_RESPAWN, T_RESTART, T_RESUME };

struct edge_ota {
	struct edge_loop *loop;
	const struct edge_config *cfg;
	struct edge_ota_hooks h;
	char build_version[EDGE_OTA_VERSION_MAX];
	char helper[PATH_MAX];
	struct edge_jws_key *key;
	int key_err;

	struct edge_ota_record r;
	struct edge_ota_history hist;
	char state_err[512]; /* state.json unreadable: installs refused */

	bool booted_known;
	char booted[8];
	char booted_version[EDGE_OTA_VERSION_MAX];
	enum step after_booted; /* what the S_BOOTED step was started for */

	struct edge_spawn *child;
	enum step step;
	bool got_done;
	char err_kind[24];
	char err_text[EDGE_OTA_LINE_MAX];
	uint64_t progress, progress_total;
	unsigned verify_retries;
	bool retry_failed; /* the accepted install had retryFailed */

	struct edge_timer *timer;
	enum tjob tjob;
	enum edge_ota_restart restart_how;
	struct edge_timer *health_timer;
	uint64_t trial_mono_ms;
	struct edge_ota_health trial_base;
	/* Boot loaders that spend a try on every boot (U-Boot's BOOT_x_LEFT,
	 * RAUC): the booted slot is marked good again after each healthy
	 * window, or ordinary reboots would use its tries up. */
	bool good_boot_pending;
	/* The outcome S_FALLBACK reports once the failed slot is marked bad. */
	char fallback_why[sizeof(((struct edge_ota_record *)0)->reason)];

	uint64_t last_report_ms;
	unsigned last_report_pct;
	char *last_report;
	bool started;
};

/* ---- small things -------------------------------------------------------- */

static bool busy_state(enum edge_ota_state s)
{
	return s == EDGE_OTA_DOWNLOADING || s == EDGE_OTA_VERIFYING || s == EDGE_OTA_INSTALLING ||
	       s == EDGE_OTA_REBOOTING || s == EDGE_OTA_TRIAL;
}

/* FAILED with no result yet: the slot was marked bad after a failed trial
 * and the reboot onto the old slot has not been seen. */
static bool rollback_pending(const struct edge_ota_record *r)
{
	return r->state == EDGE_OTA_FAILED && !*r->result && *r->target_slot;
}

static const char *other_slot(const char *s)
{
	return strcmp(s, "A") == 0 ? "B" : "A";
}

static void path_of(const struct edge_ota *o, char *out, size_t len, const char *ext)
{
	snprintf(out, len, "%.200s/%s.%s", o->cfg->ota.dir, o->r.m.sha256, ext);
}

static void app_dir(const struct edge_ota *o, char *out, size_t len)
{
	snprintf(out, len, "%.200s/app", o->cfg->ota.dir);
}

static bool service_mode(const struct edge_ota *o)
{
	return strcmp(o->r.m.installer, "bundle") == 0 &&
	       o->cfg->ota.bundle.boot == EDGE_OTA_BOOT_SERVICE;
}

/* Which boot-loader subcommand of edge-ota-install serves an installer. */
enum bootk { BK_SERVICE, BK_UBOOT, BK_TRYBOOT, BK_RAUC };
static const char *const bootk_cmd[] = {"boot-service", "boot-uboot", "boot-tryboot", "boot-rauc"};

static enum bootk boot_kind(const struct edge_ota *o, const char *installer)
{
	if (strcmp(installer, "rauc") == 0)
		return BK_RAUC;
	if (strcmp(installer, "swupdate") == 0)
		return BK_UBOOT;
	switch (o->cfg->ota.bundle.boot) {
	case EDGE_OTA_BOOT_UBOOT:
		return BK_UBOOT;
	case EDGE_OTA_BOOT_TRYBOOT:
		return BK_TRYBOOT;
	default:
		return BK_SERVICE;
	}
}

/* The installer the running configuration would use to find the booted
 * slot when no update is in hand: the first one enabled. */
static const char *default_installer(const struct edge_ota *o)
{
	if (o->cfg->ota.bundle.enabled)
		return "bundle";
	if (o->cfg->ota.rauc.enabled)
		return "rauc";
	if (o->cfg->ota.swupdate.enabled)
		return "swupdate";
	return NULL;
}

static bool installer_enabled(const struct edge_ota *o, const char *inst)
{
	if (strcmp(inst, "bundle") == 0)
		return o->cfg->ota.bundle.enabled;
	if (strcmp(inst, "rauc") == 0)
		return o->cfg->ota.rauc.enabled;
	if (strcmp(inst, "swupdate") == 0)
		return o->cfg->ota.swupdate.enabled;
	return false;
}

/* The boot id that tells "the reboot happened" from "killed before it". */
static void current_boot_id(struct edge_ota *o, const char *installer, char *out, size_t len)
{
	*out = '\0';
	if (strcmp(installer, "bundle") == 0 && o->cfg->ota.bundle.boot == EDGE_OTA_BOOT_SERVICE) {
		/* service mode: edge-ota-boot counts the agent's starts */
		char p[PATH_MAX], *buf = NULL;
		size_t n = 0;

		snprintf(p, sizeof(p), "%.200s/app/boot-count", o->cfg->ota.dir);
		if (edge_file_read(p, 64, &buf, &n) == 0) {
			snprintf(out, len, "starts-%.*s", (int)strcspn(buf, "\r\n"), buf);
			free(buf);
		}
		return;
	}
	if (o->h.boot_id)
		(void)o->h.boot_id(o->h.arg, out, len);
}

/* ---- reports ------------------------------------------------------------- */

static char *report_json(const struct edge_ota *o)
{
	const struct edge_ota_record *r = &o->r;
	cJSON *j = cJSON_CreateObject(), *p, *s;
	uint64_t bytes = r->state == EDGE_OTA_DOWNLOADING ? o->progress : r->m.size;
	char *out;

	if (!j)
		return NULL;
	if (r->state == EDGE_OTA_DOWNLOADING && bytes < r->offset)
		bytes = r->offset;
	if (r->state == EDGE_OTA_IDLE || r->state == EDGE_OTA_FAILED)
		bytes = r->state == EDGE_OTA_IDLE ? 0 : r->offset;
	cJSON_AddStringToObject(j, "otaId", r->ota_id);
	cJSON_AddStringToObject(j, "state", edge_ota_state_name(r->state));
	cJSON_AddStringToObject(j, "version", r->m.version);
	cJSON_AddStringToObject(j, "fromVersion", r->from_version);
	cJSON_AddStringToObject(j, "installer", r->m.installer);
	p = cJSON_AddObjectToObject(j, "progress");
	if (p) {
		cJSON_AddNumberToObject(p, "bytes", (double)bytes);
		cJSON_AddNumberToObject(p, "total", (double)r->m.size);
		cJSON_AddNumberToObject(p, "percent",
					r->m.size ? (double)(bytes * 100 / r->m.size) : 0);
	}
	cJSON_AddNumberToObject(j, "resumedFrom", (double)r->resumed_from);
	cJSON_AddNumberToObject(j, "attempt", r->attempt);
	s = cJSON_AddObjectToObject(j, "slot");
	if (s) {
		if (o->booted_known)
			cJSON_AddStringToObject(s, "booted", o->booted);
		else
			cJSON_AddNullToObject(s, "booted");
		if (*r->target_slot)
			cJSON_AddStringToObject(s, "target", r->target_slot);
		else
			cJSON_AddNullToObject(s, "target");
	}
	if (*r->result)
		cJSON_AddStringToObject(j, "result", r->result);
	else
		cJSON_AddNullToObject(j, "result");
	if (*r->reason)
		cJSON_AddStringToObject(j, "reason", r->reason);
	else
		cJSON_AddNullToObject(j, "reason");
	cJSON_AddNumberToObject(j, "ts", (double)edge_wall_ms());
	out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return out;
}

/* force: a transition (always sent); otherwise a download's progress, at
 * most every 5 % or 30 s. */
static void report(struct edge_ota *o, bool force)
{
	uint64_t now = edge_now_ms();
	unsigned pct = o->r.m.size ? (unsigned)(o->progress * 100 / o->r.m.size) : 0;
	char *json;

	if (!*o->r.ota_id)
		return;
	if (!force && pct < o->last_report_pct + REPORT_EVERY_PCT &&
	    now - o->last_report_ms < REPORT_EVERY_MS)
		return;
	json = report_json(o);
	if (!json)
		return;
	o->last_report_ms = now;
	o->last_report_pct = pct;
	free(o->last_report);
	o->last_report = json;
	if (o->h.publish)
		(void)o->h.publish(o->h.arg, json, strlen(json));
}

/* ---- state.json ---------------------------------------------------------- */

/* A test hook: EDGE_OTA_TEST_STOP_AT=STATE[:OFFSET] kills the agent right
 * after state.json says STATE (and, for downloading, holds OFFSET bytes or
 * more), the way a power cut or kill -9 would. */
static void test_stop_at(const struct edge_ota *o)
{
	const char *at = getenv("EDGE_OTA_TEST_STOP_AT");
	const char *name = edge_ota_state_name(o->r.state);
	size_t n;

	if (!at || !name)
		return;
	n = strcspn(at, ":");
	if (strlen(name) != n || strncmp(at, name, n) != 0)
		return;
	if (at[n] == ':' && o->r.offset < strtoull(at + n + 1, NULL, 10))
		return;
	EDGE_NOTICE(MOD, "EDGE_OTA_TEST_STOP_AT=%s: killing the agent now", at);
	(void)raise(SIGKILL);
}

static int save(struct edge_ota *o)
{
	int rc;

	o->r.ts_ms = (int64_t)edge_wall_ms();
	rc = edge_ota_state_save(o->cfg->ota.dir, &o->r);
	if (rc)
		EDGE_ERR(MOD, "cannot write %s/state.json: %s", o->cfg->ota.dir, strerror(-rc));
	else
		test_stop_at(o);
	return rc;
}

static void remove_files(struct edge_ota *o)
{
	char p[PATH_MAX];

	path_of(o, p, sizeof(p), "part");
	(void)unlink(p);
	path_of(o, p, sizeof(p), "img");
	(void)unlink(p);
}

/* The end of an update: outcome into history.json, then state.json. */
static void finish(struct edge_ota *o, enum edge_ota_state st, const char *result, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
static void finish(struct edge_ota *o, enum edge_ota_state st, const char *result, const char *fmt,
		   ...)
{
	struct edge_ota_outcome oc = {0};
	va_list ap;
	int rc;

	o->r.state = st;
	snprintf(o->r.result, sizeof(o->r.result), "%s", result);
	if (fmt) {
		/* the arguments may point into o->r.reason itself */
		char reason[sizeof(o->r.reason)];

		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
		memcpy(o->r.reason, reason, sizeof(reason));
	} else {
		o->r.reason[0] = '\0';
	}
	snprintf(oc.ota_id, sizeof(oc.ota_id), "%s", o->r.ota_id);
	snprintf(oc.version, sizeof(oc.version), "%s", o->r.m.version);
	snprintf(oc.sha256, sizeof(oc.sha256), "%s", o->r.m.sha256);
	snprintf(oc.result, sizeof(oc.result), "%s", result);
	snprintf(oc.reason, sizeof(oc.reason), "%s", o->r.reason);
	oc.ts_ms = (int64_t)edge_wall_ms();
	if (strcmp(result, "success") == 0 && o->retry_failed)
		edge_ota_history_forget_failed(&o->hist, oc.version, oc.sha256);
	edge_ota_history_add(&o->hist, &oc);
	rc = edge_ota_history_save(o->cfg->ota.dir, &o->hist);
	if (rc)
		EDGE_ERR(MOD, "cannot write history.json: %s", strerror(-rc));
	remove_files(o);
	(void)save(o);
	if (strcmp(result, "success") == 0)
		EDGE_NOTICE(MOD, "update %s: version %s committed", o->r.ota_id, o->r.m.version);
	else
		EDGE_ERR(MOD, "update %s to %s: %s: %s", o->r.ota_id, o->r.m.version, result,
			 o->r.reason);
	o->step = S_NONE;
	report(o, true);
}

/* ---- helpers ------------------------------------------------------------- */

static void step_done(struct edge_ota *o, int status, bool signaled);

static void on_line(void *arg, const char *line, size_t len)
{
	struct edge_ota *o = arg;
	struct edge_ota_msg m;

	if (edge_ota_msg_parse(line, len, &m)) {
		EDGE_WARN(MOD, "%s helper: malformed line ignored: %.80s", step_names[o->step],
			  line);
		return;
	}
	switch (m.ev) {
	case EDGE_OTA_EV_CKPT:
		if (o->step == S_FETCH && m.n <= o->r.m.size) {
			o->r.offset = m.n;
			if (o->progress < m.n)
				o->progress = m.n;
			(void)save(o);
		}
		break;
	case EDGE_OTA_EV_PROGRESS:
		o->progress = m.n;
		o->progress_total = m.total;
		if (o->step == S_FETCH)
			report(o, false);
		break;
	case EDGE_OTA_EV_VALIDATOR:
		if (o->step == S_FETCH && strcmp(o->r.validator, m.text) != 0) {
			snprintf(o->r.validator, sizeof(o->r.validator), "%.*s",
				 (int)sizeof(o->r.validator) - 1, m.text);
			(void)save(o);
		}
		break;
	case EDGE_OTA_EV_RESTART:
		EDGE_NOTICE(MOD, "download starts over from byte 0 (%s)", m.word);
		o->r.offset = 0;
		o->progress = 0;
		break;
	case EDGE_OTA_EV_RETRY:
		EDGE_WARN(MOD, "download: %s; again in %" PRIu64 " s", m.text, m.n);
		break;
	case EDGE_OTA_EV_SLOT:
		if (o->step == S_BOOTED && (strcmp(m.word, "A") == 0 || strcmp(m.word, "B") == 0)) {
			strcpy(o->booted, m.word);
			o->booted_known = true;
		}
		break;
	case EDGE_OTA_EV_VERSION:
		if (o->step == S_BOOTED)
			snprintf(o->booted_version, sizeof(o->booted_version), "%.*s",
				 (int)sizeof(o->booted_version) - 1, m.text);
		break;
	case EDGE_OTA_EV_DONE:
		o->got_done = true;
		break;
	case EDGE_OTA_EV_ERROR:
		memcpy(o->err_kind, m.word, sizeof(o->err_kind));
		memcpy(o->err_text, m.text, sizeof(o->err_text));
		break;
	case EDGE_OTA_EV_LOG:
		EDGE_INFO(MOD, "%s: %s", step_names[o->step], m.text);
		break;
	default:
		break;
	}
}

static void on_exit_cb(void *arg, const struct edge_spawn_exit *e)
{
	struct edge_ota *o = arg;

	edge_spawn_free(o->child);
	o->child = NULL;
	step_done(o, WIFEXITED(e->status) ? WEXITSTATUS(e->status) : -1,
		  WIFSIGNALED(e->status) || e->killed);
}

/* Starts argv[0] (a helper name) with the rest; the step's outcome arrives
 * in step_done(). */
static int run_helper(struct edge_ota *o, enum step st, const char **argv)
{
	struct edge_spawn_opts so = {0};
	int rc;

	rc = edge_spawn_helper_path(argv[0], o->helper, sizeof(o->helper));
	if (rc) {
		EDGE_ERR(MOD, "cannot run %s: %s", o->helper, strerror(-rc));
		return rc;
	}
	argv[0] = o->helper;
	so.path = o->helper;
	so.argv = argv;
	so.max_line = EDGE_OTA_LINE_MAX;
	so.line = on_line;
	so.exit = on_exit_cb;
	so.arg = o;
	o->step = st;
	o->got_done = false;
	o->err_kind[0] = o->err_text[0] = '\0';
	rc = edge_spawn_start(o->loop, &so, &o->child);
	if (rc) {
		o->step = S_NONE;
		EDGE_ERR(MOD, "cannot start %s: %s", o->helper, strerror(-rc));
		return rc;
	}
	EDGE_DEBUG(MOD, "%s: started %s (pid %d)", step_names[st], argv[1] ? argv[1] : argv[0],
		   (int)edge_spawn_pid(o->child));
	return 0;
}

/* argv for `edge-ota-install BOOTCMD OP --slot S` and the backend's options. */
static int boot_step(struct edge_ota *o, enum step st, const char *op, const char *slot)
{
	const struct edge_config *c = o->cfg;
	const char *argv[24];
	char app[PATH_MAX], tries[16], starts[16];
	const char *inst = *o->r.m.installer ? o->r.m.installer : default_installer(o);
	enum bootk k;
	int n = 0;

	if (!inst)
		return -ENOTSUP;
	k = boot_kind(o, inst);
	snprintf(tries, sizeof(tries), "%u", c->ota.bundle.tries);
	snprintf(starts, sizeof(starts), "%u", c->ota.max_trial_starts);
	argv[n++] = "edge-ota-install";
	argv[n++] = bootk_cmd[k];
	argv[n++] = op;
	if (slot)
		argv[n++] = "--slot", argv[n++] = slot;
	if (k == BK_SERVICE) {
		app_dir(o, app, sizeof(app));
		argv[n++] = "--app-dir", argv[n++] = app;
		argv[n++] = "--max-starts", argv[n++] = starts;
	} else if (k == BK_UBOOT) {
		argv[n++] = "--env-config", argv[n++] = c->ota.bundle.uboot_env_config;
		argv[n++] = "--tries", argv[n++] = tries;
		argv[n++] = "--cmdline", argv[n++] = c->ota.bundle.cmdline;
	} else if (k == BK_TRYBOOT) {
		argv[n++] = "--boot-dir", argv[n++] = c->ota.bundle.tryboot_dir;
	} else if (*c->ota.rauc.conf) {
		argv[n++] = "--conf", argv[n++] = c->ota.rauc.conf;
	}
	argv[n] = NULL;
	return run_helper(o, st, argv);
}

static int start_fetch(struct edge_ota *o)
{
	const struct edge_config *c = o->cfg;
	const char *argv[32];
	char part[PATH_MAX], size[24], off[24], deadline[24], ppid[24];
	int n = 0, rc;

	path_of(o, part, sizeof(part), "part");
	snprintf(size, sizeof(size), "%" PRIu64, o->r.m.size);
	snprintf(off, sizeof(off), "%" PRIu64, o->r.offset);
	snprintf(deadline, sizeof(deadline), "%" PRId64, o->r.deadline_ms / 1000);
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	argv[n++] = "edge-ota-fetch";
	argv[n++] = "--url", argv[n++] = o->r.m.url;
	argv[n++] = "--out", argv[n++] = part;
	argv[n++] = "--size", argv[n++] = size;
	argv[n++] = "--sha256", argv[n++] = o->r.m.sha256;
	argv[n++] = "--offset", argv[n++] = off;
	argv[n++] = "--deadline", argv[n++] = deadline;
	argv[n++] = "--parent-pid", argv[n++] = ppid;
	if (*o->r.validator)
		argv[n++] = "--validator", argv[n++] = o->r.validator;
	if (*c->ota.ca_file)
		argv[n++] = "--ca-file", argv[n++] = c->ota.ca_file;
	if (c->ota.allow_http)
		argv[n++] = "--allow-http";
	argv[n] = NULL;
	o->r.attempt++;
	o->r.resumed_from = o->r.offset;
	o->progress = o->r.offset;
	if (save(o))
		return -EIO;
	rc = run_helper(o, S_FETCH, argv);
	if (rc == 0)
		EDGE_INFO(MOD,
			  "downloading %s (%" PRIu64 " bytes) from byte %" PRIu64 ", attempt %u",
			  o->r.m.version, o->r.m.size, o->r.offset, o->r.attempt);
	return rc;
}

static int start_verify(struct edge_ota *o)
{
	char part[PATH_MAX], img[PATH_MAX];
	const char *argv[8] = {"edge-ota-install", "verify",	  "--image", img,
			       "--sha256",	   o->r.m.sha256, NULL};

	path_of(o, part, sizeof(part), "part");
	path_of(o, img, sizeof(img), "img");
	/* state.json said verifying before the rename: finish it */
	if (access(img, F_OK) != 0 && rename(part, img) != 0)
		return -errno;
	return run_helper(o, S_VERIFY, argv);
}

static int start_install(struct edge_ota *o)
{
	const struct edge_config *c = o->cfg;
	char img[PATH_MAX], app[PATH_MAX];
	const char *argv[24];
	int n = 0;

	path_of(o, img, sizeof(img), "img");
	argv[n++] = "edge-ota-install";
	if (strcmp(o->r.m.installer, "rauc") == 0) {
		argv[n++] = "rauc";
		argv[n++] = "--image", argv[n++] = img;
		if (*c->ota.rauc.conf)
			argv[n++] = "--conf", argv[n++] = c->ota.rauc.conf;
	} else if (strcmp(o->r.m.installer, "swupdate") == 0) {
		argv[n++] = "swupdate";
		argv[n++] = "--image", argv[n++] = img;
		argv[n++] = "--key", argv[n++] = c->ota.swupdate.key_file;
		argv[n++] = "--selection";
		argv[n++] = strcmp(o->r.target_slot, "A") == 0 ? c->ota.swupdate.selection_a
							       : c->ota.swupdate.selection_b;
		/* SWUpdate built with hardware compatibility (Debian's) calls
		 * every .swu incompatible when it knows no revision: a device
		 * without /etc/hwrevision names its own here */
		if (*c->ota.swupdate.hwrevision)
			argv[n++] = "--hwrevision", argv[n++] = c->ota.swupdate.hwrevision;
	} else if (service_mode(o)) {
		app_dir(o, app, sizeof(app));
		argv[n++] = "service";
		argv[n++] = "--image", argv[n++] = img;
		argv[n++] = "--sha256", argv[n++] = o->r.m.sha256;
		argv[n++] = "--app-dir", argv[n++] = app;
		argv[n++] = "--slot", argv[n++] = o->r.target_slot;
	} else {
		argv[n++] = "bundle";
		argv[n++] = "--image", argv[n++] = img;
		argv[n++] = "--sha256", argv[n++] = o->r.m.sha256;
		argv[n++] = "--slot-path";
		argv[n++] = strcmp(o->r.target_slot, "A") == 0 ? c->ota.bundle.slots.a
							       : c->ota.bundle.slots.b;
	}
	argv[n] = NULL;
	o->progress = 0;
	return run_helper(o, S_INSTALL, argv);
}

static void arm_timer(struct edge_ota *o, enum tjob job, uint64_t ms);

/* A step could not start: retried later (an exec failure is not a verdict
 * on the update). */
static void start_failed(struct edge_ota *o, enum step st, int rc)
{
	EDGE_ERR(MOD, "%s: cannot start the helper (%s); again in %u s", step_names[st],
		 strerror(-rc), RESPAWN_MS / 1000);
	o->step = st;
	arm_timer(o, T_RESPAWN, RESPAWN_MS);
}

/* ---- the machine --------------------------------------------------------- */

static void resume(struct edge_ota *o);
static void begin_install(struct edge_ota *o);
static void begin_trial(struct edge_ota *o);

static void ask_restart(struct edge_ota *o, const char *why)
{
	const char *inst = o->r.m.installer;

	if (strcmp(inst, "bundle") == 0 && o->cfg->ota.bundle.boot == EDGE_OTA_BOOT_SERVICE)
		o->restart_how = EDGE_OTA_RESTART_AGENT;
	else if (strcmp(inst, "bundle") == 0 && o->cfg->ota.bundle.boot == EDGE_OTA_BOOT_TRYBOOT &&
		 o->r.state == EDGE_OTA_REBOOTING)
		o->restart_how = EDGE_OTA_REBOOT_TRYBOOT;
	else
		o->restart_how = EDGE_OTA_REBOOT;
	EDGE_NOTICE(MOD, "%s: %s in %u ms", why,
		    o->restart_how == EDGE_OTA_RESTART_AGENT ? "restarting the agent" : "rebooting",
		    REBOOT_DELAY_MS);
	arm_timer(o, T_RESTART, REBOOT_DELAY_MS);
}

/* After a failed trial: mark the new slot bad, then start again on the old
 * one. The record says FAILED without a result until the old slot is seen
 * booted (rollback_pending()). */
static void begin_rollback(struct edge_ota *o, const char *why)
{
	int rc;

	if (o->health_timer)
		edge_loop_timer_set(o->loop, o->health_timer, UINT64_MAX, 0);
	o->r.state = EDGE_OTA_FAILED;
	o->r.result[0] = '\0';
	snprintf(o->r.reason, sizeof(o->r.reason), "trial: %s", why);
	current_boot_id(o, o->r.m.installer, o->r.boot_id, sizeof(o->r.boot_id));
	if (save(o))
		return;
	EDGE_ERR(MOD, "update %s: the trial of %s failed (%s): rolling back to slot %s",
		 o->r.ota_id, o->r.m.version, why, o->r.booted_slot);
	report(o, true);
	rc = boot_step(o, S_ROLLBACK, "mark-bad", o->r.target_slot);
	if (rc)
		start_failed(o, S_ROLLBACK, rc);
}

static void commit(struct edge_ota *o)
{
	int rc = boot_step(o, S_COMMIT, "commit", o->r.target_slot);

	if (rc)
		start_failed(o, S_COMMIT, rc);
}

/* Trial judged at the end of the window (health tick). */
static void health_tick(void *arg)
{
	struct edge_ota *o = arg;
	struct edge_ota_health h = {0};
	uint64_t window = (uint64_t)o->cfg->ota.health_window_s * 1000;
	char why[160] = "";
	int rc;

	if ((o->r.state != EDGE_OTA_TRIAL && !o->good_boot_pending) || o->child)
		return;
	if (edge_now_ms() - o->trial_mono_ms < window)
		return;
	if (o->h.health)
		o->h.health(o->h.arg, &h);
	if (o->r.state != EDGE_OTA_TRIAL) {
		/* an ordinary start: mark the booted slot good once healthy */
		if (!h.connected || h.status_published <= o->trial_base.status_published ||
		    h.records <= o->trial_base.records)
			return; /* not yet; the boot loader's tries still count */
		edge_loop_timer_set(o->loop, o->health_timer, UINT64_MAX, 0);
		o->good_boot_pending = false;
		rc = boot_step(o, S_GOODBOOT, "commit", o->booted);
		if (rc)
			EDGE_ERR(MOD, "cannot mark slot %s good: %s", o->booted, strerror(-rc));
		return;
	}
	edge_loop_timer_set(o->loop, o->health_timer, UINT64_MAX, 0);
	if (!h.connected)
		snprintf(why, sizeof(why), "MQTT not connected at the end of the health window");
	else if (h.status_published <= o->trial_base.status_published)
		snprintf(why, sizeof(why), "no status published in the health window");
	else if (h.records <= o->trial_base.records)
		snprintf(why, sizeof(why), "the sampler produced no record in the health window");
	if (*why) {
		begin_rollback(o, why);
		return;
	}
	if (*o->cfg->ota.health_cmd) {
		const char *argv[] = {"/bin/sh", "-c", o->cfg->ota.health_cmd, NULL};
		struct edge_spawn_opts so = {
		    .path = "/bin/sh", .argv = argv, .exit = on_exit_cb, .arg = o};

		o->step = S_HEALTH;
		rc = edge_spawn_start(o->loop, &so, &o->child);
		if (rc) {
			begin_rollback(o, "ota.health_cmd could not be started");
			return;
		}
		arm_timer(o, T_RESPAWN, HEALTH_CMD_LIMIT_MS); /* bounded: see timer_cb */
		return;
	}
	commit(o);
}

static void arm_health(struct edge_ota *o);

static void begin_trial(struct edge_ota *o)
{
	arm_health(o);
	EDGE_NOTICE(MOD,
		    "trial of %s on slot %s (start %u of at most %u): commit after %u s of "
		    "health",
		    o->r.m.version, o->r.target_slot, o->r.trial_starts,
		    o->cfg->ota.max_trial_starts, o->cfg->ota.health_window_s);
}

static void arm_health(struct edge_ota *o)
{
	int rc;

	o->trial_mono_ms = edge_now_ms();
	memset(&o->trial_base, 0, sizeof(o->trial_base));
	if (o->h.health)
		o->h.health(o->h.arg, &o->trial_base);
	if (!o->health_timer) {
		rc = edge_loop_timer_add(o->loop, HEALTH_TICK_MS, HEALTH_TICK_MS, health_tick, o,
					 &o->health_timer);
		if (rc) {
			EDGE_ERR(MOD, "trial timer: %s", strerror(-rc));
			return;
		}
	} else {
		edge_loop_timer_set(o->loop, o->health_timer, HEALTH_TICK_MS, HEALTH_TICK_MS);
	}
}

static void begin_install(struct edge_ota *o)
{
	int rc;

	if (!o->booted_known) {
		/* which slot runs decides which one is written */
		o->after_booted = S_INSTALL;
		rc = boot_step(o, S_BOOTED, "booted", NULL);
		if (rc)
			start_failed(o, S_BOOTED, rc);
		return;
	}
	o->r.state = EDGE_OTA_INSTALLING;
	snprintf(o->r.booted_slot, sizeof(o->r.booted_slot), "%s", o->booted);
	snprintf(o->r.target_slot, sizeof(o->r.target_slot), "%s", other_slot(o->booted));
	if (save(o))
		return;
	report(o, true);
	if (strcmp(o->r.m.installer, "rauc") == 0) {
		/* rauc install marks the target itself */
		rc = start_install(o);
		if (rc)
			start_failed(o, S_INSTALL, rc);
		return;
	}
	rc = boot_step(o, S_MARKBAD, "mark-bad", o->r.target_slot);
	if (rc)
		start_failed(o, S_MARKBAD, rc);
}

/* An ordinary start on a boot loader that spends a try on every boot
 * (U-Boot's BOOT_x_LEFT, RAUC): the booted slot is marked good once the
 * health window passed. */
static void arm_good_boot(struct edge_ota *o)
{
	const char *inst = default_installer(o);
	enum bootk k = inst ? boot_kind(o, inst) : BK_SERVICE;

	if (k == BK_UBOOT || k == BK_RAUC) {
		o->good_boot_pending = true;
		arm_health(o);
	}
}

/* The boot loader fell back to the old slot by itself: the new one used its
 * tries up (a hang, a panic, power cuts) before any verdict of ours. The new
 * slot leaves the boot order BEFORE the outcome is written: until then
 * BOOT_ORDER still names it first, and once power cuts have spent the old
 * slot's tries too, U-Boot's refill (rauc #683) boots the failed slot again,
 * where this agent would find no update in hand and mark it good. mark-bad
 * is idempotent and state.json still says rebooting or trial, so a crash in
 * between only repeats it. */
__attribute__((format(printf, 2, 3))) static void fell_back(struct edge_ota *o, const char *fmt,
							    ...)
{
	enum bootk k = boot_kind(o, o->r.m.installer);
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(o->fallback_why, sizeof(o->fallback_why), fmt, ap);
	va_end(ap);
	if (k != BK_UBOOT && k != BK_RAUC) {
		/* service mode: edge-ota-boot swapped back already; tryboot: the
		 * firmware's choice is one-shot */
		finish(o, EDGE_OTA_ROLLED_BACK, "rolled_back", "%s", o->fallback_why);
		return;
	}
	EDGE_WARN(MOD, "update %s: %s: marking slot %s bad", o->r.ota_id, o->fallback_why,
		  o->r.target_slot);
	rc = boot_step(o, S_FALLBACK, "mark-bad", o->r.target_slot);
	if (rc)
		start_failed(o, S_FALLBACK, rc);
}

static void after_fetch(struct edge_ota *o, int status, bool signaled)
{
	int rc;

	if (status == 0 && o->got_done) {
		o->r.state = EDGE_OTA_VERIFYING;
		o->r.offset = o->r.m.size;
		o->progress = o->r.m.size;
		if (save(o))
			return;
		report(o, true);
		rc = start_verify(o);
		if (rc)
			start_failed(o, S_VERIFY, rc);
		return;
	}
	if (*o->err_kind) {
		if (strcmp(o->err_kind, "hash") == 0)
			o->r.offset = 0; /* the helper emptied the part file */
		finish(o, EDGE_OTA_FAILED, "failure", "%s: %s", o->err_kind, o->err_text);
		return;
	}
	EDGE_WARN(MOD, "edge-ota-fetch ended without a verdict (%s %d); resuming in %u s",
		  signaled ? "signal" : "exit", status, RESPAWN_MS / 1000);
	o->step = S_FETCH;
	arm_timer(o, T_RESPAWN, RESPAWN_MS);
}

static void step_done(struct edge_ota *o, int status, bool signaled)
{
	enum step st = o->step;
	bool ok = status == 0 && !signaled && (o->got_done || st == S_HEALTH);
	int rc;

	o->step = S_NONE;
	if (o->tjob == T_RESPAWN && st == S_HEALTH)
		edge_loop_timer_set(o->loop, o->timer, UINT64_MAX, 0);
	switch (st) {
	case S_BOOTED:
		if (!ok || !o->booted_known) {
			EDGE_ERR(MOD, "cannot tell the booted slot: %s %s", o->err_kind,
				 *o->err_text ? o->err_text : "(no answer)");
			o->booted_known = false;
			if (o->after_booted == S_INSTALL) {
				o->after_booted = S_NONE;
				finish(o, EDGE_OTA_FAILED, "failure", "booted slot unknown: %s",
				       o->err_text);
			} else if (rollback_pending(&o->r) || o->r.state >= EDGE_OTA_REBOOTING) {
				if (busy_state(o->r.state) || rollback_pending(&o->r))
					finish(o, EDGE_OTA_FAILED, "failure",
					       "after the restart: booted slot unknown: %s",
					       o->err_text);
			} else {
				resume(o); /* a download does not need it */
			}
			return;
		}
		EDGE_INFO(MOD, "booted slot %s%s%s", o->booted,
			  *o->booted_version ? ", version " : "", o->booted_version);
		if (o->after_booted == S_INSTALL) {
			o->after_booted = S_NONE;
			begin_install(o);
			return;
		}
		o->after_booted = S_NONE;
		resume(o);
		if (!busy_state(o->r.state) && !rollback_pending(&o->r) && !o->child)
			arm_good_boot(o);
		return;
	case S_FETCH:
		after_fetch(o, status, signaled);
		return;
	case S_VERIFY:
		if (ok) {
			begin_install(o);
			return;
		}
		if (strcmp(o->err_kind, "hash") == 0 && o->verify_retries < MAX_VERIFY_RETRIES) {
			/* the image on disk went bad after its download (power cut,
			 * media): fetched again, once */
			o->verify_retries++;
			EDGE_WARN(MOD, "image on disk does not verify (%s): downloading again",
				  o->err_text);
			remove_files(o);
			o->r.state = EDGE_OTA_DOWNLOADING;
			o->r.offset = 0;
			o->r.validator[0] = '\0';
			rc = start_fetch(o);
			if (rc)
				start_failed(o, S_FETCH, rc);
			return;
		}
		finish(o, EDGE_OTA_FAILED, "failure", "verify: %s %s",
		       *o->err_kind ? o->err_kind : "helper", o->err_text);
		return;
	case S_MARKBAD:
		if (!ok) {
			finish(o, EDGE_OTA_FAILED, "failure", "mark-bad %s: %s %s",
			       o->r.target_slot, o->err_kind, o->err_text);
			return;
		}
		rc = start_install(o);
		if (rc)
			start_failed(o, S_INSTALL, rc);
		return;
	case S_INSTALL:
		if (!ok) {
			finish(o, EDGE_OTA_FAILED, "failure", "install: %s %s",
			       *o->err_kind ? o->err_kind : "helper", o->err_text);
			return;
		}
		rc = boot_step(o, S_TRIAL, "trial", o->r.target_slot);
		if (rc)
			start_failed(o, S_TRIAL, rc);
		return;
	case S_TRIAL:
		if (!ok) {
			finish(o, EDGE_OTA_FAILED, "failure", "boot loader: %s %s", o->err_kind,
			       o->err_text);
			return;
		}
		o->r.state = EDGE_OTA_REBOOTING;
		current_boot_id(o, o->r.m.installer, o->r.boot_id, sizeof(o->r.boot_id));
		if (save(o))
			return;
		report(o, true);
		ask_restart(o, "slot written");
		return;
	case S_HEALTH:
		if (status != 0 || signaled) {
			char why[96];

			snprintf(why, sizeof(why), "ota.health_cmd %s %d",
				 signaled ? "was killed, status" : "exited", status);
			begin_rollback(o, why);
			return;
		}
		commit(o);
		return;
	case S_COMMIT:
		if (!ok) {
			begin_rollback(o, "the boot loader refused the commit");
			return;
		}
		if (o->health_timer)
			edge_loop_timer_set(o->loop, o->health_timer, UINT64_MAX, 0);
		snprintf(o->booted_version, sizeof(o->booted_version), "%s", o->r.m.version);
		finish(o, EDGE_OTA_COMMITTED, "success", NULL);
		return;
	case S_ROLLBACK:
		if (!ok)
			EDGE_ERR(MOD,
				 "mark-bad %s failed (%s %s): restarting anyway, the boot "
				 "loader's counter decides",
				 o->r.target_slot, o->err_kind, o->err_text);
		ask_restart(o, "rolling back");
		return;
	case S_CANCEL:
		finish(o, EDGE_OTA_FAILED, "failure", "cancelled by the operator");
		return;
	case S_FALLBACK:
		if (!ok)
			EDGE_ERR(MOD,
				 "mark-bad %s after the fallback failed (%s %s): the boot "
				 "loader may still name it first",
				 o->r.target_slot, o->err_kind, o->err_text);
		finish(o, EDGE_OTA_ROLLED_BACK, "rolled_back", "%s", o->fallback_why);
		arm_good_boot(o);
		return;
	case S_GOODBOOT:
		if (ok)
			EDGE_INFO(MOD, "slot %s marked good for the boot loader", o->booted);
		else
			EDGE_ERR(MOD, "marking slot %s good failed: %s %s", o->booted, o->err_kind,
				 o->err_text);
		return;
	default:
		return;
	}
}

static void timer_cb(void *arg)
{
	struct edge_ota *o = arg;
	enum tjob job = o->tjob;
	int rc;

	o->tjob = T_NONE;
	switch (job) {
	case T_RESTART:
		if (o->h.restart)
			o->h.restart(o->h.arg, o->restart_how, "ota");
		return;
	case T_RESUME:
		resume(o);
		return;
	case T_RESPAWN:
		if (o->step == S_HEALTH && o->child) {
			EDGE_ERR(MOD, "ota.health_cmd still runs after %u s: stopping it",
				 HEALTH_CMD_LIMIT_MS / 1000);
			(void)edge_spawn_stop(o->child, HELPER_STOP_MS);
			return;
		}
		if (o->child)
			return;
		switch (o->step) {
		case S_FETCH:
			rc = start_fetch(o);
			break;
		case S_VERIFY:
			rc = start_verify(o);
			break;
		case S_INSTALL:
		case S_MARKBAD:
			begin_install(o);
			return;
		case S_TRIAL:
			rc = boot_step(o, S_TRIAL, "trial", o->r.target_slot);
			break;
		case S_COMMIT:
			rc = boot_step(o, S_COMMIT, "commit", o->r.target_slot);
			break;
		case S_ROLLBACK:
			rc = boot_step(o, S_ROLLBACK, "mark-bad", o->r.target_slot);
			break;
		case S_FALLBACK:
			rc = boot_step(o, S_FALLBACK, "mark-bad", o->r.target_slot);
			break;
		case S_BOOTED:
			rc = boot_step(o, S_BOOTED, "booted", NULL);
			break;
		default:
			return;
		}
		if (rc)
			start_failed(o, o->step == S_NONE ? S_FETCH : o->step, rc);
		return;
	default:
		return;
	}
}

static void arm_timer(struct edge_ota *o, enum tjob job, uint64_t ms)
{
	int rc = 0;

	o->tjob = job;
	if (!o->timer)
		rc = edge_loop_timer_add(o->loop, ms, 0, timer_cb, o, &o->timer);
	else
		edge_loop_timer_set(o->loop, o->timer, ms, 0);
	if (rc)
		EDGE_ERR(MOD, "timer: %s", strerror(-rc));
}

/* What state.json says, after a start: the booted slot is known (or no
 * installer needs one). */
static void resume(struct edge_ota *o)
{
	struct edge_ota_record *r = &o->r;
	char id[64];
	int rc = 0;

	if (!busy_state(r->state) && !rollback_pending(r))
		return;
	if (!o->booted_known && (r->state >= EDGE_OTA_REBOOTING || rollback_pending(r))) {
		o->after_booted = S_NONE;
		rc = boot_step(o, S_BOOTED, "booted", NULL);
		if (rc)
			start_failed(o, S_BOOTED, rc);
		return;
	}
	current_boot_id(o, r->m.installer, id, sizeof(id));
	switch (r->state) {
	case EDGE_OTA_DOWNLOADING:
		EDGE_NOTICE(MOD, "resuming the download of %s at byte %" PRIu64, r->m.version,
			    r->offset);
		rc = start_fetch(o);
		if (rc)
			start_failed(o, S_FETCH, rc);
		return;
	case EDGE_OTA_VERIFYING:
		rc = start_verify(o);
		if (rc)
			start_failed(o, S_VERIFY, rc);
		return;
	case EDGE_OTA_INSTALLING:
		EDGE_NOTICE(MOD, "the install of %s was interrupted: installing again",
			    r->m.version);
		begin_install(o);
		return;
	case EDGE_OTA_REBOOTING:
		if (*id && strcmp(id, r->boot_id) == 0) {
			ask_restart(o, "the restart asked for has not happened");
			return;
		}
		if (strcmp(o->booted, r->target_slot) != 0) {
			fell_back(o, "slot %s did not boot; the boot loader fell back to %s",
				  r->target_slot, o->booted);
			return;
		}
		r->state = EDGE_OTA_TRIAL;
		r->trial_starts = 1;
		r->trial_since_ms = (int64_t)edge_wall_ms();
		if (save(o))
			return;
		report(o, true);
		begin_trial(o);
		return;
	case EDGE_OTA_TRIAL:
		if (strcmp(o->booted, r->target_slot) != 0) {
			fell_back(o, "back on slot %s after %u start(s) of %s", o->booted,
				  r->trial_starts, r->target_slot);
			return;
		}
		r->trial_starts++;
		if (save(o))
			return;
		if (r->trial_starts > o->cfg->ota.max_trial_starts) {
			char why[96];

			snprintf(why, sizeof(why), "%u starts in the trial (at most %u)",
				 r->trial_starts, o->cfg->ota.max_trial_starts);
			begin_rollback(o, why);
			return;
		}
		report(o, true);
		begin_trial(o);
		return;
	case EDGE_OTA_FAILED: /* rollback_pending */
		if (*id && strcmp(id, r->boot_id) == 0) {
			rc = boot_step(o, S_ROLLBACK, "mark-bad", r->target_slot);
			if (rc)
				start_failed(o, S_ROLLBACK, rc);
			return;
		}
		if (strcmp(o->booted, r->target_slot) != 0)
			finish(o, EDGE_OTA_ROLLED_BACK, "rolled_back", "%s; back on slot %s",
			       r->reason, o->booted);
		else
			finish(o, EDGE_OTA_FAILED, "failure",
			       "%s; still on slot %s after the rollback", r->reason, o->booted);
		return;
	default:
		return;
	}
}

/* ---- the command --------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static bool refuse(char *msg, size_t len, const char *fmt,
							 ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return false;
}

const char *edge_ota_firmware(const struct edge_ota *o)
{
	const struct edge_ota_record *r = &o->r;

	if (*o->booted_version)
		return o->booted_version;
	if ((r->state == EDGE_OTA_TRIAL || r->state == EDGE_OTA_COMMITTED) && *r->m.version)
		return r->m.version;
	if (r->state != EDGE_OTA_IDLE && *r->from_version)
		return r->from_version;
	return o->build_version;
}

static void add_state(const struct edge_ota *o, cJSON *data)
{
	char *json = report_json(o);
	cJSON *st = json ? cJSON_Parse(json) : NULL;

	free(json);
	if (st)
		cJSON_AddItemToObject(data, "ota", st);
}

/* Free space for the rest of the download plus the reserve, proven by
 * allocating the part file's blocks. */
static bool space_ok(struct edge_ota *o, const struct edge_ota_manifest *m, char *msg, size_t len)
{
	char part[PATH_MAX];
	struct statvfs vfs;
	struct stat st;
	uint64_t have = 0, need, avail;
	int fd, rc;

	snprintf(part, sizeof(part), "%.200s/%s.part", o->cfg->ota.dir, m->sha256);
	if (stat(part, &st) == 0 && (uint64_t)st.st_size <= m->size)
		have = (uint64_t)st.st_size;
	if (statvfs(o->cfg->ota.dir, &vfs) != 0)
		return refuse(msg, len, "cannot check free space in %s: %s", o->cfg->ota.dir,
			      strerror(errno));
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	need = m->size - have + o->cfg->ota.reserve_bytes;
	if (avail < need)
		return refuse(msg, len,
			      "disk full: %" PRIu64 " bytes needed in %s (image %" PRIu64
			      " + ota.reserve_bytes %" PRIu64 "), %" PRIu64 " free",
			      need, o->cfg->ota.dir, m->size - have, o->cfg->ota.reserve_bytes,
			      avail);
	fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return refuse(msg, len, "cannot create %s: %s", part, strerror(errno));
	rc = posix_fallocate(fd, 0, (off_t)m->size);
	close(fd);
	if (rc == ENOSPC) {
		(void)unlink(part);
		return refuse(msg, len, "disk full: cannot allocate %" PRIu64 " bytes in %s",
			      m->size, o->cfg->ota.dir);
	}
	if (rc && rc != EOPNOTSUPP)
		return refuse(msg, len, "cannot allocate %s: %s", part, strerror(rc));
	return true;
}

static bool cmd_install(struct edge_ota *o, const char *cmd_id, const cJSON *params, cJSON *data,
			char *msg, size_t len)
{
	const cJSON *jws = cJSON_GetObjectItemCaseSensitive(params, "manifest");
	const cJSON *retry = cJSON_GetObjectItemCaseSensitive(params, "retryFailed");
	struct edge_ota_manifest m;
	const char *running = edge_ota_firmware(o);
	char why[256];
	int rc, cmp;

	if (!cJSON_IsString(jws) || !*jws->valuestring)
		return refuse(msg, len, "params.manifest: the signed manifest (JWS) is required");
	if (retry && !cJSON_IsBool(retry))
		return refuse(msg, len, "params.retryFailed: must be true or false");
	if (*o->state_err)
		return refuse(msg, len, "%s; send {\"op\":\"cancel\"} to reset it", o->state_err);
	if (!o->key)
		return refuse(msg, len, "%s",
			      !*o->cfg->ota.manifest_key_file
				  ? "no ota.manifest_key_file: updates are refused"
				  : "ota.manifest_key_file is not a usable P-256 public key");
	/* 1. signature (and the payload's schema) */
	rc = edge_ota_manifest_verify(jws->valuestring, strlen(jws->valuestring), o->key, &m, why,
				      sizeof(why));
	if (rc)
		return refuse(msg, len, "manifest: %s", why);
	/* 2. what this device accepts */
	if (strncmp(m.url, "https://", 8) != 0 && !o->cfg->ota.allow_http)
		return refuse(msg, len, "manifest.url: must be https:// (ota.allow_http is off)");
	if (m.size > o->cfg->ota.max_bytes)
		return refuse(msg, len,
			      "manifest.size: %" PRIu64 " bytes is over ota.max_bytes %" PRIu64,
			      m.size, o->cfg->ota.max_bytes);
	if (!installer_enabled(o, m.installer))
		return refuse(msg, len, "manifest.installer: \"%s\" is not enabled on this device",
			      m.installer);
	/* 3. this board */
	if (!edge_ota_manifest_has_board(&m, o->cfg->board))
		return refuse(msg, len, "manifest.boards: this board (\"%s\") is not listed",
			      o->cfg->board);
	/* 4. versions */
	cmp = edge_semver_cmp(m.version, running);
	if (cmp == 0 && !busy_state(o->r.state)) {
		cJSON_AddStringToObject(data, "version", running);
		snprintf(msg, len, "already installed: %s is running", running);
		return true;
	}
	if (cmp < 0 && !m.allow_downgrade)
		return refuse(msg, len,
			      "downgrade from %s to %s refused (allowDowngrade is not set)",
			      running, m.version);
	if (*m.min_version && edge_semver_cmp(running, m.min_version) < 0)
		return refuse(msg, len, "running %s is below the manifest's minVersion %s", running,
			      m.min_version);
	/* 5. the failed list: no update loop */
	if (edge_ota_history_is_failed(&o->hist, m.version, m.sha256) && !cJSON_IsTrue(retry))
		return refuse(msg, len,
			      "%s (sha256 %.12s...) failed or rolled back before; an operator "
			      "may retry with retryFailed",
			      m.version, m.sha256);
	/* 6. one at a time */
	if (busy_state(o->r.state) || rollback_pending(&o->r)) {
		if (strcmp(o->r.m.sha256, m.sha256) == 0 &&
		    strcmp(o->r.m.version, m.version) == 0) {
			cJSON_AddStringToObject(data, "otaId", o->r.ota_id);
			cJSON_AddStringToObject(data, "state", edge_ota_state_name(o->r.state));
			add_state(o, data);
			snprintf(msg, len, "this update is already in progress (%s)",
				 edge_ota_state_name(o->r.state));
			return true;
		}
		return refuse(msg, len, "another update (%s, %s) is %s", o->r.ota_id,
			      o->r.m.version, edge_ota_state_name(o->r.state));
	}
	/* 7. room for it, before a byte is downloaded */
	if (!space_ok(o, &m, msg, len))
		return false;

	memset(&o->r, 0, sizeof(o->r));
	o->r.state = EDGE_OTA_DOWNLOADING;
	snprintf(o->r.ota_id, sizeof(o->r.ota_id), "%s", cmd_id);
	o->r.m = m;
	snprintf(o->r.from_version, sizeof(o->r.from_version), "%s", running);
	if (o->booted_known)
		snprintf(o->r.booted_slot, sizeof(o->r.booted_slot), "%s", o->booted);
	o->r.started_ms = (int64_t)edge_wall_ms();
	o->r.deadline_ms = o->r.started_ms + (int64_t)o->cfg->ota.download_deadline_h * 3600 * 1000;
	o->retry_failed = cJSON_IsTrue(retry);
	o->verify_retries = 0;
	o->progress = 0;
	o->last_report_pct = 0;
	/* a part file of the same image (a cancelled try) is re-hashed by the
	 * helper and reused: offset 0 makes it start over safely */
	rc = start_fetch(o);
	if (rc == -EIO)
		return refuse(msg, len, "cannot write state.json in %s", o->cfg->ota.dir);
	if (rc)
		start_failed(o, S_FETCH, rc);
	report(o, true);
	cJSON_AddStringToObject(data, "otaId", o->r.ota_id);
	cJSON_AddStringToObject(data, "state", edge_ota_state_name(o->r.state));
	snprintf(msg, len, "downloading %s (%" PRIu64 " bytes) for the %s installer", m.version,
		 m.size, m.installer);
	EDGE_NOTICE(MOD, "update %s accepted: %s -> %s (%s, %" PRIu64 " bytes)", o->r.ota_id,
		    running, m.version, m.installer, m.size);
	return true;
}

static bool cmd_cancel(struct edge_ota *o, cJSON *data, char *msg, size_t len)
{
	int rc;

	if (*o->state_err) {
		char bad[PATH_MAX], p[PATH_MAX];

		snprintf(p, sizeof(p), "%.200s/state.json", o->cfg->ota.dir);
		snprintf(bad, sizeof(bad), "%.200s/state.json.corrupt", o->cfg->ota.dir);
		if (rename(p, bad) != 0)
			return refuse(msg, len, "cannot move %s aside: %s", p, strerror(errno));
		memset(&o->r, 0, sizeof(o->r));
		o->state_err[0] = '\0';
		snprintf(msg, len, "unreadable state.json moved to %s; idle", bad);
		return true;
	}
	switch (o->r.state) {
	case EDGE_OTA_DOWNLOADING:
	case EDGE_OTA_VERIFYING:
		if (o->child)
			(void)edge_spawn_stop_sync(o->child, HELPER_STOP_MS, NULL);
		edge_spawn_free(o->child);
		o->child = NULL;
		if (o->timer)
			edge_loop_timer_set(o->loop, o->timer, UINT64_MAX, 0);
		o->tjob = T_NONE;
		finish(o, EDGE_OTA_FAILED, "failure", "cancelled by the operator");
		break;
	case EDGE_OTA_INSTALLING:
		if (o->child)
			(void)edge_spawn_stop_sync(o->child, HELPER_STOP_MS, NULL);
		edge_spawn_free(o->child);
		o->child = NULL;
		/* the half-written slot must never be booted */
		rc = boot_step(o, S_CANCEL, "mark-bad", o->r.target_slot);
		if (rc)
			finish(o, EDGE_OTA_FAILED, "failure", "cancelled by the operator");
		snprintf(msg, len, "cancelling: slot %s is marked bad", o->r.target_slot);
		add_state(o, data);
		return true;
	case EDGE_OTA_REBOOTING:
	case EDGE_OTA_TRIAL:
		return refuse(
		    msg, len,
		    "the new slot is %s: too late to cancel, the trial decides (commit or "
		    "roll back)",
		    o->r.state == EDGE_OTA_TRIAL ? "on trial" : "about to boot");
	default:
		if (rollback_pending(&o->r))
			return refuse(msg, len, "a rollback is in progress");
		return refuse(msg, len, "no update in progress (%s)",
			      edge_ota_state_name(o->r.state));
	}
	add_state(o, data);
	snprintf(msg, len, "cancelled");
	return true;
}

bool edge_ota_command(struct edge_ota *o, const char *cmd_id, const void *params_v, void *data_v,
		      char *msg, size_t len)
{
	const cJSON *params = params_v;
	cJSON *data = data_v;
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(params, "op");

	if (!o->cfg->ota.enabled)
		return refuse(msg, len, "ota.enabled is false on this device");
	if (!cJSON_IsString(op))
		return refuse(msg, len, "params.op: install, cancel or status");
	if (strcmp(op->valuestring, "install") == 0)
		return cmd_install(o, cmd_id, params, data, msg, len);
	if (strcmp(op->valuestring, "cancel") == 0)
		return cmd_cancel(o, data, msg, len);
	if (strcmp(op->valuestring, "status") == 0) {
		char *h = edge_ota_history_to_json(&o->hist);

		add_state(o, data);
		cJSON_AddStringToObject(data, "firmware", edge_ota_firmware(o));
		if (h) {
			cJSON *hj = cJSON_Parse(h);

			if (hj)
				cJSON_AddItemToObject(data, "history", hj);
			free(h);
		}
		if (*o->state_err)
			cJSON_AddStringToObject(data, "error", o->state_err);
		snprintf(msg, len, "%s", edge_ota_state_name(o->r.state));
		return true;
	}
	return refuse(msg, len, "params.op: \"%.32s\" is not install, cancel or status",
		      op->valuestring);
}

void edge_ota_status(struct edge_ota *o, void *status_obj)
{
	cJSON *s = cJSON_AddObjectToObject(status_obj, "ota");

	if (!s)
		return;
	cJSON_AddStringToObject(s, "state", edge_ota_state_name(o->r.state));
	if (*o->r.ota_id) {
		cJSON_AddStringToObject(s, "otaId", o->r.ota_id);
		cJSON_AddStringToObject(s, "version", o->r.m.version);
		if (*o->r.result)
			cJSON_AddStringToObject(s, "result", o->r.result);
	}
	if (o->booted_known)
		cJSON_AddStringToObject(s, "slot", o->booted);
	if (*o->state_err)
		cJSON_AddStringToObject(s, "error", o->state_err);
	else if (!o->key && o->cfg->ota.enabled)
		cJSON_AddStringToObject(s, "error",
					*o->cfg->ota.manifest_key_file ? "manifest key unusable"
								       : "no manifest key");
}

/* ---- life cycle ---------------------------------------------------------- */

static void load_key(struct edge_ota *o)
{
	const char *path = o->cfg->ota.manifest_key_file;

	edge_jws_key_free(o->key);
	o->key = NULL;
	o->key_err = 0;
	if (!*path)
		return;
	o->key_err = edge_jws_key_load(path, &o->key);
	if (o->key_err)
		EDGE_ERR(MOD, "ota.manifest_key_file %s: %s: updates are refused", path,
			 o->key_err == -ENOTSUP	 ? "not a P-256 EC public key"
			 : o->key_err == -EINVAL ? "not a PEM/DER public key"
						 : strerror(-o->key_err));
}

int edge_ota_new(struct edge_loop *loop, const struct edge_config *cfg, const char *version,
		 const struct edge_ota_hooks *hooks, struct edge_ota **out)
{
	struct edge_ota *o = calloc(1, sizeof(*o));
	char why[256];
	int rc;

	if (!o)
		return -ENOMEM;
	o->loop = loop;
	o->cfg = cfg;
	if (hooks)
		o->h = *hooks;
	snprintf(o->build_version, sizeof(o->build_version), "%s", version);
	rc = edge_mkdir_p(cfg->ota.dir, 0700);
	if (rc) {
		EDGE_ERR(MOD, "cannot create ota.dir %s: %s", cfg->ota.dir, strerror(-rc));
		free(o);
		return rc;
	}
	rc = edge_ota_state_load(cfg->ota.dir, &o->r, why, sizeof(why));
	if (rc) {
		snprintf(o->state_err, sizeof(o->state_err), "%.200s/state.json: %.250s",
			 cfg->ota.dir, rc == -EINVAL ? why : strerror(-rc));
		EDGE_ERR(MOD, "%s: updates refused until an operator cancels", o->state_err);
		memset(&o->r, 0, sizeof(o->r));
	}
	rc = edge_ota_history_load(cfg->ota.dir, &o->hist, why, sizeof(why));
	if (rc) {
		EDGE_ERR(MOD, "%s/history.json: %s: starting an empty history", cfg->ota.dir,
			 rc == -EINVAL ? why : strerror(-rc));
		memset(&o->hist, 0, sizeof(o->hist));
	}
	load_key(o);
	*out = o;
	return 0;
}

void edge_ota_start(struct edge_ota *o)
{
	int rc;

	o->started = true;
	if (*o->state_err)
		return;
	if (*o->r.ota_id)
		report(o, true);
	/* the booted slot: for the status, and for every state from rebooting on */
	if (default_installer(o) || busy_state(o->r.state) || rollback_pending(&o->r)) {
		if (!*o->r.m.installer && !default_installer(o))
			return;
		o->after_booted = S_NONE;
		rc = boot_step(o, S_BOOTED, "booted", NULL);
		if (rc) {
			start_failed(o, S_BOOTED, rc);
			return;
		}
		return; /* resume() follows the answer */
	}
}

void edge_ota_reconfigure(struct edge_ota *o)
{
	load_key(o);
}

void edge_ota_connected(struct edge_ota *o)
{
	if (o->last_report && o->h.publish)
		(void)o->h.publish(o->h.arg, o->last_report, strlen(o->last_report));
}

void edge_ota_free(struct edge_ota *o)
{
	if (!o)
		return;
	if (o->child) {
		/* state.json already names the step: it is redone at the next start */
		(void)edge_spawn_stop_sync(o->child, HELPER_STOP_MS, NULL);
		edge_spawn_free(o->child);
	}
	if (o->timer)
		edge_loop_timer_del(o->loop, o->timer);
	if (o->health_timer)
		edge_loop_timer_del(o->loop, o->health_timer);
	edge_jws_key_free(o->key);
	free(o->last_report);
	free(o);
}
