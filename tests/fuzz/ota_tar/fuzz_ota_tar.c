/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the ustar reader of the service-mode installer
 * (ota/install/tar.h). Each input goes into a memfd and is
 *   1. walked with a memory sink that checks what the reader promises:
 *      normalized relative names, at most INST_TAR_MAX_ENTRIES entries,
 *      exactly e->size data bytes per file, never more bytes than the input;
 *   2. extracted into scratch/x, after which scratch must hold nothing but
 *      x (nothing escaped) and x no symlink or other non-file; x is wiped.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "tar.h"

struct check {
	unsigned entries;
	uint64_t file_left;
	uint64_t total;
	uint64_t size;
	bool in_file;
};

static void check_path(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || len > INST_TAR_NAME_MAX || p[0] == '/' || p[len - 1] == '/')
		abort();
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		c += n;
		if (*c == '/')
			c++;
	}
}

static int on_entry(void *ctx, const struct inst_tar_entry *e)
{
	struct check *k = ctx;

	if (k->in_file || ++k->entries > INST_TAR_MAX_ENTRIES)
		abort();
	check_path(e->path);
	if (e->type == INST_TAR_DIR && (e->size || e->mode != 0755))
		abort();
	if (e->type == INST_TAR_FILE && e->mode != 0755 && e->mode != 0644)
		abort();
	if (e->size > k->size)
		abort();
	k->in_file = e->type == INST_TAR_FILE;
	k->file_left = e->size;
	return 0;
}

static int on_data(void *ctx, const void *buf, size_t len)
{
	struct check *k = ctx;

	(void)buf;
	if (!k->in_file || len == 0 || len > k->file_left)
		abort();
	k->file_left -= len;
	k->total += len;
	if (k->total > k->size)
		abort();
	return 0;
}

static int on_end(void *ctx, const struct inst_tar_entry *e)
{
	struct check *k = ctx;

	(void)e;
	if (!k->in_file || k->file_left)
		abort();
	k->in_file = false;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int only_files_and_dirs(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_SL || flag == FTW_SLN || flag == FTW_NS ||
	    !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct inst_tar_ops ops = {on_entry, on_data, on_end, NULL};
	static int mfd = -1;
	struct check k = {.size = size};
	char x[300], why[300];
	DIR *d;
	struct dirent *de;
	int xfd;

	if (mfd < 0 && (mfd = memfd_create("fuzz-tar", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(mfd, 0) < 0 || (size && pwrite(mfd, data, size, 0) != (ssize_t)size))
		abort();

	if (inst_tar_walk(mfd, size, &ops, &k, why, sizeof(why)) == 0 && k.in_file)
		abort();

	fuzz_path(x, sizeof(x), "x");
	if (mkdir(x, 0755) < 0)
		abort();
	xfd = open(x, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (xfd < 0)
		abort();
	(void)inst_tar_extract(mfd, size, xfd, ".complete", NULL, why, sizeof(why));
	if (nftw(x, only_files_and_dirs, 16, FTW_PHYS) != 0)
		abort();
	/* The reserved marker never comes out of an archive. */
	if (faccessat(xfd, ".complete", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		abort();
	close(xfd);
	d = opendir(fuzz_tmpdir());
	if (!d)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "x"))
			abort();
	closedir(d);
	if (nftw(x, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		abort();
	return 0;
}
