/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/registry.h"
#include "fleet/status.h"

#define MAX_SEVERITIES 8 /* per device: bounds the alert series a device can create */

struct alert_count {
	char severity[EDGE_FLEET_SEV_MAX + 1];
	uint64_t firing;
	uint64_t resolved;
};

/* What a device's OTA report says (allocated on its first report). */
struct ota_info {
	struct edge_fleet_ota r;
	char counted_id[EDGE_FLEET_STR_MAX +
			1]; /* otaId (else version) of the last outcome counted */
	char counted_result[EDGE_FLEET_OTA_STATE_MAX + 1];
	uint32_t gen; /* resync generation of its last report */
};

enum { OTA_SUCCESS, OTA_FAILURE, OTA_ROLLED_BACK, OTA_RESULTS };
static const char *const ota_results[OTA_RESULTS] = {"success", "failure", "rolled_back"};

struct device {
	char *id;
	char *label; /* device_id="<escaped id>", rendered once */
	size_t label_len;
	uint32_t hash;
	bool has_status;
	enum edge_fleet_state state;
	char board[EDGE_FLEET_STR_MAX + 1];
	char version[EDGE_FLEET_STR_MAX + 1];
	char firmware[EDGE_FLEET_STR_MAX + 1];
	char boot[EDGE_FLEET_STR_MAX + 1];
	uint32_t present;
	int64_t num[EDGE_FLEET_F_COUNT];
	uint64_t last_seen_ms; /* 0: unknown */
	uint32_t gen;	       /* resync generation of its last status */
	size_t n_sensors;
	struct edge_fleet_sensor *sensors;
	size_t n_alerts;
	struct alert_count *alerts; /* most devices never alert: allocated on the first */
	struct ota_info *ota;	    /* NULL until the first OTA report */
};

struct edge_fleet {
	struct edge_fleet_opts opts;
	char *version;
	/* dense array of devices + open-addressing index (slot = index + 1) */
	struct device **devs;
	size_t n, cap;
	uint32_t *slots;
	size_t nslots;
	uint32_t gen;
	/* one parse buffer, reused: a status is ~3 KB with all its sensors */
	struct edge_fleet_status st;
	/* self-metrics */
	uint64_t msgs_status, msgs_alert;
	uint64_t errs_status, errs_alert;
	uint64_t fields_skipped;
	uint64_t removed, refused, stale_wills, resync_removed;
	uint64_t connects;
	bool connected;
	uint64_t last_render_us;
	size_t last_render_bytes;
	uint64_t scrapes;
	uint64_t msgs_ota, errs_ota;
	uint64_t ota_results[OTA_RESULTS];
};

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

int edge_fleet_new(const struct edge_fleet_opts *opts, struct edge_fleet **out)
{
	struct edge_fleet *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->opts = *opts;
	if (!f->opts.max_devices)
		f->opts.max_devices = 100000;
	f->version = strdup(opts->version ? opts->version : "");
	f->nslots = 1024;
	f->slots = calloc(f->nslots, sizeof(*f->slots));
	if (!f->version || !f->slots) {
		edge_fleet_free(f);
		return -ENOMEM;
	}
	f->opts.version = NULL;
	*out = f;
	return 0;
}

static void device_free(struct device *d)
{
	if (!d)
		return;
	free(d->id);
	free(d->label);
	free(d->sensors);
	free(d->alerts);
	free(d->ota);
	free(d);
}

void edge_fleet_free(struct edge_fleet *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		device_free(f->devs[i]);
	free(f->devs);
	free(f->slots);
	free(f->version);
	free(f);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t slot_of(const struct edge_fleet *f, const char *id, uint32_t h)
{
	size_t mask = f->nslots - 1;
	size_t i = h & mask;

	while (f->slots[i]) {
		const struct device *d = f->devs[f->slots[i] - 1];

		if (d->hash == h && !strcmp(d->id, id))
			return i;
		i = (i + 1) & mask;
	}
	return i;
}

static struct device *lookup(const struct edge_fleet *f, const char *id, uint32_t h)
{
	size_t i = slot_of(f, id, h);

	return f->slots[i] ? f->devs[f->slots[i] - 1] : NULL;
}

static int rehash(struct edge_fleet *f, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < f->n; k++) {
		size_t i = f->devs[k]->hash & (nslots - 1);

		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint32_t)(k + 1);
	}
	free(f->slots);
	f->slots = slots;
	f->nslots = nslots;
	return 0;
}

