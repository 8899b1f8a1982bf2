/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install boot-uboot: A/B boot selection through the U-Boot
 * environment (libubootenv), with RAUC's variables so a board's existing
 * RAUC boot script works too (deploy/uboot/boot.cmd is ours):
 *
 *   BOOT_ORDER    "A B", "B A", "A" or "B": the slots U-Boot tries, in order
 *   BOOT_A_LEFT   tries left for slot A (0..9); the boot script decrements it
 *   BOOT_B_LEFT   before every boot, so a slot that never reaches "commit"
 *                 loses its turn after N boots
 *
 * The script and this file read a malformed variable the same way (order ->
 * "A B", counter -> SCRIPT_TRIES), so a counter we copy through unchanged is
 * the one U-Boot would have used.
 *
 * Only this helper links libubootenv; the daemon never maps it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libuboot.h 0.3.2 uses size_t without including <stddef.h>. */
#include <libuboot.h>

#include "install.h"

#define DEFAULT_TRIES 3
/* What boot.cmd puts in place of a missing or malformed counter (edge_tries). */
#define SCRIPT_TRIES 3
/* The boot script decrements with setexpr, which reads hexadecimal: one digit
 * reads the same in both bases. */
#define MAX_TRIES 9

struct env_state {
	char order[2]; /* slots in boot order, '\0' when absent */
	int left[2];   /* tries left of A and B */
};

static int slot_index(char s)
{
	return s == 'A' ? 0 : 1;
}

static char other_slot(char s)
{
	return s == 'A' ? 'B' : 'A';
}

/* Reads BOOT_ORDER the way boot.cmd does: exactly one of its four forms, or
 * the default "A B". */
static void parse_order(const char *v, char order[2])
{
	if (v && (strcmp(v, "A") == 0 || strcmp(v, "B") == 0)) {
		order[0] = v[0];
		order[1] = '\0';
	} else if (v && (strcmp(v, "A B") == 0 || strcmp(v, "B A") == 0)) {
		order[0] = v[0];
		order[1] = v[2];
	} else {
		order[0] = 'A';
		order[1] = 'B';
	}
}

static int parse_left(const char *v)
{
	if (v && v[0] >= '0' && v[0] <= '9' && v[1] == '\0')
		return v[0] - '0';
	return SCRIPT_TRIES;
}

static void format_order(const char order[2], char out[4])
{
	out[0] = order[0];
	out[1] = order[1] ? ' ' : '\0';
	out[2] = order[1];
	out[3] = '\0';
}

static int load_state(struct uboot_ctx *ctx, struct env_state *st)
{
	char *order = libuboot_get_env(ctx, "BOOT_ORDER");
	char *a = libuboot_get_env(ctx, "BOOT_A_LEFT");
	char *b = libuboot_get_env(ctx, "BOOT_B_LEFT");

	parse_order(order, st->order);
	st->left[0] = parse_left(a);
	st->left[1] = parse_left(b);
	free(order);
	free(a);
	free(b);
	return 0;
}

static int store_state(struct uboot_ctx *ctx, const struct env_state *st)
{
	char order[4], a[2] = {(char)('0' + st->left[0]), '\0'},
		       b[2] = {(char)('0' + st->left[1]), '\0'};
	int rc;

	format_order(st->order, order);
	if ((rc = libuboot_set_env(ctx, "BOOT_ORDER", order)) < 0 ||
	    (rc = libuboot_set_env(ctx, "BOOT_A_LEFT", a)) < 0 ||
	    (rc = libuboot_set_env(ctx, "BOOT_B_LEFT", b)) < 0)
		return rc;
	return libuboot_env_store(ctx);
}

/* Opens the environment described by the fw_env config file. A region without
 * a valid CRC is refused unless defenv (U-Boot's default environment as
 * "name=value" lines, like fw_setenv -f) says what it holds: writing only our
 * three variables there would hide U-Boot's built-in defaults (bootcmd, ...)
 * on a board that keeps its whole environment in that region. */
static int env_open(const char *config, const char *defenv, struct uboot_ctx **out)
{
	struct uboot_ctx *ctx = NULL;
	/* libubootenv says EBADF for any config it cannot open: name the cause. */
	FILE *f = fopen(config, "r");
	if (!f)
		return inst_fail("io", "%s: %s", config, strerror(errno));
	fclose(f);

	int rc = libuboot_initialize(&ctx, NULL);

	if (rc < 0)
		return inst_fail("internal", "libuboot_initialize: %s", strerror(-rc));
	rc = libuboot_read_config(ctx, config);
	if (rc < 0) {
		libuboot_exit(ctx);
		return inst_fail("io", "%s: cannot use it as a fw_env config (%s)", config,
				 strerror(-rc));
	}
	rc = libuboot_open(ctx);
	if (rc == -ENODATA && defenv) {
		rc = libuboot_load_file(ctx, defenv);
		if (rc < 0) {
			libuboot_close(ctx);
			libuboot_exit(ctx);
			return inst_fail("io", "%s: cannot read it as a default environment (%s)",
					 defenv, strerror(-rc));
		}
	} else if (rc == -ENODATA) {
		libuboot_close(ctx);
		libuboot_exit(ctx);
		return inst_fail("refused",
				 "the U-Boot environment of %s has no valid CRC; --defenv FILE "
				 "(U-Boot's default environment) starts a new one",
				 config);
	} else if (rc < 0) {
		libuboot_close(ctx);
		libuboot_exit(ctx);
		return inst_fail("io", "cannot read the U-Boot environment of %s (%s)", config,
				 strerror(-rc));
	}
	*out = ctx;
	return 0;
}

