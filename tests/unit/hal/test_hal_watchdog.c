/* SPDX-License-Identifier: Apache-2.0 */
/* Watchdog and reboot requests on the sim backend; Linux open errors. */
#include <errno.h>

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

EDGE_CHECK_MAIN(test_keepalive_and_magic_close, test_linux_open_errors, test_reboot_request)
