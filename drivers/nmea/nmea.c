/* SPDX-License-Identifier: Apache-2.0 */
/* NMEA 0183 GGA/RMC parser: see edge/nmea.h. */
#include <errno.h>
#include <string.h>

#include "edge/nmea.h"

#define MAX_FIELDS 24

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Unsigned decimal of up to maxd digits, the whole field. */
static int parse_uint(const char *f, unsigned maxd, uint32_t *v)
{
	uint32_t x = 0;
	unsigned n = 0;

	for (; *f; f++, n++) {
		if (!is_digit(*f) || n == maxd)
			return -EINVAL;
		x = x * 10 + (uint32_t)(*f - '0');
	}
	if (!n)
		return -EINVAL;
	*v = x;
	return 0;
}

/* "[-]int[.frac]" scaled by 10^scale (extra digits truncated). */
static int parse_fixed(const char *f, unsigned scale, int32_t *v)
{
	int64_t ip = 0, fp = 0;
	unsigned nd = 0, nf = 0;
	int neg = 0;

	if (*f == '-') {
		neg = 1;
		f++;
	}
	for (; is_digit(*f); f++, nd++) {
		if (nd == 6)
			return -EINVAL;
		ip = ip * 10 + (*f - '0');
	}
	if (*f == '.') {
		for (f++; is_digit(*f); f++) {
			if (nf < scale) {
				fp = fp * 10 + (*f - '0');
				nf++;
			}
		}
	}
	if (*f || (!nd && !nf))
		return -EINVAL;
	for (; nf < scale; nf++)
		fp *= 10;
	for (unsigned i = 0; i < scale; i++)
		ip *= 10;
	*v = (int32_t)(neg ? -(ip + fp) : ip + fp);
	return 0;
}

/* "hhmmss[.sss]" */
static int parse_time(const char *f, uint32_t *ms)
{
	uint32_t h, m, s, frac = 0, scale = 1000;

	for (int i = 0; i < 6; i++)
		if (!is_digit(f[i]))
			return -EINVAL;
	h = (uint32_t)((f[0] - '0') * 10 + (f[1] - '0'));
	m = (uint32_t)((f[2] - '0') * 10 + (f[3] - '0'));
	s = (uint32_t)((f[4] - '0') * 10 + (f[5] - '0'));
	f += 6;
	if (*f == '.') {
		for (f++; is_digit(*f); f++) {
			scale /= 10;
			frac += (uint32_t)(*f - '0') * scale;
		}
	}
	if (*f || h > 23 || m > 59 || s > 60) /* 60: leap second */
		return -EINVAL;
	*ms = ((h * 60 + m) * 60 + s) * 1000 + frac;
	return 0;
}

