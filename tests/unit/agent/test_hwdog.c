/* SPDX-License-Identifier: Apache-2.0 */
/* The hardware watchdog feeder on a real edge_loop and the sim watchdog
 * (in-process: an expiry is recorded, the process goes on). Sim time is
 * pinned, so the sim sees time pass only when a test moves it; the feeder's
 * timer runs on the real clock (timeouts of 2-3 s, periods of 666-1000 ms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"
#include "edge/hal/sim.h"
#include "edge/hal/watchdog.h"
#include "edge/log.h"
#include "edge/loop.h"
#include "edge/time.h"
#include "hwdog.h"

#define SIM_T0 4000000u
/* what a configuration file needs besides the keys under test */
#define BASE                                                                                       \
	"\"device_id\":\"d\",\"mqtt\":{\"tls\":{\"ca_file\":\"ca\",\"cert_file\":\"c\","           \
	"\"key_file\":\"k\"}}"

static struct edge_loop *loop;
static struct edge_config cfg;
static bool healthy = true;
static unsigned health_calls;
static const char *unhealthy_why = "outbox not writable: Input/output error";

static bool health(void *arg, char *why, size_t len)
{
	(void)arg;
	health_calls++;
	if (!healthy)
		snprintf(why, len, "%s", unhealthy_why);
	return healthy;
}

/* stderr (the log) into a file while a test runs */
static char log_path[64];
static int saved_stderr = -1;
static char log_text[16384];

