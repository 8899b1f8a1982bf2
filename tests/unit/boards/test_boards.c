/* SPDX-License-Identifier: Apache-2.0 */
/* Board descriptors: validation errors, the shipped boards, sim bring-up. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/board.h"
#include "edge/cfgtab.h"
#include "edge/hal/sim.h"
#include "edge/hal/uart.h"
#include "edge/sensor.h"
#include "edge_check.h"

static struct edge_board board;
static char err[512];

static int parse(const char *json)
{
	err[0] = '\0';
	return edge_board_parse(json, strlen(json), "test.json", &board, err, sizeof(err));
}

#define HEAD                                                                                       \
	"{\"name\":\"t\",\"buses\":[{\"name\":\"i2c1\",\"type\":\"i2c\",\"path\":\"/dev/i2c-1\"}," \
	"{\"name\":\"ser\",\"type\":\"uart\",\"path\":\"/dev/ttyS0\"}],\"sensors\":["

static void expect_error(const char *json, const char *needle)
{
	CHECK_EQ(parse(json), -EINVAL);
	if (!strstr(err, needle))
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, needle);
	CHECK(strstr(err, needle) != NULL);
	CHECK(strncmp(err, "test.json: ", 11) == 0);
}

static void test_validation_errors(void)
{
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"acme,nothing\",\"bus\":\"i2c1\"}]}",
		     "sensors[0].compatible: unknown driver \"acme,nothing\"");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c9\"}]}",
		     "sensors[0].bus: no bus named \"i2c9\"");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\"},"
			  "{\"name\":\"b\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"address\":\"0x48\"}]}",
		     "sensors[1].address: 0x48 on i2c1 is already used by \"a\"");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"ser\"}]}",
		     "sensors[0].bus: driver \"maxim,max30205\" needs an i2c bus");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\"}]}",
		     "needs an i2c bus");
	expect_error(HEAD "{\"name\":\"g\",\"compatible\":\"nmea,gps\",\"bus\":\"i2c1\"}]}",
		     "sensors[0].bus: driver \"nmea,gps\" needs a uart bus");
	expect_error(HEAD "{\"name\":\"g\",\"compatible\":\"nmea,gps\",\"bus\":\"ser\"},"
			  "{\"name\":\"h\",\"compatible\":\"nmea,gps\",\"bus\":\"ser\"}]}",
		     "sensors[1].bus: UART ser is already used by \"g\"");
	expect_error(HEAD "{\"name\":\"c\",\"compatible\":\"edge,sim-bp-cuff\",\"bus\":\"i2c1\"}]}",
		     "takes no bus");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"address\":\"0x00\"}]}",
		     "sensors[0].address: 0x00 is reserved");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"address\":\"0x80\"}]}",
		     "sensors[0].address: 128 is out of range");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"colour\":1}]}",
		     "sensors[0].colour: unknown key");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\"},"
			  "{\"name\":\"a\",\"compatible\":\"maxim,max30102\",\"bus\":\"i2c1\"}]}",
		     "sensors[1].name: duplicate sensor \"a\"");
	expect_error("{\"name\":\"t\",\"buses\":[{\"name\":\"x\",\"type\":\"spi\",\"path\":\"/\"}],"
		     "\"sensors\":[]}",
		     "buses[0].type: \"spi\" is not one of i2c, uart");
	expect_error("{\"name\":\"t\",\"sensors\":[], \"status_led\":{\"line\":3}}",
		     "status_led.chip: missing");
	expect_error("{\"name\":\"t\",\"sensors\":[", "not valid JSON");
}

static void test_defaults(void)
{
	CHECK_EQ(parse(HEAD "{\"name\":\"p\",\"compatible\":\"maxim,max30102\",\"bus\":\"i2c1\"},"
			    "{\"name\":\"g\",\"compatible\":\"nmea,gps\",\"bus\":\"ser\"},"
			    "{\"name\":\"c\",\"compatible\":\"edge,sim-bp-cuff\",\"param\":"
			    "\"period_s=5\",\"interval_ms\":200}]}"),
		 0);
	CHECK_EQ(board.n_sensors, 3);
	CHECK_EQ(board.sensors[0].addr, 0x57); /* the driver's default address */
	CHECK_EQ(board.sensors[0].interval_ms, 1000);
	CHECK_EQ(board.sensors[0].freshness_ms, 5000);
	CHECK_EQ(board.buses[1].baud, 0); /* the driver's default at bring-up */
	CHECK_STR(board.sensors[2].param, "period_s=5");
	CHECK_EQ(board.sensors[2].freshness_ms, 1000);
	CHECK_EQ(board.status_led_line, -1);
}

