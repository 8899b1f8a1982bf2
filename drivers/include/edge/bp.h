/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_BP_H
#define EDGE_BP_H
/*
 * Decoder of the Bluetooth SIG Blood Pressure Measurement characteristic
 * (UUID 0x2A35, Blood Pressure Service 0x1810), little-endian:
 *
 *   flags u8: b0 unit (0 mmHg, 1 kPa), b1 time stamp, b2 pulse rate,
 *             b3 user id, b4 measurement status, b5-7 reserved
 *   systolic, diastolic, mean arterial pressure: SFLOAT each
 *   [time stamp: year u16, month, day, hours, minutes, seconds u8]
 *   [pulse rate: SFLOAT, beats/min]   [user id: u8, 0xFF unknown]
 *   [measurement status: u16]
 *
 * SFLOAT (IEEE 11073-20601): 4-bit signed exponent (high nibble), 12-bit
 * signed mantissa; value = mantissa * 10^exponent. Reserved mantissas: 0x7FF
 * NaN, 0x800 NRes (not at this resolution), 0x7FE +INF, 0x802 -INF, 0x801
 * reserved; none of them is a value. Pure functions: no I/O, no allocation.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_BP_FLAG_KPA    0x01
#define EDGE_BP_FLAG_TIME   0x02
#define EDGE_BP_FLAG_PULSE  0x04
#define EDGE_BP_FLAG_USER   0x08
#define EDGE_BP_FLAG_STATUS 0x10

/* Measurement status bits */
#define EDGE_BP_STATUS_BODY_MOVEMENT	0x0001
#define EDGE_BP_STATUS_CUFF_LOOSE	0x0002
#define EDGE_BP_STATUS_IRREGULAR_PULSE	0x0004
#define EDGE_BP_STATUS_PULSE_RANGE_MASK 0x0018 /* 0 in range, 1 high, 2 low */
#define EDGE_BP_STATUS_BAD_POSITION	0x0020

enum edge_sfloat_kind {
	EDGE_SFLOAT_VALUE,
	EDGE_SFLOAT_NAN,
	EDGE_SFLOAT_NRES,
	EDGE_SFLOAT_POS_INF,
	EDGE_SFLOAT_NEG_INF,
	EDGE_SFLOAT_RESERVED,
};

struct edge_sfloat {
	enum edge_sfloat_kind kind;
	int16_t mantissa; /* -2048..2047 */
	int8_t exponent;  /* -8..7 */
};

struct edge_sfloat edge_sfloat_decode(uint16_t raw);
/* value * 10^pow10, rounded half away from zero. -ENODATA for a special
 * value, -ERANGE when the result does not fit. */
int edge_sfloat_scaled(struct edge_sfloat f, int pow10, int64_t *out);

/* A decoded quantity: valid == 0 when the field is absent, special
 * (NaN, NRes, INF, reserved) or out of range. */
struct edge_bp_value {
	int valid;
	int32_t centi; /* 0.01 of the unit (mmHg, or beats/min for pulse) */
};

struct edge_bp_measurement {
	uint8_t flags;
	int kpa; /* the cuff sent kPa; pressures below are converted to mmHg */
	struct edge_bp_value systolic, diastolic, map;
	struct edge_bp_value pulse;
	int has_time;
	uint16_t year; /* 0: unknown */
	uint8_t month, day, hours, minutes, seconds;
	int has_user;
	uint8_t user; /* 0xFF: unknown user */
	int has_status;
	uint16_t status;
};

/* Decodes one characteristic value. -EBADMSG when it is shorter than its
 * flags announce; bytes after the announced fields are ignored (future
 * fields). Special SFLOATs are not an error: the value is marked invalid. */
int edge_bp_decode(const uint8_t *buf, size_t len, struct edge_bp_measurement *out);

/* mmHg (integer, rounded) of a value, or -ENODATA when it is not valid. */
int edge_bp_value_int(const struct edge_bp_value *v, int32_t *out);

#ifdef __cplusplus
}
#endif
#endif
