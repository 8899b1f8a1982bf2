/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/board.h"
#include "edge/sensor.h"

struct embedded {
	const char *name;
	const char *json;
	size_t len;
};
extern const struct embedded edge_boards_embedded[];
extern const size_t edge_boards_embedded_n;

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int get_str(const cJSON *obj, const char *key, bool required, char *dst, size_t dstlen,
		   const char *origin, const char *path, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!it) {
		if (required)
			return fail(err, errlen, "%s: %s%s: missing", origin, path, key);
		return 0;
	}
	if (!cJSON_IsString(it))
		return fail(err, errlen, "%s: %s%s: must be a string", origin, path, key);
	if (strlen(it->valuestring) >= dstlen)
		return fail(err, errlen, "%s: %s%s: longer than %zu characters", origin, path, key,
			    dstlen - 1);
	strcpy(dst, it->valuestring);
	return 0;
}

static int get_u32(const cJSON *obj, const char *key, uint32_t def, uint32_t min, uint32_t max,
		   uint32_t *dst, const char *origin, const char *path, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	double v;

	if (!it) {
		*dst = def;
		return 0;
	}
	if (cJSON_IsString(it)) { /* "0x50" */
		char *end;
		unsigned long u = strtoul(it->valuestring, &end, 0);

		if (*it->valuestring == '\0' || *end != '\0')
			return fail(err, errlen, "%s: %s%s: \"%s\" is not a number", origin, path,
				    key, it->valuestring);
		v = (double)u;
	} else if (cJSON_IsNumber(it)) {
		v = it->valuedouble;
	} else {
		return fail(err, errlen, "%s: %s%s: must be a number", origin, path, key);
	}
	/* range first: converting an out-of-range double is undefined */
	if (!(v >= min && v <= max) || v != floor(v))
		return fail(err, errlen, "%s: %s%s: %g is out of range [%u, %u]", origin, path, key,
			    v, min, max);
	*dst = (uint32_t)v;
	return 0;
}

static const char *const board_keys[] = {"name",    "description", "hal",      "buses",
					 "sensors", "status_led",  "watchdog", NULL};
static const char *const bus_keys[] = {"name", "type", "path", "baud", NULL};
static const char *const sensor_keys[] = {"name",    "compatible",  "bus",
					  "address", "interval_ms", "freshness_ms",
					  "param",   "enabled",	    NULL};
static const char *const led_keys[] = {"chip", "line", NULL};

static int check_keys(const cJSON *obj, const char *const *allowed, const char *origin,
		      const char *path, char *err, size_t errlen)
{
	const cJSON *it;

	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "%s: %s: must be an object", origin,
			    *path ? path : "(top)");
	cJSON_ArrayForEach (it, obj) {
		const char *const *k = allowed;

		while (*k && strcmp(*k, it->string) != 0)
			k++;
		if (!*k)
			return fail(err, errlen, "%s: %s%s: unknown key", origin, path, it->string);
	}
	return 0;
}

