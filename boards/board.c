/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/board.h"
#include "edge/cfgtab.h"
#include "edge/sensor.h"

#define BOARD_FILE_MAX (256 * 1024)

struct embedded {
	const char *name;
	const char *json;
	size_t len;
};
extern const struct embedded edge_boards_embedded[];
extern const size_t edge_boards_embedded_n;

static const char *const bus_types[] = {"i2c", "uart", NULL};
static const int bus_type_values[] = {EDGE_BUS_I2C, EDGE_BUS_UART};
static const char *const hals[] = {"linux", "sim", NULL};

/* Numbers may be written as strings ("0x48") in board files: EDGE_CFG_F_NUMTEXT. */
#define NUM EDGE_CFG_F_NUMTEXT
#define REQ EDGE_CFG_F_REQUIRED

#define EDGE_CFG_T struct edge_board_bus
static const struct edge_cfg_key bus_keys[] = {
    {"name", EDGE_CFG_STRING, REQ, EDGE_CFG_FIELD(name), .desc = "what sensors name as their bus"},
    {"type", EDGE_CFG_ENUM, REQ, EDGE_CFG_FIELD(type), .names = bus_types,
     .values = bus_type_values, .desc = "bus kind"},
    {"path", EDGE_CFG_STRING, REQ, EDGE_CFG_FIELD(path),
     .desc = "device: /dev/i2c-1, /dev/serial0, sim:i2c0"},
    {"baud", EDGE_CFG_UINT, NUM, EDGE_CFG_FIELD(baud), .min = 300, .max = 4000000,
     .desc = "UART only; unset: the driver's default"},
};
static const struct edge_cfgtab bus_tab = EDGE_CFGTAB(bus_keys, 0);
#undef EDGE_CFG_T

/* The per-sensor options; the checks against drivers and buses follow in
 * check_sensors() once the whole file is read. */
#define EDGE_CFG_T struct edge_board_sensor
static const struct edge_cfg_key sensor_keys[] = {
    {"name", EDGE_CFG_STRING, REQ, EDGE_CFG_FIELD(name), .desc = "sensor name, unique"},
    {"compatible", EDGE_CFG_STRING, REQ, EDGE_CFG_FIELD(compatible),
     .desc = "driver (edge-agent --list-drivers)"},
    {"bus", EDGE_CFG_STRING, 0, EDGE_CFG_FIELD(bus), .desc = "an entry of buses; none for BLE"},
    {"address", EDGE_CFG_UINT, NUM, EDGE_CFG_FIELD(addr), .min = 0, .max = 0x7f,
     .desc = "I2C address (default: the driver's)"},
    {"interval_ms", EDGE_CFG_UINT, NUM, EDGE_CFG_FIELD(interval_ms), .min = 10, .max = 86400000,
     .def = "1000", .desc = "sampling period"},
    {"freshness_ms", EDGE_CFG_UINT, NUM, EDGE_CFG_FIELD(freshness_ms), .min = 0, .max = 86400000,
     .def = "0", .desc = "readings older than this are stale (0: 5 intervals)"},
    {"param", EDGE_CFG_STRING, 0, EDGE_CFG_FIELD(param),
     .desc = "driver-specific, e.g. a BLE device address"},
    {"enabled", EDGE_CFG_BOOL, 0, EDGE_CFG_FIELD(enabled), .def = "true",
     .desc = "false keeps the sensor out of bring-up"},
};
static const struct edge_cfgtab sensor_tab = EDGE_CFGTAB(sensor_keys, 0);
#undef EDGE_CFG_T

static int check_bus(void *base, size_t i, struct edge_cfg_ctx *ctx);

