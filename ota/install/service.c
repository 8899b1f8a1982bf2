/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install service: unpacks an app tarball (bin/edge-agent,
 * bin/edge-ota-*, ..., an optional top-level VERSION) into the inactive
 * slot D/S of the service-mode layout (ota/boot/appdir.h).
 *
 * Order matters for a crash at any point: the marker D/S/.complete goes
 * first when the slot is emptied and comes back last, after every file and
 * directory is fsynced, so a half-written slot is never bootable. The slot
 * D/current points at is never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../boot/appdir.h"
#include "install.h"
#include "tar.h"

/* Removes one entry of the tree (its contents are gone already). */
static int remove_entry(int dirfd, const char *name, bool is_dir, void *arg)
{
	(void)arg;
	return unlinkat(dirfd, name, is_dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
}

/* Removes everything below dirfd without following symlinks. */
static int empty_dir(int dirfd)
{
	return inst_walk_tree(dirfd, remove_entry, NULL, NULL);
}

static void progress(uint64_t done, uint64_t total)
{
	inst_emit("progress %llu %llu", (unsigned long long)done, (unsigned long long)total);
}

/* Refuses the slot the service runs: by name through the link, and by
 * identity in case the link was made by hand (an absolute target). */
static bool is_current(const char *dir, const char *slot, const char *slot_path)
{
	char cur[2], link[PATH_MAX];
	struct stat a, b;

	if (appdir_current(dir, cur) == 0 && strcmp(cur, slot) == 0)
		return true;
	if (appdir_path(link, sizeof(link), dir, APPDIR_CURRENT) == 0 && stat(link, &a) == 0 &&
	    stat(slot_path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return true;
	return false;
}

static const char *kind_of(int rc)
{
	if (rc == -EINVAL)
		return "refused";
	if (rc == -ENOSPC || rc == -EDQUOT)
		return "disk";
	return "io";
}

static int run(int argc, char **argv)
{
	const char *image = inst_opt(argc, argv, "image");
	const char *dir = inst_opt(argc, argv, "app-dir");
	const char *slot = inst_opt(argc, argv, "slot");
	char want[65], got[65], slot_path[PATH_MAX], why[300] = "";
	struct stat st;
	int in, sfd, rc;

	if (!image || !dir || !appdir_slot_ok(slot) ||
	    !inst_sha256_arg(inst_opt(argc, argv, "sha256"), want)) {
		inst_fail("internal", "usage: service --image F --sha256 H --app-dir D --slot A|B");
		return 2;
	}
	if (appdir_path(slot_path, sizeof(slot_path), dir, slot))
		return inst_fail("io", "app dir path too long");
	if (is_current(dir, slot, slot_path))
		return inst_fail("refused", "slot %s is the one %s/current points at", slot, dir);

	in = open(image, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return inst_fail("io", "open %s: %s", image, strerror(errno));
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return inst_fail("io", "%s: not a readable regular file", image);
	}
	rc = inst_sha256_fd(in, (uint64_t)st.st_size, got);
	if (rc) {
		close(in);
		return inst_fail("io", "read %s: %s", image, strerror(-rc));
	}
	if (strcmp(got, want) != 0) {
		close(in);
		return inst_fail("hash", "expected %s got %s", want, got);
	}

	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(slot_path, 0755) < 0 && errno != EEXIST)) {
		rc = inst_fail("io", "mkdir %s: %s", slot_path, strerror(errno));
		goto err_in;
	}
	/* O_NOFOLLOW: a slot that is a symlink could point anywhere. */
	sfd = open(slot_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		rc = inst_fail(errno == ELOOP || errno == ENOTDIR ? "refused" : "io", "open %s: %s",
			       slot_path, strerror(errno));
		goto err_in;
	}
	/* The marker first, durably: from here on the slot is not bootable. */
	rc = appdir_remove(slot_path, APPDIR_COMPLETE);
	if (!rc)
		rc = empty_dir(sfd);
	if (!rc && fsync(sfd) < 0)
		rc = -errno;
	if (rc) {
		rc = inst_fail("io", "emptying %s: %s", slot_path, strerror(-rc));
		goto err_sfd;
	}

	rc = inst_tar_extract(in, (uint64_t)st.st_size, sfd, APPDIR_COMPLETE, progress, why,
			      sizeof(why));
	if (rc) {
		int rc2 = empty_dir(sfd);

		if (rc2)
			inst_emit("log could not empty %s after the failure: %s", slot_path,
				  strerror(-rc2));
		rc = inst_fail(kind_of(rc), "%s: %s", image, why[0] ? why : strerror(-rc));
		goto err_sfd;
	}
	rc = appdir_write_atomic(slot_path, APPDIR_COMPLETE, got, 64, 0644);
	if (rc) {
		rc = inst_fail(kind_of(rc), "writing %s/%s: %s", slot_path, APPDIR_COMPLETE,
			       strerror(-rc));
		goto err_sfd;
	}
	close(sfd);
	close(in);
	inst_emit("slot %s", slot);
	inst_emit("done");
	return 0;

err_sfd:
	close(sfd);
err_in:
	close(in);
	return rc;
}

const struct inst_cmd inst_service = {"service", "--image F --sha256 H --app-dir D --slot A|B",
				      run};
