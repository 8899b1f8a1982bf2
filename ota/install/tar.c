/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded ustar reader and a directory sink for it: see tar.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tar.h"

#define BLOCK 512u

/* Header field offsets and lengths (POSIX.1-1988 ustar). */
#define H_NAME	   0
#define H_NAME_LEN 100
#define H_MODE	   100
#define H_SIZE	   124
#define H_SIZE_LEN 12
#define H_CHKSUM   148
#define H_TYPE	   156
#define H_MAGIC	   257
#define H_PREFIX   345
#define H_PFX_LEN  155

/* A chain of directories deeper than this cannot be named in 255 bytes
 * ("a/" per level), so the fsync walk below never recurses further. */
#define MAX_DEPTH 128

static int say(char *why, size_t whylen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(char *why, size_t whylen, int rc, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shorter than the size we were told */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* An octal field: optional leading spaces, digits, then NUL/space to the
 * end. GNU's base-256 form (high bit of the first byte) is refused: no
 * file in an app tarball comes near the 8 GiB that needs it. */
static bool octal(const unsigned char *f, size_t len, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	bool digits = false;

	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v * 8 + (uint64_t)(f[i] - '0');
		digits = true;
	}
	for (; i < len; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return false;
	*out = v;
	return digits;
}

static bool zero_block(const unsigned char *h)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (h[i])
			return false;
	return true;
}

/* The checksum is the sum of the header bytes with its own field read as
 * spaces; historic writers summed signed chars, so either sum is accepted. */
static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long u = 0;
	long s = 0;

	if (!octal(h + H_CHKSUM, 8, &want))
		return false;
	for (size_t i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
		u += c;
		s += (signed char)c;
	}
	return want == u || (s >= 0 && want == (uint64_t)s);
}

static const char *type_name(unsigned char t)
{
	switch (t) {
	case '1':
		return "hard link";
	case '2':
		return "symlink";
	case '3':
		return "character device";
	case '4':
		return "block device";
	case '6':
		return "fifo";
	case '7':
		return "contiguous file";
	case 'x':
	case 'g':
		return "pax extended header";
	case 'L':
	case 'K':
		return "GNU long name";
	default:
		return "unknown entry type";
	}
}

/* prefix/name from the header, checked and normalized into out (see
 * struct inst_tar_entry). Returns false with why set when refused. */
static bool entry_path(const unsigned char *h, bool posix, char out[INST_TAR_NAME_MAX + 1],
		       char *why, size_t whylen)
{
	char raw[H_PFX_LEN + 1 + H_NAME_LEN + 1];
	size_t nlen = strnlen((const char *)h + H_NAME, H_NAME_LEN);
	size_t plen = posix ? strnlen((const char *)h + H_PREFIX, H_PFX_LEN) : 0;
	size_t len = 0, o = 0;

	if (plen) {
		memcpy(raw, h + H_PREFIX, plen);
		raw[plen] = '/';
		len = plen + 1;
	}
	memcpy(raw + len, h + H_NAME, nlen);
	len += nlen;
	raw[len] = '\0';
	if (len > INST_TAR_NAME_MAX) {
		say(why, whylen, 0, "name of %zu bytes (at most %d)", len, INST_TAR_NAME_MAX);
		return false;
	}
	if (raw[0] == '/') {
		say(why, whylen, 0, "absolute name \"%.80s\"", raw);
		return false;
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && raw[j] != '/')
			j++;
		if (j - i == 2 && raw[i] == '.' && raw[i + 1] == '.') {
			say(why, whylen, 0, "\"..\" in \"%.80s\"", raw);
			return false;
		}
		if (j > i && !(j - i == 1 && raw[i] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, raw + i, j - i);
			o += j - i;
		}
		i = j + 1;
	}
	out[o] = '\0';
	return true;
}

