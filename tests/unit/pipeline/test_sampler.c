/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sampler (agent/pipeline/sampler.c) on sim boards: the real board
 * bring-up, drivers and register-level chip models, the real event loop.
 *
 * Time is this file's: edge_now_ms() and edge_wall_ms() are defined below,
 * so common/time.c is not linked and the monotonic clock only moves when a
 * test advances it (in 10 ms steps, running one loop iteration per step
 * without waiting). The sim chip models follow through edge_sim_time_set().
 * Counts are therefore exact, and the 30 s sensor retry takes no 30 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/record.h"
#include "agent/sampler.h"
#include "edge/board.h"
#include "edge/hal/sim.h"
#include "edge/log.h"
#include "edge/loop.h"
#include "edge/sensor.h"
#include "edge/time.h"
#include "edge_test.h"

#define STEP_MS	  10
#define WALL_BASE 1800000000000ULL
#define MSGS_MAX  4096

/* ---- the clock ------------------------------------------------------------ */

static uint64_t now_ms = 5000000; /* arbitrary start, never 0 */

uint64_t edge_now_ms(void)
{
	return now_ms;
}

uint64_t edge_wall_ms(void)
{
	return WALL_BASE + now_ms;
}

/* ---- fixture -------------------------------------------------------------- */

struct msg {
	int batch;
	char topic[160];
	char payload[512];
	uint8_t qos;
};

struct reading {
	char sensor[32];
	enum edge_channel ch;
	int32_t value;
	uint64_t ts;
};

struct fx {
	struct edge_loop *loop;
	struct edge_config cfg;
	struct edge_board board;
	struct edge_sampler *s;
	int sink_rc;
	int batches;
	size_t batch_size[MSGS_MAX];
	struct msg msgs[MSGS_MAX];
	size_t n_msgs;
	struct reading readings[MSGS_MAX];
	size_t n_readings;
};

static int sink(void *arg, const struct edge_store_msg *msgs, size_t n)
{
	struct fx *f = arg;

	if (f->batches < MSGS_MAX)
		f->batch_size[f->batches] = n;
	for (size_t i = 0; i < n && f->n_msgs < MSGS_MAX; i++) {
		struct msg *m = &f->msgs[f->n_msgs++];

		m->batch = f->batches;
		snprintf(m->topic, sizeof(m->topic), "%s", msgs[i].topic);
		snprintf(m->payload, sizeof(m->payload), "%.*s", (int)msgs[i].len,
			 (const char *)msgs[i].payload);
		m->qos = msgs[i].qos;
	}
	f->batches++;
	return f->sink_rc;
}

static void observer(void *arg, const char *sensor, enum edge_channel ch, int32_t value,
		     uint64_t ts_ms)
{
	struct fx *f = arg;
	struct reading *r;

	if (f->n_readings == MSGS_MAX)
		return;
	r = &f->readings[f->n_readings++];
	snprintf(r->sensor, sizeof(r->sensor), "%s", sensor);
	r->ch = ch;
	r->value = value;
	r->ts = ts_ms;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	edge_log_set_level(EDGE_LOG_ERR);
	edge_sim_reset();
	edge_sim_time_set(now_ms);
	if (edge_loop_new(&f->loop))
		return -1;
	edge_config_defaults(&f->cfg);
	snprintf(f->cfg.device_id, sizeof(f->cfg.device_id), "dev-1");
	f->cfg.record.interval_ms = 3600000; /* tests that want records set it */
	f->cfg.record.sensor_topics = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_sampler_free(f->s);
	edge_loop_free(f->loop);
	edge_sim_reset();
	free(f);
	return 0;
}

static void load_board(struct fx *f, const char *json)
{
	char err[256] = "";
	int rc = edge_board_parse(json, strlen(json), "test-board", &f->board, err, sizeof(err));

	if (rc)
		fprintf(stderr, "  %s\n", err);
	assert_int_equal(rc, 0);
}

