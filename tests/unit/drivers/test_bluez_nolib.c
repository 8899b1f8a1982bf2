/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BlueZ cuff backend on a system without libsystemd.so.0: this test
 * compiles drivers/bp/bp_bluez.c itself with EDGE_SDBUS_SONAME naming a
 * library that does not exist (and links no libsystemd), so the dlopen()
 * fails as it would on such a system. init must fail with -ENOTSUP, every
 * time, and .unavailable must name the library and dlopen()'s reason.
 */
#include <errno.h>
#include <string.h>

#include "drivers_internal.h"
#include "edge_check.h"

#define CUFF "A4:C1:38:0F:22:9B"

static void test_bad_param_before_load(void)
{
	struct edge_sensor_binding bind = {.param = "not-an-address"};
	struct edge_sensor *s = NULL;

	/* the board file's mistake is reported first, no library tried yet */
	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), -EINVAL);
	CHECK(s == NULL);
	CHECK(edge_bluez_bp_driver.unavailable() == NULL);
}

static void test_missing_library(void)
{
	struct edge_sensor_binding bind = {.param = CUFF};
	struct edge_sensor *s = NULL;
	const char *why;

	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), -ENOTSUP);
	CHECK(s == NULL);
	why = edge_bluez_bp_driver.unavailable();
	CHECK(why != NULL);
	if (!why)
		return;
	printf("  unavailable: %s\n", why);
	CHECK(strstr(why, EDGE_SDBUS_SONAME) != NULL);
	CHECK(strstr(why, "cannot open shared object file") != NULL); /* dlerror() */
	/* remembered: the sampler's retries fail the same way */
	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), -ENOTSUP);
	CHECK(s == NULL);
	CHECK(edge_bluez_bp_driver.unavailable() == why);
}

EDGE_CHECK_MAIN(test_bad_param_before_load, test_missing_library)
