/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_INSTALL_TAR_H
#define EDGE_OTA_INSTALL_TAR_H
/*
 * A bounded reader of uncompressed ustar archives (POSIX "ustar\0" "00" and
 * GNU "ustar  \0" headers), for the service-mode app tarballs. Only regular
 * files and directories are accepted: symlinks, hard links, devices, FIFOs
 * and pax/GNU extension headers are refused, and so are absolute names,
 * ".." components, names over INST_TAR_NAME_MAX bytes, more than
 * INST_TAR_MAX_ENTRIES entries, sizes beyond the archive, bad header
 * checksums and an archive without its end-of-archive block.
 *
 * The archive is read with pread() from offset 0 of an fd; memory does not
 * grow with the archive (one header and one 64 KiB buffer). No logging, no
 * protocol lines: callers turn the returned errors and `why` into those.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define INST_TAR_MAX_ENTRIES 4096
#define INST_TAR_NAME_MAX    255

enum inst_tar_type {
	INST_TAR_FILE,
	INST_TAR_DIR,
};

struct inst_tar_entry {
	enum inst_tar_type type;
	/* Relative and normalized: no leading '/', no empty, "." or ".."
	 * components, no trailing '/'; never empty. */
	char path[INST_TAR_NAME_MAX + 1];
	mode_t mode;   /* files: 0755 when the archive gave any x bit, else 0644; dirs: 0755 */
	uint64_t size; /* files: the data bytes that follow; dirs: 0 */
};

struct inst_tar_ops {
	/* A directory, or the start of a file whose bytes then come through
	 * data() (possibly in several calls) followed by end(). A negative
	 * return stops the walk and is returned from inst_tar_walk(). */
	int (*entry)(void *ctx, const struct inst_tar_entry *e);
	int (*data)(void *ctx, const void *buf, size_t len);
	int (*end)(void *ctx, const struct inst_tar_entry *e);
	/* Optional: after each entry, the archive bytes consumed so far. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
};

/* Walks the first size bytes of fd. 0 after the end-of-archive block;
 * -EINVAL for a malformed or refused archive (why says which entry and
 * why); -EIO or another negative errno for a read error; or the first
 * negative value a callback returned. why may be NULL. */
int inst_tar_walk(int fd, uint64_t size, const struct inst_tar_ops *ops, void *ctx, char *why,
		  size_t whylen);

/* Extracts the archive into the directory dirfd (expected empty): regular
 * files with their mode, directories 0755, parents created as needed; every
 * path step is opened O_NOFOLLOW below dirfd, so nothing lands outside it.
 * Each file is fsynced when written, every directory of the tree (and
 * dirfd) after the last entry. A top-level entry named `reserved` (may be
 * NULL) is refused: the caller's completion marker cannot come from the
 * archive. progress (may be NULL) sees the archive bytes consumed. Returns
 * as inst_tar_walk(); -ENOSPC and other write errors as negative errno. */
int inst_tar_extract(int fd, uint64_t size, int dirfd, const char *reserved,
		     void (*progress)(uint64_t done, uint64_t total), char *why, size_t whylen);

/* Walks the tree below dirfd without following symlinks, depth first:
 * entry(dirfd, name, is_dir, arg) for each entry once a directory's own
 * contents were walked (so it may remove it), dir_done(dirfd, arg) after
 * each directory's entries (dirfd itself last). Either may be NULL; the
 * first non-zero return stops the walk and is returned. -ELOOP beyond 256
 * levels. */
int inst_walk_tree(int dirfd, int (*entry)(int dirfd, const char *name, bool is_dir, void *arg),
		   int (*dir_done)(int dirfd, void *arg), void *arg);

#endif
