/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install boot-tryboot: A/B selection on Raspberry Pi 4/5 through
 * autoboot.txt on the first FAT partition (mounted at --boot-dir) and the
 * firmware's one-shot tryboot flag.
 *
 * The firmware boots [all] boot_partition; after `reboot "0 tryboot"` the
 * [tryboot] filter also matches, so its boot_partition wins for that one
 * boot; with tryboot_a_b=1 it loads the normal config.txt of that
 * partition. The flag is cleared before the OS starts, so any reset after a
 * failed trial comes back on [all] boot_partition. The partition that did
 * boot is in the device tree (chosen/bootloader/partition, one 32-bit
 * big-endian cell).
 *
 *   trial S    [all] tryboot_a_b=1 boot_partition=<booted>,
 *              [tryboot] boot_partition=<S>; the agent then reboots with
 *              the "0 tryboot" flag
 *   commit S   (booted on S) [all] tryboot_a_b=1 boot_partition=<S>,
 *              no [tryboot] section
 *   mark-bad S no [tryboot] section pointing at S; refused when [all] does
 *
 * autoboot.txt is rewritten whole (the firmware reads at most 512 bytes of
 * it, and it holds nothing but these keys in this mode), atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../boot/appdir.h"
#include "install.h"

#define USAGE                                                                                      \
	"booted|mark-bad S|trial S|commit S --boot-dir D [--part-a N] [--part-b N] "               \
	"[--dt-partition FILE]"
#define AUTOBOOT "autoboot.txt"
#define DT_PART	 "/proc/device-tree/chosen/bootloader/partition"
/* The firmware ignores autoboot.txt beyond this. */
#define AUTOBOOT_MAX 512

struct tryboot {
	const char *dir;
	const char *dt;
	unsigned part[2]; /* A, B */
};

/* What autoboot.txt says: 0 when a key is absent. */
struct autoboot {
	unsigned all;
	unsigned tryboot;
};

static bool part_arg(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s)
		return true;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 127)
		return false;
	*out = (unsigned)v;
	return true;
}

static unsigned part_of(const struct tryboot *tb, const char *slot)
{
	return tb->part[slot[0] == 'B'];
}

/* The partition the firmware booted, from the device tree. */
static int booted_part(const struct tryboot *tb, unsigned *out)
{
	unsigned char cell[4];
	ssize_t n;
	int fd = open(tb->dt, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, cell, sizeof(cell));
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	if (n != 4)
		return -EINVAL;
	*out = (unsigned)cell[0] << 24 | (unsigned)cell[1] << 16 | (unsigned)cell[2] << 8 |
	       (unsigned)cell[3];
	return 0;
}

/* Like booted_part(), then the slot that partition belongs to; on failure
 * the error line is already out and the exit status is returned. */
static int booted_slot(const struct tryboot *tb, unsigned *part, char slot[2])
{
	int rc = booted_part(tb, part);

	if (rc)
		return inst_fail("io", "%s: %s", tb->dt,
				 rc == -EINVAL ? "not a 4-byte partition cell" : strerror(-rc));
	if (*part != tb->part[0] && *part != tb->part[1])
		return inst_fail("io",
				 "booted from partition %u, which is neither A (%u) nor B (%u)",
				 *part, tb->part[0], tb->part[1]);
	slot[0] = *part == tb->part[0] ? 'A' : 'B';
	slot[1] = '\0';
	return 0;
}

/* Reads boot_partition of [all] (also before any section) and [tryboot];
 * other filters and keys are skipped. -ENOENT when there is no file. */
static int autoboot_read(const char *dir, struct autoboot *ab)
{
	char text[AUTOBOOT_MAX + 1];
	ssize_t n = appdir_read(dir, AUTOBOOT, text, sizeof(text));
	enum { ALL, TRYBOOT, OTHER } section = ALL;

	memset(ab, 0, sizeof(*ab));
	if (n < 0)
		return (int)n;
	for (char *line = text, *next; line; line = next) {
		char *end, *eq;
		unsigned long v;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*line == '#' || !*line)
			continue;
		if (*line == '[') {
			section = strcmp(line, "[all]") == 0	   ? ALL
				  : strcmp(line, "[tryboot]") == 0 ? TRYBOOT
								   : OTHER;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq || section == OTHER || strncmp(line, "boot_partition", 14) != 0 ||
		    line + 14 != eq)
			continue;
		errno = 0;
		v = strtoul(eq + 1, &end, 10);
		if (errno || *end || end == eq + 1 || v > 127)
			return -EINVAL;
		if (section == ALL)
			ab->all = (unsigned)v;
		else
			ab->tryboot = (unsigned)v;
	}
	return 0;
}

