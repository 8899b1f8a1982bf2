/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_INSTALL_TOOL_H
#define EDGE_OTA_INSTALL_TOOL_H
/*
 * Running an installer's own program (rauc, swupdate) as a child of
 * edge-ota-install and reading what it prints, line by line, so the
 * subcommands can translate it into the protocol of edge/ota/progress.h.
 * Shared by rauc.c, boot_rauc.c and swupdate.c; the code lives in rauc.c
 * because the build lists one source per subcommand.
 */
#include <stddef.h>

/* Longest line handed to on_line; longer ones are cut (the rest dropped). */
#define INST_TOOL_LINE_MAX 1024

struct inst_tool {
	const char *const *argv; /* argv[0] is looked up in PATH; NULL-terminated */
	const char *const *env;	 /* "NAME=VALUE" set for the child only, or NULL */
	/* Called for every line the child prints on stdout or stderr (one
	 * pipe, so the order is the child's), without its '\n' or '\r'. */
	void (*on_line)(void *ctx, char *line);
	void *ctx;
};

/*
 * Runs the tool to its end with stdin on /dev/null. The child dies with
 * this process (PR_SET_PDEATHSIG), so an agent that stops the helper stops
 * the tool too. Returns its exit status (0..255), 128 + N when signal N
 * ended it, or a negative errno when it could not run (-ENOENT: no such
 * program).
 */
int inst_tool_run(const struct inst_tool *t);

/* Copies s into out (outlen bytes, NUL-terminated, cut if too long). */
void inst_copy(char *out, size_t outlen, const char *s);

/*
 * What `rauc status --detailed --output-format=shell` says (boot_rauc.c).
 * The shell format rather than JSON: it is as stable (RAUC documents both
 * for scripts) and needs no JSON library in this helper.
 */
#define INST_RAUC_SLOTS_MAX 16

struct inst_rauc_slot {
	char name[64];	      /* "rootfs.1" */
	char bootname[32];    /* "B"; "" for slots without one */
	char boot_status[16]; /* "good" / "bad" / "" */
	char version[64];     /* the bundle version RAUC installed there, or "" */
};

struct inst_rauc_status {
	char booted[32];  /* the booted slot's bootname */
	char primary[64]; /* the slot name the boot loader starts next, or "" */
	int nslots;
	struct inst_rauc_slot slot[INST_RAUC_SLOTS_MAX];
};

/* Runs `RAUC [--conf=CONF] status ...` (conf may be NULL). 0, or -EIO with
 * a one-line reason in err (errlen bytes). */
int inst_rauc_status(const char *rauc, const char *conf, struct inst_rauc_status *st, char *err,
		     size_t errlen);
/* The slot with this bootname (or, by_name, this slot name), or NULL. */
const struct inst_rauc_slot *inst_rauc_find(const struct inst_rauc_status *st, const char *key,
					    int by_name);

#endif
