/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install bundle: writes an image into the inactive slot (a
 * partition or a file), makes it durable, then hashes what the slot holds.
 *
 * The image is hashed as it is copied, so a file that changed since the
 * download was verified is caught without a third pass; the read-back then
 * proves the slot itself holds the right bytes (a short write, a bad flash
 * block or a wrong partition would otherwise surface only at boot).
 */
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "install.h"

#define CHUNK (1u << 20)

static void to_hex(const unsigned char d[32], char hex[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The device mounted at / from /proc/self/mountinfo (the last mount of "/"
 * wins: later mounts hide earlier ones); stat("/") when that is unreadable.
 * stat("/") alone would be wrong on btrfs, whose st_dev is anonymous. */
static dev_t root_dev(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	unsigned maj, min;
	dev_t dev = 0;
	struct stat st;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char mp[8];

			/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
			if (sscanf(line, "%*u %*u %u:%u %*s %7s", &maj, &min, mp) == 3 &&
			    strcmp(mp, "/") == 0)
				dev = makedev(maj, min);
		}
		fclose(f);
	}
	if (dev == 0 && stat("/", &st) == 0)
		dev = st.st_dev;
	return dev;
}

/* The whole disk a partition belongs to (sysfs), or 0. Writing the disk
 * that holds the root partition destroys the root just the same. */
static dev_t disk_of(dev_t part)
{
	char path[96];
	unsigned maj, min;
	FILE *f;
	dev_t disk = 0;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(part), minor(part));
	if (access(path, F_OK) != 0)
		return 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", major(part), minor(part));
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%u:%u", &maj, &min) == 2)
		disk = makedev(maj, min);
	fclose(f);
	return disk;
}

/* Why P must not be written, or NULL. */
static const char *running(const struct stat *p, const char *running_path)
{
	struct stat r;

	if (S_ISBLK(p->st_mode)) {
		dev_t root = root_dev();

		if (root && (p->st_rdev == root || p->st_rdev == disk_of(root)))
			return "it holds the running root file system";
	}
	if (running_path && stat(running_path, &r) == 0) {
		if (r.st_dev == p->st_dev && r.st_ino == p->st_ino)
			return "it is the running path";
		if (S_ISBLK(r.st_mode) && S_ISBLK(p->st_mode) && r.st_rdev == p->st_rdev)
			return "it is the running device";
	}
	return NULL;
}

