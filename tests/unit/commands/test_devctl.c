/* SPDX-License-Identifier: Apache-2.0 */
/* devctl: the one path that drives the status LED and reboots (sim HAL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "agent/devctl.h"
#include "edge/board.h"
#include "edge/hal/sim.h"

static void load(const char *name, struct edge_board *b)
{
	char err[256];

	assert_int_equal(edge_board_load(name, NULL, b, err, sizeof(err)), 0);
}

static void led_on_a_sim_pin(void **state)
{
	struct edge_board b;
	struct edge_devctl *d;

	(void)state;
	edge_sim_reset();
	load("sim-full", &b);
	assert_int_equal(edge_devctl_new(&b, &d), 0);
	assert_string_equal(edge_devctl_led_backend(d), "gpio-hal");
	assert_int_equal(edge_sim_gpio_level("gpiochip0", 17), -ENOENT); /* not requested yet */
	assert_int_equal(edge_devctl_led(d, 1), 0);
	assert_int_equal(edge_sim_gpio_level("gpiochip0", 17), 1);
	assert_int_equal(edge_devctl_led_level(d), 1);
	assert_int_equal(edge_devctl_led(d, 1), 0); /* no change: no toggle */
	assert_int_equal(edge_devctl_led(d, 0), 0);
	assert_int_equal(edge_sim_gpio_level("gpiochip0", 17), 0);
	assert_int_equal(edge_devctl_led_toggles(d), 2);
	edge_devctl_free(d);
	edge_sim_reset();
}

static void no_led_on_the_plain_sim_board(void **state)
{
	struct edge_board b;
	struct edge_devctl *d;

	(void)state;
	edge_sim_reset();
	load("sim", &b);
	assert_int_equal(edge_devctl_new(&b, &d), 0);
	assert_string_equal(edge_devctl_led_backend(d), "none");
	assert_int_equal(edge_devctl_led(d, 1), -ENODEV);
	assert_int_equal(edge_devctl_led_level(d), -ENODEV);
	edge_devctl_free(d);
}

static void reboot_is_recorded_on_sim(void **state)
{
	struct edge_board b;
	struct edge_devctl *d;
	unsigned before;

	(void)state;
	edge_sim_reset();
	load("sim-full", &b);
	assert_int_equal(edge_devctl_new(&b, &d), 0);
	before = edge_sim_reboot_requests();
	assert_int_equal(edge_devctl_can_reboot(d), 0);
	assert_string_equal(edge_devctl_reboot_backend(d), "system-hal:sim");
	assert_int_equal(edge_devctl_reboot(d, NULL), 0);
	assert_int_equal(edge_sim_reboot_requests(), before + 1);
	assert_int_equal(edge_devctl_reboot_requests(d), before + 1);
	/* the Raspberry Pi tryboot flag reaches the HAL */
	assert_int_equal(edge_devctl_reboot(d, "0 tryboot"), 0);
	assert_int_equal(edge_sim_reboot_requests(), before + 2);
	assert_string_equal(edge_sim_last_reboot_arg(), "0 tryboot");
	edge_devctl_free(d);
	edge_sim_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(led_on_a_sim_pin),
	    cmocka_unit_test(no_led_on_the_plain_sim_board),
	    cmocka_unit_test(reboot_is_recorded_on_sim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
