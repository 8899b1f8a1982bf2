/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sampler.h"
#include "edge/log.h"
#include "edge/sensor.h"
#include "edge/time.h"

#define MOD	       "sampler"
#define RETRY_MS       30000
#define FAIL_THRESHOLD 5
#define MAX_TICK_MSGS  (EDGE_CH__COUNT + 1)
#define READING_MAX    256

struct sensor_slot {
	struct edge_sampler *owner;
	size_t index;
	struct edge_timer *timer;
	int pollfd;
	bool enabled;
	int error;
	uint32_t consecutive;
	uint64_t errors;
	uint64_t readings;
	uint64_t last_reading_ms;
	uint64_t last_retry_ms;
	struct edge_ratelimit rl;
	bool why_logged; /* the driver's .unavailable line */
};

struct edge_sampler {
	struct edge_loop *loop;
	struct edge_config cfg;
	struct edge_board_rt *rt;
	struct sensor_slot slots[EDGE_BOARD_MAX_SENSORS];
	size_t n;
	struct edge_timer *record_timer;
	struct edge_record_builder builder;
	edge_sampler_sink sink;
	void *sink_arg;
	edge_sampler_observer observer;
	void *observer_arg;
	struct edge_sampler_stats stats;
	struct edge_ratelimit rl_incomplete;
	struct edge_ratelimit rl_sink;
	char topic_data[128];
	char topics[EDGE_CH__COUNT][160]; /* per-channel sensor topics */
};

static void emit(struct edge_sampler *s, const struct edge_store_msg *msgs, size_t n)
{
	int rc;

	if (n == 0)
		return;
	rc = s->sink(s->sink_arg, msgs, n);
	if (rc) {
		s->stats.sink_errors += n;
		EDGE_LOG_RL(&s->rl_sink, EDGE_LOG_ERR, MOD,
			    "outbox refused %zu message(s): %s (%" PRIu64 " lost so far)", n,
			    strerror(-rc), s->stats.sink_errors);
	}
}

static int bring_up(struct sensor_slot *slot)
{
	struct edge_sampler *s = slot->owner;
	int rc = edge_board_sensor_retry(s->rt, slot->index);
	struct edge_sensor *sen = edge_board_sensor(s->rt, slot->index);

	slot->last_retry_ms = edge_now_ms();
	slot->error = rc;
	if (slot->pollfd >= 0) {
		edge_loop_fd_del(s->loop, slot->pollfd);
		slot->pollfd = -1;
	}
	return rc ? rc : (sen ? 0 : -ENODEV);
}

/* A driver that cannot work on this system (a run-time library missing)
 * says why; that is logged once, the retries only as "not available". */
static void log_unavailable(struct sensor_slot *slot, const struct edge_board_sensor *d)
{
	const struct edge_sensor_ops *ops;
	const char *why;

	if (slot->why_logged)
		return;
	ops = edge_sensor_ops_find(d->compatible);
	why = ops && ops->unavailable ? ops->unavailable() : NULL;
	if (!why)
		return;
	slot->why_logged = true;
	EDGE_ERR(MOD, "sensor %s (%s): %s", d->name, d->compatible, why);
}

static void sample(struct sensor_slot *slot, bool fetch);

static void pollfd_cb(int fd, short revents, void *arg)
{
	struct sensor_slot *slot = arg;
	struct edge_sensor *sen = edge_board_sensor(slot->owner->rt, slot->index);

	(void)fd;
	(void)revents;
	if (sen)
		sen->ops->sample_fetch(sen); /* buffer input; readings go out on the timer */
}

static void watch_pollfd(struct sensor_slot *slot)
{
	struct edge_sensor *sen = edge_board_sensor(slot->owner->rt, slot->index);
	int fd;

	if (!sen || !sen->ops->pollfd || slot->pollfd >= 0)
		return;
	fd = sen->ops->pollfd(sen);
	if (fd >= 0 && edge_loop_fd_add(slot->owner->loop, fd, POLLIN, pollfd_cb, slot) == 0)
		slot->pollfd = fd;
}