static char *make_label(const char *id)
{
	struct edge_fleet_buf b = {0};
	char *label;

	edge_fleet_buf_puts(&b, "device_id=\"");
	edge_fleet_buf_put_label_value(&b, id);
	edge_fleet_buf_putc(&b, '"');
	if (b.oom) {
		edge_fleet_buf_free(&b);
		return NULL;
	}
	/* the buffer starts at 4 KiB: keep only what the label needs */
	label = strdup(b.data);
	edge_fleet_buf_free(&b);
	return label;
}

static int insert(struct edge_fleet *f, const char *id, uint32_t h, struct device **out)
{
	struct device *d;
	size_t i;

	if (f->n >= f->opts.max_devices) {
		f->refused++;
		return -ENOSPC;
	}
	if ((f->n + 1) * 10 > f->nslots * 7 && rehash(f, f->nslots * 2))
		return -ENOMEM;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		struct device **devs = realloc(f->devs, cap * sizeof(*devs));

		if (!devs)
			return -ENOMEM;
		f->devs = devs;
		f->cap = cap;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->id = strdup(id);
	d->label = make_label(id);
	if (!d->id || !d->label) {
		device_free(d);
		return -ENOMEM;
	}
	d->label_len = strlen(d->label);
	d->hash = h;
	i = slot_of(f, id, h);
	f->devs[f->n] = d;
	f->slots[i] = (uint32_t)(f->n + 1);
	f->n++;
	*out = d;
	return 0;
}

/* Linear-probing delete with backward shift (no tombstones), then a
 * swap-remove from the dense array. */
static void remove_dev(struct edge_fleet *f, struct device *d)
{
	size_t mask = f->nslots - 1;
	size_t i = slot_of(f, d->id, d->hash);
	size_t idx = f->slots[i] - 1;
	size_t last = f->n - 1;
	size_t j = i;

	f->slots[i] = 0;
	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (!f->slots[j])
			break;
		k = f->devs[f->slots[j] - 1]->hash & mask;
		/* move j back into the hole i unless its home k lies in (i, j] */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		f->slots[i] = f->slots[j];
		f->slots[j] = 0;
		i = j;
	}
	if (idx != last) {
		struct device *moved = f->devs[last];

		f->devs[idx] = moved;
		f->slots[slot_of(f, moved->id, moved->hash)] = (uint32_t)(idx + 1);
	}
	f->n--;
	device_free(d);
	f->removed++;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= EDGE_FLEET_ID_MAX && edge_fleet_text_ok(id, n);
}