int inst_tar_walk(int fd, uint64_t size, const struct inst_tar_ops *ops, void *ctx, char *why,
		  size_t whylen)
{
	static unsigned char buf[1 << 16];
	unsigned char h[BLOCK];
	struct inst_tar_entry e;
	uint64_t off = 0;
	unsigned entries = 0;
	int rc;

	for (;;) {
		uint64_t mode, left;
		bool posix;

		if (size - off < BLOCK)
			return say(why, whylen, -EINVAL,
				   "archive ends at byte %llu without its end-of-archive block",
				   (unsigned long long)off);
		rc = pread_full(fd, h, BLOCK, off);
		if (rc)
			return say(why, whylen, rc, "read at byte %llu: %s",
				   (unsigned long long)off, strerror(-rc));
		if (zero_block(h))
			return 0; /* what follows (the second zero block, padding) is not read */
		if (++entries > INST_TAR_MAX_ENTRIES)
			return say(why, whylen, -EINVAL, "more than %d entries",
				   INST_TAR_MAX_ENTRIES);
		if (memcmp(h + H_MAGIC, "ustar", 5) != 0)
			return say(why, whylen, -EINVAL,
				   "entry %u at byte %llu: not a ustar header", entries,
				   (unsigned long long)off);
		if (!checksum_ok(h))
			return say(why, whylen, -EINVAL,
				   "entry %u at byte %llu: bad header checksum", entries,
				   (unsigned long long)off);
		posix = h[H_MAGIC + 5] == '\0';
		memset(&e, 0, sizeof(e));
		if (!entry_path(h, posix, e.path, why, whylen))
			return -EINVAL;
		if (!octal(h + H_SIZE, H_SIZE_LEN, &e.size) || !octal(h + H_MODE, 8, &mode))
			return say(why, whylen, -EINVAL, "\"%.80s\": bad size or mode field",
				   e.path);
		off += BLOCK;
		if (e.size > size - off)
			return say(why, whylen, -EINVAL,
				   "\"%.80s\": %llu bytes, beyond the archive's end", e.path,
				   (unsigned long long)e.size);
		switch (h[H_TYPE]) {
		case '0':
		case '\0':
			e.type = INST_TAR_FILE;
			e.mode = (mode & 0111) ? 0755 : 0644;
			if (!e.path[0])
				return say(why, whylen, -EINVAL, "a file without a name");
			break;
		case '5':
			e.type = INST_TAR_DIR;
			e.mode = 0755;
			if (e.size)
				return say(why, whylen, -EINVAL, "directory \"%.80s\" with data",
					   e.path);
			break;
		default:
			return say(why, whylen, -EINVAL,
				   "\"%.80s\": %s refused (only files and "
				   "directories)",
				   e.path, type_name(h[H_TYPE]));
		}
		/* "./" (the archive's root) names the extraction directory itself. */
		if (e.type == INST_TAR_DIR && !e.path[0])
			goto next;
		rc = ops->entry(ctx, &e);
		if (rc)
			return rc;
		if (e.type == INST_TAR_DIR)
			goto next;
		for (left = e.size; left;) {
			size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);

			rc = pread_full(fd, buf, want, off + (e.size - left));
			if (rc)
				return say(why, whylen, rc, "\"%.80s\": read: %s", e.path,
					   strerror(-rc));
			rc = ops->data(ctx, buf, want);
			if (rc)
				return rc;
			left -= want;
		}
		rc = ops->end(ctx, &e);
		if (rc)
			return rc;
	next:
		/* An archive that ends inside the padding is cut short: the
		 * next round then finds no end-of-archive block. */
		left = (e.size + BLOCK - 1) / BLOCK * BLOCK;
		off += left <= size - off ? left : size - off;
		if (ops->progress)
			ops->progress(ctx, off, size);
	}
}

/* The directory sink. */
struct extract {
	int root;
	int out; /* the file being written, or -1 */
	const char *reserved;
	void (*progress)(uint64_t done, uint64_t total);
	uint64_t next_report;
	char *why;
	size_t whylen;
};

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Opens (creating when missing) every directory of path but its last
 * component, below root, never following a symlink. *base points at the
 * last component. Returns a directory fd (root itself when path has no
 * parent: do not close it then) or negative errno. */
static int open_parent(int root, char *path, const char **base)
{
	int cur = root;
	char *p = path, *slash;

	while ((slash = strchr(p, '/')) != NULL) {
		int next;

		*slash = '\0';
		if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST) {
			int err = -errno;
			*slash = '/';
			if (cur != root)
				close(cur);
			return err;
		}
		next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		if (cur != root)
			close(cur);
		if (next < 0)
			return -errno;
		cur = next;
		p = slash + 1;
	}
	*base = p;
	return cur;
}

