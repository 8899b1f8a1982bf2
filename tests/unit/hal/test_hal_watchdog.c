/* SPDX-License-Identifier: Apache-2.0 */
/* Watchdog and reboot requests on the sim backend; Linux open errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edge/hal/sim.h"
#include "edge/hal/system.h"
#include "edge/hal/watchdog.h"
#include "edge_check.h"

static void test_keepalive_and_magic_close(void)
{
	struct edge_sim_watchdog_state st;
	struct edge_watchdog *w, *w2;
	int t = 0;

	edge_sim_reset();
	CHECK_EQ(edge_sim_watchdog_state("wdt0", &st), -ENOENT);
	CHECK_EQ(edge_watchdog_open("sim:wdt0", &w), 0);
	CHECK_EQ(edge_watchdog_open("sim:wdt0", &w2), -EBUSY); /* single open */
	CHECK_EQ(edge_watchdog_set_timeout(w, 15), 15);
	CHECK_EQ(edge_watchdog_set_timeout(w, 0), -EINVAL);
	CHECK_EQ(edge_watchdog_get_timeout(w, &t), 0);
	CHECK_EQ(t, 15);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(edge_watchdog_keepalive(w), 0);
	CHECK_EQ(edge_sim_watchdog_state("wdt0", &st), 0);
	CHECK_EQ(st.keepalives, 3);
	CHECK_EQ(st.armed, 1);
	edge_watchdog_close(w);
	CHECK_EQ(edge_sim_watchdog_state("wdt0", &st), 0);
	CHECK_EQ(st.magic_closed, 1);
	CHECK_EQ(st.armed, 0);
	/* reopen, then close without 'V': still armed (a crash reboots) */
	CHECK_EQ(edge_watchdog_open("sim:wdt0", &w), 0);
	edge_watchdog_abandon(w);
	CHECK_EQ(edge_sim_watchdog_state("wdt0", &st), 0);
	CHECK_EQ(st.opens, 2);
	CHECK_EQ(st.magic_closed, 0);
	CHECK_EQ(st.armed, 1);
	edge_watchdog_close(NULL);
	edge_sim_reset();
}

/* In-process model of the timeout (the reset is only recorded). */
static void test_expiry_recorded(void)
{
	struct edge_sim_watchdog_state st;
	struct edge_watchdog *w;
	uint64_t t = 5000000;

	edge_sim_reset();
	edge_sim_watchdog_exit_on_reset(0);
	edge_sim_time_set(t);
	CHECK_EQ(edge_watchdog_open("sim:wdt1", &w), 0);
	CHECK_EQ(edge_watchdog_set_timeout(w, 2), 2);
	/* exactly the timeout is still in time */
	edge_sim_time_set(t += 2000);
	CHECK_EQ(edge_watchdog_keepalive(w), 0);
	edge_sim_time_set(t += 1999);
	CHECK_EQ(edge_watchdog_keepalive(w), 0);
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.resets, 0);
	CHECK_EQ(st.keepalives, 2);
	CHECK_EQ(st.last_keepalive_ms, t);
	CHECK_STR(st.last_reset, "");
	/* one ms late: the board reset */
	edge_sim_time_set(t += 2001);
	CHECK_EQ(edge_watchdog_keepalive(w), -ETIMEDOUT);
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.resets, 1);
	CHECK_EQ(st.armed, 0);
	CHECK_EQ(st.keepalives, 2);
	CHECK_STR(st.last_reset, "expired after 2001 ms without a keepalive (timeout 2 s), seen at "
				 "keepalive");
	/* the handle died with the board */
	CHECK_EQ(edge_watchdog_keepalive(w), -EBADF);
	edge_watchdog_close(w);
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.magic_closed, 0);
	/* after the "reboot" it opens and arms again */
	CHECK_EQ(edge_watchdog_open("sim:wdt1", &w), 0);
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.armed, 1);
	CHECK_EQ(st.opens, 2);
	/* get_timeout notices an expiry too; a magic close in time disarms */
	edge_sim_time_set(t += 2500);
	{
		int s = 0;

		CHECK_EQ(edge_watchdog_get_timeout(w, &s), -ETIMEDOUT);
	}
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.resets, 2);
	CHECK_EQ(edge_watchdog_open("sim:wdt1", &w), 0);
	edge_sim_time_set(t += 1000);
	edge_watchdog_close(w);
	edge_sim_time_set(t += 100000); /* disarmed: nothing fires */
	CHECK_EQ(edge_watchdog_open("sim:wdt1", &w), 0);
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.resets, 2);
	/* abandoned (no 'V'): it keeps running and fires; the next open sees it */
	edge_watchdog_abandon(w);
	edge_sim_time_set(t += 2001);
	CHECK_EQ(edge_watchdog_open("sim:wdt1", &w), 0);
	CHECK_EQ(edge_sim_watchdog_state("wdt1", &st), 0);
	CHECK_EQ(st.resets, 3);
	CHECK_EQ(st.armed, 1);
	edge_watchdog_close(w);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