/* The per-sensor options go through the descriptor's table: numbers are
 * checked before any cast, strings and numbers alike. */
static void test_sensor_options_table(void)
{
	char msg[256];

	CHECK_EQ(edge_cfg_check_table(edge_board_table(), msg, sizeof(msg)), 0);
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"address\":1e30}]}",
		     "test.json: sensors[0].address: 1e+30 is out of range [0, 127]");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"interval_ms\":\"fast\"}]}",
		     "sensors[0].interval_ms: \"fast\" is not an integer in [10, 86400000]");
	expect_error(HEAD "{\"name\":\"a\",\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\","
			  "\"enabled\":\"yes\"}]}",
		     "sensors[0].enabled: expected true or false, got a string");
	expect_error(HEAD "{\"compatible\":\"maxim,max30205\",\"bus\":\"i2c1\"}]}",
		     "sensors[0].name: missing");
	expect_error(
	    "{\"name\":\"t\",\"sensors\":[],\"status_led\":{\"chip\":\"c\",\"line\":1e30}}",
	    "status_led.line: 1e+30 is out of range [0, 1023]");
	expect_error("{\"name\":\"t\",\"sensors\":[],\"buses\":[{\"name\":\"x\",\"type\":\"uart\","
		     "\"path\":\"/\",\"baud\":-9600}]}",
		     "buses[0].baud: -9600 is out of range [300, 4000000]");
	expect_error("{\"name\":\"t\",\"sensors\":[],\"buses\":[{\"name\":\"x\",\"type\":\"uart\","
		     "\"path\":\"/\"},{\"name\":\"x\",\"type\":\"i2c\",\"path\":\"/\"}]}",
		     "buses[1].name: duplicate bus \"x\"");
	expect_error("{\"name\":\"t\"}", "test.json: sensors: missing");
	expect_error("{\"name\":\"t\",\"sensors\":[],\"colour\":1}",
		     "test.json: colour: unknown key");
	/* buses may follow the sensors; numbers may be strings */
	CHECK_EQ(parse("{\"name\":\"t\",\"sensors\":[{\"name\":\"a\",\"compatible\":"
		       "\"maxim,max30205\",\"bus\":\"i2c1\",\"address\":\"0x49\",\"interval_ms\":"
		       "\"250\"}],\"buses\":[{\"name\":\"i2c1\",\"type\":\"i2c\",\"path\":\"/d\"}],"
		       "\"status_led\":{\"chip\":\"gpiochip0\"}}"),
		 0);
	CHECK_EQ(board.sensors[0].addr, 0x49);
	CHECK_EQ(board.sensors[0].interval_ms, 250);
	CHECK_EQ(board.sensors[0].freshness_ms, 1250);
	CHECK(board.sensors[0].enabled);
	CHECK_EQ(board.status_led_line, 0); /* a LED without a line: line 0 */
	CHECK(!board.sim);
}

/* A board file in the boards directory that exists but cannot be read is
 * reported, not replaced by the embedded board of that name. */
