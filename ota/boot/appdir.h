/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_APPDIR_H
#define EDGE_OTA_APPDIR_H
/*
 * The service-mode A/B layout (shared/DESIGN.md 5.4), shared by
 * edge-ota-boot (ExecStartPre) and edge-ota-install service/boot-service:
 *
 *   D/A/, D/B/            the program files of each slot
 *   D/S/.complete         S was fully written and may be booted
 *   D/current -> A|B      the slot systemd starts; swapped by rename
 *   D/trial.json          {"slot":S,"from":X,"starts":N,"max":M} while S is
 *                         on trial (written before current moves to S)
 *   D/rolled-back.json    {"slot":S,"from":X,"starts":N}: edge-ota-boot
 *                         moved current back after too many starts
 *   D/boot-count          decimal start counter (the agent's boot id)
 *
 * Header-only on purpose: edge-ota-boot runs before the agent at every start
 * and links nothing, and edge-ota-install does not link edge_common, so both
 * compile these few helpers in. Every function returns 0 or a negative
 * errno and neither logs nor prints. Paths are built from D with
 * appdir_path(); D must be shorter than PATH_MAX - 32.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPDIR_TRIAL	   "trial.json"
#define APPDIR_ROLLED_BACK "rolled-back.json"
#define APPDIR_BOOT_COUNT  "boot-count"
#define APPDIR_CURRENT	   "current"
#define APPDIR_COMPLETE	   ".complete"

struct appdir_trial {
	char slot[2];
	char from[2];
	unsigned long starts;
	unsigned long max;
};

/* "A" or "B": the only slot names, so a name is never a path. */
static inline bool appdir_slot_ok(const char *s)
{
	return s && (s[0] == 'A' || s[0] == 'B') && s[1] == '\0';
}

static inline int appdir_path(char *out, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static inline int appdir_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The recipe of common/file.c's edge_file_write_atomic(): a temporary file
 * in the same directory, fsync, rename over name, fsync the directory. */
static inline int appdir_write_atomic(const char *dir, const char *name, const void *data,
				      size_t len, mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *p = data;
	int fd, rc = 0;

	if (appdir_path(path, sizeof(path), dir, name) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (len && !rc) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else {
			p += n;
			len -= (size_t)n;
		}
	}
	if (!rc && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return appdir_fsync_dir(dir);
}

/* Removes D/name and makes that durable; a missing file is fine. */
static inline int appdir_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (appdir_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return appdir_fsync_dir(dir);
}

/* Up to cap-1 bytes of D/name, NUL-terminated; the length or -errno
 * (-EFBIG when the file is longer). */
static inline ssize_t appdir_read(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[PATH_MAX];
	size_t got = 0;
	int fd;

	if (appdir_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (;;) {
		char spare;
		/* Once buf is full, one more byte tells a file that fits exactly
		 * from one that is too long. */
		bool full = got == cap - 1;
		ssize_t n = full ? read(fd, &spare, 1) : read(fd, buf + got, cap - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (full && n > 0)) {
			int rc = n < 0 ? -errno : -EFBIG;
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* The slot D/current points at into slot[2]: -ENOENT when there is no
 * link, -EINVAL when it names something other than A or B. */
static inline int appdir_current(const char *dir, char slot[2])
{
	char path[PATH_MAX], target[16];
	ssize_t n;

	if (appdir_path(path, sizeof(path), dir, APPDIR_CURRENT))
		return -ENAMETOOLONG;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (!appdir_slot_ok(target))
		return -EINVAL;
	memcpy(slot, target, 2);
	return 0;
}

/* Points D/current at slot atomically: a new symlink under a temporary
 * name renamed over the old one, so a crash leaves the old or the new link,
 * never none. */
static inline int appdir_set_current(const char *dir, const char *slot)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	if (!appdir_slot_ok(slot))
		return -EINVAL;
	if (appdir_path(path, sizeof(path), dir, APPDIR_CURRENT) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.current.tmp.%d", dir, (int)getpid()) >=
		sizeof(tmp))
		return -ENAMETOOLONG;
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	if (symlink(slot, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		int rc = -errno;
		unlink(tmp);
		return rc;
	}
	return appdir_fsync_dir(dir);
}

/* True when D/S/.complete exists. */
static inline bool appdir_complete(const char *dir, const char *slot)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, slot, APPDIR_COMPLETE) >=
	    sizeof(path))
		return false;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The value after "key": in a flat JSON object we wrote ourselves (no
 * nesting, no escapes); NULL when absent. */
static inline const char *appdir_json_value(const char *text, const char *key)
{
	char quoted[24];
	const char *p;

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	p = strstr(text, quoted);
	if (!p)
		return NULL;
	p += strlen(quoted);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static inline bool appdir_json_slot(const char *text, const char *key, char out[2])
{
	const char *v = appdir_json_value(text, key);

	if (!v || v[0] != '"' || (v[1] != 'A' && v[1] != 'B') || v[2] != '"')
		return false;
	out[0] = v[1];
	out[1] = '\0';
	return true;
}

static inline bool appdir_json_ulong(const char *text, const char *key, unsigned long *out)
{
	const char *v = appdir_json_value(text, key);
	char *end;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoul(v, &end, 10);
	return errno == 0 && end != v && *out < 1000000;
}

/* D/trial.json into t: -ENOENT when there is no trial, -EINVAL when the
 * file is not one we wrote. */
static inline int appdir_trial_read(const char *dir, struct appdir_trial *t)
{
	char text[256];
	ssize_t n = appdir_read(dir, APPDIR_TRIAL, text, sizeof(text));

	if (n < 0)
		return n == -EFBIG ? -EINVAL : (int)n;
	if (!appdir_json_slot(text, "slot", t->slot) || !appdir_json_slot(text, "from", t->from) ||
	    !appdir_json_ulong(text, "starts", &t->starts) ||
	    !appdir_json_ulong(text, "max", &t->max))
		return -EINVAL;
	return 0;
}

static inline int appdir_trial_write(const char *dir, const struct appdir_trial *t)
{
	char text[128];
	int n = snprintf(text, sizeof(text),
			 "{\"slot\":\"%s\",\"from\":\"%s\",\"starts\":%lu,\"max\":%lu}\n", t->slot,
			 t->from, t->starts, t->max);

	return appdir_write_atomic(dir, APPDIR_TRIAL, text, (size_t)n, 0644);
}

#endif
