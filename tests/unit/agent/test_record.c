/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "agent/record.h"

static void feed_all(struct edge_record_builder *b, uint64_t now)
{
	edge_record_update(b, EDGE_CH_HEART_RATE, 72, now, 5000);
	edge_record_update(b, EDGE_CH_SYSTOLIC, 121, now, 600000);
	edge_record_update(b, EDGE_CH_DIASTOLIC, 79, now, 600000);
	edge_record_update(b, EDGE_CH_SPO2, 97, now, 5000);
	edge_record_update(b, EDGE_CH_BODY_TEMP, 36855, now, 60000);
	edge_record_update(b, EDGE_CH_LATITUDE, 488566123, now, 60000);
	edge_record_update(b, EDGE_CH_LONGITUDE, -23522000, now, 60000);
}

/* Exactly the nine keys of the platform schema, with the JSON types it needs. */
static void schema_exact(void **state)
{
	static const char *const ints[] = {"heartRate", "systolic", "diastolic",
					   "oxygenSaturation"};
	static const char *const dbls[] = {"bodyTemperature", "latitude", "longitude"};
	struct edge_record_builder b;
	char out[512];
	cJSON *j, *it;
	int n, keys = 0;

	(void)state;
	edge_record_init(&b, false, 0, 0);
	feed_all(&b, 1000);
	n = edge_record_build(&b, "dev-1", 2000, 1763762000123ull, out, sizeof(out), NULL);
	assert_true(n > 0);
	j = cJSON_Parse(out);
	assert_non_null(j);
	cJSON_ArrayForEach (it, j)
		keys++;
	assert_int_equal(keys, 9);
	assert_string_equal(cJSON_GetObjectItem(j, "deviceId")->valuestring, "dev-1");
	assert_true(cJSON_GetObjectItem(j, "timestamp")->valuedouble == 1763762000123.0);
	assert_non_null(strstr(out, "\"timestamp\":1763762000123,"));
	for (size_t i = 0; i < 4; i++) {
		it = cJSON_GetObjectItem(j, ints[i]);
		assert_true(cJSON_IsNumber(it));
		assert_true(it->valuedouble == (double)it->valueint); /* an int */
	}
	for (size_t i = 0; i < 3; i++)
		assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, dbls[i])));
	/* doubles are written with a decimal point */
	assert_non_null(strstr(out, "\"bodyTemperature\":36.85,"));
	assert_non_null(strstr(out, "\"latitude\":48.8566123,"));
	assert_non_null(strstr(out, "\"longitude\":-2.3522000}"));
	assert_int_equal(cJSON_GetObjectItem(j, "heartRate")->valueint, 72);
	assert_int_equal(cJSON_GetObjectItem(j, "oxygenSaturation")->valueint, 97);
	cJSON_Delete(j);
}

static void stale_vitals_are_counted(void **state)
{
	struct edge_record_builder b;
	char out[512];
	unsigned missing = 0;

	(void)state;
	edge_record_init(&b, false, 0, 0);
	assert_int_equal(edge_record_build(&b, "d", 10, 10, out, sizeof(out), &missing), -ENODATA);
	assert_int_equal(missing, (1u << EDGE_VITAL__COUNT) - 1);
	feed_all(&b, 1000);
	/* heart rate window is 5 s: at +6 s only HR and SpO2 are stale */
	assert_int_equal(edge_record_build(&b, "d", 7000, 7000, out, sizeof(out), &missing),
			 -ENODATA);
	assert_int_equal(missing, (1u << EDGE_VITAL_HEART_RATE) | (1u << EDGE_VITAL_SPO2));
	assert_int_equal(b.incomplete, 2);
	edge_record_update(&b, EDGE_CH_HEART_RATE, 80, 7000, 5000);
	edge_record_update(&b, EDGE_CH_SPO2, 96, 7000, 5000);
	assert_true(edge_record_build(&b, "d", 7000, 7000, out, sizeof(out), NULL) > 0);
	assert_int_equal(b.built, 1);
}

static void static_location(void **state)
{
	struct edge_record_builder b;
	char out[512];

	(void)state;
	edge_record_init(&b, true, 52.5, 13.25);
	edge_record_update(&b, EDGE_CH_HEART_RATE, 72, 1, 5000);
	edge_record_update(&b, EDGE_CH_SYSTOLIC, 120, 1, 5000);
	edge_record_update(&b, EDGE_CH_DIASTOLIC, 80, 1, 5000);
	edge_record_update(&b, EDGE_CH_SPO2, 97, 1, 5000);
	edge_record_update(&b, EDGE_CH_BODY_TEMP, -500, 1, 5000);
	assert_true(edge_record_build(&b, "d", 2, 2, out, sizeof(out), NULL) > 0);
	assert_non_null(strstr(out, "\"latitude\":52.5000000,\"longitude\":13.2500000"));
	assert_non_null(strstr(out, "\"bodyTemperature\":-0.50,"));
	assert_int_equal(edge_record_build(&b, "d", 2, 2, out, 40, NULL), -ENOSPC);
}

static void reading_message(void **state)
{
	char out[256];
	cJSON *j;

	(void)state;
	assert_true(edge_record_reading("d1", EDGE_CH_BODY_TEMP, 37015, 99, out, sizeof(out)) > 0);
	j = cJSON_Parse(out);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "metric")->valuestring, "body_temperature");
	assert_string_equal(cJSON_GetObjectItem(j, "unit")->valuestring, "degC");
	assert_true(cJSON_GetObjectItem(j, "value")->valuedouble == 37.01);
	assert_true(cJSON_GetObjectItem(j, "timestamp")->valuedouble == 99.0);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(schema_exact),
	    cmocka_unit_test(stale_vitals_are_counted),
	    cmocka_unit_test(static_location),
	    cmocka_unit_test(reading_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
