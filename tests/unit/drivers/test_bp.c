/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blood Pressure Measurement (0x2A35) decoding against vectors built by hand
 * from the GATT specification, the sim cuff driver, and the BlueZ backend's
 * parameter handling (the D-Bus part cannot run without BlueZ).
 */
#include <errno.h>

#include "drivers_internal.h"
#include "edge/bp.h"
#include "edge/hal/sim.h"
#include "edge_check.h"

static void test_sfloat(void)
{
	struct edge_sfloat f;
	int64_t v = 0;

	f = edge_sfloat_decode(0x0078); /* 120 * 10^0 */
	CHECK_EQ(f.kind, EDGE_SFLOAT_VALUE);
	CHECK_EQ(f.mantissa, 120);
	CHECK_EQ(f.exponent, 0);
	f = edge_sfloat_decode(0xFF4B); /* mantissa 0xF4B = -181, exponent -1 */
	CHECK_EQ(f.mantissa, -181);
	CHECK_EQ(f.exponent, -1);
	CHECK_EQ(edge_sfloat_scaled(f, 2, &v), 0);
	CHECK_EQ(v, -1810);
	f = edge_sfloat_decode(0x2001); /* 1 * 10^2 */
	CHECK_EQ(edge_sfloat_scaled(f, 0, &v), 0);
	CHECK_EQ(v, 100);
	f = edge_sfloat_decode(0x87FD); /* 2045 * 10^-8 */
	CHECK_EQ(f.exponent, -8);
	CHECK_EQ(edge_sfloat_scaled(f, 8, &v), 0);
	CHECK_EQ(v, 2045);
	CHECK_EQ(edge_sfloat_scaled(f, 0, &v), 0);
	CHECK_EQ(v, 0);
	f = edge_sfloat_decode(0x7001); /* 10^7 fits */
	CHECK_EQ(edge_sfloat_scaled(f, 0, &v), 0);
	CHECK_EQ(v, 10000000);
	/* the reserved values: none is a number */
	CHECK_EQ(edge_sfloat_decode(0x07FF).kind, EDGE_SFLOAT_NAN);
	CHECK_EQ(edge_sfloat_decode(0x0800).kind, EDGE_SFLOAT_NRES);
	CHECK_EQ(edge_sfloat_decode(0x07FE).kind, EDGE_SFLOAT_POS_INF);
	CHECK_EQ(edge_sfloat_decode(0x0802).kind, EDGE_SFLOAT_NEG_INF);
	CHECK_EQ(edge_sfloat_decode(0x0801).kind, EDGE_SFLOAT_RESERVED);
	/* whatever the exponent bits say */
	CHECK_EQ(edge_sfloat_decode(0x37FF).kind, EDGE_SFLOAT_NAN);
	CHECK_EQ(edge_sfloat_scaled(edge_sfloat_decode(0x07FF), 0, &v), -ENODATA);
}

static void test_minimal_mmhg(void)
{
	/* flags 0: mmHg, no optional fields; 120 / 80 / 93 */
	static const uint8_t v[] = {0x00, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00};
	struct edge_bp_measurement m;
	int32_t x = 0;

	CHECK_EQ(edge_bp_decode(v, sizeof(v), &m), 0);
	CHECK_EQ(m.kpa, 0);
	CHECK_EQ(edge_bp_value_int(&m.systolic, &x), 0);
	CHECK_EQ(x, 120);
	CHECK_EQ(edge_bp_value_int(&m.diastolic, &x), 0);
	CHECK_EQ(x, 80);
	CHECK_EQ(edge_bp_value_int(&m.map, &x), 0);
	CHECK_EQ(x, 93);
	CHECK_EQ(m.pulse.valid, 0);
	CHECK_EQ(m.has_time, 0);
	CHECK_EQ(m.has_user, 0);
	CHECK_EQ(m.has_status, 0);
	CHECK_EQ(edge_bp_value_int(&m.pulse, &x), -ENODATA);
	/* shorter than the mandatory fields */
	CHECK_EQ(edge_bp_decode(v, 6, &m), -EBADMSG);
	CHECK_EQ(edge_bp_decode(v, 0, &m), -EBADMSG);
}

