/* SPDX-License-Identifier: Apache-2.0 */
/* Sim watchdog (records what the agent does, models the timeout on sim time)
 * and sim reboot requests. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../hal_internal.h"
#include "edge/hal/sim.h"

#define SAVE_EVERY_MS 1000 /* keepalives rewrite the state file at most this often */

struct sim_wdt {
	struct edge_watchdog wdt;
	struct sim_wdt *next;
	char name[32];
	int is_open;
	uint64_t last_ping_ms;	/* sim time of the last keepalive, open or set_timeout */
	uint64_t last_saved_ms; /* sim time the state file was last written */
	struct edge_sim_watchdog_state st;
};

static struct sim_wdt *wdts;
static unsigned reboots;
static int exit_on_reset = 1;

static struct sim_wdt *wdt_find(const char *name)
{
	for (struct sim_wdt *w = wdts; w; w = w->next)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* $EDGE_SIM_STATE_DIR/watchdog-NAME.json, or -ENOENT without the variable. */
static int state_path(const struct sim_wdt *w, char *out, size_t len)
{
	const char *dir = getenv("EDGE_SIM_STATE_DIR");
	int n;

	if (!dir || !*dir || strpbrk(w->name, "/\"\\")) /* a file name, and plain JSON */
		return -ENOENT;
	n = snprintf(out, len, "%s/watchdog-%s.json", dir, w->name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Best effort: the file is a test aid, and the HAL has nobody to tell. */
static void save_state(struct sim_wdt *w)
{
	char path[512], tmp[540], buf[1024];
	const struct edge_sim_watchdog_state *st = &w->st;
	int fd, n, err;

	w->last_saved_ms = edge_sim_time_ms();
	if (state_path(w, path, sizeof(path)))
		return;
	n = snprintf(buf, sizeof(buf),
		     "{\"name\": \"%s\", \"pid\": %ld, \"opens\": %u, \"keepalives\": %u, "
		     "\"timeout_s\": %d, \"armed\": %s, \"magic_closed\": %s, \"resets\": %u, "
		     "\"last_reset\": \"%s\", \"sim_time_ms\": %" PRIu64
		     ", \"last_keepalive_ms\": %" PRIu64 "}\n",
		     w->name, (long)getpid(), st->opens, st->keepalives, st->timeout_s,
		     st->armed ? "true" : "false", st->magic_closed ? "true" : "false", st->resets,
		     st->last_reset, w->last_saved_ms, st->last_keepalive_ms);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	err = write_all(fd, buf, (size_t)n);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err || rename(tmp, path) < 0)
		unlink(tmp);
}

/* The reset-cause part of an earlier process's state file: resets and
 * last_reset (written by save_state(), which never puts '"' in it). */
static void load_reset_cause(struct sim_wdt *w)
{
	char path[512], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	if (state_path(w, path, sizeof(path)))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "\"resets\": ");
	if (p)
		w->st.resets = (unsigned)strtoul(p + strlen("\"resets\": "), NULL, 10);
	p = strstr(buf, "\"last_reset\": \"");
	if (p) {
		const char *s = p + strlen("\"last_reset\": \""), *e = strchr(s, '"');

		if (e)
			snprintf(w->st.last_reset, sizeof(w->st.last_reset), "%.*s", (int)(e - s),
				 s);
	}
}

/* What a reset does to the board: the watchdog stops, every handle dies,
 * and (by default) the process ends with it. */
static void board_reset(struct sim_wdt *w, uint64_t gap_ms, const char *noticed_by)
{
	char line[160];
	int n;

	w->st.resets++;
	snprintf(w->st.last_reset, sizeof(w->st.last_reset),
		 "expired after %" PRIu64 " ms without a keepalive (timeout %d s), seen at %s",
		 gap_ms, w->st.timeout_s, noticed_by);
	w->st.armed = 0;
	w->is_open = 0;
	save_state(w);
	if (!exit_on_reset)
		return;
	n = snprintf(line, sizeof(line),
		     "sim watchdog %s expired after %" PRIu64 " ms: board reset\n", w->name,
		     gap_ms);
	if (n > 0)
		(void)write_all(STDERR_FILENO, line,
				(size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	_exit(EDGE_SIM_WATCHDOG_EXIT);
}

/* -ETIMEDOUT when the watchdog ran out before this call (see sim.h). */
static int check_expiry(struct sim_wdt *w, const char *noticed_by)
{
	uint64_t now = edge_sim_time_ms(), gap;

	if (!w->st.armed || w->st.timeout_s <= 0)
		return 0;
	/* a test that moves pinned time backwards gets no expiry */
	gap = now > w->last_ping_ms ? now - w->last_ping_ms : 0;
	if (gap <= (uint64_t)w->st.timeout_s * 1000u)
		return 0;
	board_reset(w, gap, noticed_by);
	return -ETIMEDOUT;
}

/* 0 when the handle may be used: open, and the watchdog did not run out. */
static int usable(struct sim_wdt *w, const char *op)
{
	return w->is_open ? check_expiry(w, op) : -EBADF;
}

static void ping(struct sim_wdt *w)
{
	w->last_ping_ms = edge_sim_time_ms();
	w->st.last_keepalive_ms = w->last_ping_ms;
}

static int sim_keepalive(struct edge_watchdog *w)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;
	int err;

	err = usable(sw, "keepalive");
	if (err)
		return err;
	sw->st.keepalives++;
	ping(sw);
	if (sw->last_ping_ms - sw->last_saved_ms >= SAVE_EVERY_MS ||
	    sw->last_ping_ms < sw->last_saved_ms)
		save_state(sw);
	return 0;
}

static int sim_set_timeout(struct edge_watchdog *w, int seconds)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;
	int err;

	err = usable(sw, "set_timeout");
	if (err)
		return err;
	if (seconds > 3600) /* a hardware limit, like the BCM2835's ~15 s */
		return -EINVAL;
	sw->st.timeout_s = seconds;
	ping(sw); /* the Linux watchdog core pings after WDIOC_SETTIMEOUT */
	save_state(sw);
	return seconds;
}

static int sim_get_timeout(struct edge_watchdog *w, int *seconds)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;
	int err;