#define EDGE_CFG_T struct edge_board
static const struct edge_cfg_key board_keys[] = {
    {"name", EDGE_CFG_STRING, REQ, EDGE_CFG_FIELD(name), .desc = "board name"},
    {"description", EDGE_CFG_STRING, 0, EDGE_CFG_FIELD(description), .desc = "one line"},
    {"hal", EDGE_CFG_ENUM, 0, EDGE_CFG_FIELD(sim), .names = hals, .def = "linux",
     .desc = "sim attaches a chip model to every sensor"},
    {"buses", EDGE_CFG_ARRAY, 0, EDGE_CFG_FIELD(buses), EDGE_CFG_COUNT(n_buses), .sub = &bus_tab,
     .check = check_bus, .desc = "I2C and UART buses"},
    {"sensors", EDGE_CFG_ARRAY, REQ, EDGE_CFG_FIELD(sensors), EDGE_CFG_COUNT(n_sensors),
     .sub = &sensor_tab, .desc = "sensor instances"},
    {"status_led", EDGE_CFG_OBJECT, .desc = "GPIO line of a status LED"},
    {"status_led.chip", EDGE_CFG_STRING, REQ, EDGE_CFG_FIELD(status_led_chip), .desc = "GPIO chip"},
    {"status_led.line", EDGE_CFG_INT, NUM, EDGE_CFG_FIELD(status_led_line), .min = 0, .max = 1023,
     .desc = "line offset on the chip"},
    {"watchdog", EDGE_CFG_STRING, 0, EDGE_CFG_FIELD(watchdog),
     .desc = "watchdog device, e.g. /dev/watchdog"},
};
static const struct edge_cfgtab board_tab = EDGE_CFGTAB(board_keys, 0);
#undef EDGE_CFG_T
#undef NUM
#undef REQ

const struct edge_cfgtab *edge_board_table(void)
{
	return &board_tab;
}

static int check_bus(void *base, size_t i, struct edge_cfg_ctx *ctx)
{
	const struct edge_board *b = base;

	for (size_t j = 0; j < i; j++)
		if (strcmp(b->buses[j].name, b->buses[i].name) == 0)
			return edge_cfg_errorf(ctx, "name", "duplicate bus \"%s\"",
					       b->buses[i].name);
	return 0;
}

/* The driver says what kind of bus it sits on; the board must agree. */
static int check_bus_kind(const struct edge_sensor_ops *ops, const struct edge_board_bus *bus,
			  const struct edge_board_sensor *s, const char *origin, const char *path,
			  char *err, size_t errlen)
{
	switch (ops->bus) {
	case EDGE_SENSOR_BUS_I2C:
		if (!bus || bus->type != EDGE_BUS_I2C)
			return edge_cfg_fail(err, errlen,
					     "%s: %sbus: driver \"%s\" needs an i2c bus", origin,
					     path, s->compatible);
		break;
	case EDGE_SENSOR_BUS_UART:
		if (!bus || bus->type != EDGE_BUS_UART)
			return edge_cfg_fail(err, errlen,
					     "%s: %sbus: driver \"%s\" needs a uart bus", origin,
					     path, s->compatible);
		break;
	case EDGE_SENSOR_BUS_NONE:
		if (bus)
			return edge_cfg_fail(
			    err, errlen,
			    "%s: %sbus: driver \"%s\" takes no bus (it is wireless "
			    "or virtual)",
			    origin, path, s->compatible);
		break;
	default:
		break;
	}
	return 0;
}

/* Sensors against the driver registry, the buses and each other; after the
 * whole file, so buses may follow sensors in it. */