static void start(struct fx *f)
{
	char err[256] = "";
	int rc = edge_sampler_new(f->loop, &f->cfg, &f->board, sink, f, &f->s, err, sizeof(err));

	if (rc)
		fprintf(stderr, "  %s\n", err);
	assert_int_equal(rc, 0);
	edge_sampler_set_observer(f->s, observer, f);
}

/* Moves the clock ms forward in steps, one loop iteration each. */
static void advance(struct fx *f, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += STEP_MS) {
		now_ms += STEP_MS;
		edge_sim_time_set(now_ms);
		assert_int_equal(edge_loop_run_once(f->loop, 0), 0);
	}
}

static size_t sensor_index(struct fx *f, const char *name)
{
	for (size_t i = 0; i < edge_sampler_sensor_count(f->s); i++) {
		struct edge_sensor_health h;

		edge_sampler_sensor_health(f->s, i, &h);
		if (strcmp(h.name, name) == 0)
			return i;
	}
	fail_msg("no sensor %s", name);
	return 0;
}

static struct edge_sensor_health health(struct fx *f, const char *name)
{
	struct edge_sensor_health h;

	edge_sampler_sensor_health(f->s, sensor_index(f, name), &h);
	return h;
}

static struct edge_sampler_stats stats(struct fx *f)
{
	struct edge_sampler_stats st;

	edge_sampler_stats(f->s, &st);
	return st;
}

static size_t count_topic(struct fx *f, const char *topic)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_msgs; i++)
		n += strcmp(f->msgs[i].topic, topic) == 0;
	return n;
}

#define SIM_BUS                                                                                    \
	"\"hal\":\"sim\",\"buses\":[{\"name\":\"i2c0\",\"type\":\"i2c\",\"path\":\"sim:i2c0\"}]"

/* ---- tests ---------------------------------------------------------------- */

static void timers_fire_at_each_sensor_interval(void **state)
{
	struct fx *f = *state;

	load_board(f, "{\"name\":\"t\"," SIM_BUS ",\"sensors\":["
		      "{\"name\":\"vitals\",\"compatible\":\"edge,sim-vitals\",\"bus\":\"i2c0\","
		      "\"address\":\"0x50\",\"interval_ms\":100,\"freshness_ms\":5000},"
		      "{\"name\":\"ir\",\"compatible\":\"melexis,mlx90614\",\"bus\":\"i2c0\","
		      "\"address\":\"0x5a\",\"interval_ms\":250,\"freshness_ms\":5000}]}");
	start(f);
	advance(f, 90);
	assert_int_equal(f->batches, 0);
	advance(f, 910); /* t = 1000 ms */
	/* 10 ticks of 7 channels, 4 ticks of 2 (object and ambient) */
	assert_int_equal(health(f, "vitals").readings, 70);
	assert_int_equal(health(f, "ir").readings, 8);
	assert_int_equal(stats(f).readings, 78);
	assert_int_equal(f->batches, 14);
	assert_int_equal(health(f, "vitals").last_reading_ms, edge_wall_ms());
	assert_int_equal(health(f, "ir").last_reading_ms, edge_wall_ms());
	advance(f, 1000);
	assert_int_equal(health(f, "vitals").readings, 140);
	assert_int_equal(health(f, "ir").readings, 16);
}

