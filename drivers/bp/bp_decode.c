/* SPDX-License-Identifier: Apache-2.0 */
/* Blood Pressure Measurement (0x2A35) decoder: see edge/bp.h. */
#include <errno.h>
#include <string.h>

#include "edge/bp.h"

#define KPA_TO_MMHG_E6 7500617 /* 1 kPa = 7.500617 mmHg */

struct edge_sfloat edge_sfloat_decode(uint16_t raw)
{
	struct edge_sfloat f = {.kind = EDGE_SFLOAT_VALUE};
	int m = raw & 0x0fff, e = raw >> 12;

	switch (m) {
	case 0x07ff:
		f.kind = EDGE_SFLOAT_NAN;
		return f;
	case 0x0800:
		f.kind = EDGE_SFLOAT_NRES;
		return f;
	case 0x07fe:
		f.kind = EDGE_SFLOAT_POS_INF;
		return f;
	case 0x0802:
		f.kind = EDGE_SFLOAT_NEG_INF;
		return f;
	case 0x0801:
		f.kind = EDGE_SFLOAT_RESERVED;
		return f;
	default:
		break;
	}
	f.mantissa = (int16_t)(m >= 0x0800 ? m - 0x1000 : m);
	f.exponent = (int8_t)(e >= 8 ? e - 16 : e);
	return f;
}

static int64_t div_round(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

/* a * 10^p (p may be negative), rounded; -ERANGE beyond +-1e15. */
static int scale10(int64_t a, int p, int64_t *out)
{
	for (; p > 0; p--) {
		if (a > 100000000000000LL || a < -100000000000000LL)
			return -ERANGE;
		a *= 10;
	}
	if (p < 0) {
		int64_t d = 1;

		for (; p < 0; p++) {
			if (d > 1000000000000000000LL / 10) { /* the result rounds to 0 */
				*out = 0;
				return 0;
			}
			d *= 10;
		}
		a = div_round(a, d);
	}
	*out = a;
	return 0;
}

int edge_sfloat_scaled(struct edge_sfloat f, int pow10, int64_t *out)
{
	if (f.kind != EDGE_SFLOAT_VALUE)
		return -ENODATA;
	if (pow10 < -20 || pow10 > 20)
		return -ERANGE;
	return scale10(f.mantissa, f.exponent + pow10, out);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void to_value(uint16_t raw, int kpa, struct edge_bp_value *v)
{
	struct edge_sfloat f = edge_sfloat_decode(raw);
	int64_t c;

	v->valid = 0;
	v->centi = 0;
	if (f.kind != EDGE_SFLOAT_VALUE)
		return;
	if (kpa) {
		/* centi-mmHg = m * 10^e * 750.0617 = m * 7500617 * 10^(e - 4) */
		if (scale10((int64_t)f.mantissa * KPA_TO_MMHG_E6, f.exponent - 4, &c))
			return;
	} else if (scale10(f.mantissa, f.exponent + 2, &c)) {
		return;
	}
	if (c > INT32_MAX || c < INT32_MIN)
		return;
	v->centi = (int32_t)c;
	v->valid = 1;
}

int edge_bp_decode(const uint8_t *buf, size_t len, struct edge_bp_measurement *out)
{
	size_t need = 7, n;
	uint8_t fl;

	if (!buf || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < 1)
		return -EBADMSG;
	fl = buf[0];
	need += (fl & EDGE_BP_FLAG_TIME) ? 7 : 0;
	need += (fl & EDGE_BP_FLAG_PULSE) ? 2 : 0;
	need += (fl & EDGE_BP_FLAG_USER) ? 1 : 0;
	need += (fl & EDGE_BP_FLAG_STATUS) ? 2 : 0;
	if (len < need)
		return -EBADMSG;
	out->flags = fl;
	out->kpa = fl & EDGE_BP_FLAG_KPA;
	to_value(le16(buf + 1), out->kpa, &out->systolic);
	to_value(le16(buf + 3), out->kpa, &out->diastolic);
	to_value(le16(buf + 5), out->kpa, &out->map);
	n = 7;
	if (fl & EDGE_BP_FLAG_TIME) {
		out->has_time = 1;
		out->year = le16(buf + n);
		out->month = buf[n + 2];
		out->day = buf[n + 3];
		out->hours = buf[n + 4];
		out->minutes = buf[n + 5];
		out->seconds = buf[n + 6];
		n += 7;
	}
	if (fl & EDGE_BP_FLAG_PULSE) {
		to_value(le16(buf + n), 0, &out->pulse);
		n += 2;
	}
	if (fl & EDGE_BP_FLAG_USER) {
		out->has_user = 1;
		out->user = buf[n++];
	}
	if (fl & EDGE_BP_FLAG_STATUS) {
		out->has_status = 1;
		out->status = le16(buf + n);
	}
	return 0;
}

int edge_bp_value_int(const struct edge_bp_value *v, int32_t *out)
{
	if (!v->valid)
		return -ENODATA;
	*out = (int32_t)div_round(v->centi, 100);
	return 0;
}
