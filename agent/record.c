/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static const char *const keys[EDGE_VITAL__COUNT] = {
    [EDGE_VITAL_HEART_RATE] = "heartRate",	[EDGE_VITAL_SYSTOLIC] = "systolic",
    [EDGE_VITAL_DIASTOLIC] = "diastolic",	[EDGE_VITAL_SPO2] = "oxygenSaturation",
    [EDGE_VITAL_BODY_TEMP] = "bodyTemperature", [EDGE_VITAL_LATITUDE] = "latitude",
    [EDGE_VITAL_LONGITUDE] = "longitude",
};

const char *edge_vital_key(enum edge_vital v)
{
	return (unsigned)v < EDGE_VITAL__COUNT ? keys[v] : "?";
}

static int vital_of(enum edge_channel ch)
{
	switch (ch) {
	case EDGE_CH_HEART_RATE:
		return EDGE_VITAL_HEART_RATE;
	case EDGE_CH_SYSTOLIC:
		return EDGE_VITAL_SYSTOLIC;
	case EDGE_CH_DIASTOLIC:
		return EDGE_VITAL_DIASTOLIC;
	case EDGE_CH_SPO2:
		return EDGE_VITAL_SPO2;
	case EDGE_CH_BODY_TEMP:
		return EDGE_VITAL_BODY_TEMP;
	case EDGE_CH_LATITUDE:
		return EDGE_VITAL_LATITUDE;
	case EDGE_CH_LONGITUDE:
		return EDGE_VITAL_LONGITUDE;
	default:
		return -1;
	}
}

void edge_record_init(struct edge_record_builder *b, bool static_location, double lat, double lon)
{
	memset(b, 0, sizeof(*b));
	b->static_location = static_location;
	b->latitude = lat;
	b->longitude = lon;
}

void edge_record_update(struct edge_record_builder *b, enum edge_channel ch, int32_t value,
			uint64_t now_ms, uint32_t freshness_ms)
{
	int v = vital_of(ch);

	if (v < 0)
		return;
	b->v[v].value = value;
	b->v[v].at_ms = now_ms ? now_ms : 1;
	b->v[v].freshness_ms = freshness_ms;
}

/* Fixed-point to text without going through float rounding surprises. */
static int fixed(char *out, size_t outlen, int32_t value, int32_t scale, int decimals)
{
	int64_t v = value, s = scale;
	int64_t ip = v / s, fp = llabs(v % s);
	const char *sign = (v < 0 && ip == 0) ? "-" : "";

	if (scale == 1)
		return snprintf(out, outlen, "%" PRId64, ip);
	/* scale is 10^k: k fractional digits, truncated to `decimals` */
	int digits = 0;

	for (int32_t t = scale; t > 1; t /= 10)
		digits++;
	while (digits > decimals) {
		fp /= 10;
		digits--;
	}
	return snprintf(out, outlen, "%s%" PRId64 ".%0*" PRId64, sign, ip, digits, fp);
}

int edge_record_format_value(enum edge_channel ch, int32_t value, char *out, size_t outlen)
{
	int32_t scale = edge_channel_scale(ch);

	/* temperatures to 0.01 degC, coordinates to 1e-7 degree */
	return fixed(out, outlen, value, scale, scale == 1000 ? 2 : 7);
}

int edge_record_build(struct edge_record_builder *b, const char *device_id, uint64_t now_ms,
		      uint64_t ts_ms, char *out, size_t outlen, unsigned *missing)
{
	char temp[24], lat[24], lon[24];
	unsigned miss = 0;
	int n;

	for (int v = 0; v < EDGE_VITAL__COUNT; v++) {
		if (b->static_location && (v == EDGE_VITAL_LATITUDE || v == EDGE_VITAL_LONGITUDE))
			continue;
		if (!b->v[v].at_ms || now_ms - b->v[v].at_ms > b->v[v].freshness_ms)
			miss |= 1u << v;
	}
	if (missing)
		*missing = miss;
	if (miss) {
		b->incomplete++;
		return -ENODATA;
	}
	edge_record_format_value(EDGE_CH_BODY_TEMP, b->v[EDGE_VITAL_BODY_TEMP].value, temp,
				 sizeof(temp));
	if (b->static_location) {
		snprintf(lat, sizeof(lat), "%.7f", b->latitude);
		snprintf(lon, sizeof(lon), "%.7f", b->longitude);
	} else {
		edge_record_format_value(EDGE_CH_LATITUDE, b->v[EDGE_VITAL_LATITUDE].value, lat,
					 sizeof(lat));
		edge_record_format_value(EDGE_CH_LONGITUDE, b->v[EDGE_VITAL_LONGITUDE].value, lon,
					 sizeof(lon));
	}
	n = snprintf(
	    out, outlen,
	    "{\"deviceId\":\"%s\",\"timestamp\":%" PRIu64 ",\"heartRate\":%" PRId32
	    ",\"systolic\":%" PRId32 ",\"diastolic\":%" PRId32 ",\"oxygenSaturation\":%" PRId32
	    ",\"bodyTemperature\":%s,\"latitude\":%s,\"longitude\":%s}",
	    device_id, ts_ms, b->v[EDGE_VITAL_HEART_RATE].value, b->v[EDGE_VITAL_SYSTOLIC].value,
	    b->v[EDGE_VITAL_DIASTOLIC].value, b->v[EDGE_VITAL_SPO2].value, temp, lat, lon);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	b->built++;
	return n;
}

int edge_record_reading(const char *device_id, enum edge_channel ch, int32_t value, uint64_t ts_ms,
			char *out, size_t outlen)
{
	char val[24];
	int n;

	edge_record_format_value(ch, value, val, sizeof(val));
	n = snprintf(out, outlen,
		     "{\"deviceId\":\"%s\",\"metric\":\"%s\",\"value\":%s,\"unit\":\"%s\","
		     "\"timestamp\":%" PRIu64 "}",
		     device_id, edge_channel_name(ch), val, edge_channel_unit(ch), ts_ms);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	return n;
}