static void a_tick_is_one_batch(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(edge_board_load("sim", NULL, &f->board, err, sizeof(err)), 0);
	f->board.sensors[0].interval_ms = 200;
	f->cfg.record.interval_ms = 500;
	start(f);
	advance(f, 200);
	assert_int_equal(f->batches, 1);
	assert_int_equal(f->batch_size[0], 7);
	for (size_t i = 0; i < 7; i++) {
		char topic[64];

		snprintf(topic, sizeof(topic), "sensors/dev-1/%s",
			 edge_channel_name(f->readings[i].ch));
		assert_int_equal(f->msgs[i].batch, 0);
		assert_string_equal(f->msgs[i].topic, topic);
		assert_int_equal(f->msgs[i].qos, 1);
		for (size_t j = 0; j < i; j++) /* seven different metrics */
			assert_string_not_equal(f->msgs[i].topic, f->msgs[j].topic);
	}
	/* the record is its own batch of one */
	advance(f, 300);
	assert_int_equal(stats(f).records, 1);
	assert_int_equal(f->batches, 3); /* ticks at 200 and 400, the record at 500 */
	assert_int_equal(f->batch_size[2], 1);
	assert_string_equal(f->msgs[f->n_msgs - 1].topic, "health/device_data");
	assert_non_null(strstr(f->msgs[f->n_msgs - 1].payload, "\"deviceId\":\"dev-1\""));
}

static void observer_sees_every_accepted_reading(void **state)
{
	struct fx *f = *state;
	char err[256], want[512];

	assert_int_equal(edge_board_load("sim", NULL, &f->board, err, sizeof(err)), 0);
	f->board.sensors[0].interval_ms = 100;
	start(f);
	advance(f, 300);
	/* the readings observed are the ones published, in order */
	assert_int_equal(f->n_readings, 21);
	assert_int_equal(f->n_msgs, 21);
	for (size_t i = 0; i < f->n_readings; i++) {
		const struct reading *r = &f->readings[i];

		assert_string_equal(r->sensor, "vitals");
		assert_true(
		    edge_record_reading("dev-1", r->ch, r->value, r->ts, want, sizeof(want)) > 0);
		assert_string_equal(f->msgs[i].payload, want);
	}
	assert_int_equal(f->readings[20].ts, edge_wall_ms());
}

static void observer_without_sensor_topics(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(edge_board_load("sim", NULL, &f->board, err, sizeof(err)), 0);
	f->board.sensors[0].interval_ms = 100;
	f->cfg.record.sensor_topics = false;
	start(f);
	advance(f, 300);
	assert_int_equal(f->n_readings, 21);
	assert_int_equal(f->batches, 0); /* nothing per reading goes to the sink */
	assert_int_equal(stats(f).readings, 21);
}

static void record_needs_every_vital_fresh(void **state)
{
	struct fx *f = *state;
	uint64_t records, incomplete;

	/* one sensor per vital group; the location is static */
	load_board(f, "{\"name\":\"t\"," SIM_BUS ",\"sensors\":["
		      "{\"name\":\"pulse_oximeter\",\"compatible\":\"maxim,max30102\","
		      "\"bus\":\"i2c0\",\"interval_ms\":200,\"freshness_ms\":5000},"
		      "{\"name\":\"body_temperature\",\"compatible\":\"maxim,max30205\","
		      "\"bus\":\"i2c0\",\"interval_ms\":500,\"freshness_ms\":2000},"
		      "{\"name\":\"bp_cuff\",\"compatible\":\"edge,sim-bp-cuff\","
		      "\"param\":\"period_s=60\",\"interval_ms\":1000,\"freshness_ms\":300000}]}");
	f->cfg.record.interval_ms = 1000;
	f->cfg.record.static_location = true;
	f->cfg.record.latitude = 48.8566;
	f->cfg.record.longitude = 2.3522;
	f->cfg.record.sensor_topics = false;
	start(f);
	/* the oximeter needs a few seconds of signal: no record before that */
	advance(f, 1000);
	assert_int_equal(stats(f).records, 0);
	assert_int_equal(stats(f).records_incomplete, 1);
	advance(f, 9000); /* t = 10 s */
	records = stats(f).records;
	incomplete = stats(f).records_incomplete;
	assert_true(records >= 3);
	assert_int_equal(records + incomplete, 10);
	assert_int_equal(count_topic(f, "health/device_data"), records);

	/* the thermometer stops: its last reading (t = 10 s) stays fresh 2 s */
	assert_int_equal(edge_sampler_enable(f->s, "body_temperature", false), 0);
	advance(f, 2500); /* records at 11 s and 12 s */
	assert_int_equal(stats(f).records, records + 2);
	advance(f, 1000); /* at 13 s it is 3 s old: no record, the others are fresh */
	assert_int_equal(stats(f).records, records + 2);
	assert_int_equal(stats(f).records_incomplete, incomplete + 1);
	assert_true(edge_wall_ms() - health(f, "pulse_oximeter").last_reading_ms <= 200);
	/* back: read at 14 s (after that second's record), a record at 15 s */
	assert_int_equal(edge_sampler_enable(f->s, "body_temperature", true), 0);
	advance(f, 1500);
	assert_int_equal(stats(f).records, records + 3);
	assert_int_equal(stats(f).records_incomplete, incomplete + 2);
	assert_int_equal(count_topic(f, "health/device_data"), records + 3);
}