/* The default: an expiry ends the process like a reset, and the state file
 * (with the reset cause) is there for the next "boot". */
static void test_expiry_ends_the_process(void)
{
	struct edge_sim_watchdog_state st;
	struct edge_watchdog *w;
	char dir[] = "/tmp/edge-simwdt-XXXXXX", path[128], buf[1024];
	int pipefd[2], status = 0;
	pid_t pid;

	if (getenv("EDGE_UNDER_EMULATOR")) {
		printf("SKIPPED under qemu-user: a forked child ending on the sim reset "
		       "(checked on the native build)\n");
		return;
	}
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/watchdog-wdt2.json", dir);
	CHECK_EQ(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		setenv("EDGE_SIM_STATE_DIR", dir, 1);
		edge_sim_reset();
		edge_sim_time_set(7000000);
		if (edge_watchdog_open("sim:wdt2", &w) || edge_watchdog_set_timeout(w, 3) != 3)
			_exit(2);
		edge_sim_time_set(7000000 + 3000);
		if (edge_watchdog_keepalive(w))
			_exit(3);
		edge_sim_time_set(7000000 + 6500);
		edge_watchdog_keepalive(w); /* does not return */
		_exit(4);
	}
	close(pipefd[1]);
	{
		size_t got = 0;
		ssize_t n;

		while ((n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
	}
	close(pipefd[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), EDGE_SIM_WATCHDOG_EXIT);
	CHECK_STR(buf, "sim watchdog wdt2 expired after 3500 ms: board reset\n");
	CHECK(read_file(path, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"resets\": 1,") != NULL);
	CHECK(strstr(buf, "\"armed\": false") != NULL);
	CHECK(strstr(buf, "\"keepalives\": 1,") != NULL);
	CHECK(strstr(buf, "\"timeout_s\": 3,") != NULL);

	/* the next "boot" (this process) reads the reset cause back */
	setenv("EDGE_SIM_STATE_DIR", dir, 1);
	edge_sim_reset();
	CHECK_EQ(edge_watchdog_open("sim:wdt2", &w), 0);
	CHECK_EQ(edge_sim_watchdog_state("wdt2", &st), 0);
	CHECK_EQ(st.resets, 1);
	CHECK_EQ(st.opens, 1);
	CHECK_STR(st.last_reset, "expired after 3500 ms without a keepalive (timeout 3 s), seen at "
				 "keepalive");
	CHECK(read_file(path, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"armed\": true") != NULL);
	CHECK(strstr(buf, "\"opens\": 1,") != NULL);
	edge_watchdog_close(w);
	CHECK(read_file(path, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"armed\": false") != NULL);
	CHECK(strstr(buf, "\"magic_closed\": true") != NULL);
	CHECK(strstr(buf, "\"resets\": 1,") != NULL);
	unsetenv("EDGE_SIM_STATE_DIR");
	edge_sim_reset();
	unlink(path);
	CHECK_EQ(rmdir(dir), 0); /* no temporary file left behind */
}

static void test_linux_open_errors(void)
{
	struct edge_watchdog *w;

	CHECK_EQ(edge_watchdog_open("/dev/no-such-watchdog", &w), -ENOENT);
	CHECK_EQ(edge_watchdog_open(NULL, &w), -EINVAL);
	CHECK_EQ(edge_watchdog_keepalive(NULL), -EINVAL);
}

static void test_reboot_request(void)
{
	edge_sim_reset();
	CHECK_EQ(edge_sim_reboot_requests(), 0);
	CHECK_EQ(edge_system_reboot("sim"), 0);
	CHECK_EQ(edge_system_reboot("sim"), 0);
	CHECK_EQ(edge_sim_reboot_requests(), 2);
	CHECK_EQ(edge_system_reboot("bogus"), -EINVAL);
	edge_sim_reset();
	CHECK_EQ(edge_sim_reboot_requests(), 0);
}

EDGE_CHECK_MAIN(test_keepalive_and_magic_close, test_expiry_recorded, test_expiry_ends_the_process,
		test_linux_open_errors, test_reboot_request)