static int write_all_at(int fd, const unsigned char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Copies size bytes of in to out from offset 0, hashing them. */
static int copy(int in, int out, uint64_t size, char hex[65], const char **what)
{
	static unsigned char buf[CHUNK];
	mbedtls_sha256_context sha;
	uint64_t done = 0, next_report = 4u << 20;
	unsigned char d[32];
	int rc = 0;

	mbedtls_sha256_init(&sha);
	if (mbedtls_sha256_starts_ret(&sha, 0) != 0) {
		*what = "sha256";
		rc = -EIO;
	}
	while (!rc && done < size) {
		size_t want = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
		ssize_t n = pread(in, buf, want, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			*what = "read image";
			break;
		}
		if (mbedtls_sha256_update_ret(&sha, buf, (size_t)n) != 0) {
			rc = -EIO;
			*what = "sha256";
			break;
		}
		rc = write_all_at(out, buf, (size_t)n, done);
		if (rc) {
			*what = "write slot";
			break;
		}
		done += (uint64_t)n;
		if (done >= next_report || done == size) {
			inst_emit("progress %llu %llu", (unsigned long long)done,
				  (unsigned long long)size);
			next_report = done + (4u << 20);
		}
	}
	if (!rc && mbedtls_sha256_finish_ret(&sha, d) != 0) {
		rc = -EIO;
		*what = "sha256";
	}
	if (!rc)
		to_hex(d, hex);
	mbedtls_sha256_free(&sha);
	return rc;
}

static int run(int argc, char **argv)
{
	const char *image = inst_opt(argc, argv, "image");
	const char *slot = inst_opt(argc, argv, "slot-path");
	const char *running_path = inst_opt(argc, argv, "running-path");
	const char *what = "", *why;
	char want[65], got[65];
	struct stat ist, sst;
	uint64_t size;
	bool blk;
	int in, out, rc, err;

	if (!image || !slot || !inst_sha256_arg(inst_opt(argc, argv, "sha256"), want)) {
		inst_fail("internal", "usage: bundle --image F --sha256 H --slot-path P "
				      "[--running-path R]");
		return 2;
	}
	in = open(image, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return inst_fail("io", "open %s: %s", image, strerror(errno));
	if (fstat(in, &ist) < 0 || !S_ISREG(ist.st_mode)) {
		close(in);
		return inst_fail("io", "%s: not a readable regular file", image);
	}
	size = (uint64_t)ist.st_size;

	if (stat(slot, &sst) < 0) {
		if (errno != ENOENT) {
			rc = inst_fail("io", "stat %s: %s", slot, strerror(errno));
			goto err_in;
		}
		memset(&sst, 0, sizeof(sst));
		sst.st_mode = S_IFREG;
	} else if (!S_ISREG(sst.st_mode) && !S_ISBLK(sst.st_mode)) {
		rc = inst_fail("refused", "%s is neither a block device nor a regular file", slot);
		goto err_in;
	}
	if (sst.st_ino && (why = running(&sst, running_path)) != NULL) {
		rc = inst_fail("refused", "will not write %s: %s", slot, why);
		goto err_in;
	}
	if (sst.st_ino && sst.st_dev == ist.st_dev && sst.st_ino == ist.st_ino) {
		rc = inst_fail("refused", "the slot %s is the image itself", slot);
		goto err_in;
	}
	blk = S_ISBLK(sst.st_mode);
	/* A block device is never truncated (O_TRUNC on a partition means
	 * nothing good); O_EXCL on it fails with EBUSY while it is mounted,
	 * which catches a slot that is in use after all. */
	out = blk ? open(slot, O_RDWR | O_EXCL | O_CLOEXEC)
		  : open(slot, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (out < 0) {
		err = errno;
		rc = inst_fail(err == EBUSY ? "refused" : "io", "open %s: %s%s", slot,
			       strerror(err), err == EBUSY ? " (mounted?)" : "");
		goto err_in;
	}
	if (blk) {
		off_t cap = lseek(out, 0, SEEK_END);

		if (cap < 0) {
			rc = inst_fail("io", "size of %s: %s", slot, strerror(errno));
			goto err_out;
		}
		if ((uint64_t)cap < size) {
			rc = inst_fail("disk", "%s holds %lld bytes, the image is %llu", slot,
				       (long long)cap, (unsigned long long)size);
			goto err_out;
		}
	}

	rc = copy(in, out, size, got, &what);
	if (rc) {
		rc = inst_fail(rc == -ENOSPC ? "disk" : "io", "%s: %s", what, strerror(-rc));
		goto err_out;
	}
	if (strcmp(got, want) != 0) {
		rc = inst_fail("hash", "image expected %s got %s", want, got);
		goto err_out;
	}
	/* A file slot may hold a longer older image: cut it to this one. */
	if (!blk && ftruncate(out, (off_t)size) < 0) {
		rc = inst_fail("io", "truncate %s: %s", slot, strerror(errno));
		goto err_out;
	}
	if (fdatasync(out) < 0) {
		rc = inst_fail(errno == ENOSPC ? "disk" : "io", "fdatasync %s: %s", slot,
			       strerror(errno));
		goto err_out;
	}
	/* The pages are clean now; dropping them makes the read-back come
	 * from the medium where the kernel allows it (a hint: no error if
	 * not). */
	err = posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
	if (err)
		inst_emit("log fadvise %s: %s (read-back may come from the page cache)", slot,
			  strerror(err));
	inst_emit("log read-back of %llu bytes from %s", (unsigned long long)size, slot);
	rc = inst_sha256_fd(out, size, got);
	if (rc) {
		rc = inst_fail("io", "read-back %s: %s", slot, strerror(-rc));
		goto err_out;
	}
	if (strcmp(got, want) != 0) {
		rc = inst_fail("hash", "read-back expected %s got %s", want, got);
		goto err_out;
	}
	close(out);
	close(in);
	inst_emit("done %s", got);
	return 0;

err_out:
	close(out);
err_in:
	close(in);
	return rc;
}

const struct inst_cmd inst_bundle = {"bundle",
				     "--image F --sha256 H --slot-path P [--running-path R]", run};