	err = usable(sw, "get_timeout");
	if (err)
		return err;
	*seconds = sw->st.timeout_s;
	return 0;
}

static void sim_close(struct edge_watchdog *w, int magic)
{
	struct sim_wdt *sw = (struct sim_wdt *)w;

	if (!sw->is_open || check_expiry(sw, magic ? "magic close" : "close"))
		return; /* a dead handle (after a reset): nothing to close */
	sw->is_open = 0;
	sw->st.magic_closed = magic;
	/* without the magic character the watchdog keeps running */
	sw->st.armed = !magic;
	save_state(sw);
}

static const struct edge_watchdog_ops sim_wdt_ops = {
    .keepalive = sim_keepalive,
    .set_timeout = sim_set_timeout,
    .get_timeout = sim_get_timeout,
    .close = sim_close,
};

int edge_hal_sim_watchdog_open(const char *name, struct edge_watchdog **out)
{
	struct sim_wdt *w = wdt_find(name);

	if (strlen(name) >= sizeof(w->name))
		return -ENAMETOOLONG;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->wdt.ops = &sim_wdt_ops;
		snprintf(w->name, sizeof(w->name), "%s", name);
		w->st.timeout_s = 60;
		load_reset_cause(w);
		w->next = wdts;
		wdts = w;
	} else if (w->is_open) {
		return -EBUSY; /* /dev/watchdog is single-open */
	} else {
		/* abandoned and still running: did it fire meanwhile? */
		(void)check_expiry(w, "open");
	}
	w->is_open = 1;
	w->st.opens++;
	w->st.armed = 1;
	w->st.magic_closed = 0;
	ping(w);
	save_state(w);
	*out = &w->wdt;
	return 0;
}

int edge_sim_watchdog_state(const char *name, struct edge_sim_watchdog_state *st)
{
	struct sim_wdt *w = name ? wdt_find(name) : NULL;

	if (!w || !st)
		return -ENOENT;
	*st = w->st;
	return 0;
}

void edge_sim_watchdog_exit_on_reset(int exit_process)
{
	exit_on_reset = exit_process != 0;
}

/* $EDGE_SIM_STATE_DIR/boot-id: the boot counter a sim reboot advances. */
static unsigned long boot_counter(char *path, size_t len)
{
	const char *dir = getenv("EDGE_SIM_STATE_DIR");
	unsigned long n = 0;
	char buf[32];
	ssize_t got;
	int fd;

	*path = '\0';
	if (!dir || !*dir || (size_t)snprintf(path, len, "%s/boot-id", dir) >= len) {
		*path = '\0';
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got > 0) {
		buf[got] = '\0';
		n = strtoul(buf, NULL, 10);
	}
	return n;
}

static char last_reboot_arg[64];

int edge_hal_sim_reboot_arg(const char *arg)
{
	snprintf(last_reboot_arg, sizeof(last_reboot_arg), "%s", arg);
	return edge_hal_sim_reboot();
}

const char *edge_sim_last_reboot_arg(void)
{
	return last_reboot_arg;
}

int edge_sim_boot_id(char *out, size_t len)
{
	char path[512];
	int n = snprintf(out, len, "sim-boot-%lu", boot_counter(path, sizeof(path)));

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int edge_hal_sim_reboot(void)
{
	char path[512], tmp[540], buf[32];
	unsigned long n = boot_counter(path, sizeof(path));
	int fd, len;

	reboots++;
	if (!*path)
		return 0;
	/* best effort, like the watchdog's state file: a test aid */
	len = snprintf(buf, sizeof(buf), "%lu\n", n + 1);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 0;
	if (write_all(fd, buf, (size_t)len) == 0 && fsync(fd) == 0) {
		close(fd);
		(void)rename(tmp, path);
		return 0;
	}
	close(fd);
	(void)unlink(tmp);
	return 0;
}

unsigned edge_sim_reboot_requests(void)
{
	return reboots;
}

void edge_hal_sim_misc_reset(void)
{
	while (wdts) {
		struct sim_wdt *w = wdts;

		wdts = w->next;
		free(w);
	}
	reboots = 0;
	exit_on_reset = 1;
}