static void test_boards_dir(void)
{
	char dir[] = "/tmp/edge-boards-XXXXXX", path[64];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/rpi4.json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"name\":\"rpi4\",\"sensors\":[], \"hal\":\"sim\"}", f);
		fclose(f);
	}
	CHECK_EQ(edge_board_load("rpi4", dir, &board, err, sizeof(err)), 0);
	CHECK(board.sim);
	CHECK_EQ(board.n_sensors, 0);
	CHECK_EQ(edge_board_load("rpi5", dir, &board, err, sizeof(err)), 0); /* embedded */
	CHECK(board.n_sensors > 0);
	unlink(path);
	CHECK_EQ(mkdir(path, 0700), 0); /* a directory: read fails with EISDIR */
	CHECK(edge_board_load("rpi4", dir, &board, err, sizeof(err)) < 0);
	CHECK(strstr(err, "rpi4.json: cannot read") != NULL);
	rmdir(path);
	rmdir(dir);
}

static void test_shipped_boards(void)
{
	static const char *const names[] = {"generic-aarch64", "rpi-zero-2w", "rpi4", "rpi5", "sim",
					    "sim-full"};

	CHECK_EQ(edge_board_embedded_count(), sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = edge_board_load(names[i], NULL, &board, err, sizeof(err));

		if (rc)
			fprintf(stderr, "  %s: %s\n", names[i], err);
		CHECK_EQ(rc, 0);
		CHECK_STR(board.name, names[i]);
		CHECK(board.n_sensors > 0);
		CHECK_EQ(board.sim, strncmp(names[i], "sim", 3) == 0);
	}
	CHECK_EQ(edge_board_load("rpi4", NULL, &board, err, sizeof(err)), 0);
	CHECK_STR(board.buses[0].path, "/dev/i2c-1");
	CHECK_STR(board.watchdog, "/dev/watchdog");
	CHECK_EQ(board.status_led_line, 17);
	CHECK_EQ(edge_board_load("rpi3", NULL, &board, err, sizeof(err)), -ENOENT);
}

static void test_sim_board_unchanged(void)
{
	struct edge_board_rt *rt;
	int32_t v;

	edge_sim_reset();
	CHECK_EQ(edge_board_load("sim", NULL, &board, err, sizeof(err)), 0);
	CHECK_EQ(board.n_sensors, 1);
	CHECK_STR(board.sensors[0].compatible, "edge,sim-vitals");
	CHECK_EQ(edge_board_open(&board, &rt, err, sizeof(err)), 0);
	CHECK_EQ(edge_board_sensor_error(rt, 0), 0);
	CHECK_EQ(edge_sensor_sample_fetch(edge_board_sensor(rt, 0)), 0);
	CHECK_EQ(edge_sensor_channel_get(edge_board_sensor(rt, 0), EDGE_CH_HEART_RATE, &v), 0);
	CHECK(v >= 55 && v <= 110);
	CHECK_EQ(edge_board_led_set(rt, 1), -ENODEV);
	CHECK_EQ(edge_board_watchdog_start(rt, 10), -ENODEV);
	edge_board_close(rt);
	edge_sim_reset();
}

static int find(const struct edge_board_rt *rt, const char *name)
{
	for (size_t i = 0; i < edge_board_sensor_count(rt); i++)
		if (strcmp(edge_board_sensor_desc(rt, i)->name, name) == 0)
			return (int)i;
	return -1;
}

