/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BOARD_H
#define EDGE_BOARD_H
/*
 * Board descriptors: JSON files naming the HAL backend, the buses and the
 * sensor instances of one kind of gateway. The files in boards/ are embedded
 * into the binary at build time; a boards directory given at run time wins.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_BOARD_MAX_BUSES   8
#define EDGE_BOARD_MAX_SENSORS 16

enum edge_bus_type { EDGE_BUS_I2C, EDGE_BUS_UART };

struct edge_board_bus {
	char name[32];
	enum edge_bus_type type;
	char path[128]; /* "/dev/i2c-1", "/dev/serial0", "sim:i2c0", "sim:gps0" */
	uint32_t baud;	/* UART only; 0 = the driver's default (9600 for NMEA) */
};

struct edge_board_sensor {
	char name[32];
	char compatible[48];
	char bus[32];  /* name of an entry in buses[], "" for none (BLE, virtual) */
	uint16_t addr; /* I2C address; the driver's default when the file has none */
	uint32_t interval_ms;
	uint32_t freshness_ms;
	char param[128]; /* driver-specific, e.g. a BLE device address */
	bool enabled;
};

struct edge_board {
	char name[32];
	char description[160];
	bool sim; /* "hal": "sim" -> chip models are attached for every sensor */
	struct edge_board_bus buses[EDGE_BOARD_MAX_BUSES];
	size_t n_buses;
	struct edge_board_sensor sensors[EDGE_BOARD_MAX_SENSORS];
	size_t n_sensors;
	char status_led_chip[64]; /* "" when the board has none */
	int status_led_line;
	char watchdog[64]; /* "" when none */
};

/* Parses a descriptor; origin names it in errors. On failure err holds
 * "<origin>: <key path>: <problem>". Validates compatibles against the driver
 * registry, bus references and kinds (an I2C driver on an i2c bus, a UART
 * driver on a uart bus, a wireless one on none), I2C addresses (0x03-0x77,
 * no duplicates on a bus) and one sensor per UART. */
int edge_board_parse(const char *json, size_t len, const char *origin, struct edge_board *out,
		     char *err, size_t errlen);

/* Loads board `name` from dir (when non-NULL and the file exists there) or
 * from the embedded set. A file in dir that cannot be read (other than
 * missing) is an error, not a fallback. */
int edge_board_load(const char *name, const char *dir, struct edge_board *out, char *err,
		    size_t errlen);

/* The descriptor's key table (edge/cfgtab.h; for tests and references).
 * Static, never freed. */
struct edge_cfgtab;
const struct edge_cfgtab *edge_board_table(void);

/* Embedded descriptors, for --list-boards. */
size_t edge_board_embedded_count(void);
const char *edge_board_embedded_name(size_t i);
const char *edge_board_embedded_json(size_t i, size_t *len);

/* The bus entry named `name`, or NULL. */
const struct edge_board_bus *edge_board_bus_find(const struct edge_board *b, const char *name);

#endif

/*
 * Bring-up: opens the board's buses and creates every enabled sensor. On a
 * sim board the chip model of each sensor is attached first. A sensor whose
 * bus or init fails is kept with its error (edge_board_sensor() returns
 * NULL) so the caller can report and retry it; one bad sensor never fails
 * the whole board. Caller frees with edge_board_close().
 */
struct edge_board_rt;
struct edge_sensor;

int edge_board_open(const struct edge_board *b, struct edge_board_rt **out, char *err,
		    size_t errlen);
void edge_board_close(struct edge_board_rt *rt);
size_t edge_board_sensor_count(const struct edge_board_rt *rt);
/* Borrowed descriptor (copied from the board at open). */
const struct edge_board_sensor *edge_board_sensor_desc(const struct edge_board_rt *rt, size_t i);
/* The live sensor, or NULL while it is disabled or failed. Borrowed. */
struct edge_sensor *edge_board_sensor(const struct edge_board_rt *rt, size_t i);
/* 0, or the negative errno of the last bring-up attempt. */
int edge_board_sensor_error(const struct edge_board_rt *rt, size_t i);
/* Re-runs bring-up of sensor i (after a failure). */
int edge_board_sensor_retry(struct edge_board_rt *rt, size_t i);

/*
 * Board peripherals beyond sensors. All return 0 or a negative errno;
 * -ENODEV when the board file does not name one.
 */
/* Status LED (status_led): requested as an output on first use. */
int edge_board_led_set(struct edge_board_rt *rt, int on);
/* Opens and arms the board's watchdog; timeout_s > 0 sets its timeout (a
 * driver that refuses it keeps its default). From then on the caller must
 * call edge_board_watchdog_keepalive() well within the timeout.
 * edge_board_close() and edge_board_watchdog_stop() disarm it (magic close);
 * a crash leaves it armed, so the board resets. */
int edge_board_watchdog_start(struct edge_board_rt *rt, int timeout_s);
int edge_board_watchdog_keepalive(struct edge_board_rt *rt);
void edge_board_watchdog_stop(struct edge_board_rt *rt);
/* Reboot through the board's backend: sim boards only record the request
 * (edge_sim_reboot_requests()); Linux syncs and reboots (CAP_SYS_BOOT). */
int edge_board_reboot(struct edge_board_rt *rt);