static int set_sensors(struct device *d, const struct edge_fleet_status *st)
{
	struct edge_fleet_sensor *s = NULL;

	if (st->n_sensors) {
		s = malloc(st->n_sensors * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memcpy(s, st->sensors, st->n_sensors * sizeof(*s));
	}
	free(d->sensors);
	d->sensors = s;
	d->n_sensors = st->n_sensors;
	return 0;
}

static void set_str(char *dst, const char *src, bool replace)
{
	if (replace || src[0])
		strcpy(dst, src);
}

int edge_fleet_on_status(struct edge_fleet *f, const char *device_id, const void *payload,
			 size_t len, bool retained, uint64_t now_wall_ms)
{
	struct edge_fleet_status *st = &f->st;
	uint32_t h;
	struct device *d;
	bool replace;
	int rc;

	f->msgs_status++;
	if (!id_ok(device_id)) {
		f->errs_status++;
		return -EINVAL;
	}
	h = hash_id(device_id);
	d = lookup(f, device_id, h);
	if (d)
		d->gen = f->gen; /* whatever it says, the broker still has it */
	if (len == 0) {		 /* retained status cleared: the device is gone */
		if (d)
			remove_dev(f, d);
		return 0;
	}
	rc = edge_fleet_status_parse(payload, len, st);
	if (rc) {
		f->errs_status++;
		return rc;
	}
	f->fields_skipped += st->skipped;
	if (st->device_id[0] && strcmp(st->device_id, device_id))
		f->fields_skipped++; /* the topic names the device; the payload's id is ignored */
	if (d && st->state == EDGE_FLEET_STATE_OFFLINE && d->state == EDGE_FLEET_STATE_ONLINE &&
	    st->boot[0] && d->boot[0] && strcmp(st->boot, d->boot)) {
		f->stale_wills++;
		return 1;
	}
	if (!d) {
		rc = insert(f, device_id, h, &d);
		if (rc)
			return rc;
		d->gen = f->gen;
	}

	/* online replaces everything; offline/unknown (a Last Will) merges */
	replace = st->state == EDGE_FLEET_STATE_ONLINE || !d->has_status;
	if (replace) {
		d->present = st->present;
		memcpy(d->num, st->num, sizeof(d->num));
	} else {
		for (int i = 0; i < EDGE_FLEET_F_COUNT; i++)
			if (st->present & (1u << i))
				d->num[i] = st->num[i];
		d->present |= st->present;
	}
	if ((replace || st->n_sensors) && set_sensors(d, st))
		return -ENOMEM;
	set_str(d->board, st->board, replace);
	set_str(d->version, st->version, replace);
	set_str(d->firmware, st->firmware, replace);
	set_str(d->boot, st->boot, replace);
	d->state = st->state;
	d->has_status = true;
	/* live: now; retained: the status's own time, if it says */
	if (!retained)
		d->last_seen_ms = now_wall_ms;
	else if (st->present & (1u << EDGE_FLEET_F_TIMESTAMP_MS))
		d->last_seen_ms = (uint64_t)st->num[EDGE_FLEET_F_TIMESTAMP_MS];
	return 0;
}

static bool severity_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EDGE_FLEET_SEV_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

int edge_fleet_on_alert(struct edge_fleet *f, const char *topic_severity, const void *payload,
			size_t len)
{
	struct edge_fleet_alert a;
	const char *sev;
	struct device *d;
	struct alert_count *c = NULL;
	uint32_t h;
	int rc;

	f->msgs_alert++;
	rc = edge_fleet_alert_parse(payload, len, &a);
	if (!rc && !id_ok(a.device_id))
		rc = -EINVAL;
	sev = topic_severity && topic_severity[0] ? topic_severity : a.severity;
	if (!rc && !severity_ok(sev))
		rc = -EINVAL;
	if (rc) {
		f->errs_alert++;
		return rc;
	}
	f->fields_skipped += a.skipped;
	h = hash_id(a.device_id);
	d = lookup(f, a.device_id, h);
	if (!d) {
		rc = insert(f, a.device_id, h, &d);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < d->n_alerts; i++)
		if (!strcmp(d->alerts[i].severity, sev))
			c = &d->alerts[i];
	if (!c) {
		struct alert_count *grown;

		if (d->n_alerts == MAX_SEVERITIES) {
			f->errs_alert++;
			return -ENOSPC;
		}
		grown = realloc(d->alerts, (d->n_alerts + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		d->alerts = grown;
		c = &d->alerts[d->n_alerts++];
		memset(c, 0, sizeof(*c));
		strcpy(c->severity, sev);
	}
	if (a.resolved)
		c->resolved++;
	else
		c->firing++;
	return 0;
}

int edge_fleet_on_ota(struct edge_fleet *f, const char *device_id, const void *payload, size_t len,
		      bool retained)
{
	struct edge_fleet_ota r;
	struct device *d;
	const char *key;
	uint32_t h;
	int rc;

	f->msgs_ota++;
	if (!id_ok(device_id)) {
		f->errs_ota++;
		return -EINVAL;
	}
	h = hash_id(device_id);
	d = lookup(f, device_id, h);
	if (len == 0) { /* the retained report cleared */
		if (d && d->ota) {
			free(d->ota);
			d->ota = NULL;
		}
		return 0;
	}
	rc = edge_fleet_ota_parse(payload, len, &r);
	if (rc) {
		f->errs_ota++;
		return rc;
	}
	f->fields_skipped += r.skipped;
	if (!d) {
		rc = insert(f, device_id, h, &d);
		if (rc)
			return rc;
	}
	if (!d->ota) {
		d->ota = calloc(1, sizeof(*d->ota));
		if (!d->ota)
			return -ENOMEM;
	}
	d->ota->r = r;
	d->ota->gen = f->gen;
	/* the report stays retained with its outcome and is sent again at
	 * every change of progress or reconnection: one count per outcome */
	key = r.ota_id[0] ? r.ota_id : r.version;
	if (r.result[0] &&
	    (strcmp(d->ota->counted_id, key) || strcmp(d->ota->counted_result, r.result))) {
		if (!retained)
			for (int i = 0; i < OTA_RESULTS; i++)
				if (!strcmp(r.result, ota_results[i]))
					f->ota_results[i]++;
		strcpy(d->ota->counted_id, key);
		strcpy(d->ota->counted_result, r.result);
	}
	return 0;
}

void edge_fleet_set_mqtt_connected(struct edge_fleet *f, bool connected)
{
	if (connected && !f->connected)
		f->connects++;
	f->connected = connected;
}

void edge_fleet_resync_begin(struct edge_fleet *f)
{
	f->gen++;
}

size_t edge_fleet_resync_end(struct edge_fleet *f)
{
	size_t removed = 0;

	for (size_t i = 0; i < f->n;) {
		struct device *d = f->devs[i];

		if (d->has_status && d->gen != f->gen) {
			remove_dev(f, d); /* moves the last device to i */
			removed++;
			continue;
		}
		/* an OTA report cleared while the exporter was away */
		if (d->ota && d->ota->gen != f->gen) {
			free(d->ota);
			d->ota = NULL;
		}
		i++;
	}
	f->resync_removed += removed;
	return removed;
}

bool edge_fleet_mqtt_connected(const struct edge_fleet *f)
{
	return f->connected;
}

void edge_fleet_note_render(struct edge_fleet *f, uint64_t duration_us, size_t bytes)
{
	f->last_render_us = duration_us;
	f->last_render_bytes = bytes;
}

static bool is_up(const struct edge_fleet *f, const struct device *d, uint64_t now)
{
	if (!d->has_status || d->state != EDGE_FLEET_STATE_ONLINE)
		return false;
	if (!f->opts.stale_after_s || !d->last_seen_ms || d->last_seen_ms >= now)
		return true;
	return now - d->last_seen_ms <= (uint64_t)f->opts.stale_after_s * 1000u;
}

size_t edge_fleet_devices(const struct edge_fleet *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->devs[i]->has_status;
	return n;
}

size_t edge_fleet_online(const struct edge_fleet *f, uint64_t now_wall_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += is_up(f, f->devs[i], now_wall_ms);
	return n;
}

/* ---- rendering ---------------------------------------------------------- */

static void family(struct edge_fleet_buf *b, const char *name, const char *type, const char *help)
{
	edge_fleet_buf_puts(b, "# HELP ");
	edge_fleet_buf_puts(b, name);
	edge_fleet_buf_putc(b, ' ');
	edge_fleet_buf_puts(b, help);
	edge_fleet_buf_puts(b, "\n# TYPE ");
	edge_fleet_buf_puts(b, name);
	edge_fleet_buf_putc(b, ' ');
	edge_fleet_buf_puts(b, type);
	edge_fleet_buf_putc(b, '\n');
}

/* "name{device_id="..."" + tail: the start of every per-device sample, in
 * one append (a scrape of 10,000 devices writes 200,000 of them). */
static void dev_head(struct edge_fleet_buf *b, const char *name, const struct device *d,
		     const char *tail, size_t tail_len)
{
	size_t n = strlen(name);
	char *p = edge_fleet_buf_extend(b, n + 1 + d->label_len + tail_len);

	if (!p)
		return;
	memcpy(p, name, n);
	p[n] = '{';
	memcpy(p + n + 1, d->label, d->label_len);
	memcpy(p + n + 1 + d->label_len, tail, tail_len);
}

static void dev_open(struct edge_fleet_buf *b, const char *name, const struct device *d)
{
	dev_head(b, name, d, "", 0);
}

static void dev_sample(struct edge_fleet_buf *b, const char *name, const struct device *d)
{
	dev_head(b, name, d, "} ", 2);
}

static void scalar(struct edge_fleet_buf *b, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(b, name, type, help);
	edge_fleet_buf_puts(b, name);
	edge_fleet_buf_putc(b, ' ');
	edge_fleet_buf_put_i64(b, (int64_t)v);
	edge_fleet_buf_putc(b, '\n');
}

enum scale { RAW, MS_TO_S, KB_TO_BYTES };

static const struct numeric_family {
	enum edge_fleet_field field;
	enum scale scale;
	const char *name;
	const char *type;
	const char *help;
} numeric_families[] = {
    {EDGE_FLEET_F_UPTIME_S, RAW, "edge_device_uptime_seconds", "gauge",
     "Seconds since the agent started, as last reported."},
    {EDGE_FLEET_F_BACKLOG, RAW, "edge_device_backlog", "gauge",
     "Records waiting in the device's outbox, as last reported."},
    {EDGE_FLEET_F_DROPPED, RAW, "edge_device_dropped_total", "counter",
     "Records the device dropped because its outbox was full."},
    {EDGE_FLEET_F_RECONNECTS, RAW, "edge_device_reconnects_total", "counter",
     "MQTT reconnects of the device since it started."},
    {EDGE_FLEET_F_LAST_PUBLISH_MS, MS_TO_S, "edge_device_last_publish_timestamp_seconds", "gauge",
     "When the device last had a publish acknowledged (device clock)."},
    {EDGE_FLEET_F_TIMESTAMP_MS, MS_TO_S, "edge_device_status_timestamp_seconds", "gauge",
     "The timestamp of the device's last status (device clock)."},
    {EDGE_FLEET_F_CERT_EXPIRES_MS, MS_TO_S, "edge_device_cert_expiry_timestamp_seconds", "gauge",
     "When the device's client certificate expires."},
    {EDGE_FLEET_F_RSS_KB, KB_TO_BYTES, "edge_device_memory_rss_bytes", "gauge",
     "Resident memory of the agent process."},
    {EDGE_FLEET_F_PSS_KB, KB_TO_BYTES, "edge_device_memory_pss_bytes", "gauge",
     "Proportional set size of the agent process."},
    {EDGE_FLEET_F_ALERTS_ACTIVE, RAW, "edge_device_alerts_active", "gauge",
     "Edge alerts firing on the device, as last reported."},
    {EDGE_FLEET_F_RECORDS_INCOMPLETE, RAW, "edge_device_records_incomplete_total", "counter",
     "Health records the device could not build (a vital missing in its window)."},
    {EDGE_FLEET_F_INGRESS_NODES, RAW, "edge_device_ingress_nodes", "gauge",
     "CoAP nodes the gateway has keys for."},
    {EDGE_FLEET_F_INGRESS_ACTIVE, RAW, "edge_device_ingress_nodes_active", "gauge",
     "CoAP nodes heard from within the gateway's session timeout."},
    {EDGE_FLEET_F_INGRESS_SESSIONS, RAW, "edge_device_ingress_sessions", "gauge",
     "Established DTLS sessions of CoAP nodes."},
    {EDGE_FLEET_F_INGRESS_ACCEPTED, RAW, "edge_device_ingress_accepted_total", "counter",
     "SenML packs from CoAP nodes committed and answered 2.04."},
    {EDGE_FLEET_F_INGRESS_REFUSED, RAW, "edge_device_ingress_refused_total", "counter",
     "Requests from CoAP nodes refused (4.xx, 5.xx; rate limits apart)."},
    {EDGE_FLEET_F_INGRESS_RATE_LIMITED, RAW, "edge_device_ingress_rate_limited_total", "counter",
     "Requests from CoAP nodes answered 4.29 (rate limit)."},
};

static void put_scaled(struct edge_fleet_buf *b, int64_t v, enum scale s)
{
	switch (s) {
	case MS_TO_S:
		edge_fleet_buf_put_ms_as_s(b, v);
		break;
	case KB_TO_BYTES:
		edge_fleet_buf_put_i64(b, v > INT64_MAX / 1024 ? INT64_MAX : v * 1024);
		break;
	default:
		edge_fleet_buf_put_i64(b, v);
	}
}

static void render_devices(struct edge_fleet *f, struct edge_fleet_buf *b, uint64_t now)
{
	family(
	    b, "edge_device_up", "gauge",
	    "1 when the device's last status says online (and is not older than stale_after_s).");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		if (!d->has_status)
			continue;
		dev_sample(b, "edge_device_up", d);
		edge_fleet_buf_put(b, is_up(f, d, now) ? "1\n" : "0\n", 2);
	}

	family(b, "edge_device_last_seen_timestamp_seconds", "gauge",
	       "When the exporter last heard from the device (a retained status: its timestamp).");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		if (!d->has_status || !d->last_seen_ms)
			continue;
		dev_sample(b, "edge_device_last_seen_timestamp_seconds", d);
		edge_fleet_buf_put_ms_as_s(b, (int64_t)d->last_seen_ms);
		edge_fleet_buf_putc(b, '\n');
	}

	family(b, "edge_device_info", "gauge",
	       "Firmware, version and board of the device; the value is always 1.");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		if (!d->has_status || !(d->firmware[0] || d->version[0] || d->board[0]))
			continue;
		dev_open(b, "edge_device_info", d);
		edge_fleet_buf_puts(b, ",firmware=\"");
		edge_fleet_buf_put_label_value(b, d->firmware);
		edge_fleet_buf_puts(b, "\",version=\"");
		edge_fleet_buf_put_label_value(b, d->version);
		edge_fleet_buf_puts(b, "\",board=\"");
		edge_fleet_buf_put_label_value(b, d->board);
		edge_fleet_buf_puts(b, "\"} 1\n");
	}

	for (size_t k = 0; k < sizeof(numeric_families) / sizeof(numeric_families[0]); k++) {
		const struct numeric_family *nf = &numeric_families[k];
		uint32_t bit = 1u << nf->field;

		family(b, nf->name, nf->type, nf->help);
		for (size_t i = 0; i < f->n; i++) {
			const struct device *d = f->devs[i];

			if (!d->has_status || !(d->present & bit))
				continue;
			dev_sample(b, nf->name, d);
			put_scaled(b, d->num[nf->field], nf->scale);
			edge_fleet_buf_putc(b, '\n');
		}
	}
}