static void sample(struct sensor_slot *slot, bool fetch)
{
	struct edge_sampler *s = slot->owner;
	const struct edge_board_sensor *desc = edge_board_sensor_desc(s->rt, slot->index);
	struct edge_sensor *sen = edge_board_sensor(s->rt, slot->index);
	struct edge_store_msg msgs[MAX_TICK_MSGS];
	char payloads[MAX_TICK_MSGS][READING_MAX];
	uint64_t now = edge_now_ms(), wall = edge_wall_ms();
	size_t n = 0;
	int rc;

	if (!slot->enabled)
		return;
	if (!sen) {
		if (now - slot->last_retry_ms < RETRY_MS && slot->last_retry_ms)
			return;
		rc = bring_up(slot);
		if (rc) {
			log_unavailable(slot, desc);
			EDGE_LOG_RL(&slot->rl, EDGE_LOG_WARNING, MOD,
				    "sensor %s (%s): not available: %s; retrying every %d s",
				    desc->name, desc->compatible, strerror(-rc), RETRY_MS / 1000);
			return;
		}
		EDGE_NOTICE(MOD, "sensor %s (%s) is up", desc->name, desc->compatible);
		sen = edge_board_sensor(s->rt, slot->index);
		watch_pollfd(slot);
	}
	if (fetch) {
		rc = sen->ops->sample_fetch(sen);
		/* -EAGAIN/-ENODATA: nothing new in this fetch; values an earlier
		 * (pollfd-driven) fetch buffered are still read below, once each. */
		if (rc && rc != -EAGAIN && rc != -ENODATA) {
			slot->errors++;
			slot->error = rc;
			slot->consecutive++;
			EDGE_LOG_RL(&slot->rl, EDGE_LOG_WARNING, MOD, "sensor %s: read failed: %s",
				    desc->name, strerror(-rc));
			if (slot->consecutive >= FAIL_THRESHOLD &&
			    now - slot->last_retry_ms >= RETRY_MS) {
				rc = bring_up(slot);
				if (!rc)
					watch_pollfd(slot);
			}
			return;
		}
	}
	slot->consecutive = 0;
	slot->error = 0;
	for (size_t i = 0; i < sen->ops->n_channels; i++) {
		enum edge_channel ch = sen->ops->channels[i];
		int32_t v;
		int len;

		if (sen->ops->channel_get(sen, ch, &v) != 0)
			continue; /* -ENODATA: no valid reading (no finger, no fix) */
		edge_record_update(&s->builder, ch, v, now, desc->freshness_ms);
		slot->readings++;
		s->stats.readings++;
		slot->last_reading_ms = wall;
		if (s->observer)
			s->observer(s->observer_arg, desc->name, ch, v, wall);
		if (!s->cfg.record.sensor_topics)
			continue;
		len = edge_record_reading(s->cfg.device_id, ch, v, wall, payloads[n],
					  sizeof(payloads[n]));
		if (len < 0)
			continue;
		msgs[n] = (struct edge_store_msg){
		    .topic = s->topics[ch], .payload = payloads[n], .len = (size_t)len, .qos = 1};
		n++;
	}
	emit(s, msgs, n);
}

static void sensor_timer_cb(void *arg)
{
	sample(arg, true);
}

static void record_timer_cb(void *arg)
{
	struct edge_sampler *s = arg;
	char buf[512];
	unsigned missing = 0;
	int len = edge_record_build(&s->builder, s->cfg.device_id, edge_now_ms(), edge_wall_ms(),
				    buf, sizeof(buf), &missing);
	struct edge_store_msg m;

	if (len < 0) {
		if (len == -ENODATA) {
			char names[128] = "";

			for (int v = 0; v < EDGE_VITAL__COUNT; v++)
				if (missing & (1u << v))
					snprintf(names + strlen(names),
						 sizeof(names) - strlen(names), "%s%s",
						 names[0] ? "," : "", edge_vital_key(v));
			s->stats.records_incomplete++;
			EDGE_LOG_RL(&s->rl_incomplete, EDGE_LOG_INFO, MOD,
				    "no HealthData record: missing or stale %s (%" PRIu64
				    " records skipped)",
				    names, s->stats.records_incomplete);
		}
		return;
	}
	m = (struct edge_store_msg){
	    .topic = s->topic_data, .payload = buf, .len = (size_t)len, .qos = 1};
	s->stats.records++;
	emit(s, &m, 1);
}

