/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FUZZ_UTIL_H
#define EDGE_FUZZ_UTIL_H
/*
 * Small helpers shared by the fuzz targets that need files: a private
 * scratch directory (under $EDGE_FUZZ_TMPDIR, else on tmpfs when /dev/shm
 * is there, so the fsyncs of atomic replaces cost nothing) removed at exit,
 * and whole-file writes.
 * Everything aborts on failure: a target that cannot set itself up must
 * not report a clean run.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[256];

static int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fuzz_rm_dir(void)
{
	if (fuzz_dir[0])
		nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The scratch directory (created on the first call). */
static inline const char *fuzz_tmpdir(void)
{
	const char *base = getenv("EDGE_FUZZ_TMPDIR");

	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	if (fuzz_dir[0])
		return fuzz_dir;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/edge-fuzz-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(fuzz_dir)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fuzz_rm_dir);
	return fuzz_dir;
}

/* dir/name into out (abort when it does not fit). */
static inline void fuzz_path(char *out, size_t outlen, const char *name)
{
	if ((size_t)snprintf(out, outlen, "%s/%s", fuzz_tmpdir(), name) >= outlen)
		abort();
}

/* Replaces path with exactly len bytes of data. */
static inline void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* Splits the next field off an input: bytes up to a NUL (or the end) into
 * out (truncated to outlen-1 and terminated); *data and *size advance past
 * the separator. */
static inline void fuzz_take_string(const uint8_t **data, size_t *size, char *out, size_t outlen)
{
	const uint8_t *nul = memchr(*data, '\0', *size);
	size_t n = nul ? (size_t)(nul - *data) : *size;
	size_t k = n < outlen - 1 ? n : outlen - 1;

	memcpy(out, *data, k);
	out[k] = '\0';
	*data += n + (nul ? 1 : 0);
	*size -= n + (nul ? 1 : 0);
}

#endif
