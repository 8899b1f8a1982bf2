/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install boot-rauc OP [--slot S] [--rauc PATH] [--conf FILE]:
 * the boot steps of the rauc installer, all through the RAUC service.
 *
 *   booted    `rauc status`: "slot S" for the booted slot's bootname (A/B)
 *             and "version V" when RAUC installed that slot
 *   mark-bad  `rauc status mark-bad <the slot whose bootname is S>`
 *   trial     nothing to write: `rauc install` already made the new slot
 *             the primary one; checks that RAUC's primary has bootname S
 *   commit    `rauc status mark-good booted` (with --slot: S must be booted)
 *
 * The agent names slots "A"/"B"; RAUC names them "rootfs.0"/"rootfs.1" and
 * gives each a bootname, which is what the boot loader knows them by. The
 * system.conf must use bootnames A and B.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "install.h"
#include "tool.h"

/* ---- `rauc status --output-format=shell` ---- */

struct status_parse {
	struct inst_rauc_status *st;
	char names[1024]; /* RAUC_SYSTEM_SLOTS: names of slot 1..n */
	char last[256];	  /* the last line that is no variable (errors) */
	bool saw_booted;
};

/* Undoes g_shell_quote: 'text' with ' written as '\''. In place. */
static void unquote(char *s)
{
	char *w = s;
	bool in_quote = false;
	for (char *r = s; *r; r++) {
		if (*r == '\'') {
			in_quote = !in_quote;
		} else if (!in_quote && *r == '\\' && r[1]) {
			*w++ = *++r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* RAUC_SLOT_BOOTNAME_2 with prefix "RAUC_SLOT_BOOTNAME_" -> index 1. */
static int slot_index(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(key, prefix, n) != 0)
		return -1;
	char *end;
	long i = strtol(key + n, &end, 10);
	if (end == key + n || *end || i < 1 || i > INST_RAUC_SLOTS_MAX)
		return -1;
	return (int)i - 1;
}

static void on_status_line(void *ctx, char *line)
{
	struct status_parse *p = ctx;
	struct inst_rauc_status *st = p->st;
	char *eq = strchr(line, '=');

	if (strncmp(line, "RAUC_", 5) != 0 || !eq) {
		if (line[0] && strncmp(line, "rauc-Message:", 13) != 0)
			inst_copy(p->last, sizeof(p->last), line);
		return;
	}
	*eq = '\0';
	char *key = line, *val = eq + 1;
	unquote(val);

	int i;
	if (strcmp(key, "RAUC_SYSTEM_BOOTED_BOOTNAME") == 0) {
		inst_copy(st->booted, sizeof(st->booted), val);
		p->saw_booted = true;
	} else if (strcmp(key, "RAUC_BOOT_PRIMARY") == 0) {
		inst_copy(st->primary, sizeof(st->primary), val);
	} else if (strcmp(key, "RAUC_SYSTEM_SLOTS") == 0) {
		inst_copy(p->names, sizeof(p->names), val);
	} else if ((i = slot_index(key, "RAUC_SLOT_BOOTNAME_")) >= 0) {
		inst_copy(st->slot[i].bootname, sizeof(st->slot[i].bootname), val);
	} else if ((i = slot_index(key, "RAUC_SLOT_BOOT_STATUS_")) >= 0) {
		inst_copy(st->slot[i].boot_status, sizeof(st->slot[i].boot_status), val);
	} else if ((i = slot_index(key, "RAUC_SLOT_STATUS_BUNDLE_VERSION_")) >= 0) {
		inst_copy(st->slot[i].version, sizeof(st->slot[i].version), val);
	}
}

int inst_rauc_status(const char *rauc, const char *conf, struct inst_rauc_status *st, char *err,
		     size_t errlen)
{
	char conf_arg[4200];
	const char *args[6];
	int n = 0;

	memset(st, 0, sizeof(*st));
	args[n++] = rauc;
	if (conf) {
		int w = snprintf(conf_arg, sizeof(conf_arg), "--conf=%s", conf);
		if (w < 0 || (size_t)w >= sizeof(conf_arg)) {
			inst_copy(err, errlen, "--conf path too long");
			return -EIO;
		}
		args[n++] = conf_arg;
	}
	args[n++] = "status";
	args[n++] = "--detailed";
	args[n++] = "--output-format=shell";
	args[n] = NULL;

	struct status_parse p = {.st = st};
	struct inst_tool t = {.argv = args, .on_line = on_status_line, .ctx = &p};
	int rc = inst_tool_run(&t);
	if (rc < 0) {
		snprintf(err, errlen, "cannot run %s: %s", rauc, strerror(-rc));
		return -EIO;
	}
	if (rc != 0) {
		snprintf(err, errlen, "rauc status failed (status %d): %s", rc,
			 p.last[0] ? p.last : "no message");
		return -EIO;
	}
	if (!p.saw_booted) {
		inst_copy(err, errlen, "rauc status printed no RAUC_SYSTEM_BOOTED_BOOTNAME");
		return -EIO;
	}
	/* RAUC prints the names and the numbered variables from one walk over
	 * its slot table, so the i-th name is slot i. */
	char *save = NULL;
	for (char *name = strtok_r(p.names, " ", &save); name && st->nslots < INST_RAUC_SLOTS_MAX;
	     name = strtok_r(NULL, " ", &save))
		inst_copy(st->slot[st->nslots++].name, sizeof(st->slot[0].name), name);
	return 0;
}

const struct inst_rauc_slot *inst_rauc_find(const struct inst_rauc_status *st, const char *key,
					    int by_name)
{
	for (int i = 0; i < st->nslots; i++) {
		const char *v = by_name ? st->slot[i].name : st->slot[i].bootname;
		if (v[0] && strcmp(v, key) == 0)
			return &st->slot[i];
	}
	return NULL;
}

/* ---- the subcommand ---- */

static bool is_ab(const char *s)
{
	return s && (strcmp(s, "A") == 0 || strcmp(s, "B") == 0);
}

struct mark_out {
	char said[256]; /* "rauc status: marked slot rootfs.0 as good" or an error */
};

static void on_mark_line(void *ctx, char *line)
{
	struct mark_out *m = ctx;
	if (line[0] && strncmp(line, "rauc-Message:", 13) != 0)
		inst_copy(m->said, sizeof(m->said), line);
}

/* `rauc status mark-good|mark-bad WHICH`. 0 or the exit status (after
 * "error"). */
static int mark(const char *rauc, const char *conf, const char *how, const char *which)
{
	char conf_arg[4200];
	const char *args[7];
	int n = 0;
	args[n++] = rauc;
	if (conf) {
		int w = snprintf(conf_arg, sizeof(conf_arg), "--conf=%s", conf);
		if (w < 0 || (size_t)w >= sizeof(conf_arg))
			return inst_fail("internal", "--conf path too long");
		args[n++] = conf_arg;
	}
	args[n++] = "status";
	args[n++] = how;
	args[n++] = which;
	args[n] = NULL;

	struct mark_out m = {.said = ""};
	struct inst_tool t = {.argv = args, .on_line = on_mark_line, .ctx = &m};
	int rc = inst_tool_run(&t);
	if (rc < 0)
		return inst_fail("internal", "cannot run %s: %s", rauc, strerror(-rc));
	if (rc != 0)
		return inst_fail("internal", "rauc status %s %s failed (status %d): %s", how, which,
				 rc, m.said[0] ? m.said : "no message");
	if (m.said[0])
		inst_emit("log %.400s", m.said);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: edge-ota-install boot-rauc booted|mark-bad|trial|commit "
			"[--slot A|B] [--rauc PATH] [--conf FILE]\n");
	return 2;
}

static int run(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return usage();
	const char *op = argv[1];
	const char *slot = inst_opt(argc, argv, "slot");
	const char *rauc = inst_opt(argc, argv, "rauc");
	const char *conf = inst_opt(argc, argv, "conf");
	if (!rauc)
		rauc = "rauc";
	bool need_slot = strcmp(op, "mark-bad") == 0 || strcmp(op, "trial") == 0;
	if ((slot && !is_ab(slot)) || (need_slot && !slot))
		return usage();
	if (strcmp(op, "booted") != 0 && strcmp(op, "commit") != 0 && !need_slot)
		return usage();

	struct inst_rauc_status st;
	char err[300];
	if (inst_rauc_status(rauc, conf, &st, err, sizeof(err)) < 0)
		return inst_fail("internal", "%s", err);
	if (!is_ab(st.booted))
		return inst_fail(
		    "internal", "RAUC's booted slot has bootname \"%.40s\", not A or B", st.booted);

	if (strcmp(op, "booted") == 0) {
		const struct inst_rauc_slot *b = inst_rauc_find(&st, st.booted, 0);
		inst_emit("slot %s", st.booted);
		if (b && b->version[0])
			inst_emit("version %s", b->version);
		inst_emit("done");
		return 0;
	}
	if (strcmp(op, "commit") == 0) {
		/* mark-good acts on the booted slot: committing another one would
		 * say "good" about a slot that never ran */
		if (slot && strcmp(slot, st.booted) != 0)
			return inst_fail("internal", "cannot commit %s: slot %s is booted", slot,
					 st.booted);
		int rc = mark(rauc, conf, "mark-good", "booted");
		if (rc != 0)
			return rc;
		inst_emit("slot %s", st.booted);
		inst_emit("done");
		return 0;
	}

	const struct inst_rauc_slot *s = inst_rauc_find(&st, slot, 0);
	if (!s)
		return inst_fail("internal", "RAUC has no slot with bootname %s", slot);
	if (strcmp(op, "mark-bad") == 0) {
		int rc = mark(rauc, conf, "mark-bad", s->name);
		if (rc != 0)
			return rc;
		inst_emit("slot %s", slot);
		inst_emit("done");
		return 0;
	}
	/* trial */
	if (strcmp(st.primary, s->name) != 0)
		return inst_fail("internal", "RAUC's primary slot is \"%.60s\", not %s (%.60s)",
				 st.primary, s->name, slot);
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

const struct inst_cmd inst_boot_rauc = {
    "boot-rauc", "booted|mark-bad|trial|commit [--slot S] [--rauc PATH] [--conf FILE]", run};
