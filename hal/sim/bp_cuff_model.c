/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Model of a Bluetooth blood-pressure cuff: a measurement per period with
 * values drifting slowly over simulated time, encoded as the GATT Blood
 * Pressure Measurement characteristic (0x2A35) the way a cuff indicates it:
 * flags, three IEEE-11073 SFLOATs (systolic, diastolic, mean arterial
 * pressure), then the optional timestamp, pulse rate, user id and status.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "edge/hal/sim.h"

void edge_sim_bp_cuff_reading(uint64_t t_ms, unsigned seed, struct edge_sim_bp_reading *r)
{
	double t = (double)t_ms / 1000.0, ph = (double)(seed % 97) * 0.37;
	uint64_t s = t_ms / 1000 + 12 * 3600;

	memset(r, 0, sizeof(*r));
	r->systolic = (int)lround(122 + 14 * sin(2 * M_PI * t / 1800 + ph));
	r->diastolic = (int)lround(79 + 9 * sin(2 * M_PI * t / 2300 + ph));
	r->map = (r->systolic + 2 * r->diastolic + 1) / 3;
	r->pulse = (int)lround(70 + 9 * sin(2 * M_PI * t / 700 + ph));
	r->has_pulse = 1;
	r->has_time = 1;
	r->year = 2026;
	r->month = 11;
	r->day = 21;
	r->hours = (int)(s / 3600 % 24);
	r->minutes = (int)(s / 60 % 60);
	r->seconds = (int)(s % 60);
	r->user = -1;
}

/* SFLOAT: 4-bit exponent (high nibble), 12-bit mantissa, both signed. */
static uint16_t sfloat(int mantissa, int exponent)
{
	return (uint16_t)(((unsigned)(exponent & 0xf) << 12) | ((unsigned)mantissa & 0xfffu));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

size_t edge_sim_bp_cuff_encode(const struct edge_sim_bp_reading *r, uint8_t *buf, size_t cap)
{
	uint8_t flags = 0;
	size_t n = 1;
	int vals[3] = {r->systolic, r->diastolic, r->map};

	if (cap < 19)
		return 0;
	if (r->kpa)
		flags |= 0x01;
	for (int i = 0; i < 3; i++, n += 2) {
		if (r->kpa) /* 0.1 kPa resolution */
			put16(buf + n, sfloat((int)lround(vals[i] * 1.333224), -1));
		else
			put16(buf + n, sfloat(vals[i], 0));
	}
	if (r->has_time) {
		flags |= 0x02;
		put16(buf + n, (uint16_t)r->year);
		buf[n + 2] = (uint8_t)r->month;
		buf[n + 3] = (uint8_t)r->day;
		buf[n + 4] = (uint8_t)r->hours;
		buf[n + 5] = (uint8_t)r->minutes;
		buf[n + 6] = (uint8_t)r->seconds;
		n += 7;
	}
	if (r->has_pulse) {
		flags |= 0x04;
		put16(buf + n, sfloat(r->pulse, 0));
		n += 2;
	}
	if (r->user >= 0) {
		flags |= 0x08;
		buf[n++] = (uint8_t)r->user;
	}
	if (r->status) {
		flags |= 0x10;
		put16(buf + n, r->status);
		n += 2;
	}
	buf[0] = flags;
	return n;
}
