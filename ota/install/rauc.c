/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-ota-install rauc: `rauc install BUNDLE` through the RAUC service
 * (D-Bus), its percent lines turned into "progress N 100", RAUC's refusals
 * of a bundle into "error refused <RAUC's message>". Also home of the tool
 * runner of tool.h (the build lists one source per subcommand).
 *
 * What the rauc 1.8 client prints (stdout and stderr, read as one stream):
 *   " 20% Checking bundle"             a step starts (or ends: "... done.",
 *   " 40% Verifying signature failed."  "... failed.")
 *   "LastError: <message>"             the service's reason for a failure
 *   "Installing `B` succeeded|failed"  the end; exit 0, 1, or 2 (D-Bus)
 * A failure inside one of the bundle checks (signature, format, manifest)
 * or a compatible mismatch is a refusal of this bundle: the slots are not
 * touched (RAUC checks before it marks the target slot non-bootable).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "install.h"
#include "tool.h"

void inst_copy(char *out, size_t outlen, const char *s)
{
	if (outlen == 0)
		return;
	size_t n = strlen(s);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* In the child between fork and exec: only async-signal-safe calls, except
 * putenv (this process has no threads, so no lock can be held). */
static void child(const struct inst_tool *t, int out_fd, int err_fd, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		goto fail;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd, STDERR_FILENO) < 0)
		goto fail;
	/* The agent's helpers start with an empty mask; keep SIGPIPE's default
	 * for the tool whatever this process did with it. */
	signal(SIGPIPE, SIG_DFL);
	for (const char *const *e = t->env; e && *e; e++)
		if (putenv((char *)(uintptr_t)*e) != 0)
			goto fail;
	execvp(t->argv[0], (char *const *)(uintptr_t)t->argv);
fail:;
	int e = errno;
	ssize_t w = write(err_fd, &e, sizeof(e));
	(void)w;
	_exit(127);
}

/* Splits what arrives into lines for on_line; a line longer than the buffer
 * is cut and its rest skipped up to the next '\n'. */
struct line_buf {
	char buf[INST_TOOL_LINE_MAX];
	size_t len;
	bool skipping;
};

static void feed(struct line_buf *lb, const char *data, size_t n, const struct inst_tool *t)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];
		if (c == '\n') {
			if (!lb->skipping) {
				while (lb->len > 0 && lb->buf[lb->len - 1] == '\r')
					lb->len--;
				lb->buf[lb->len] = '\0';
				t->on_line(t->ctx, lb->buf);
			}
			lb->len = 0;
			lb->skipping = false;
			continue;
		}
		if (lb->skipping)
			continue;
		if (lb->len + 1 >= sizeof(lb->buf)) {
			lb->buf[lb->len] = '\0';
			t->on_line(t->ctx, lb->buf);
			lb->len = 0;
			lb->skipping = true;
			continue;
		}
		lb->buf[lb->len++] = c;
	}
}