static void sensor_open(struct edge_fleet_buf *b, const char *name, const struct device *d,
			const struct edge_fleet_sensor *s)
{
	dev_open(b, name, d);
	edge_fleet_buf_puts(b, ",sensor=\"");
	edge_fleet_buf_put_label_value(b, s->name);
	edge_fleet_buf_put(b, "\"} ", 3);
}

static void render_sensors(struct edge_fleet *f, struct edge_fleet_buf *b)
{
	static const char *healthy = "edge_device_sensor_healthy";
	static const char *enabled = "edge_device_sensor_enabled";
	static const char *errors = "edge_device_sensor_errors_total";
	static const char *last = "edge_device_sensor_last_reading_timestamp_seconds";

	family(b, healthy, "gauge", "1 when the sensor reported healthy, 0 when not.");
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->devs[i]->n_sensors; j++) {
			const struct edge_fleet_sensor *s = &f->devs[i]->sensors[j];

			if (s->healthy < 0)
				continue;
			sensor_open(b, healthy, f->devs[i], s);
			edge_fleet_buf_put(b, s->healthy ? "1\n" : "0\n", 2);
		}
	family(
	    b, enabled, "gauge",
	    "1 when the sensor is enabled, 0 when disabled (a disabled sensor reports unhealthy).");
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->devs[i]->n_sensors; j++) {
			const struct edge_fleet_sensor *s = &f->devs[i]->sensors[j];

			if (s->enabled < 0)
				continue;
			sensor_open(b, enabled, f->devs[i], s);
			edge_fleet_buf_put(b, s->enabled ? "1\n" : "0\n", 2);
		}
	family(b, errors, "counter", "Read errors of the sensor since the agent started.");
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->devs[i]->n_sensors; j++) {
			const struct edge_fleet_sensor *s = &f->devs[i]->sensors[j];

			if (!s->has_errors)
				continue;
			sensor_open(b, errors, f->devs[i], s);
			edge_fleet_buf_put_i64(b, s->errors);
			edge_fleet_buf_putc(b, '\n');
		}
	family(b, last, "gauge", "When the sensor last produced a reading (device clock).");
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->devs[i]->n_sensors; j++) {
			const struct edge_fleet_sensor *s = &f->devs[i]->sensors[j];

			if (!s->has_last_reading)
				continue;
			sensor_open(b, last, f->devs[i], s);
			edge_fleet_buf_put_ms_as_s(b, s->last_reading_ms);
			edge_fleet_buf_putc(b, '\n');
		}
}