static int autoboot_write(const struct tryboot *tb, unsigned all, unsigned tryboot)
{
	char text[AUTOBOOT_MAX];
	int n = tryboot ? snprintf(text, sizeof(text),
				   "[all]\ntryboot_a_b=1\nboot_partition=%u\n[tryboot]\n"
				   "boot_partition=%u\n",
				   all, tryboot)
			: snprintf(text, sizeof(text), "[all]\ntryboot_a_b=1\nboot_partition=%u\n",
				   all);
	int rc = appdir_write_atomic(tb->dir, AUTOBOOT, text, (size_t)n, 0644);

	if (rc)
		return inst_fail(rc == -ENOSPC ? "disk" : "io", "writing %s/%s: %s", tb->dir,
				 AUTOBOOT, strerror(-rc));
	return 0;
}

static int op_booted(const struct tryboot *tb)
{
	unsigned part;
	char slot[2];
	int rc = booted_slot(tb, &part, slot);

	if (rc)
		return rc;
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int op_trial(const struct tryboot *tb, const char *slot)
{
	unsigned part;
	char cur[2];
	int rc = booted_slot(tb, &part, cur);

	if (rc)
		return rc;
	if (strcmp(cur, slot) == 0)
		return inst_fail("refused", "slot %s (partition %u) is the one running", slot,
				 part);
	rc = autoboot_write(tb, part, part_of(tb, slot));
	if (rc)
		return rc;
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int op_commit(const struct tryboot *tb, const char *slot)
{
	unsigned part;
	char cur[2];
	int rc = booted_slot(tb, &part, cur);

	if (rc)
		return rc;
	/* Only a slot that booted and passed its health window is made the
	 * default: never one that was merely written. */
	if (strcmp(cur, slot) != 0)
		return inst_fail("refused", "running slot %s, not %s", cur, slot);
	rc = autoboot_write(tb, part, 0);
	if (rc)
		return rc;
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int op_mark_bad(const struct tryboot *tb, const char *slot)
{
	struct autoboot ab;
	unsigned bad = part_of(tb, slot), part;
	int rc = autoboot_read(tb->dir, &ab);

	if (rc == -ENOENT) {
		/* No autoboot.txt: the firmware boots its default partition
		 * and never tries either slot. */
		inst_emit("slot %s", slot);
		inst_emit("done");
		return 0;
	}
	if (rc)
		return inst_fail("io", "%s/%s: %s", tb->dir, AUTOBOOT,
				 rc == -EINVAL || rc == -EFBIG ? "not an autoboot.txt of ours"
							       : strerror(-rc));
	if (ab.all == bad)
		return inst_fail("refused", "slot %s (partition %u) is the default boot partition",
				 slot, bad);
	if (ab.tryboot == bad) {
		/* Without [all] boot_partition the firmware used its default;
		 * keep booting what runs now rather than guess. */
		if (!ab.all) {
			if (booted_part(tb, &part) || part == bad)
				return inst_fail(
				    "refused", "%s/%s has no [all] boot_partition to fall back to",
				    tb->dir, AUTOBOOT);
			ab.all = part;
		}
		rc = autoboot_write(tb, ab.all, 0);
		if (rc)
			return rc;
	}
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;
}

static int run(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	const char *slot = inst_opt(argc, argv, "slot");
	struct tryboot tb = {
	    .dir = inst_opt(argc, argv, "boot-dir"),
	    .dt = inst_opt(argc, argv, "dt-partition"),
	    .part = {2, 3},
	};

	if (!slot && argc > 2 && argv[2][0] != '-')
		slot = argv[2];
	if (!tb.dt)
		tb.dt = DT_PART;
	if (!part_arg(inst_opt(argc, argv, "part-a"), &tb.part[0]) ||
	    !part_arg(inst_opt(argc, argv, "part-b"), &tb.part[1]) || tb.part[0] == tb.part[1]) {
		inst_fail("internal", "--part-a and --part-b want two different numbers 1..127");
		return 2;
	}
	if (strcmp(op, "booted") == 0)
		return op_booted(&tb);
	if (!tb.dir || !appdir_slot_ok(slot)) {
		inst_fail("internal", "usage: boot-tryboot " USAGE);
		return 2;
	}
	if (strcmp(op, "trial") == 0)
		return op_trial(&tb, slot);
	if (strcmp(op, "commit") == 0)
		return op_commit(&tb, slot);
	if (strcmp(op, "mark-bad") == 0)
		return op_mark_bad(&tb, slot);
	inst_fail("internal", "unknown operation \"%s\"; usage: boot-tryboot " USAGE, op);
	return 2;
}

const struct inst_cmd inst_boot_tryboot = {"boot-tryboot", USAGE, run};