int inst_tool_run(const struct inst_tool *t)
{
	struct line_buf lb = {.len = 0};
	int out[2], err[2];
	pid_t parent = getpid();

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	/* exec errors come back through err (closed by a successful exec) */
	if (pipe2(err, O_CLOEXEC) < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return -e;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		return -e;
	}
	if (pid == 0)
		child(t, out[1], err[1], parent);
	close(out[1]);
	close(err[1]);

	char buf[4096];
	for (;;) {
		ssize_t n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: the tool (and whatever it started) closed it */
		feed(&lb, buf, (size_t)n, t);
	}
	if (lb.len > 0 && !lb.skipping)
		feed(&lb, "\n", 1, t);
	close(out[0]);

	int exec_errno = 0;
	ssize_t n;
	do
		n = read(err[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	close(err[0]);

	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (n == (ssize_t)sizeof(exec_errno))
		return exec_errno > 0 ? -exec_errno : -EIO;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* ---- rauc install ---- */

struct install {
	int percent;	      /* the last one reported */
	char failed_step[96]; /* the first (innermost) step that failed */
	char last_error[400]; /* "LastError: ..." */
	char other[400];      /* the last line RAUC printed besides those */
};

/* The steps of RAUC 1.8's install that only look at the bundle itself. */
static bool is_bundle_check(const char *step)
{
	static const char *const checks[] = {"Checking bundle", "Verifying signature",
					     "Checking manifest contents"};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (strcmp(step, checks[i]) == 0)
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* " 40% Verifying signature failed." -> 40 and msg; false for other lines. */
static bool percent_line(char *line, int *pct, char **msg)
{
	char *p = line;
	while (*p == ' ')
		p++;
	int v = 0, digits = 0;
	while (*p >= '0' && *p <= '9' && digits < 4) {
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || v > 100 || p[0] != '%' || p[1] != ' ')
		return false;
	*pct = v;
	*msg = p + 2;
	return true;
}

static void on_install_line(void *ctx, char *line)
{
	struct install *in = ctx;
	int pct;
	char *msg;

	if (percent_line(line, &pct, &msg)) {
		if (pct > in->percent) {
			in->percent = pct;
			inst_emit("progress %d 100", pct);
		}
		if (ends_with(msg, " failed.")) {
			if (!in->failed_step[0]) {
				msg[strlen(msg) - strlen(" failed.")] = '\0';
				inst_copy(in->failed_step, sizeof(in->failed_step), msg);
			}
		} else if (!ends_with(msg, " done.")) {
			inst_emit("log rauc: %.200s", msg);
		}
		return;
	}
	if (strncmp(line, "LastError: ", 11) == 0) {
		inst_copy(in->last_error, sizeof(in->last_error), line + 11);
		return;
	}
	if (strncmp(line, "Installing `", 12) == 0)
		return; /* the exit status says the same */
	/* RAUC's own log lines and the operation names ("installing", "idle")
	 * say nothing the steps do not; anything else (a D-Bus error, "No such
	 * file") is kept for the error text: the first, as the client's summary
	 * ("D-Bus error while installing") follows the cause. */
	if (strncmp(line, "rauc-Message:", 13) == 0 || strcmp(line, "installing") == 0 ||
	    strcmp(line, "idle") == 0 || !line[0])
		return;
	if (!in->other[0])
		inst_copy(in->other, sizeof(in->other), line);
}

/* "slot S" for the slot RAUC now boots first (after an install, the one
 * just written); only said when it is A or B. */
static void report_primary(const char *rauc, const char *conf)
{
	struct inst_rauc_status st;
	char err[256];
	if (inst_rauc_status(rauc, conf, &st, err, sizeof(err)) < 0) {
		inst_emit("log rauc: installed, but its status failed: %.300s", err);
		return;
	}
	const struct inst_rauc_slot *s = inst_rauc_find(&st, st.primary, 1);
	if (s && (strcmp(s->bootname, "A") == 0 || strcmp(s->bootname, "B") == 0))
		inst_emit("slot %s", s->bootname);
	else
		inst_emit("log rauc: installed; primary slot \"%.60s\" has no bootname A or B",
			  st.primary);
}

static int run(int argc, char **argv)
{
	const char *image = inst_opt(argc, argv, "image");
	const char *rauc = inst_opt(argc, argv, "rauc");
	const char *conf = inst_opt(argc, argv, "conf");
	if (!image) {
		fprintf(stderr, "usage: edge-ota-install rauc --image BUNDLE [--rauc PATH] "
				"[--conf FILE]\n");
		return 2;
	}
	if (!rauc)
		rauc = "rauc";

	char conf_arg[4200];
	const char *args[6];
	int n = 0;
	args[n++] = rauc;
	if (conf) {
		int w = snprintf(conf_arg, sizeof(conf_arg), "--conf=%s", conf);
		if (w < 0 || (size_t)w >= sizeof(conf_arg))
			return inst_fail("internal", "--conf path too long");
		args[n++] = conf_arg;
	}
	args[n++] = "install";
	args[n++] = image;
	args[n] = NULL;

	struct install in = {.percent = -1};
	struct inst_tool t = {.argv = args, .on_line = on_install_line, .ctx = &in};
	int rc = inst_tool_run(&t);
	if (rc < 0)
		return inst_fail("internal", "cannot run %s: %s", rauc, strerror(-rc));
	if (rc == 0) {
		if (in.percent < 100)
			inst_emit("progress 100 100");
		report_primary(rauc, conf);
		inst_emit("done");
		return 0;
	}
	bool refused = (in.failed_step[0] && is_bundle_check(in.failed_step)) ||
		       strstr(in.last_error, "Compatible mismatch") ||
		       strstr(in.last_error, "Refusing to install");
	if (refused)
		return inst_fail("refused", "%s",
				 in.last_error[0] ? in.last_error : in.failed_step);
	if (in.last_error[0])
		return inst_fail("internal", "rauc install failed: %s", in.last_error);
	if (in.other[0])
		return inst_fail("internal", "rauc install failed (status %d): %s", rc, in.other);
	return inst_fail("internal", "rauc install failed with status %d", rc);
}

const struct inst_cmd inst_rauc = {
    "rauc", "--image BUNDLE [--rauc PATH] [--conf FILE]   `rauc install` via the RAUC service",
    run};
