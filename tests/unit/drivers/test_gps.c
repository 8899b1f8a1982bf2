/* SPDX-License-Identifier: Apache-2.0 */
/* GPS driver on a sim UART fed by the NMEA stream model and by hand. */
#include <errno.h>
#include <poll.h>

#include "drivers_internal.h"
#include "edge/hal/sim.h"
#include "edge/hal/uart.h"
#include "edge_check.h"

static struct edge_sensor *make(const char *port, struct edge_uart **u)
{
	struct edge_sensor_binding bind = {0};
	struct edge_sensor *s = NULL;
	char path[32];

	snprintf(path, sizeof(path), "sim:%s", port);
	CHECK_EQ(edge_uart_open(path, NULL, u), 0);
	bind.uart = *u;
	CHECK_EQ(edge_sensor_create(&edge_nmea_gps_driver, "gps", &bind, &s), 0);
	return s;
}

static void test_model_stream(void)
{
	struct edge_sim_stream *st;
	struct edge_uart *u;
	struct edge_sensor *s;
	int32_t lat = 0, lon = 0, q = -1, n = -1;

	edge_sim_reset();
	edge_sim_time_set(7000000);
	CHECK_EQ(edge_sim_uart_attach("ser0", "nmea,gps", &st), 0);
	CHECK_EQ(edge_sim_stream_set(st, "lat_e7", -337654321), 0);
	CHECK_EQ(edge_sim_stream_set(st, "lon_e7", 1512345678), 0);
	CHECK_EQ(edge_sim_stream_set(st, "sats", 11), 0);
	s = make("ser0", &u);
	CHECK_EQ(edge_sensor_pollfd(s), edge_uart_fd(u));
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LONGITUDE, &lon), 0);
	/* the receiver prints 5 decimals of minutes: 1.7e-7 deg resolution */
	CHECK_NEAR(lat, -337654321, 1);
	CHECK_NEAR(lon, 1512345678, 1);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_GPS_FIX_QUALITY, &q), 0);
	CHECK_EQ(q, 1);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_GPS_SATELLITES, &n), 0);
	CHECK_EQ(n, 11);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SPO2, &n), -ENOTSUP);
	/* a fix is delivered once: asked again, or after a fetch that brought
	 * nothing new (same simulated second), there is no new position */
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), -ENODATA);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), -ENODATA);
	/* the agent fetches from pollfd, then again on its timer: the fix that
	 * the first fetch brought is still delivered after the second */
	edge_sim_time_set(7001000);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), 0);
	CHECK_NEAR(lat, -337654321, 1);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LONGITUDE, &lon), 0);
	/* the receiver loses its fix: sentences keep coming, no position */
	CHECK_EQ(edge_sim_stream_set(st, "fix", 0), 0);
	edge_sim_time_set(7002000);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), -ENODATA);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_GPS_FIX_QUALITY, &q), 0);
	CHECK_EQ(q, 0);
	/* line noise before every epoch does not hurt */
	CHECK_EQ(edge_sim_stream_set(st, "fix", 1), 0);
	CHECK_EQ(edge_sim_stream_set(st, "noise", 1), 0);
	edge_sim_time_set(7003000);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), 0);
	CHECK_NEAR(lat, -337654321, 1);
	edge_sensor_destroy(s);
	edge_uart_close(u);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_fed_by_hand_in_pieces(void)
{
	static const char gga[] =
	    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n";
	struct edge_nmea_stats stats;
	struct pollfd p = {.events = POLLIN};
	struct edge_uart *u;
	struct edge_sensor *s;
	int32_t lat;

	edge_sim_reset();
	s = make("ser1", &u);
	p.fd = edge_sensor_pollfd(s);
	CHECK_EQ(poll(&p, 1, 0), 0);
	CHECK_EQ(edge_sim_uart_feed("ser1", gga, 20), 20);
	CHECK_EQ(poll(&p, 1, 100), 1);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), -ENODATA);
	CHECK_EQ(edge_sim_uart_feed("ser1", gga + 20, sizeof(gga) - 21), (long)sizeof(gga) - 21);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), 0);
	CHECK_EQ(lat, 481173000);
	/* a corrupted sentence is counted, not used */
	CHECK_EQ(edge_sim_uart_feed("ser1",
				    "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,"
				    "M,46.9,M,,*46\r\n",
				    67),
		 67);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_LATITUDE, &lat), -ENODATA);
	CHECK_EQ(edge_gps_stats(s, &stats), 0);
	CHECK_EQ(stats.bad_checksum, 1);
	CHECK_EQ(stats.accepted, 1);
	edge_sensor_destroy(s);
	edge_uart_close(u);
	edge_sim_reset();
}

static void test_needs_uart(void)
{
	struct edge_sensor_binding bind = {0};
	struct edge_sensor *s = NULL;

	CHECK_EQ(edge_sensor_create(&edge_nmea_gps_driver, "gps", &bind, &s), -EINVAL);
	CHECK(s == NULL);
}

EDGE_CHECK_MAIN(test_model_stream, test_fed_by_hand_in_pieces, test_needs_uart)