/* "ddmm.mmmm" (deg_digits 2) or "dddmm.mmmm" (3) + hemisphere -> 1e-7 deg */
static int parse_coord(const char *f, const char *hemi, int deg_digits, int32_t *out)
{
	int64_t deg = 0, min_e7 = 0, scale = 1000000, v;
	int n = 0;
	char h = hemi[0];

	if (hemi[0] == '\0' || hemi[1] != '\0')
		return -EINVAL;
	for (; is_digit(f[n]); n++) {
		if (n == deg_digits + 2)
			return -EINVAL;
	}
	if (n < 3 || n > deg_digits + 2)
		return -EINVAL;
	for (int i = 0; i < n - 2; i++)
		deg = deg * 10 + (f[i] - '0');
	min_e7 = ((f[n - 2] - '0') * 10 + (f[n - 1] - '0')) * 10000000LL;
	f += n;
	if (*f == '.') {
		for (f++; is_digit(*f); f++) {
			if (scale) {
				min_e7 += (*f - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (*f || min_e7 >= 600000000LL)
		return -EINVAL;
	v = deg * 10000000LL + (min_e7 + 30) / 60;
	if (deg_digits == 2 && (h == 'N' || h == 'S')) {
		if (v > 900000000LL)
			return -EINVAL;
	} else if (deg_digits == 3 && (h == 'E' || h == 'W')) {
		if (v > 1800000000LL)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	*out = (int32_t)((h == 'S' || h == 'W') ? -v : v);
	return 0;
}

static int parse_gga(char **fl, int nf, struct edge_nmea_sentence *o)
{
	uint32_t q, sats;

	/* GGA,time,lat,N,lon,E,quality,sats,hdop,alt,M,geoid,M,age,station */
	if (nf < 10)
		return -EINVAL;
	o->type = EDGE_NMEA_GGA;
	if (*fl[1]) {
		if (parse_time(fl[1], &o->time_ms))
			return -EINVAL;
		o->has_time = 1;
	}
	if (parse_uint(fl[6], 1, &q))
		return -EINVAL;
	o->quality = (uint8_t)q;
	if (*fl[7]) {
		if (parse_uint(fl[7], 2, &sats))
			return -EINVAL;
		o->satellites = (uint8_t)sats;
	}
	o->hdop_x100 = -1;
	if (*fl[8] && parse_fixed(fl[8], 2, &o->hdop_x100))
		return -EINVAL;
	if (*fl[9]) {
		if (parse_fixed(fl[9], 1, &o->altitude_dm))
			return -EINVAL;
		o->has_altitude = 1;
	}
	if (*fl[2] || *fl[4]) {
		if (parse_coord(fl[2], fl[3], 2, &o->lat_e7) ||
		    parse_coord(fl[4], fl[5], 3, &o->lon_e7))
			return -EINVAL;
		o->has_position = 1;
	} else if (q) {
		return -EINVAL; /* a fix without a position */
	}
	return 0;
}

static int parse_rmc(char **fl, int nf, struct edge_nmea_sentence *o)
{
	/* RMC,time,status,lat,N,lon,E,speed,course,date,magvar,E[,mode[,nav]] */
	if (nf < 10)
		return -EINVAL;
	o->type = EDGE_NMEA_RMC;
	if (*fl[1]) {
		if (parse_time(fl[1], &o->time_ms))
			return -EINVAL;
		o->has_time = 1;
	}
	if (fl[2][0] != 'A' && fl[2][0] != 'V')
		return -EINVAL;
	if (fl[2][1])
		return -EINVAL;
	o->active = fl[2][0] == 'A';
	o->speed_knots_x100 = -1;
	if (*fl[7] && parse_fixed(fl[7], 2, &o->speed_knots_x100))
		return -EINVAL;
	if (*fl[9] && (strlen(fl[9]) != 6 || parse_uint(fl[9], 6, &o->date)))
		return -EINVAL;
	if (*fl[3] || *fl[5]) {
		if (parse_coord(fl[3], fl[4], 2, &o->lat_e7) ||
		    parse_coord(fl[5], fl[6], 3, &o->lon_e7))
			return -EINVAL;
		o->has_position = 1;
	} else if (o->active) {
		return -EINVAL;
	}
	return 0;
}

int edge_nmea_parse(const char *s, size_t len, struct edge_nmea_sentence *out)
{
	char buf[EDGE_NMEA_MAX_LINE + 1];
	char *fl[MAX_FIELDS];
	const char *star;
	uint8_t cs = 0;
	int nf = 0, hi, lo;

	if (!s || !out)
		return -EINVAL;
	while (len && (s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len < 6 || s[0] != '$' || len > EDGE_NMEA_MAX_LINE)
		return -EINVAL;
	star = memchr(s, '*', len);
	if (!star || (size_t)(star - s) + 3 != len)
		return -EBADMSG;
	for (const char *p = s + 1; p < star; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return -EINVAL;
		cs ^= (uint8_t)*p;
	}
	hi = hexval(star[1]);
	lo = hexval(star[2]);
	if (hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != cs)
		return -EBADMSG;

	memcpy(buf, s + 1, (size_t)(star - s - 1));
	buf[star - s - 1] = '\0';
	fl[nf++] = buf;
	for (char *p = buf; *p; p++) {
		if (*p == ',') {
			*p = '\0';
			if (nf == MAX_FIELDS)
				return -EINVAL;
			fl[nf++] = p + 1;
		}
	}
	memset(out, 0, sizeof(*out));
	if (strlen(fl[0]) != 5)
		return -ENOTSUP; /* proprietary ($P...) or unknown */
	out->talker[0] = fl[0][0];
	out->talker[1] = fl[0][1];
	if (strcmp(fl[0] + 2, "GGA") == 0)
		return parse_gga(fl, nf, out);
	if (strcmp(fl[0] + 2, "RMC") == 0)
		return parse_rmc(fl, nf, out);
	return -ENOTSUP;
}

void edge_nmea_apply(const struct edge_nmea_sentence *s, struct edge_nmea_state *st)
{
	int fix = s->type == EDGE_NMEA_GGA ? s->quality > 0 : s->active;

	if (s->has_time)
		st->time_ms = s->time_ms;
	if (s->type == EDGE_NMEA_GGA) {
		st->quality = s->quality;
		st->satellites = s->satellites;
	}
	if (fix && s->has_position) {
		st->has_fix = 1;
		st->lat_e7 = s->lat_e7;
		st->lon_e7 = s->lon_e7;
		st->fixes++;
	} else if (!fix) {
		st->has_fix = 0;
	}
}

void edge_nmea_init(struct edge_nmea_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static unsigned end_line(struct edge_nmea_parser *p, struct edge_nmea_state *st)
{
	struct edge_nmea_sentence s;
	int rc;

	if (p->overflow) {
		p->stats.too_long++;
		return 0;
	}
	rc = edge_nmea_parse(p->line, p->len, &s);
	switch (rc) {
	case 0:
		p->stats.accepted++;
		edge_nmea_apply(&s, st);
		return 1;
	case -EBADMSG:
		p->stats.bad_checksum++;
		break;
	case -ENOTSUP:
		p->stats.unsupported++;
		break;
	default:
		p->stats.malformed++;
		break;
	}
	return 0;
}

unsigned edge_nmea_feed(struct edge_nmea_parser *p, const uint8_t *buf, size_t len,
			struct edge_nmea_state *st)
{
	unsigned accepted = 0;

	for (size_t i = 0; i < len; i++) {
		char c = (char)buf[i];

		if (c == '$') {
			/* a new sentence starts; an unterminated one before it is dropped */
			if (p->in_sentence && !p->overflow)
				p->stats.malformed++;
			p->in_sentence = 1;
			p->overflow = 0;
			p->len = 0;
		} else if (!p->in_sentence) {
			continue; /* garbage between sentences */
		}
		if (c == '\n' || c == '\r') {
			accepted += end_line(p, st);
			p->in_sentence = 0;
			p->overflow = 0;
			p->len = 0;
			continue;
		}
		if (p->overflow)
			continue;
		if (p->len == EDGE_NMEA_MAX_LINE) {
			p->overflow = 1;
			continue;
		}
		p->line[p->len++] = c;
	}
	return accepted;
}
