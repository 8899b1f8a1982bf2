/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install boot-service: boot selection of the service mode, where a
 * "boot" is a start of the systemd unit and the boot loader is the D/current
 * link (layout: ota/boot/appdir.h). edge-ota-boot, the unit's ExecStartPre,
 * counts trial starts and swaps back; this subcommand sets things up for it.
 */
#include <errno.h>
#include <string.h>

#include "../boot/appdir.h"
#include "install.h"

#define USAGE "booted|mark-bad S|trial S|commit S --app-dir D [--max-starts N]"

static int fail_errno(const char *what, const char *dir, int rc)
{
	return inst_fail(rc == -ENOSPC || rc == -EDQUOT ? "disk" : "io", "%s in %s: %s", what, dir,
			 strerror(-rc));
}

static int booted(const char *dir)
{
	char cur[2], version[72];
	char sub[16];
	ssize_t n;
	int rc = appdir_current(dir, cur);

	if (rc == -EINVAL)
		return inst_fail("io", "%s/current names neither A nor B", dir);
	if (rc)
		return fail_errno("reading current", dir, rc);
	inst_emit("slot %s", cur);
	snprintf(sub, sizeof(sub), "%s/VERSION", cur);
	n = appdir_read(dir, sub, version, sizeof(version));
	if (n > 0) {
		/* The first line, if it is a plain printable word. */
		size_t len = strcspn(version, "\r\n");
		bool ok = len > 0;

		version[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if (version[i] <= ' ' || version[i] > '~')
				ok = false;
		if (ok)
			inst_emit("version %s", version);
		else
			inst_emit("log %s/%s holds no usable version", dir, sub);
	}
	inst_emit("done");
	return 0;
}

/* S may not be booted from now on. During a trial of S that means the
 * fallback comes back first (current -> from), then the trial ends; the
 * marker goes last, so a crash in between still leaves current on a
 * complete slot. The committed slot cannot be marked: nothing would boot. */
static int mark_bad(const char *dir, const char *slot)
{
	struct appdir_trial t;
	char cur[2] = "";
	char slot_path[PATH_MAX];
	int rc = appdir_trial_read(dir, &t);

	if (rc && rc != -ENOENT)
		inst_emit("log %s/%s unreadable (%s): treated as no trial", dir, APPDIR_TRIAL,
			  strerror(-rc));
	(void)appdir_current(dir, cur);
	if (rc == 0 && strcmp(t.slot, slot) == 0) {
		if (strcmp(cur, slot) == 0) {
			rc = appdir_set_current(dir, t.from);
			if (rc)
				return fail_errno("swapping current back", dir, rc);
			inst_emit("log current back to %s", t.from);
		}
		rc = appdir_remove(dir, APPDIR_TRIAL);
		if (rc)
			return fail_errno("removing trial.json", dir, rc);
	} else if (strcmp(cur, slot) == 0) {
		return inst_fail("refused", "slot %s is the committed slot current points at",
				 slot);
	}
	if (appdir_path(slot_path, sizeof(slot_path), dir, slot))
		return inst_fail("io", "app dir path too long");
	rc = appdir_remove(slot_path, APPDIR_COMPLETE);
	if (rc && rc != -ENOENT && rc != -ENOTDIR)
		return fail_errno("removing .complete", slot_path, rc);
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

/* The next start runs S, on trial: trial.json first, then the link, so
 * there is never a current -> S without the record that lets edge-ota-boot
 * count its starts and swap back. */
static int trial(const char *dir, const char *slot, unsigned long max)
{
	struct appdir_trial t;
	char cur[2];
	int rc;

	if (!appdir_complete(dir, slot))
		return inst_fail("refused", "slot %s is not complete (%s/%s/%s missing)", slot, dir,
				 slot, APPDIR_COMPLETE);
	rc = appdir_current(dir, cur);
	if (rc)
		return rc == -EINVAL ? inst_fail("io", "%s/current names neither A nor B", dir)
				     : fail_errno("reading current", dir, rc);
	if (strcmp(cur, slot) == 0) {
		/* Redone after a crash that came after the swap: the trial
		 * stands with the starts it has counted. */
		if (appdir_trial_read(dir, &t) == 0 && strcmp(t.slot, slot) == 0) {
			inst_emit("slot %s", slot);
			inst_emit("done");
			return 0;
		}
		return inst_fail("refused", "slot %s is already the committed slot", slot);
	}
	memcpy(t.slot, slot, 2);
	memcpy(t.from, cur, 2);
	t.starts = 0;
	t.max = max;
	rc = appdir_trial_write(dir, &t);
	if (rc)
		return fail_errno("writing trial.json", dir, rc);
	rc = appdir_set_current(dir, slot);
	if (rc)
		return fail_errno("swapping current", dir, rc);
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int commit(const char *dir, const char *slot)
{
	char cur[2];
	int rc = appdir_current(dir, cur);

	if (rc)
		return rc == -EINVAL ? inst_fail("io", "%s/current names neither A nor B", dir)
				     : fail_errno("reading current", dir, rc);
	if (strcmp(cur, slot) != 0)
		return inst_fail("refused", "current points at %s, not %s", cur, slot);
	rc = appdir_remove(dir, APPDIR_TRIAL);
	if (rc)
		return fail_errno("removing trial.json", dir, rc);
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int run(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	const char *dir = inst_opt(argc, argv, "app-dir");
	const char *slot = inst_opt(argc, argv, "slot");
	const char *max_s = inst_opt(argc, argv, "max-starts");
	unsigned long max = 3;

	/* OP S or OP --slot S */
	if (!slot && argc > 2 && argv[2][0] != '-')
		slot = argv[2];
	if (max_s) {
		char *end;

		errno = 0;
		max = strtoul(max_s, &end, 10);
		if (errno || *end || end == max_s || max < 1 || max > 1000) {
			inst_fail("internal", "--max-starts wants 1..1000, got \"%s\"", max_s);
			return 2;
		}
	}
	if (!dir || (strcmp(op, "booted") != 0 && !appdir_slot_ok(slot))) {
		inst_fail("internal", "usage: boot-service " USAGE);
		return 2;
	}
	if (strcmp(op, "booted") == 0)
		return booted(dir);
	if (strcmp(op, "mark-bad") == 0)
		return mark_bad(dir, slot);
	if (strcmp(op, "trial") == 0)
		return trial(dir, slot, max);
	if (strcmp(op, "commit") == 0)
		return commit(dir, slot);
	inst_fail("internal", "unknown operation \"%s\"; usage: boot-service " USAGE, op);
	return 2;
}

const struct inst_cmd inst_boot_service = {"boot-service", USAGE, run};