int edge_sampler_new(struct edge_loop *loop, const struct edge_config *cfg,
		     const struct edge_board *board, edge_sampler_sink sink, void *sink_arg,
		     struct edge_sampler **out, char *err, size_t errlen)
{
	struct edge_sampler *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->sink = sink;
	s->sink_arg = sink_arg;
	s->rl_incomplete = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 2);
	s->rl_sink = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(60000, 3);
	edge_record_init(&s->builder, cfg->record.static_location, cfg->record.latitude,
			 cfg->record.longitude);
	rc = edge_topic_format(s->topic_data, sizeof(s->topic_data), cfg->topics.device_data,
			       cfg->device_id, NULL, NULL, NULL);
	for (int ch = 0; rc >= 0 && ch < EDGE_CH__COUNT; ch++)
		rc = edge_topic_format(s->topics[ch], sizeof(s->topics[ch]), cfg->topics.sensor,
				       cfg->device_id, edge_channel_name(ch), NULL, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "topic templates expand beyond 127 characters");
		goto err_s;
	}
	rc = edge_board_open(board, &s->rt, err, errlen);
	if (rc)
		goto err_s;
	s->n = edge_board_sensor_count(s->rt);
	for (size_t i = 0; i < s->n; i++) {
		const struct edge_board_sensor *d = edge_board_sensor_desc(s->rt, i);
		struct sensor_slot *slot = &s->slots[i];

		slot->owner = s;
		slot->index = i;
		slot->pollfd = -1;
		slot->enabled = d->enabled;
		slot->rl = (struct edge_ratelimit)EDGE_RATELIMIT_INIT(300000, 3);
		slot->error = edge_board_sensor_error(s->rt, i);
		slot->last_retry_ms = edge_now_ms();
		if (slot->enabled && slot->error) {
			log_unavailable(slot, d);
			EDGE_WARN(MOD, "sensor %s (%s): not available: %s; retrying every %d s",
				  d->name, d->compatible, strerror(-slot->error), RETRY_MS / 1000);
		}
		watch_pollfd(slot);
		rc = edge_loop_timer_add(loop, d->interval_ms, d->interval_ms, sensor_timer_cb,
					 slot, &slot->timer);
		if (rc)
			goto err_timers;
	}
	rc = edge_loop_timer_add(loop, cfg->record.interval_ms, cfg->record.interval_ms,
				 record_timer_cb, s, &s->record_timer);
	if (rc)
		goto err_timers;
	*out = s;
	return 0;

err_timers:
	snprintf(err, errlen, "cannot create timers: %s", strerror(-rc));
	edge_sampler_free(s);
	return rc;
err_s:
	free(s);
	return rc ? rc : -EINVAL;
}

void edge_sampler_free(struct edge_sampler *s)
{
	if (!s)
		return;
	edge_sampler_pause(s);
	edge_board_close(s->rt);
	free(s);
}

void edge_sampler_set_observer(struct edge_sampler *s, edge_sampler_observer cb, void *arg)
{
	s->observer = cb;
	s->observer_arg = arg;
}

void edge_sampler_pause(struct edge_sampler *s)
{
	for (size_t i = 0; i < s->n; i++) {
		edge_loop_timer_del(s->loop, s->slots[i].timer);
		s->slots[i].timer = NULL;
		if (s->slots[i].pollfd >= 0)
			edge_loop_fd_del(s->loop, s->slots[i].pollfd);
		s->slots[i].pollfd = -1;
	}
	edge_loop_timer_del(s->loop, s->record_timer);
	s->record_timer = NULL;
}

int edge_sampler_sample_now(struct edge_sampler *s)
{
	int ok = 0;

	for (size_t i = 0; i < s->n; i++) {
		uint64_t before = s->slots[i].readings;

		sample(&s->slots[i], true);
		ok += s->slots[i].readings > before;
	}
	record_timer_cb(s);
	return ok;
}

int edge_sampler_enable(struct edge_sampler *s, const char *name, bool enable)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(edge_board_sensor_desc(s->rt, i)->name, name) != 0)
			continue;
		s->slots[i].enabled = enable;
		if (enable)
			s->slots[i].last_retry_ms = 0; /* bring it up on the next tick */
		return 0;
	}
	return -ENOENT;
}

size_t edge_sampler_sensor_count(const struct edge_sampler *s)
{
	return s->n;
}

void edge_sampler_sensor_health(const struct edge_sampler *s, size_t i,
				struct edge_sensor_health *out)
{
	const struct sensor_slot *slot = &s->slots[i];

	*out = (struct edge_sensor_health){
	    .name = edge_board_sensor_desc(s->rt, i)->name,
	    .enabled = slot->enabled,
	    .healthy = slot->enabled && edge_board_sensor(s->rt, i) && slot->error == 0,
	    .error = slot->error,
	    .errors = slot->errors,
	    .readings = slot->readings,
	    .last_reading_ms = slot->last_reading_ms,
	};
}

void edge_sampler_stats(const struct edge_sampler *s, struct edge_sampler_stats *out)
{
	*out = s->stats;
	out->records_incomplete = s->stats.records_incomplete;
}