static void capture_start(void)
{
	int fd;

	fflush(stderr);
	snprintf(log_path, sizeof(log_path), "/tmp/edge-hwdog-log-XXXXXX");
	fd = mkstemp(log_path);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* The log so far (capturing goes on). */
static const char *log_so_far(void)
{
	int fd;
	ssize_t n;

	fflush(stderr);
	fd = open(log_path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, log_text, sizeof(log_text) - 1);
	close(fd);
	log_text[n > 0 ? n : 0] = '\0';
	return log_text;
}

/* Replays what was captured (cmocka's failure messages go there too). */
static void capture_end(void)
{
	fflush(stderr);
	if (saved_stderr >= 0) {
		const char *log = log_so_far();

		dup2(saved_stderr, STDERR_FILENO);
		fputs(log, stderr);
		close(saved_stderr);
		saved_stderr = -1;
		unlink(log_path);
	}
}

static void assert_logged(const char *fragment)
{
	const char *log = log_so_far();

	if (!strstr(log, fragment))
		fail_msg("the log lacks \"%s\"; it has:\n%s", fragment, log);
}

static void run_for(uint64_t ms)
{
	uint64_t end = edge_now_ms() + ms, now;

	while ((now = edge_now_ms()) < end)
		assert_int_equal(edge_loop_run_once(loop, (int)(end - now)), 0);
}

static struct edge_sim_watchdog_state wd(const char *name)
{
	struct edge_sim_watchdog_state st;

	assert_int_equal(edge_sim_watchdog_state(name, &st), 0);
	return st;
}

static int setup(void **state)
{
	(void)state;
	edge_sim_reset();
	edge_sim_watchdog_exit_on_reset(0);
	edge_sim_time_set(SIM_T0);
	edge_config_defaults(&cfg);
	cfg.watchdog.timeout_s = 2;
	healthy = true;
	health_calls = 0;
	edge_log_set_level(EDGE_LOG_INFO);
	capture_start();
	return edge_loop_new(&loop);
}

static int teardown(void **state)
{
	(void)state;
	capture_end();
	edge_loop_free(loop);
	loop = NULL;
	edge_sim_time_set(0);
	edge_sim_reset();
	return 0;
}

static void fed_while_healthy(void **state)
{
	struct edge_hwdog *d;
	struct edge_hwdog_status s;

	(void)state;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd0", health, NULL, &d), 0);
	edge_hwdog_status(d, &s);
	assert_true(s.armed);
	assert_true(s.feeding);
	assert_string_equal(s.device, "sim:wd0");
	assert_int_equal(s.timeout_s, 2);
	assert_int_equal(s.keepalives, 1); /* one right after arming */
	assert_int_equal(wd("wd0").timeout_s, 2);
	assert_logged("sim:wd0 armed: timeout 2 s (asked 2 s), fed every 666 ms while the agent is "
		      "healthy");
	/* ticks at 666 and 1332 ms */
	run_for(1500);
	edge_hwdog_status(d, &s);
	assert_int_equal(s.keepalives, 3);
	assert_int_equal(wd("wd0").keepalives, 3);
	assert_int_equal(health_calls, 2);
	assert_string_equal(s.last_unhealthy, "");
	assert_int_equal(s.error, 0);
	assert_int_equal(wd("wd0").resets, 0);
	{
		cJSON *root = cJSON_CreateObject(), *o;
		char *txt;

		assert_int_equal(edge_hwdog_status_json(d, root), 0);
		o = cJSON_GetObjectItem(root, "watchdog");
		txt = cJSON_PrintUnformatted(o);
		assert_string_equal(txt, "{\"armed\":true,\"timeoutS\":2,\"feeds\":3}");
		free(txt);
		cJSON_Delete(root);
	}
	edge_hwdog_free(d);
}

static void not_fed_while_unhealthy(void **state)
{
	struct edge_hwdog *d;
	struct edge_hwdog_status s;

	(void)state;
	cfg.watchdog.timeout_s = 3; /* ticks every 1000 ms */
	healthy = false;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd0", health, NULL, &d), 0);
	run_for(1500);
	assert_int_equal(health_calls, 1);
	assert_int_equal(wd("wd0").keepalives, 1); /* only the one at arming */
	edge_hwdog_status(d, &s);
	assert_true(s.armed);
	assert_false(s.feeding);
	assert_int_equal(s.keepalives, 1);
	assert_string_equal(s.last_unhealthy, unhealthy_why);
	assert_logged("not feeding sim:wd0: outbox not writable: Input/output error; the board "
		      "resets in about 2 s unless this clears");
	/* health returns before the timeout: fed again */
	healthy = true;
	run_for(1000);
	assert_int_equal(wd("wd0").keepalives, 2);
	edge_hwdog_status(d, &s);
	assert_true(s.feeding);
	assert_string_equal(s.last_unhealthy, unhealthy_why); /* kept for the status */
	assert_logged(
	    "healthy again (was: outbox not writable: Input/output error): feeding sim:wd0");
	assert_int_equal(wd("wd0").resets, 0);
	edge_hwdog_free(d);
}

static void expiry_is_detected(void **state)
{
	struct edge_hwdog *d, *d2;
	struct edge_hwdog_status s;

	(void)state;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd0", health, NULL, &d), 0);
	/* in time: 2000 ms of sim time since the keepalive at arming */
	edge_sim_time_set(SIM_T0 + 2000);
	run_for(700);
	assert_int_equal(wd("wd0").keepalives, 2);
	assert_int_equal(wd("wd0").resets, 0);
	/* the loop "stood still" for 2001 ms of sim time: the next keepalive is late */
	edge_sim_time_set(SIM_T0 + 4001);
	run_for(700);
	assert_int_equal(wd("wd0").resets, 1);
	assert_int_equal(wd("wd0").armed, 0);
	assert_int_equal(wd("wd0").keepalives, 2);
	assert_string_equal(wd("wd0").last_reset,
			    "expired after 2001 ms without a keepalive (timeout 2 s), seen at "
			    "keepalive");
	edge_hwdog_status(d, &s);
	assert_int_equal(s.keepalives, 2);
	assert_int_equal(s.error, -ETIMEDOUT);
	assert_logged("sim:wd0: keepalive failed: ");
	edge_hwdog_free(d);

	/* unhealthy: nothing is fed, and the sim still notices the expiry */
	healthy = false;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd1", health, NULL, &d2), 0);
	edge_sim_time_set(SIM_T0 + 4001 + 2001);
	run_for(700);
	assert_int_equal(wd("wd1").resets, 1);
	assert_int_equal(wd("wd1").keepalives, 1);
	assert_string_equal(wd("wd1").last_reset,
			    "expired after 2001 ms without a keepalive (timeout 2 s), seen at "
			    "get_timeout");
	edge_hwdog_free(d2);
}

static void clean_stop_disarms(void **state)
{
	struct edge_hwdog *d;
	struct edge_sim_watchdog_state st;

	(void)state;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd0", health, NULL, &d), 0);
	run_for(700);
	assert_int_equal(wd("wd0").armed, 1);
	assert_int_equal(wd("wd0").magic_closed, 0);
	edge_hwdog_free(d);
	st = wd("wd0");
	assert_int_equal(st.magic_closed, 1);
	assert_int_equal(st.armed, 0);
	assert_int_equal(st.keepalives, 2);
	assert_logged("sim:wd0 disarmed (clean stop)");
	/* the freed feeder's timer is gone: the loop runs on without it */
	run_for(700);
	edge_hwdog_free(NULL);

	/* disabled: never opened */
	cfg.watchdog.enabled = false;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd9", health, NULL, &d), 0);
	assert_int_equal(edge_sim_watchdog_state("wd9", &st), -ENOENT);
	assert_logged("watchdog.enabled is false: sim:wd9 stays unarmed");
	edge_hwdog_free(d);
}

static void reload_applies_changes(void **state)
{
	struct edge_hwdog *d;
	struct edge_hwdog_status s;

	(void)state;
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:wd0", health, NULL, &d), 0);
	assert_int_equal(wd("wd0").timeout_s, 2);
	cfg.watchdog.timeout_s = 6;
	edge_hwdog_reconfigure(d, &cfg, "sim:wd0");
	assert_int_equal(wd("wd0").timeout_s, 6);
	assert_int_equal(wd("wd0").opens, 1); /* re-timed, not reopened */
	edge_hwdog_status(d, &s);
	assert_int_equal(s.timeout_s, 6);
	assert_logged("sim:wd0: timeout 2 s -> 6 s (asked 6 s), fed every 2000 ms");
	/* the period follows: nothing within 1.5 s now */
	run_for(1500);
	assert_int_equal(wd("wd0").keepalives, 1);
	run_for(700);
	assert_int_equal(wd("wd0").keepalives, 2);
	/* disabled by a reload: magic close */
	cfg.watchdog.enabled = false;
	edge_hwdog_reconfigure(d, &cfg, "sim:wd0");
	assert_int_equal(wd("wd0").magic_closed, 1);
	assert_int_equal(wd("wd0").armed, 0);
	edge_hwdog_status(d, &s);
	assert_false(s.armed);
	assert_string_equal(s.device, "");
	assert_logged("sim:wd0 disarmed (watchdog.enabled is false)");
	/* enabled again, on another device (watchdog.device wins over the board's) */
	cfg.watchdog.enabled = true;
	snprintf(cfg.watchdog.device, sizeof(cfg.watchdog.device), "sim:wd7");
	edge_hwdog_reconfigure(d, &cfg, "sim:wd0");
	assert_int_equal(wd("wd0").opens, 1);
	assert_int_equal(wd("wd7").armed, 1);
	assert_int_equal(wd("wd7").timeout_s, 6);
	edge_hwdog_status(d, &s);
	assert_true(s.armed);
	assert_string_equal(s.device, "sim:wd7");
	edge_hwdog_free(d);
	assert_int_equal(wd("wd7").magic_closed, 1);
}

static void open_failure_runs_on(void **state)
{
	struct edge_watchdog *holder;
	struct edge_hwdog *d;
	struct edge_hwdog_status s;

	(void)state;
	/* someone else holds it (single open) */
	assert_int_equal(edge_watchdog_open("sim:busy", &holder), 0);
	assert_int_equal(edge_hwdog_new(loop, &cfg, "sim:busy", health, NULL, &d), 0);
	edge_hwdog_status(d, &s);
	assert_false(s.armed);
	assert_int_equal(s.error, -EBUSY);
	assert_string_equal(s.device, "sim:busy");
	assert_logged("cannot open sim:busy: Device or resource busy (in use: ");
	assert_logged("running without a hardware watchdog");
	run_for(100);
	/* a reload retries */
	edge_watchdog_close(holder);
	edge_hwdog_reconfigure(d, &cfg, "sim:busy");
	edge_hwdog_status(d, &s);
	assert_true(s.armed);
	assert_int_equal(s.error, 0);
	edge_hwdog_free(d);

	assert_int_equal(edge_hwdog_new(loop, &cfg, "/dev/no-such-watchdog", health, NULL, &d), 0);
	edge_hwdog_status(d, &s);
	assert_false(s.armed);
	assert_int_equal(s.error, -ENOENT);
	assert_logged(
	    "cannot open /dev/no-such-watchdog: No such file or directory (no such device");
	edge_hwdog_free(d);

	/* a board without a watchdog: nothing to arm, no error */
	assert_int_equal(edge_hwdog_new(loop, &cfg, "", health, NULL, &d), 0);
	edge_hwdog_status(d, &s);
	assert_false(s.armed);
	assert_int_equal(s.error, 0);
	assert_string_equal(s.device, "");
	edge_hwdog_free(d);
	edge_hwdog_status(NULL, &s);
	assert_false(s.armed);
}

static void config_keys(void **state)
{
	struct edge_config c;
	char err[512] = "";
	const char *ok = "{" BASE ",\"watchdog\":{\"enabled\":false,\"timeout_s\":3600,"
			 "\"device\":\"/dev/watchdog1\"}}";
	const char *low = "{" BASE ",\"watchdog\":{\"timeout_s\":1}}";
	const char *high = "{" BASE ",\"watchdog\":{\"timeout_s\":3601}}";

	(void)state;
	edge_config_defaults(&c);
	assert_true(c.watchdog.enabled);
	assert_int_equal(c.watchdog.timeout_s, 15);
	assert_string_equal(c.watchdog.device, "");
	assert_int_equal(edge_config_parse(ok, strlen(ok), "t.json", &c, err, sizeof(err)), 0);
	assert_false(c.watchdog.enabled);
	assert_int_equal(c.watchdog.timeout_s, 3600);
	assert_string_equal(c.watchdog.device, "/dev/watchdog1");
	assert_int_not_equal(edge_config_parse(low, strlen(low), "t.json", &c, err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, "watchdog.timeout_s"));
	assert_int_not_equal(edge_config_parse(high, strlen(high), "t.json", &c, err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, "watchdog.timeout_s"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fed_while_healthy, setup, teardown),
	    cmocka_unit_test_setup_teardown(not_fed_while_unhealthy, setup, teardown),
	    cmocka_unit_test_setup_teardown(expiry_is_detected, setup, teardown),
	    cmocka_unit_test_setup_teardown(clean_stop_disarms, setup, teardown),
	    cmocka_unit_test_setup_teardown(reload_applies_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(open_failure_runs_on, setup, teardown),
	    cmocka_unit_test(config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