static int parse_buses(const cJSON *arr, const char *origin, struct edge_board *b, char *err,
		       size_t errlen)
{
	const cJSON *it;
	char path[48];

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return fail(err, errlen, "%s: buses: must be an array", origin);
	cJSON_ArrayForEach (it, arr) {
		struct edge_board_bus *bus;
		char type[8] = "";
		int rc;

		snprintf(path, sizeof(path), "buses[%zu].", b->n_buses);
		if (b->n_buses == EDGE_BOARD_MAX_BUSES)
			return fail(err, errlen, "%s: buses: more than %d", origin,
				    EDGE_BOARD_MAX_BUSES);
		bus = &b->buses[b->n_buses];
		if ((rc = check_keys(it, bus_keys, origin, path, err, errlen)) ||
		    (rc = get_str(it, "name", true, bus->name, sizeof(bus->name), origin, path, err,
				  errlen)) ||
		    (rc = get_str(it, "type", true, type, sizeof(type), origin, path, err,
				  errlen)) ||
		    (rc = get_str(it, "path", true, bus->path, sizeof(bus->path), origin, path, err,
				  errlen)) ||
		    (rc = get_u32(it, "baud", 0, 300, 4000000, &bus->baud, origin, path, err,
				  errlen)))
			return rc;
		if (strcmp(type, "i2c") == 0)
			bus->type = EDGE_BUS_I2C;
		else if (strcmp(type, "uart") == 0)
			bus->type = EDGE_BUS_UART;
		else
			return fail(err, errlen, "%s: %stype: \"%s\" is not one of i2c, uart",
				    origin, path, type);
		if (edge_board_bus_find(b, bus->name))
			return fail(err, errlen, "%s: %sname: duplicate bus \"%s\"", origin, path,
				    bus->name);
		b->n_buses++;
	}
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
			return fail(err, errlen, "%s: %sbus: driver \"%s\" needs an i2c bus",
				    origin, path, s->compatible);
		break;
	case EDGE_SENSOR_BUS_UART:
		if (!bus || bus->type != EDGE_BUS_UART)
			return fail(err, errlen, "%s: %sbus: driver \"%s\" needs a uart bus",
				    origin, path, s->compatible);
		break;
	case EDGE_SENSOR_BUS_NONE:
		if (bus)
			return fail(err, errlen,
				    "%s: %sbus: driver \"%s\" takes no bus (it is wireless or "
				    "virtual)",
				    origin, path, s->compatible);
		break;
	default:
		break;
	}
	return 0;
}

static int parse_sensors(const cJSON *arr, const char *origin, struct edge_board *b, char *err,
			 size_t errlen)
{
	const cJSON *it;
	char path[48];

	if (!cJSON_IsArray(arr))
		return fail(err, errlen, "%s: sensors: missing or not an array", origin);
	cJSON_ArrayForEach (it, arr) {
		struct edge_board_sensor *s;
		const struct edge_sensor_ops *ops;
		const struct edge_board_bus *bus = NULL;
		const cJSON *en;
		uint32_t addr;
		int rc;

		snprintf(path, sizeof(path), "sensors[%zu].", b->n_sensors);
		if (b->n_sensors == EDGE_BOARD_MAX_SENSORS)
			return fail(err, errlen, "%s: sensors: more than %d", origin,
				    EDGE_BOARD_MAX_SENSORS);
		s = &b->sensors[b->n_sensors];
		if ((rc = check_keys(it, sensor_keys, origin, path, err, errlen)) ||
		    (rc = get_str(it, "name", true, s->name, sizeof(s->name), origin, path, err,
				  errlen)) ||
		    (rc = get_str(it, "compatible", true, s->compatible, sizeof(s->compatible),
				  origin, path, err, errlen)) ||
		    (rc = get_str(it, "bus", false, s->bus, sizeof(s->bus), origin, path, err,
				  errlen)) ||
		    (rc = get_str(it, "param", false, s->param, sizeof(s->param), origin, path, err,
				  errlen)) ||
		    (rc = get_u32(it, "address", 0, 0, 0x7f, &addr, origin, path, err, errlen)) ||
		    (rc = get_u32(it, "interval_ms", 1000, 10, 86400000, &s->interval_ms, origin,
				  path, err, errlen)) ||
		    (rc = get_u32(it, "freshness_ms", 0, 0, 86400000, &s->freshness_ms, origin,
				  path, err, errlen)))
			return rc;
		s->addr = (uint16_t)addr;
		if (s->freshness_ms == 0)
			s->freshness_ms = 5 * s->interval_ms;
		en = cJSON_GetObjectItemCaseSensitive(it, "enabled");
		if (en && !cJSON_IsBool(en))
			return fail(err, errlen, "%s: %senabled: must be true or false", origin,
				    path);
		s->enabled = !en || cJSON_IsTrue(en);
		ops = edge_sensor_ops_find(s->compatible);
		if (!ops)
			return fail(err, errlen, "%s: %scompatible: unknown driver \"%s\"", origin,
				    path, s->compatible);
		if (s->bus[0]) {
			bus = edge_board_bus_find(b, s->bus);
			if (!bus)
				return fail(err, errlen, "%s: %sbus: no bus named \"%s\"", origin,
					    path, s->bus);
		}
		if ((rc = check_bus_kind(ops, bus, s, origin, path, err, errlen)))
			return rc;
		if (bus && bus->type == EDGE_BUS_I2C && !cJSON_HasObjectItem(it, "address"))
			s->addr = ops->default_addr;
		if (bus && bus->type == EDGE_BUS_I2C && (s->addr < 0x03 || s->addr > 0x77))
			return fail(err, errlen,
				    "%s: %saddress: 0x%02x is reserved (use 0x03..0x77)", origin,
				    path, s->addr);
		for (size_t j = 0; j < b->n_sensors; j++) {
			const struct edge_board_sensor *o = &b->sensors[j];

			if (strcmp(o->name, s->name) == 0)
				return fail(err, errlen, "%s: %sname: duplicate sensor \"%s\"",
					    origin, path, s->name);
			if (bus && bus->type == EDGE_BUS_I2C && strcmp(o->bus, s->bus) == 0 &&
			    o->addr == s->addr)
				return fail(err, errlen,
					    "%s: %saddress: 0x%02x on %s is already used by \"%s\"",
					    origin, path, s->addr, s->bus, o->name);
			if (bus && bus->type == EDGE_BUS_UART && strcmp(o->bus, s->bus) == 0)
				return fail(err, errlen,
					    "%s: %sbus: UART %s is already used by \"%s\"", origin,
					    path, s->bus, o->name);
		}
		b->n_sensors++;
	}
	return 0;
}

