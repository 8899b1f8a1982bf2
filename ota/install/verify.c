/* SPDX-License-Identifier: Apache-2.0 */
/* edge-ota-install verify: re-hash a downloaded image before it is installed
 * (the part file was hashed as it was written; this catches a file changed
 * or cut short on disk since then). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"

static int run(int argc, char **argv)
{
	const char *image = inst_opt(argc, argv, "image");
	char want[65], got[65];
	struct stat st;
	int fd, rc;

	if (!image || !inst_sha256_arg(inst_opt(argc, argv, "sha256"), want)) {
		inst_fail("internal", "usage: verify --image F --sha256 H (64 hex)");
		return 2;
	}
	fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return inst_fail("io", "open %s: %s", image, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = errno;
		close(fd);
		return inst_fail("io", "stat %s: %s", image, strerror(rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return inst_fail("io", "%s: not a regular file", image);
	}
	/* The size fstat saw, not "to EOF": progress lines get their total. */
	rc = inst_sha256_fd(fd, (uint64_t)st.st_size, got);
	close(fd);
	if (rc)
		return inst_fail("io", "read %s: %s", image, strerror(-rc));
	if (strcmp(want, got) != 0)
		return inst_fail("hash", "expected %s got %s", want, got);
	inst_emit("done %s", got);
	return 0;
}

const struct inst_cmd inst_verify = {"verify", "--image F --sha256 H", run};
