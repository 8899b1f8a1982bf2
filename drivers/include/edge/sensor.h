/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_SENSOR_H
#define EDGE_SENSOR_H
/*
 * Sensor driver API. A driver is a const struct edge_sensor_ops with a
 * compatible string, found in a static registry (edge_sensor_ops_find()).
 *
 *   init          probe and configure the part (bus I/O allowed)
 *   sample_fetch  bus I/O: read the part into the driver's private state
 *   channel_get   no I/O: convert the last fetched sample to a channel value
 *   attr_set      optional runtime attribute (sample rate, LED current, ...)
 *   deinit        release what init acquired
 *
 * Channel values are fixed-point int32 in the unit listed for each channel.
 * A channel the part lacks returns -ENOTSUP; a channel the part has but for
 * which there is no valid reading right now (no finger, no GPS fix, no cuff
 * measurement yet) returns -ENODATA. No allocation on the sample path.
 *
 * Event-like sources (GPS fixes, cuff measurements) deliver each new value
 * once per channel: channel_get returns it the first time the channel is
 * asked for and -ENODATA afterwards, however many fetches (pollfd- or
 * timer-driven) happened in between, so an old value never looks new.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct edge_i2c_bus;
struct edge_uart;

enum edge_channel {
	EDGE_CH_HEART_RATE,		/* beats per minute */
	EDGE_CH_SPO2,			/* percent */
	EDGE_CH_SYSTOLIC,		/* mmHg */
	EDGE_CH_DIASTOLIC,		/* mmHg */
	EDGE_CH_BODY_TEMP,		/* milli-degC */
	EDGE_CH_LATITUDE,		/* 1e-7 degrees */
	EDGE_CH_LONGITUDE,		/* 1e-7 degrees */
	EDGE_CH_AMBIENT_TEMP,		/* milli-degC */
	EDGE_CH_PULSE_RATE,		/* beats per minute, from a blood-pressure cuff */
	EDGE_CH_MEAN_ARTERIAL_PRESSURE, /* mmHg, from a blood-pressure cuff */
	EDGE_CH_GPS_FIX_QUALITY,	/* NMEA GGA fix quality: 0 none, 1 GPS, 2 DGPS, ... */
	EDGE_CH_GPS_SATELLITES,		/* satellites used in the fix */
	EDGE_CH__COUNT
};

/* "heart_rate", "spo2", ... stable names used in topics and config. */
const char *edge_channel_name(enum edge_channel ch);
/* "bpm", "%", "mmHg", "degC", "deg" (unit after scaling by edge_channel_scale) */
const char *edge_channel_unit(enum edge_channel ch);
/* Divisor from the fixed-point value to the unit: 1, 1000 or 10000000. */
int32_t edge_channel_scale(enum edge_channel ch);
/* Channel by name, or -EINVAL. */
int edge_channel_from_name(const char *name);

/* Where a sensor instance sits, from the board descriptor. */
struct edge_sensor_binding {
	struct edge_i2c_bus *i2c; /* borrowed; NULL when not on I2C */
	uint16_t addr;
	struct edge_uart *uart; /* borrowed; NULL when not on a UART */
	const char *param;	/* driver-specific string from the board file, or NULL */
};

/* What a driver needs from the board: the loader checks a sensor's "bus"
 * against it. EDGE_SENSOR_BUS_ANY (0) skips the check. */
enum edge_sensor_bus {
	EDGE_SENSOR_BUS_ANY,
	EDGE_SENSOR_BUS_I2C,
	EDGE_SENSOR_BUS_UART,
	EDGE_SENSOR_BUS_NONE, /* BLE or virtual: no bus entry, maybe a param */
};

struct edge_sensor;

struct edge_sensor_ops {
	const char *compatible; /* "vendor,part" */
	const char *description;
	size_t priv_size; /* zeroed private state allocated at bind time */
	const enum edge_channel *channels;
	size_t n_channels;
	int (*init)(struct edge_sensor *s);
	int (*sample_fetch)(struct edge_sensor *s);
	int (*channel_get)(const struct edge_sensor *s, enum edge_channel ch, int32_t *val);
	int (*attr_set)(struct edge_sensor *s, const char *attr, int32_t val); /* optional */
	void (*deinit)(struct edge_sensor *s);				       /* optional */
	/* Optional: an fd the agent polls (UART, BLE). When readable the agent
	 * calls sample_fetch. -1 when the driver has none. */
	int (*pollfd)(const struct edge_sensor *s);
	/* Optional: after init failed because something the driver loads at
	 * run time is missing on this system (a shared library), one line
	 * saying what; NULL otherwise. Drivers do not log: the agent logs it
	 * once per sensor. Static storage, valid until the next init. */
	const char *(*unavailable)(void);
	enum edge_sensor_bus bus; /* what "bus" in the board file must be */
	uint16_t default_addr;	  /* I2C address when the board file gives none */
	uint32_t default_baud;	  /* UART */
};

struct edge_sensor {
	const struct edge_sensor_ops *ops;
	char name[32]; /* instance name from the board file */
	struct edge_sensor_binding bind;
	void *priv;
};

/* Driver by compatible, or NULL. */
const struct edge_sensor_ops *edge_sensor_ops_find(const char *compatible);
/* The registry, for --list-drivers: *n receives the count. */
const struct edge_sensor_ops *const *edge_sensor_ops_all(size_t *n);

/* Binds and inits an instance. Caller frees with edge_sensor_destroy(). */
int edge_sensor_create(const struct edge_sensor_ops *ops, const char *name,
		       const struct edge_sensor_binding *bind, struct edge_sensor **out);
void edge_sensor_destroy(struct edge_sensor *s);

static inline int edge_sensor_sample_fetch(struct edge_sensor *s)
{
	return s->ops->sample_fetch(s);
}

static inline int edge_sensor_channel_get(const struct edge_sensor *s, enum edge_channel ch,
					  int32_t *val)
{
	return s->ops->channel_get(s, ch, val);
}

/* The driver's pollable fd, or -1 when it has none. */
static inline int edge_sensor_pollfd(const struct edge_sensor *s)
{
	return s->ops->pollfd ? s->ops->pollfd(s) : -1;
}

/* True when the driver lists ch. */
int edge_sensor_has_channel(const struct edge_sensor *s, enum edge_channel ch);

#ifdef __cplusplus
}
#endif
#endif