static int sink_entry(void *ctx, const struct inst_tar_entry *e)
{
	struct extract *x = ctx;
	char path[INST_TAR_NAME_MAX + 1];
	const char *base = NULL;
	size_t toplen = strcspn(e->path, "/");
	int dir, fd, rc = 0;

	if (x->reserved && strlen(x->reserved) == toplen &&
	    memcmp(e->path, x->reserved, toplen) == 0)
		return say(x->why, x->whylen, -EINVAL, "\"%.80s\": a reserved name", e->path);
	memcpy(path, e->path, sizeof(path));
	dir = open_parent(x->root, path, &base);
	if (dir < 0)
		return say(x->why, x->whylen, dir, "\"%.80s\": parent directory: %s", e->path,
			   strerror(-dir));
	if (e->type == INST_TAR_DIR) {
		if (mkdirat(dir, base, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		fd = rc ? -1 : openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* mkdir's mode went through the umask; the tree must be 0755. */
		if (!rc && (fd < 0 || fchmod(fd, 0755) < 0))
			rc = -errno;
		if (fd >= 0)
			close(fd);
	} else {
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			    e->mode);
		if (fd < 0 || fchmod(fd, e->mode) < 0)
			rc = -errno;
		if (rc && fd >= 0)
			close(fd);
		else
			x->out = fd;
	}
	if (dir != x->root)
		close(dir);
	if (rc)
		return say(x->why, x->whylen, rc, "\"%.80s\": %s", e->path, strerror(-rc));
	return 0;
}

static int sink_data(void *ctx, const void *buf, size_t len)
{
	struct extract *x = ctx;
	int rc = write_all(x->out, buf, len);

	if (rc)
		return say(x->why, x->whylen, rc, "write: %s", strerror(-rc));
	return 0;
}

static int sink_end(void *ctx, const struct inst_tar_entry *e)
{
	struct extract *x = ctx;
	int rc = 0;

	if (fsync(x->out) < 0)
		rc = -errno;
	if (close(x->out) < 0 && !rc)
		rc = -errno;
	x->out = -1;
	if (rc)
		return say(x->why, x->whylen, rc, "\"%.80s\": fsync: %s", e->path, strerror(-rc));
	return 0;
}

static void sink_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct extract *x = ctx;

	if (x->progress && (done >= x->next_report || done == total)) {
		x->progress(done, total);
		x->next_report = done + (4u << 20);
	}
}

/* Deeper than any tree the reader creates (MAX_DEPTH components) or the
 * service installer keeps: a deeper one is not ours, stop rather than
 * recurse without bound. */
#define WALK_MAX_DEPTH 256

static int walk(int dirfd, int depth, int (*entry)(int, const char *, bool, void *),
		int (*dir_done)(int, void *), void *arg)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	if (depth > WALK_MAX_DEPTH)
		return -ELOOP;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (!rc && (errno = 0, de = readdir(d)) != NULL) {
		bool is_dir = de->d_type == DT_DIR;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				rc = -errno;
				break;
			}
			is_dir = S_ISDIR(st.st_mode);
		}
		if (is_dir) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				rc = -errno;
				break;
			}
			rc = walk(sub, depth + 1, entry, dir_done, arg);
			close(sub);
		}
		if (!rc && entry)
			rc = entry(dirfd, de->d_name, is_dir, arg);
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	if (!rc && dir_done)
		rc = dir_done(dirfd, arg);
	return rc;
}

int inst_walk_tree(int dirfd, int (*entry)(int dirfd, const char *name, bool is_dir, void *arg),
		   int (*dir_done)(int dirfd, void *arg), void *arg)
{
	return walk(dirfd, 0, entry, dir_done, arg);
}

/* The entries of a directory are durable only once the directory is. */
static int fsync_dir(int dirfd, void *arg)
{
	(void)arg;
	return fsync(dirfd) < 0 ? -errno : 0;
}

int inst_tar_extract(int fd, uint64_t size, int dirfd, const char *reserved,
		     void (*progress)(uint64_t done, uint64_t total), char *why, size_t whylen)
{
	static const struct inst_tar_ops ops = {sink_entry, sink_data, sink_end, sink_progress};
	struct extract x = {
	    .root = dirfd,
	    .out = -1,
	    .reserved = reserved,
	    .progress = progress,
	    .next_report = 4u << 20,
	    .why = why,
	    .whylen = whylen,
	};
	int rc = inst_tar_walk(fd, size, &ops, &x, why, whylen);

	if (x.out >= 0)
		close(x.out);
	if (rc)
		return rc;
	rc = inst_walk_tree(dirfd, NULL, fsync_dir, NULL);
	if (rc)
		return say(why, whylen, rc, "fsync of the extracted directories: %s",
			   strerror(-rc));
	return 0;
}
