/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NMEA 0183 GPS receiver on a UART ("nmea,gps"). The port's fd joins the
 * agent's poll loop (pollfd); sample_fetch drains what has arrived (bounded
 * per call) through the NMEA parser. Each new fix is delivered once per
 * channel: channel_get returns it the first time a channel is asked for,
 * then -ENODATA until the next fix (or at once, when the receiver reports
 * it lost the fix), whether the agent fetched from pollfd, its timer or
 * both. The agent's freshness window decides how long a position stays
 * usable. Fix quality and satellites come from the last GGA.
 */
#include <errno.h>

#include "../drivers_internal.h"
#include "edge/hal/uart.h"
#include "edge/nmea.h"

#define READ_CHUNK	128
#define MAX_READS_FETCH 32 /* 4 KiB per fetch: a 9600-baud port makes ~1 KiB/s */

#define BIT_LAT	 (1u << 0)
#define BIT_LON	 (1u << 1)
#define BIT_QUAL (1u << 2)
#define BIT_SATS (1u << 3)

struct gps {
	struct edge_nmea_parser parser;
	struct edge_nmea_state st;
	unsigned unreported; /* BIT_*: new values not yet delivered */
};

static const enum edge_channel channels[] = {EDGE_CH_LATITUDE, EDGE_CH_LONGITUDE,
					     EDGE_CH_GPS_FIX_QUALITY, EDGE_CH_GPS_SATELLITES};

static int gps_init(struct edge_sensor *s)
{
	struct gps *g = s->priv;

	if (!s->bind.uart)
		return -EINVAL;
	edge_nmea_init(&g->parser);
	return 0;
}

static int gps_fetch(struct edge_sensor *s)
{
	struct gps *g = s->priv;
	uint8_t buf[READ_CHUNK];
	uint32_t fixes = g->st.fixes;
	unsigned accepted = 0;

	for (int i = 0; i < MAX_READS_FETCH; i++) {
		ssize_t n = edge_uart_read(s->bind.uart, buf, sizeof(buf));

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		accepted += edge_nmea_feed(&g->parser, buf, (size_t)n, &g->st);
	}
	if (accepted)
		g->unreported |= BIT_QUAL | BIT_SATS;
	if (g->st.fixes != fixes && g->st.has_fix)
		g->unreported |= BIT_LAT | BIT_LON;
	if (!g->st.has_fix)
		g->unreported &= ~(BIT_LAT | BIT_LON);
	return 0;
}

static int gps_get(const struct edge_sensor *s, enum edge_channel ch, int32_t *val)
{
	struct gps *g = s->priv; /* delivery state, see the top of the file */
	unsigned bit;
	int32_t v;

	switch (ch) {
	case EDGE_CH_LATITUDE:
		bit = BIT_LAT;
		v = g->st.lat_e7;
		break;
	case EDGE_CH_LONGITUDE:
		bit = BIT_LON;
		v = g->st.lon_e7;
		break;
	case EDGE_CH_GPS_FIX_QUALITY:
		bit = BIT_QUAL;
		v = g->st.quality;
		break;
	case EDGE_CH_GPS_SATELLITES:
		bit = BIT_SATS;
		v = g->st.satellites;
		break;
	default:
		return -ENOTSUP;
	}
	if (!(g->unreported & bit))
		return -ENODATA;
	g->unreported &= ~bit;
	*val = v;
	return 0;
}

static int gps_pollfd(const struct edge_sensor *s)
{
	return edge_uart_fd(s->bind.uart);
}

int edge_gps_stats(const struct edge_sensor *s, struct edge_nmea_stats *out)
{
	const struct gps *g = s->priv;

	if (s->ops != &edge_nmea_gps_driver)
		return -EINVAL;
	*out = g->parser.stats;
	return 0;
}

const struct edge_sensor_ops edge_nmea_gps_driver = {
    .compatible = "nmea,gps",
    .description = "NMEA 0183 GPS receiver (UART; GGA + RMC)",
    .priv_size = sizeof(struct gps),
    .channels = channels,
    .n_channels = sizeof(channels) / sizeof(channels[0]),
    .init = gps_init,
    .sample_fetch = gps_fetch,
    .channel_get = gps_get,
    .pollfd = gps_pollfd,
    .bus = EDGE_SENSOR_BUS_UART,
    .default_baud = 9600,
};