static void render_alerts(struct edge_fleet *f, struct edge_fleet_buf *b, bool resolved)
{
	const char *name = resolved ? "edge_alerts_resolved_total" : "edge_alerts_total";

	family(b, name, "counter",
	       resolved ? "Edge alert episodes that ended, per device and severity."
			: "Edge alerts that fired, per device and severity (alerts/{severity}).");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		for (size_t j = 0; j < d->n_alerts; j++) {
			dev_open(b, name, d);
			edge_fleet_buf_puts(b, ",severity=\"");
			edge_fleet_buf_put_label_value(b, d->alerts[j].severity);
			edge_fleet_buf_put(b, "\"} ", 3);
			edge_fleet_buf_put_i64(
			    b, (int64_t)(resolved ? d->alerts[j].resolved : d->alerts[j].firing));
			edge_fleet_buf_putc(b, '\n');
		}
	}
}

static void render_ota(struct edge_fleet *f, struct edge_fleet_buf *b)
{
	family(b, "edge_ota_state", "gauge",
	       "The state of the device's OTA update (from devices/{id}/ota); 1 for the current "
	       "state.");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		if (!d->ota || !d->ota->r.state[0])
			continue;
		dev_open(b, "edge_ota_state", d);
		edge_fleet_buf_puts(b, ",state=\"");
		edge_fleet_buf_puts(b, d->ota->r.state); /* a known word: no escaping needed */
		edge_fleet_buf_puts(b, "\"} 1\n");
	}
	family(b, "edge_ota_info", "gauge",
	       "The version an OTA update installs, the version it started from and the "
	       "installer; always 1.");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		if (!d->ota || !(d->ota->r.version[0] || d->ota->r.from_version[0]))
			continue;
		dev_open(b, "edge_ota_info", d);
		edge_fleet_buf_puts(b, ",version=\"");
		edge_fleet_buf_put_label_value(b, d->ota->r.version);
		edge_fleet_buf_puts(b, "\",from_version=\"");
		edge_fleet_buf_put_label_value(b, d->ota->r.from_version);
		edge_fleet_buf_puts(b, "\",installer=\"");
		edge_fleet_buf_puts(b, d->ota->r.installer);
		edge_fleet_buf_puts(b, "\"} 1\n");
	}
	family(
	    b, "edge_ota_progress_ratio", "gauge",
	    "Progress of the device's OTA update step, 0 to 1 (download bytes or install units).");
	for (size_t i = 0; i < f->n; i++) {
		const struct device *d = f->devs[i];

		if (!d->ota || !d->ota->r.has_ratio)
			continue;
		dev_sample(b, "edge_ota_progress_ratio", d);
		edge_fleet_buf_put_double(b, d->ota->r.ratio);
		edge_fleet_buf_putc(b, '\n');
	}
	family(b, "edge_ota_results_total", "counter",
	       "OTA outcomes reported live by devices since the exporter started, by result.");
	for (int i = 0; i < OTA_RESULTS; i++) {
		edge_fleet_buf_puts(b, "edge_ota_results_total{result=\"");
		edge_fleet_buf_puts(b, ota_results[i]);
		edge_fleet_buf_puts(b, "\"} ");
		edge_fleet_buf_put_i64(b, (int64_t)f->ota_results[i]);
		edge_fleet_buf_putc(b, '\n');
	}
}