static void test_sim_full_bring_up(void)
{
	struct edge_sim_watchdog_state wd;
	struct edge_board_rt *rt;
	struct edge_sensor *s;
	int32_t v;
	uint64_t t = 9000000;

	edge_sim_reset();
	edge_sim_time_set(t);
	CHECK_EQ(edge_board_load("sim-full", NULL, &board, err, sizeof(err)), 0);
	CHECK_EQ(edge_board_open(&board, &rt, err, sizeof(err)), 0);
	CHECK_EQ(edge_board_sensor_count(rt), 5);
	for (size_t i = 0; i < edge_board_sensor_count(rt); i++) {
		if (edge_board_sensor_error(rt, i))
			fprintf(stderr, "  %s: %d\n", edge_board_sensor_desc(rt, i)->name,
				edge_board_sensor_error(rt, i));
		CHECK_EQ(edge_board_sensor_error(rt, i), 0);
		CHECK(edge_board_sensor(rt, i) != NULL);
	}
	/* run the sampler's loop by hand for 8 simulated seconds */
	for (int k = 0; k < 40; k++) {
		t += 200;
		edge_sim_time_set(t);
		for (size_t i = 0; i < edge_board_sensor_count(rt); i++)
			CHECK_EQ(edge_sensor_sample_fetch(edge_board_sensor(rt, i)), 0);
	}
	s = edge_board_sensor(rt, (size_t)find(rt, "pulse_oximeter"));
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_HEART_RATE, &v), 0);
	CHECK_NEAR(v, 72, 3); /* the model's default */
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SPO2, &v), 0);
	CHECK_NEAR(v, 98, 2);
	s = edge_board_sensor(rt, (size_t)find(rt, "body_temperature"));
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_NEAR(v, 36600, 4);
	s = edge_board_sensor(rt, (size_t)find(rt, "ir_thermometer"));
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_BODY_TEMP, &v), 0);
	CHECK_NEAR(v, 36800, 20);
	s = edge_board_sensor(rt, (size_t)find(rt, "gps"));
	CHECK(edge_sensor_pollfd(s) >= 0);
	{
		struct edge_uart_config cfg = {0};

		CHECK_EQ(edge_sim_uart_config("gps0", &cfg), 0);
		CHECK_EQ(cfg.baud, 9600); /* the bus's baud reached the port */
		CHECK_EQ(cfg.data_bits, 8);
	}
	t += 1000;
	edge_sim_time_set(t);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &v), 0);
	CHECK_NEAR(v, 488566000, 1);
	s = edge_board_sensor(rt, (size_t)find(rt, "bp_cuff"));
	t += 60000;
	edge_sim_time_set(t);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &v), 0);
	CHECK(v >= 100 && v <= 140);
	/* retry keeps working on a healthy sensor */
	CHECK_EQ(edge_board_sensor_retry(rt, 0), 0);
	/* status LED and watchdog on the sim HAL */
	CHECK_EQ(edge_board_led_set(rt, 1), 0);
	CHECK_EQ(edge_sim_gpio_level("gpiochip0", 17), 1);
	CHECK_EQ(edge_board_led_set(rt, 0), 0);
	CHECK_EQ(edge_sim_gpio_level("gpiochip0", 17), 0);
	CHECK_EQ(edge_board_watchdog_keepalive(rt), -ENODEV);
	CHECK_EQ(edge_board_watchdog_start(rt, 20), 0);
	CHECK_EQ(edge_board_watchdog_start(rt, 20), -EALREADY);
	CHECK_EQ(edge_board_watchdog_keepalive(rt), 0);
	CHECK_EQ(edge_sim_watchdog_state("watchdog0", &wd), 0);
	CHECK_EQ(wd.timeout_s, 20);
	CHECK_EQ(wd.keepalives, 2);
	CHECK_EQ(edge_board_reboot(rt), 0);
	CHECK_EQ(edge_sim_reboot_requests(), 1);
	edge_board_close(rt);
	CHECK_EQ(edge_sim_watchdog_state("watchdog0", &wd), 0);
	CHECK_EQ(wd.magic_closed, 1); /* a clean close disarms */
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_missing_hardware_is_per_sensor(void)
{
	struct edge_board_rt *rt;

	/* a Linux board on a machine without its buses: every sensor fails
	 * on its own, the board still opens */
	CHECK_EQ(edge_board_load("rpi4", NULL, &board, err, sizeof(err)), 0);
	CHECK_EQ(edge_board_open(&board, &rt, err, sizeof(err)), 0);
	for (size_t i = 0; i < edge_board_sensor_count(rt); i++) {
		if (edge_board_sensor_desc(rt, i)->enabled) {
			CHECK(edge_board_sensor_error(rt, i) < 0);
			CHECK(edge_board_sensor(rt, i) == NULL);
		}
	}
	edge_board_close(rt);
}

EDGE_CHECK_MAIN(test_validation_errors, test_sensor_options_table, test_boards_dir, test_defaults,
		test_shipped_boards, test_sim_board_unchanged, test_sim_full_bring_up,
		test_missing_hardware_is_per_sensor)