static void env_close(struct uboot_ctx *ctx)
{
	libuboot_close(ctx);
	libuboot_exit(ctx);
}

/* "slot X" from edge.slot= (ours) or rauc.slot= (a RAUC-style boot script). */
static int op_booted(const char *cmdline_path)
{
	char buf[4096];
	FILE *f = fopen(cmdline_path, "r");
	if (!f)
		return inst_fail("io", "%s: %s", cmdline_path, strerror(errno));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	int err = ferror(f);
	fclose(f);
	if (err)
		return inst_fail("io", "%s: read error", cmdline_path);
	buf[n] = '\0';

	const char *found[2] = {NULL, NULL}; /* edge.slot, rauc.slot */
	for (char *save = NULL, *tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, "edge.slot=", 10) == 0)
			found[0] = tok + 10;
		else if (strncmp(tok, "rauc.slot=", 10) == 0)
			found[1] = tok + 10;
	}
	const char *slot = found[0] ? found[0] : found[1];
	if (!slot)
		return inst_fail("refused", "%s names no slot (no edge.slot= or rauc.slot=)",
				 cmdline_path);
	if (strcmp(slot, "A") != 0 && strcmp(slot, "B") != 0)
		return inst_fail("refused", "%s names slot \"%.32s\", not A or B", cmdline_path,
				 slot);
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int op_write(const char *op, char slot, int tries, const char *config, const char *defenv)
{
	struct uboot_ctx *ctx;
	struct env_state st, back;
	int i = slot_index(slot), o = slot_index(other_slot(slot));

	if (env_open(config, defenv, &ctx))
		return 1;
	load_state(ctx, &st);

	if (strcmp(op, "mark-bad") == 0) {
		/* The slot leaves BOOT_ORDER so U-Boot never picks it, whatever
		 * its counter (the #683 reset refills counters, not the order);
		 * "trial" puts it back once it is written. */
		char keep[2] = {'\0', '\0'};
		int k = 0;
		for (int j = 0; j < 2 && st.order[j]; j++)
			if (st.order[j] != slot)
				keep[k++] = st.order[j];
		if (k == 0) {
			env_close(ctx);
			return inst_fail("refused",
					 "%c is the only slot in BOOT_ORDER; marking it bad "
					 "leaves nothing to boot",
					 slot);
		}
		memcpy(st.order, keep, sizeof(keep));
		st.left[i] = 0;
	} else {
		/* trial and commit: S first, the other slot as the fallback. A
		 * trial refills the fallback's counter so it can still boot after
		 * S used its tries; a commit leaves it as it is. */
		st.order[0] = slot;
		st.order[1] = other_slot(slot);
		st.left[i] = tries;
		if (strcmp(op, "trial") == 0)
			st.left[o] = tries;
	}

	/* libuboot_env_store returns a byte count when a write comes up short. */
	int rc = store_state(ctx, &st);
	env_close(ctx);
	if (rc != 0)
		return inst_fail("io", "cannot write the U-Boot environment of %s (%s)", config,
				 rc < 0 ? strerror(-rc) : "short write");

	/* Read back through a fresh open, as U-Boot will: a write that did not
	 * land (a read-only device, a wrong offset) must not report done. */
	if (env_open(config, NULL, &ctx))
		return 1;
	load_state(ctx, &back);
	env_close(ctx);
	if (memcmp(st.order, back.order, sizeof(st.order)) != 0 || st.left[0] != back.left[0] ||
	    st.left[1] != back.left[1])
		return inst_fail("io", "the U-Boot environment of %s reads back different", config);

	char order[4];
	format_order(st.order, order);
	inst_emit("slot %c", slot);
	inst_emit("log BOOT_ORDER=\"%s\" BOOT_A_LEFT=%d BOOT_B_LEFT=%d", order, st.left[0],
		  st.left[1]);
	inst_emit("done");
	return 0;
}

static int usage_error(const char *what)
{
	fprintf(stderr, "edge-ota-install boot-uboot: %s\n", what);
	return 2;
}

static int run(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return usage_error("missing OP (booted, mark-bad, trial or commit)");
	const char *op = argv[1];

	if (strcmp(op, "booted") == 0) {
		const char *cmdline = inst_opt(argc, argv, "cmdline");
		return op_booted(cmdline ? cmdline : "/proc/cmdline");
	}
	if (strcmp(op, "mark-bad") != 0 && strcmp(op, "trial") != 0 && strcmp(op, "commit") != 0)
		return usage_error("OP is one of booted, mark-bad, trial, commit");

	const char *slot = inst_opt(argc, argv, "slot");
	if (!slot || (strcmp(slot, "A") != 0 && strcmp(slot, "B") != 0))
		return usage_error("--slot A|B is required");
	const char *config = inst_opt(argc, argv, "env-config");
	if (!config)
		return usage_error("--env-config FILE (fw_env.config) is required");
	int tries = DEFAULT_TRIES;
	const char *t = inst_opt(argc, argv, "tries");
	if (t) {
		if (t[0] < '1' || t[0] > '0' + MAX_TRIES || t[1] != '\0')
			return usage_error("--tries is 1..9");
		tries = t[0] - '0';
	}
	return op_write(op, slot[0], tries, config, inst_opt(argc, argv, "defenv"));
}

const struct inst_cmd inst_boot_uboot = {
    "boot-uboot",
    "booted|mark-bad|trial|commit [--slot A|B] --env-config FILE [--tries N (3)] "
    "[--defenv FILE] [--cmdline FILE (/proc/cmdline)]",
    run};