static void stale_readings_count_incomplete(void **state)
{
	struct fx *f = *state;

	load_board(f, "{\"name\":\"t\"," SIM_BUS ",\"sensors\":["
		      "{\"name\":\"vitals\",\"compatible\":\"edge,sim-vitals\",\"bus\":\"i2c0\","
		      "\"address\":\"0x50\",\"interval_ms\":100,\"freshness_ms\":300}]}");
	f->cfg.record.interval_ms = 250;
	f->cfg.record.sensor_topics = false;
	start(f);
	/* never read yet: incomplete */
	assert_int_equal(edge_sampler_enable(f->s, "vitals", false), 0);
	advance(f, 500);
	assert_int_equal(stats(f).records, 0);
	assert_int_equal(stats(f).records_incomplete, 2);
	assert_int_equal(stats(f).readings, 0);
	assert_false(health(f, "vitals").enabled);
	assert_int_equal(f->batches, 0);
	/* read from 600 on: records at 750 and 1000 */
	assert_int_equal(edge_sampler_enable(f->s, "vitals", true), 0);
	advance(f, 500);
	assert_int_equal(stats(f).records, 2);
	assert_int_equal(f->batches, 2);
	/* last reading at 1000: still fresh at 1250 (250 ms), stale at 1500 */
	assert_int_equal(edge_sampler_enable(f->s, "vitals", false), 0);
	advance(f, 250);
	assert_int_equal(stats(f).records, 3);
	advance(f, 250);
	assert_int_equal(stats(f).records, 3);
	assert_int_equal(stats(f).records_incomplete, 3);
}

static void failing_sensor_is_retried_and_stops_nothing(void **state)
{
	struct fx *f = *state;
	struct edge_sim_chip *ir;
	struct edge_sensor_health h;
	int64_t reads_before, reads_after;

	load_board(f, "{\"name\":\"t\"," SIM_BUS ",\"sensors\":["
		      "{\"name\":\"vitals\",\"compatible\":\"edge,sim-vitals\",\"bus\":\"i2c0\","
		      "\"address\":\"0x50\",\"interval_ms\":100,\"freshness_ms\":5000},"
		      "{\"name\":\"ir\",\"compatible\":\"melexis,mlx90614\",\"bus\":\"i2c0\","
		      "\"address\":\"0x5a\",\"interval_ms\":1000,\"freshness_ms\":5000}]}");
	f->cfg.record.sensor_topics = false;
	start(f);
	ir = edge_sim_i2c_chip("i2c0", 0x5a);
	assert_non_null(ir);
	assert_int_equal(edge_sim_chip_set(ir, "corrupt_pec", -1), 0); /* every read fails */
	advance(f, 10000);
	h = health(f, "ir");
	assert_int_equal(h.errors, 10);
	assert_int_equal(h.error, -EIO);
	assert_false(h.healthy);
	assert_int_equal(h.readings, 0);
	/* the other sensor did not notice */
	assert_int_equal(health(f, "vitals").readings, 700);
	assert_true(health(f, "vitals").healthy);

	/* at 30 s the failing part is brought up again (and fails: the bring-up
	 * reads it too); from then on only every 30 s */
	advance(f, 21000); /* t = 31 s */
	assert_int_equal(health(f, "ir").errors, 30);
	assert_false(health(f, "ir").healthy);
	assert_int_equal(edge_sim_chip_get(ir, "reads", &reads_before), 0);
	advance(f, 9000); /* t = 40 s: the part recovers */
	assert_int_equal(edge_sim_chip_set(ir, "corrupt_pec", 0), 0);
	advance(f, 19990); /* t = 59.99 s: no attempt yet */
	assert_int_equal(edge_sim_chip_get(ir, "reads", &reads_after), 0);
	assert_int_equal(reads_after, reads_before);
	assert_int_equal(health(f, "ir").readings, 0);
	advance(f, 10); /* t = 60 s: retried, up, read */
	h = health(f, "ir");
	assert_true(h.healthy);
	assert_int_equal(h.error, 0);
	assert_int_equal(h.readings, 2);
	advance(f, 1000);
	assert_int_equal(health(f, "ir").readings, 4);
	assert_int_equal(health(f, "vitals").readings, 610 * 7);
}

