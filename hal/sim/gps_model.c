/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream model of an NMEA 0183 GPS receiver on a sim UART: once per period
 * (1 s) it prints a GGA and an RMC sentence for the current simulated time,
 * as a u-blox or MediaTek module does at 9600 baud.
 *
 * Knobs (edge_sim_stream_set): "lat_e7", "lon_e7" (1e-7 degrees), "fix"
 * (0: sentences with an empty position, quality 0 / status V), "sats",
 * "period_ms", "noise" (1: a burst of line noise before each epoch).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim_models.h"

struct gps {
	int64_t lat_e7, lon_e7;
	int fix, sats, noise;
	uint64_t period_ms;
};

static int gps_init(struct edge_sim_stream *st)
{
	struct gps *g = st->priv;

	g->lat_e7 = 488566000; /* Paris, as the sim-vitals model */
	g->lon_e7 = 23522000;
	g->fix = 1;
	g->sats = 9;
	g->period_ms = 1000;
	return 0;
}

/* "ddmm.mmmmm" / "dddmm.mmmmm" from 1e-7 degrees (absolute value). */
static void coord(char *out, size_t len, int64_t e7, int deg_digits)
{
	int64_t a = e7 < 0 ? -e7 : e7;
	int64_t deg = a / 10000000, rem = a % 10000000;
	int64_t min_e5 = (rem * 60 + 50) / 100;

	snprintf(out, len, "%0*lld%02lld.%05lld", deg_digits, (long long)deg,
		 (long long)(min_e5 / 100000), (long long)(min_e5 % 100000));
}

static size_t sentence(char *buf, size_t cap, const char *body)
{
	uint8_t cs = 0;
	int n;

	for (const char *p = body; *p; p++)
		cs ^= (uint8_t)*p;
	n = snprintf(buf, cap, "$%s*%02X\r\n", body, cs);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static size_t gps_generate(struct edge_sim_stream *st, uint64_t now_ms, uint8_t *out, size_t cap,
			   uint64_t *next_ms)
{
	struct gps *g = st->priv;
	uint64_t epoch = now_ms / g->period_ms;
	uint64_t tod = (epoch * g->period_ms / 1000 + 12 * 3600) % 86400; /* starts at noon */
	char hms[32], lat[48], lon[48], body[240];
	char *buf = (char *)out;
	size_t n = 0;

	*next_ms = (epoch + 1) * g->period_ms;
	snprintf(hms, sizeof(hms), "%02u%02u%02u.00", (unsigned)(tod / 3600),
		 (unsigned)(tod / 60 % 60), (unsigned)(tod % 60));
	if (g->noise && cap > 16) {
		memcpy(buf, "\x7f\xff$GPG\r\n$$*zz\n", 14);
		n += 14;
	}
	if (g->fix) {
		coord(lat, sizeof(lat), g->lat_e7, 2);
		coord(lon, sizeof(lon), g->lon_e7, 3);
		snprintf(body, sizeof(body), "GPGGA,%s,%s,%c,%s,%c,1,%02d,0.9,35.0,M,47.0,M,,", hms,
			 lat, g->lat_e7 < 0 ? 'S' : 'N', lon, g->lon_e7 < 0 ? 'W' : 'E', g->sats);
		n += sentence(buf + n, cap - n, body);
		snprintf(body, sizeof(body), "GPRMC,%s,A,%s,%c,%s,%c,0.02,,211126,,,A", hms, lat,
			 g->lat_e7 < 0 ? 'S' : 'N', lon, g->lon_e7 < 0 ? 'W' : 'E');
		n += sentence(buf + n, cap - n, body);
	} else {
		snprintf(body, sizeof(body), "GPGGA,%s,,,,,0,00,99.99,,,,,,", hms);
		n += sentence(buf + n, cap - n, body);
		snprintf(body, sizeof(body), "GPRMC,%s,V,,,,,,,211126,,,N", hms);
		n += sentence(buf + n, cap - n, body);
	}
	return n;
}

static int gps_set(struct edge_sim_stream *st, const char *key, int64_t val)
{
	struct gps *g = st->priv;

	if (strcmp(key, "lat_e7") == 0) {
		if (val < -900000000 || val > 900000000)
			return -ERANGE;
		g->lat_e7 = val;
	} else if (strcmp(key, "lon_e7") == 0) {
		if (val < -1800000000LL || val > 1800000000LL)
			return -ERANGE;
		g->lon_e7 = val;
	} else if (strcmp(key, "fix") == 0) {
		g->fix = val != 0;
	} else if (strcmp(key, "sats") == 0) {
		if (val < 0 || val > 99)
			return -ERANGE;
		g->sats = (int)val;
	} else if (strcmp(key, "period_ms") == 0) {
		if (val < 50 || val > 60000)
			return -ERANGE;
		g->period_ms = (uint64_t)val;
	} else if (strcmp(key, "noise") == 0) {
		g->noise = val != 0;
	} else {
		return -ENOENT;
	}
	return 0;
}

const struct edge_sim_stream_ops edge_sim_gps_stream = {
    .compatible = "nmea,gps",
    .priv_size = sizeof(struct gps),
    .init = gps_init,
    .generate = gps_generate,
    .set = gps_set,
};
