/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_NMEA_H
#define EDGE_NMEA_H
/*
 * NMEA 0183 parser for GPS receivers: GGA (fix data) and RMC (recommended
 * minimum), any talker (GP, GN, GL, GA, BD). Pure functions over caller
 * memory: no I/O, no allocation, so it can be fuzzed.
 *
 * A sentence is "$" + fields + "*" + two hex digits (XOR of the bytes
 * between "$" and "*") + CR LF. A sentence without a valid checksum is
 * rejected. Coordinates "ddmm.mmmm" / "dddmm.mmmm" with N/S/E/W become
 * signed 1e-7 degrees (rounded to nearest).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The standard allows 82 characters including "$" and CR LF; receivers
 * that stretch it a little are tolerated, longer lines are dropped. */
#define EDGE_NMEA_MAX_LINE 100

enum edge_nmea_type {
	EDGE_NMEA_GGA = 1,
	EDGE_NMEA_RMC = 2,
};

struct edge_nmea_sentence {
	enum edge_nmea_type type;
	char talker[3];
	int has_time;
	uint32_t time_ms; /* UTC time of day */
	int has_position;
	int32_t lat_e7, lon_e7;
	/* GGA */
	uint8_t quality; /* 0 invalid, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning */
	uint8_t satellites;
	int32_t hdop_x100; /* -1 when absent */
	int has_altitude;
	int32_t altitude_dm;
	/* RMC */
	int active;		  /* status 'A' */
	uint32_t date;		  /* ddmmyy, 0 when absent */
	int32_t speed_knots_x100; /* -1 when absent */
};

/* Parses one sentence (trailing CR/LF optional). Returns 0, -EBADMSG (no or
 * wrong checksum), -ENOTSUP (another sentence type) or -EINVAL (malformed). */
int edge_nmea_parse(const char *s, size_t len, struct edge_nmea_sentence *out);

/* The receiver's latest state, built from accepted sentences. */
struct edge_nmea_state {
	int has_fix; /* last GGA quality > 0 or RMC status A, with a position */
	int32_t lat_e7, lon_e7;
	uint8_t quality, satellites;
	uint32_t time_ms;
	uint32_t fixes; /* sentences that delivered a position */
};

struct edge_nmea_stats {
	uint32_t accepted, bad_checksum, malformed, unsupported, too_long;
};

/* Line assembly over a byte stream: tolerates partial lines across reads,
 * garbage between sentences and over-long lines (fixed buffer). */
struct edge_nmea_parser {
	char line[EDGE_NMEA_MAX_LINE + 1];
	size_t len;
	int in_sentence; /* saw "$" */
	int overflow;	 /* current line too long: skip to its end */
	struct edge_nmea_stats stats;
};

void edge_nmea_init(struct edge_nmea_parser *p);
/* Feeds bytes; every complete GGA/RMC sentence updates st. Returns the
 * number of sentences accepted from these bytes. */
unsigned edge_nmea_feed(struct edge_nmea_parser *p, const uint8_t *buf, size_t len,
			struct edge_nmea_state *st);
/* Applies one parsed sentence to st. */
void edge_nmea_apply(const struct edge_nmea_sentence *s, struct edge_nmea_state *st);

#ifdef __cplusplus
}
#endif
#endif