static int check_sensors(struct edge_board *b, const cJSON *arr, const char *origin, char *err,
			 size_t errlen)
{
	for (size_t i = 0; i < b->n_sensors; i++) {
		struct edge_board_sensor *s = &b->sensors[i];
		const cJSON *it = cJSON_GetArrayItem(arr, (int)i);
		const struct edge_board_bus *bus = NULL;
		const struct edge_sensor_ops *ops;
		char path[48];
		int rc;

		snprintf(path, sizeof(path), "sensors[%zu].", i);
		if (s->freshness_ms == 0)
			s->freshness_ms = 5 * s->interval_ms;
		ops = edge_sensor_ops_find(s->compatible);
		if (!ops)
			return edge_cfg_fail(err, errlen, "%s: %scompatible: unknown driver \"%s\"",
					     origin, path, s->compatible);
		if (s->bus[0]) {
			bus = edge_board_bus_find(b, s->bus);
			if (!bus)
				return edge_cfg_fail(err, errlen, "%s: %sbus: no bus named \"%s\"",
						     origin, path, s->bus);
		}
		if ((rc = check_bus_kind(ops, bus, s, origin, path, err, errlen)))
			return rc;
		if (bus && bus->type == EDGE_BUS_I2C && !cJSON_HasObjectItem(it, "address"))
			s->addr = ops->default_addr;
		if (bus && bus->type == EDGE_BUS_I2C && (s->addr < 0x03 || s->addr > 0x77))
			return edge_cfg_fail(err, errlen,
					     "%s: %saddress: 0x%02x is reserved (use 0x03..0x77)",
					     origin, path, s->addr);
		for (size_t j = 0; j < i; j++) {
			const struct edge_board_sensor *o = &b->sensors[j];

			if (strcmp(o->name, s->name) == 0)
				return edge_cfg_fail(err, errlen,
						     "%s: %sname: duplicate sensor \"%s\"", origin,
						     path, s->name);
			if (bus && bus->type == EDGE_BUS_I2C && strcmp(o->bus, s->bus) == 0 &&
			    o->addr == s->addr)
				return edge_cfg_fail(
				    err, errlen,
				    "%s: %saddress: 0x%02x on %s is already used by \"%s\"", origin,
				    path, s->addr, s->bus, o->name);
			if (bus && bus->type == EDGE_BUS_UART && strcmp(o->bus, s->bus) == 0)
				return edge_cfg_fail(err, errlen,
						     "%s: %sbus: UART %s is already used by \"%s\"",
						     origin, path, s->bus, o->name);
		}
	}
	return 0;
}

static int parse_root(const cJSON *root, const char *origin, struct edge_board *out, char *err,
		      size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	/* nothing in these tables allocates: neither can fail but on a bug */
	rc = edge_cfg_defaults(&board_tab, out);
	rc = rc ?: edge_cfg_apply(&board_tab, out, root, 0, origin, err, errlen);
	rc = rc
		 ?: check_sensors(out, cJSON_GetObjectItemCaseSensitive(root, "sensors"), origin,
				  err, errlen);
	if (!cJSON_HasObjectItem(root, "status_led"))
		out->status_led_line = -1;
	return rc;
}

int edge_board_parse(const char *json, size_t len, const char *origin, struct edge_board *out,
		     char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	out->status_led_line = -1;
	rc = edge_cfg_parse_json(json, len, origin, &root, err, errlen);
	if (rc)
		return rc;
	rc = parse_root(root, origin, out, err, errlen);
	cJSON_Delete(root);
	return rc;
}

const struct edge_board_bus *edge_board_bus_find(const struct edge_board *b, const char *name)
{
	for (size_t i = 0; i < b->n_buses; i++)
		if (strcmp(b->buses[i].name, name) == 0)
			return &b->buses[i];
	return NULL;
}

static int valid_name(const char *name)
{
	if (!*name || strlen(name) > 31)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return 0;
	return 1;
}

int edge_board_load(const char *name, const char *dir, struct edge_board *out, char *err,
		    size_t errlen)
{
	if (!valid_name(name))
		return edge_cfg_fail(
		    err, errlen, "board \"%s\": names are [a-z0-9_-], up to 31 characters", name);
	if (dir && *dir) {
		char path[512];
		cJSON *root;
		int rc;

		snprintf(path, sizeof(path), "%s/%s.json", dir, name);
		rc = edge_cfg_read_json(path, BOARD_FILE_MAX, &root, err, errlen);
		if (rc != -ENOENT) {
			if (rc == 0)
				rc = parse_root(root, path, out, err, errlen);
			cJSON_Delete(root);
			return rc;
		}
	}
	for (size_t i = 0; i < edge_boards_embedded_n; i++)
		if (strcmp(edge_boards_embedded[i].name, name) == 0)
			return edge_board_parse(edge_boards_embedded[i].json,
						edge_boards_embedded[i].len, name, out, err,
						errlen);
	snprintf(err, errlen, "board \"%s\": no such board (see --list-boards)", name);
	return -ENOENT;
}

size_t edge_board_embedded_count(void)
{
	return edge_boards_embedded_n;
}

const char *edge_board_embedded_name(size_t i)
{
	return i < edge_boards_embedded_n ? edge_boards_embedded[i].name : NULL;
}

const char *edge_board_embedded_json(size_t i, size_t *len)
{
	if (i >= edge_boards_embedded_n)
		return NULL;
	*len = edge_boards_embedded[i].len;
	return edge_boards_embedded[i].json;
}
