/* SPDX-License-Identifier: Apache-2.0 */
/* NMEA 0183 parser: sentences, checksums, coordinates, stream robustness. */
#include <errno.h>

#include "edge/nmea.h"
#include "edge_check.h"

#define GGA "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
#define RMC "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"

static int parse(const char *s, struct edge_nmea_sentence *o)
{
	return edge_nmea_parse(s, strlen(s), o);
}

static void test_gga(void)
{
	struct edge_nmea_sentence o;

	CHECK_EQ(parse(GGA, &o), 0);
	CHECK_EQ(o.type, EDGE_NMEA_GGA);
	CHECK_STR(o.talker, "GP");
	CHECK_EQ(o.time_ms, (12 * 3600 + 35 * 60 + 19) * 1000);
	CHECK_EQ(o.has_position, 1);
	/* 48 deg 07.038' = 48.1173 deg; 11 deg 31.000' = 11.5166667 deg */
	CHECK_EQ(o.lat_e7, 481173000);
	CHECK_EQ(o.lon_e7, 115166667);
	CHECK_EQ(o.quality, 1);
	CHECK_EQ(o.satellites, 8);
	CHECK_EQ(o.hdop_x100, 90);
	CHECK_EQ(o.altitude_dm, 5454);
}

static void test_rmc_and_hemispheres(void)
{
	struct edge_nmea_sentence o;

	CHECK_EQ(parse(RMC, &o), 0);
	CHECK_EQ(o.type, EDGE_NMEA_RMC);
	CHECK_EQ(o.active, 1);
	CHECK_EQ(o.lat_e7, 481173000);
	CHECK_EQ(o.speed_knots_x100, 2240);
	CHECK_EQ(o.date, 230394);
	/* south / west are negative; GN talker; fractional seconds */
	CHECK_EQ(parse("$GNRMC,001122.50,A,3351.1234,S,15112.5678,W,0.0,,010125,,,A*69", &o), 0);
	CHECK_STR(o.talker, "GN");
	CHECK_EQ(o.time_ms, (11 * 60 + 22) * 1000 + 500);
	CHECK_EQ(o.lat_e7, -(330000000 + (int32_t)((511234000LL + 30) / 60)));
	CHECK_EQ(o.lon_e7, -(1510000000 + (int32_t)((125678000LL + 30) / 60)));
	/* void status without a position is valid, with no fix */
	CHECK_EQ(parse("$GPRMC,123519,V,,,,,,,230394,,,N*51", &o), 0);
	CHECK_EQ(o.active, 0);
	CHECK_EQ(o.has_position, 0);
}

static void test_checksums(void)
{
	struct edge_nmea_sentence o;

	CHECK_EQ(parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48", &o),
		 -EBADMSG);
	/* one flipped data character, checksum unchanged */
	CHECK_EQ(parse("$GPGGA,123519,4807.039,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", &o),
		 -EBADMSG);
	CHECK_EQ(parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", &o),
		 -EBADMSG); /* no checksum at all */
	CHECK_EQ(parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4", &o),
		 -EBADMSG);
	/* a correct checksum passes */
	CHECK_EQ(parse("$GPRMC,123519,V,,,,,,,230394,,,N*51", &o), 0);
	CHECK_EQ(parse("$GPGSV,1,1,00*79", &o), -ENOTSUP);
	CHECK_EQ(parse("$PUBX,00*33", &o), -ENOTSUP);
}

static void test_malformed(void)
{
	struct edge_nmea_sentence o;
	char buf[128];
	/* bodies whose checksum we compute, so only the content is wrong */
	static const char *const bad[] = {
	    "GPGGA,123519,4860.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",	/* 60 minutes */
	    "GPGGA,123519,9100.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",	/* 91 deg */
	    "GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",	/* hemisphere */
	    "GPGGA,123519,4807.038,E,01131.000,N,1,08,0.9,545.4,M,46.9,M,,",	/* swapped */
	    "GPGGA,126019,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",	/* 60 min */
	    "GPGGA,123519,48a7.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",	/* digit */
	    "GPGGA,123519,,,,,1,08,0.9,545.4,M,46.9,M,,",			/* fix, no pos */
	    "GPGGA,123519,4807.038,N",						/* short */
	    "GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", /* status */
	    "GPRMC,123519,A,,,,,022.4,084.4,230394,003.1,W", /* active, no position */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t cs = 0;

		for (const char *p = bad[i]; *p; p++)
			cs ^= (uint8_t)*p;
		snprintf(buf, sizeof(buf), "$%s*%02X", bad[i], cs);
		if (parse(buf, &o) != -EINVAL)
			fprintf(stderr, "  accepted: %s\n", buf);
		CHECK_EQ(parse(buf, &o), -EINVAL);
	}
	CHECK_EQ(parse("", &o), -EINVAL);
	CHECK_EQ(parse("GPGGA*00", &o), -EINVAL);
}

static void test_stream_partial_garbage_long(void)
{
	struct edge_nmea_parser p;
	struct edge_nmea_state st = {0};
	const char *gga = GGA;
	char longline[300];
	size_t half = strlen(gga) / 2;

	edge_nmea_init(&p);
	/* a sentence split across two reads */
	CHECK_EQ(edge_nmea_feed(&p, (const uint8_t *)gga, half, &st), 0);
	CHECK_EQ(st.has_fix, 0);
	CHECK_EQ(edge_nmea_feed(&p, (const uint8_t *)gga + half, strlen(gga) - half, &st), 1);
	CHECK_EQ(st.has_fix, 1);
	CHECK_EQ(st.lat_e7, 481173000);
	/* binary garbage and a truncated sentence, then a good one */
	CHECK_EQ(edge_nmea_feed(&p, (const uint8_t *)"\xff\x00\x13zz$GPGGA,1235", 17, &st), 0);
	CHECK_EQ(edge_nmea_feed(&p, (const uint8_t *)RMC, strlen(RMC), &st), 1);
	CHECK_EQ(p.stats.malformed, 1); /* the truncated one */
	/* an over-long line is dropped whole, the parser recovers */
	memset(longline, 'A', sizeof(longline));
	longline[0] = '$';
	longline[sizeof(longline) - 2] = '\r';
	longline[sizeof(longline) - 1] = '\n';
	CHECK_EQ(edge_nmea_feed(&p, (const uint8_t *)longline, sizeof(longline), &st), 0);
	CHECK_EQ(p.stats.too_long, 1);
	CHECK_EQ(edge_nmea_feed(&p, (const uint8_t *)GGA RMC, strlen(GGA RMC), &st), 2);
	CHECK_EQ(p.stats.accepted, 4);
	/* losing the fix clears it */
	CHECK_EQ(
	    edge_nmea_feed(&p, (const uint8_t *)"$GPRMC,123519,V,,,,,,,230394,,,N*51\n", 36, &st),
	    1);
	CHECK_EQ(st.has_fix, 0);
	/* byte-at-a-time feeding works the same */
	for (size_t i = 0; i < strlen(GGA); i++)
		edge_nmea_feed(&p, (const uint8_t *)GGA + i, 1, &st);
	CHECK_EQ(st.has_fix, 1);
	CHECK_EQ(st.satellites, 8);
}

EDGE_CHECK_MAIN(test_gga, test_rmc_and_hemispheres, test_checksums, test_malformed,
		test_stream_partial_garbage_long)