static void test_all_optional_fields(void)
{
	/* flags 0x1E: time stamp, pulse rate, user id, measurement status */
	static const uint8_t v[] = {
	    0x1E, 0x8A, 0x00, 0x55, 0x00, 0x66, 0x00, /* 138 / 85 / 102 mmHg */
	    0xEA, 0x07, 11,   21,   14,	  30,	5,    /* 2026-11-21 14:30:05 */
	    0x48, 0x00,				      /* pulse 72 */
	    0x01,				      /* user 1 */
	    0x05, 0x00,				      /* body movement + irregular pulse */
	};
	struct edge_bp_measurement m;
	int32_t x = 0;

	CHECK_EQ(edge_bp_decode(v, sizeof(v), &m), 0);
	CHECK_EQ(edge_bp_value_int(&m.systolic, &x), 0);
	CHECK_EQ(x, 138);
	CHECK_EQ(m.has_time, 1);
	CHECK_EQ(m.year, 2026);
	CHECK_EQ(m.month, 11);
	CHECK_EQ(m.day, 21);
	CHECK_EQ(m.hours, 14);
	CHECK_EQ(m.minutes, 30);
	CHECK_EQ(m.seconds, 5);
	CHECK_EQ(edge_bp_value_int(&m.pulse, &x), 0);
	CHECK_EQ(x, 72);
	CHECK_EQ(m.has_user, 1);
	CHECK_EQ(m.user, 1);
	CHECK_EQ(m.has_status, 1);
	CHECK_EQ(m.status, EDGE_BP_STATUS_BODY_MOVEMENT | EDGE_BP_STATUS_IRREGULAR_PULSE);
	/* every length short of the announced fields is rejected */
	for (size_t len = 0; len < sizeof(v); len++)
		CHECK_EQ(edge_bp_decode(v, len, &m), -EBADMSG);
	/* trailing bytes (a later revision's fields) are ignored */
	{
		uint8_t longer[sizeof(v) + 3];

		memcpy(longer, v, sizeof(v));
		memset(longer + sizeof(v), 0xAA, 3);
		CHECK_EQ(edge_bp_decode(longer, sizeof(longer), &m), 0);
		CHECK_EQ(m.status, 0x0005);
	}
}

static void test_kpa(void)
{
	/* flags 0x01: kPa with one decimal: 16.0 / 10.7 / 12.5 kPa */
	static const uint8_t v[] = {0x01, 0xA0, 0xF0, 0x6B, 0xF0, 0x7D, 0xF0};
	struct edge_bp_measurement m;
	int32_t x = 0;

	CHECK_EQ(edge_bp_decode(v, sizeof(v), &m), 0);
	CHECK_EQ(m.kpa, 1);
	/* 1 kPa = 7.500617 mmHg */
	CHECK_EQ(m.systolic.centi, 12001); /* 120.0099 */
	CHECK_EQ(m.diastolic.centi, 8026); /* 80.2566 */
	CHECK_EQ(m.map.centi, 9376);	   /* 93.7577 */
	CHECK_EQ(edge_bp_value_int(&m.map, &x), 0);
	CHECK_EQ(x, 94);
}

static void test_special_values_are_no_values(void)
{
	/* NaN systolic, NRes diastolic, +INF MAP, -INF pulse */
	static const uint8_t v[] = {0x04, 0xFF, 0x07, 0x00, 0x08, 0xFE, 0x07, 0x02, 0x08};
	static const uint8_t r[] = {0x00, 0x01, 0x08, 0x50, 0x00, 0x5D, 0x00}; /* reserved */
	struct edge_bp_measurement m;
	int32_t x;

	CHECK_EQ(edge_bp_decode(v, sizeof(v), &m), 0);
	CHECK_EQ(m.systolic.valid, 0);
	CHECK_EQ(m.diastolic.valid, 0);
	CHECK_EQ(m.map.valid, 0);
	CHECK_EQ(m.pulse.valid, 0);
	CHECK_EQ(edge_bp_decode(r, sizeof(r), &m), 0);
	CHECK_EQ(m.systolic.valid, 0);
	CHECK_EQ(edge_bp_value_int(&m.diastolic, &x), 0);
	CHECK_EQ(x, 80);
}