int edge_board_parse(const char *json, size_t len, const char *origin, struct edge_board *out,
		     char *err, size_t errlen)
{
	cJSON *root;
	const cJSON *led;
	char hal[8] = "linux";
	int rc;

	memset(out, 0, sizeof(*out));
	out->status_led_line = -1;
	root = cJSON_ParseWithLength(json, len);
	if (!root)
		return fail(err, errlen, "%s: not valid JSON near byte %td", origin,
			    cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : (ptrdiff_t)0);
	if ((rc = check_keys(root, board_keys, origin, "", err, errlen)) ||
	    (rc = get_str(root, "name", true, out->name, sizeof(out->name), origin, "", err,
			  errlen)) ||
	    (rc = get_str(root, "description", false, out->description, sizeof(out->description),
			  origin, "", err, errlen)) ||
	    (rc = get_str(root, "hal", false, hal, sizeof(hal), origin, "", err, errlen)) ||
	    (rc = get_str(root, "watchdog", false, out->watchdog, sizeof(out->watchdog), origin, "",
			  err, errlen)))
		goto out;
	if (strcmp(hal, "sim") == 0) {
		out->sim = true;
	} else if (strcmp(hal, "linux") != 0) {
		rc = fail(err, errlen, "%s: hal: \"%s\" is not one of linux, sim", origin, hal);
		goto out;
	}
	led = cJSON_GetObjectItemCaseSensitive(root, "status_led");
	if (led) {
		uint32_t line;

		if ((rc = check_keys(led, led_keys, origin, "status_led.", err, errlen)) ||
		    (rc = get_str(led, "chip", true, out->status_led_chip,
				  sizeof(out->status_led_chip), origin, "status_led.", err,
				  errlen)) ||
		    (rc = get_u32(led, "line", 0, 0, 1023, &line, origin, "status_led.", err,
				  errlen)))
			goto out;
		out->status_led_line = (int)line;
	}
	if ((rc = parse_buses(cJSON_GetObjectItemCaseSensitive(root, "buses"), origin, out, err,
			      errlen)))
		goto out;
	rc = parse_sensors(cJSON_GetObjectItemCaseSensitive(root, "sensors"), origin, out, err,
			   errlen);
out:
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
		return fail(err, errlen, "board \"%s\": names are [a-z0-9_-], up to 31 characters",
			    name);
	if (dir && *dir) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.json", dir, name);
		f = fopen(path, "re");
		if (f) {
			char *buf = malloc(256 * 1024);
			size_t n;
			int rc;

			if (!buf) {
				fclose(f);
				return -ENOMEM;
			}
			n = fread(buf, 1, 256 * 1024, f);
			fclose(f);
			rc = edge_board_parse(buf, n, path, out, err, errlen);
			free(buf);
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
