/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_RECORD_H
#define EDGE_AGENT_RECORD_H
/*
 * HealthData records (DESIGN 5.2): exactly nine keys, none nullable.
 *
 * Freshness policy: the builder keeps the latest reading of each vital with
 * the time it was taken and the freshness window of the sensor that took it
 * (freshness_ms in the board file). A record is built only when every vital
 * has a reading inside its window; otherwise nothing is published and the
 * attempt is counted (records_incomplete) with the missing vitals named in
 * a rate-limited log line. Location comes from a GPS-like channel or, for a
 * fixed installation, from record.location in the config (always fresh).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/sensor.h"

enum edge_vital {
	EDGE_VITAL_HEART_RATE,
	EDGE_VITAL_SYSTOLIC,
	EDGE_VITAL_DIASTOLIC,
	EDGE_VITAL_SPO2,
	EDGE_VITAL_BODY_TEMP,
	EDGE_VITAL_LATITUDE,
	EDGE_VITAL_LONGITUDE,
	EDGE_VITAL__COUNT
};

struct edge_record_builder {
	struct {
		int32_t value;	       /* channel fixed-point units */
		uint64_t at_ms;	       /* monotonic time of the reading, 0 = never */
		uint32_t freshness_ms; /* window of the sensor that supplied it */
	} v[EDGE_VITAL__COUNT];
	bool static_location;
	double latitude, longitude;
	uint64_t built;
	uint64_t incomplete;
};

void edge_record_init(struct edge_record_builder *b, bool static_location, double lat, double lon);
/* Takes a channel reading; channels that are not vitals are ignored. */
void edge_record_update(struct edge_record_builder *b, enum edge_channel ch, int32_t value,
			uint64_t now_ms, uint32_t freshness_ms);
/* Writes the HealthData JSON for wall time ts_ms into out. Returns its
 * length, -ENODATA when a vital is missing or stale (counted; *missing gets
 * a bit per enum edge_vital), or -ENOSPC when out is too small. */
int edge_record_build(struct edge_record_builder *b, const char *device_id, uint64_t now_ms,
		      uint64_t ts_ms, char *out, size_t outlen, unsigned *missing);
/* "heartRate", ... the record key of a vital. */
const char *edge_vital_key(enum edge_vital v);

/* One reading for the sensor topic:
 * {"deviceId","metric","value","unit","timestamp"}. Returns the length or
 * -ENOSPC. */
int edge_record_reading(const char *device_id, enum edge_channel ch, int32_t value, uint64_t ts_ms,
			char *out, size_t outlen);

/* Formats a channel value in its unit ("36.85", "48.8566123", "72"). */
int edge_record_format_value(enum edge_channel ch, int32_t value, char *out, size_t outlen);

#endif