static struct edge_sensor *cuff(const char *param, int expect)
{
	struct edge_sensor_binding bind = {.param = param};
	struct edge_sensor *s = NULL;

	CHECK_EQ(edge_sensor_create(&edge_sim_bp_cuff_driver, "cuff", &bind, &s), expect);
	return s;
}

static void test_sim_cuff(void)
{
	struct edge_sim_bp_reading truth;
	struct edge_sensor *s;
	int32_t sys = 0, dia = 0, map = 0, pr = 0;
	unsigned seed = 0;

	for (const char *n = "cuff"; *n; n++)
		seed = seed * 31u + (unsigned char)*n;
	edge_sim_reset();
	edge_sim_time_set(100000);
	s = cuff("period_s=30", 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	edge_sim_bp_cuff_reading(90000, seed, &truth); /* slot 3 of 30 s */
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &sys), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_DIASTOLIC, &dia), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_MEAN_ARTERIAL_PRESSURE, &map), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_PULSE_RATE, &pr), 0);
	CHECK_EQ(sys, truth.systolic);
	CHECK_EQ(dia, truth.diastolic);
	CHECK_EQ(map, truth.map);
	CHECK_EQ(pr, truth.pulse);
	CHECK(sys > dia && dia > 40 && sys < 200);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SPO2, &pr), -ENOTSUP);
	/* delivered once: asked again, nothing */
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &sys), -ENODATA);
	/* same period: no new measurement, nothing reported */
	edge_sim_time_set(119000);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &sys), -ENODATA);
	/* a new period; two fetches before the values are read lose nothing */
	edge_sim_time_set(120000);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &sys), 0);
	edge_sensor_destroy(s);
	/* a cuff reporting kPa: the same pressures within the 0.1 kPa step */
	s = cuff("period_s=30,kpa", 0);
	CHECK_EQ(edge_sensor_sample_fetch(s), 0);
	edge_sim_bp_cuff_reading(120000, seed, &truth);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_SYSTOLIC, &sys), 0);
	CHECK_NEAR(sys, truth.systolic, 1);
	CHECK_EQ(edge_sensor_channel_get(s, EDGE_CH_DIASTOLIC, &dia), 0);
	CHECK_NEAR(dia, truth.diastolic, 1);
	edge_sensor_destroy(s);
	CHECK(cuff("period_s=0", -EINVAL) == NULL);
	CHECK(cuff("period_s=x", -EINVAL) == NULL);
	edge_sim_time_set(0);
	edge_sim_reset();
}

static void test_bluez_params(void)
{
	struct edge_sensor_binding bind = {.param = "not-an-address"};
	struct edge_sensor *s = NULL;
	char path[128];

	CHECK_EQ(edge_bluez_cuff_param("a4:c1:38:0f:22:9b", path, sizeof(path)), 0);
	CHECK_STR(path, "/org/bluez/hci0/dev_A4_C1_38_0F_22_9B");
	CHECK_EQ(edge_bluez_cuff_param("A4:C1:38:0F:22:9B,adapter=hci1", path, sizeof(path)), 0);
	CHECK_STR(path, "/org/bluez/hci1/dev_A4_C1_38_0F_22_9B");
	CHECK_EQ(edge_bluez_cuff_param("A4:C1:38:0F:22", path, sizeof(path)), -EINVAL);
	CHECK_EQ(edge_bluez_cuff_param("A4-C1-38-0F-22-9B", path, sizeof(path)), -EINVAL);
	CHECK_EQ(edge_bluez_cuff_param("A4:C1:38:0F:22:9B,adapter=../x", path, sizeof(path)),
		 -EINVAL);
	CHECK_EQ(edge_bluez_cuff_param(NULL, path, sizeof(path)), -EINVAL);
	/* the driver refuses a bad address before touching D-Bus */
	CHECK_EQ(edge_sensor_create(&edge_bluez_bp_driver, "cuff", &bind, &s), -EINVAL);
	CHECK(s == NULL);
}

EDGE_CHECK_MAIN(test_sfloat, test_minimal_mmhg, test_all_optional_fields, test_kpa,
		test_special_values_are_no_values, test_sim_cuff, test_bluez_params)
