/* SPDX-License-Identifier: Apache-2.0 */
/* /dev/watchdog backend (Documentation/watchdog/watchdog-api.rst). */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <linux/watchdog.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../hal_internal.h"

struct linux_wdt {
	struct edge_watchdog wdt;
	int fd;
};

static int linux_keepalive(struct edge_watchdog *w)
{
	struct linux_wdt *lw = (struct linux_wdt *)w;
	int dummy = 0;

	return ioctl(lw->fd, WDIOC_KEEPALIVE, &dummy) < 0 ? -errno : 0;
}

static int linux_set_timeout(struct edge_watchdog *w, int seconds)
{
	struct linux_wdt *lw = (struct linux_wdt *)w;
	int t = seconds;

	if (ioctl(lw->fd, WDIOC_SETTIMEOUT, &t) < 0)
		return -errno;
	return t; /* the driver writes back the timeout it chose */
}

static int linux_get_timeout(struct edge_watchdog *w, int *seconds)
{
	struct linux_wdt *lw = (struct linux_wdt *)w;

	return ioctl(lw->fd, WDIOC_GETTIMEOUT, seconds) < 0 ? -errno : 0;
}

static void linux_close(struct edge_watchdog *w, int magic)
{
	struct linux_wdt *lw = (struct linux_wdt *)w;

	if (magic) {
		ssize_t n;

		do {
			n = write(lw->fd, "V", 1);
		} while (n < 0 && errno == EINTR);
	}
	close(lw->fd);
	free(lw);
}

static const struct edge_watchdog_ops linux_wdt_ops = {
    .keepalive = linux_keepalive,
    .set_timeout = linux_set_timeout,
    .get_timeout = linux_get_timeout,
    .close = linux_close,
};

int edge_hal_linux_watchdog_open(const char *path, struct edge_watchdog **out)
{
	struct linux_wdt *lw;
	int fd;

	lw = calloc(1, sizeof(*lw));
	if (!lw)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		free(lw);
		return err;
	}
	lw->wdt.ops = &linux_wdt_ops;
	lw->fd = fd;
	*out = &lw->wdt;
	return 0;
}

int edge_hal_linux_reboot_arg(const char *arg)
{
	sync();
	if (syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART2,
		    arg) < 0)
		return -errno;
	return 0;
}

int edge_hal_linux_reboot(void)
{
	sync();
	if (reboot(RB_AUTOBOOT) < 0)
		return -errno;
	return 0;
}