static void kind_pair(struct edge_fleet_buf *b, const char *name, const char *help, uint64_t st,
		      uint64_t al, uint64_t ota)
{
	family(b, name, "counter", help);
	edge_fleet_buf_puts(b, name);
	edge_fleet_buf_puts(b, "{kind=\"status\"} ");
	edge_fleet_buf_put_i64(b, (int64_t)st);
	edge_fleet_buf_putc(b, '\n');
	edge_fleet_buf_puts(b, name);
	edge_fleet_buf_puts(b, "{kind=\"alert\"} ");
	edge_fleet_buf_put_i64(b, (int64_t)al);
	edge_fleet_buf_putc(b, '\n');
	edge_fleet_buf_puts(b, name);
	edge_fleet_buf_puts(b, "{kind=\"ota\"} ");
	edge_fleet_buf_put_i64(b, (int64_t)ota);
	edge_fleet_buf_putc(b, '\n');
}

static void render_self(struct edge_fleet *f, struct edge_fleet_buf *b)
{
	kind_pair(b, "edge_exporter_messages_received_total", "MQTT messages received, by kind.",
		  f->msgs_status, f->msgs_alert, f->msgs_ota);
	kind_pair(b, "edge_exporter_parse_errors_total",
		  "Messages ignored: not a JSON object, bad device id or severity.", f->errs_status,
		  f->errs_alert, f->errs_ota);
	scalar(b, "edge_exporter_fields_skipped_total", "counter",
	       "Known status/alert fields ignored for their type, range or encoding.",
	       f->fields_skipped);
	scalar(b, "edge_exporter_stale_wills_total", "counter",
	       "Offline wills of an earlier boot ignored because the device is online again.",
	       f->stale_wills);
	scalar(b, "edge_exporter_devices_removed_total", "counter",
	       "Devices forgotten because their retained status was cleared.", f->removed);
	scalar(b, "edge_exporter_devices_resync_removed_total", "counter",
	       "Devices forgotten because their retained status did not come back after a "
	       "reconnection.",
	       f->resync_removed);
	scalar(b, "edge_exporter_devices_refused_total", "counter",
	       "New devices refused because max_devices was reached.", f->refused);
	scalar(b, "edge_exporter_mqtt_connected", "gauge",
	       "1 while the exporter is connected to the broker.", f->connected);
	scalar(b, "edge_exporter_mqtt_connects_total", "counter",
	       "Successful MQTT connections (the first one included).", f->connects);
	scalar(b, "edge_exporter_scrapes_total", "counter", "Scrapes of /metrics served.",
	       f->scrapes);
	family(b, "edge_exporter_render_duration_seconds", "gauge",
	       "Time the previous scrape took to render.");
	edge_fleet_buf_puts(b, "edge_exporter_render_duration_seconds ");
	edge_fleet_buf_put_double(b, (double)f->last_render_us / 1e6);
	edge_fleet_buf_putc(b, '\n');
	scalar(b, "edge_exporter_render_bytes", "gauge", "Size of the previous scrape's body.",
	       f->last_render_bytes);
	family(b, "edge_exporter_build_info", "gauge", "The exporter's version; always 1.");
	edge_fleet_buf_puts(b, "edge_exporter_build_info{version=\"");
	edge_fleet_buf_put_label_value(b, f->version);
	edge_fleet_buf_puts(b, "\"} 1\n");
}

int edge_fleet_render(struct edge_fleet *f, struct edge_fleet_buf *b, uint64_t now_wall_ms)
{
	size_t total = 0, online = 0;

	f->scrapes++;
	/* the previous body's size is the best guess for this one */
	edge_fleet_buf_reserve(b, b->len + f->last_render_bytes + f->last_render_bytes / 8 + 1);
	for (size_t i = 0; i < f->n; i++) {
		total += f->devs[i]->has_status;
		online += is_up(f, f->devs[i], now_wall_ms);
	}
	scalar(b, "edge_devices_total", "gauge", "Devices with a status (online or not).", total);
	scalar(b, "edge_devices_online", "gauge", "Devices that are up (see edge_device_up).",
	       online);
	render_devices(f, b, now_wall_ms);
	render_sensors(f, b);
	render_alerts(f, b, false);
	render_alerts(f, b, true);
	render_ota(f, b);
	render_self(f, b);
	return b->oom ? -ENOMEM : 0;
}
