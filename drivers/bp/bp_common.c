/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "bp_internal.h"

const enum edge_channel edge_bp_channels[4] = {EDGE_CH_SYSTOLIC, EDGE_CH_DIASTOLIC,
					       EDGE_CH_MEAN_ARTERIAL_PRESSURE, EDGE_CH_PULSE_RATE};

int edge_bp_latest_update(struct edge_bp_latest *l, const uint8_t *buf, size_t len)
{
	struct edge_bp_measurement m;
	int err = edge_bp_decode(buf, len, &m);

	if (err) {
		l->rejected++;
		return err;
	}
	l->m = m;
	l->unreported = (1u << 4) - 1;
	l->received++;
	return 0;
}

/* Physiological bounds: outside them the cuff misread, not the patient. */
static int plausible(enum edge_channel ch, int32_t v)
{
	switch (ch) {
	case EDGE_CH_SYSTOLIC:
		return v >= 40 && v <= 300;
	case EDGE_CH_DIASTOLIC:
		return v >= 20 && v <= 250;
	case EDGE_CH_MEAN_ARTERIAL_PRESSURE:
		return v >= 30 && v <= 270;
	default:
		return v >= 20 && v <= 300;
	}
}

int edge_bp_latest_get(struct edge_bp_latest *l, enum edge_channel ch, int32_t *val)
{
	const struct edge_bp_value *v;
	unsigned bit;
	int32_t x;

	switch (ch) {
	case EDGE_CH_SYSTOLIC:
		v = &l->m.systolic;
		bit = 1u << 0;
		break;
	case EDGE_CH_DIASTOLIC:
		v = &l->m.diastolic;
		bit = 1u << 1;
		break;
	case EDGE_CH_MEAN_ARTERIAL_PRESSURE:
		v = &l->m.map;
		bit = 1u << 2;
		break;
	case EDGE_CH_PULSE_RATE:
		v = &l->m.pulse;
		bit = 1u << 3;
		break;
	default:
		return -ENOTSUP;
	}
	if (!(l->unreported & bit))
		return -ENODATA;
	l->unreported &= ~bit;
	if (edge_bp_value_int(v, &x) || !plausible(ch, x))
		return -ENODATA;
	*val = x;
	return 0;
}