static void enable_and_sample_now(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(edge_board_load("sim", NULL, &f->board, err, sizeof(err)), 0);
	f->board.sensors[0].interval_ms = 1000;
	start(f);
	assert_int_equal(edge_sampler_enable(f->s, "no-such-sensor", true), -ENOENT);
	/* at once, before any tick: the readings and the record */
	assert_int_equal(edge_sampler_sample_now(f->s), 1);
	assert_int_equal(f->n_readings, 7);
	assert_int_equal(stats(f).records, 1);
	assert_int_equal(f->batches, 2);
	assert_int_equal(count_topic(f, "health/device_data"), 1);
	/* a disabled sensor is not sampled, by the timer or on request */
	assert_int_equal(edge_sampler_enable(f->s, "vitals", false), 0);
	assert_int_equal(edge_sampler_sample_now(f->s), 0);
	advance(f, 3000);
	assert_int_equal(f->n_readings, 7);
	assert_false(health(f, "vitals").enabled);
	assert_false(health(f, "vitals").healthy);
	assert_int_equal(edge_sampler_enable(f->s, "vitals", true), 0);
	advance(f, 1000);
	assert_int_equal(f->n_readings, 14);
	assert_true(health(f, "vitals").healthy);
}

static void sink_errors_are_counted(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(edge_board_load("sim", NULL, &f->board, err, sizeof(err)), 0);
	f->board.sensors[0].interval_ms = 100;
	f->sink_rc = -ENOSPC;
	start(f);
	advance(f, 200);
	assert_int_equal(stats(f).sink_errors, 14);
	assert_int_equal(stats(f).readings, 14);
}

static void pause_stops_the_timers(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(edge_board_load("sim", NULL, &f->board, err, sizeof(err)), 0);
	f->board.sensors[0].interval_ms = 100;
	f->cfg.record.interval_ms = 100;
	start(f);
	advance(f, 200);
	assert_int_equal(stats(f).readings, 14);
	edge_sampler_pause(f->s);
	advance(f, 1000);
	assert_int_equal(stats(f).readings, 14);
	assert_int_equal(stats(f).records + stats(f).records_incomplete, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    EDGE_TEST_CASE(timers_fire_at_each_sensor_interval),
	    EDGE_TEST_CASE(a_tick_is_one_batch),
	    EDGE_TEST_CASE(observer_sees_every_accepted_reading),
	    EDGE_TEST_CASE(observer_without_sensor_topics),
	    EDGE_TEST_CASE(record_needs_every_vital_fresh),
	    EDGE_TEST_CASE(stale_readings_count_incomplete),
	    EDGE_TEST_CASE(failing_sensor_is_retried_and_stops_nothing),
	    EDGE_TEST_CASE(enable_and_sample_now),
	    EDGE_TEST_CASE(sink_errors_are_counted),
	    EDGE_TEST_CASE(pause_stops_the_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
