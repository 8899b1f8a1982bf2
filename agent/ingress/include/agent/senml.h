/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_SENML_H
#define EDGE_AGENT_SENML_H
/*
 * SenML packs (RFC 8428) from constrained nodes, in two steps:
 *
 * 1. decode: SenML JSON (Content-Format 110, cJSON) or SenML CBOR (112, the
 *    module's own bounded reader) into resolved records (base name, time,
 *    unit and value applied). Bounded: at most EDGE_SENML_MAX_RECORDS
 *    records, names and units of fixed size; the CBOR path allocates
 *    nothing, the JSON path only cJSON's tree of an input the caller has
 *    already limited (1-2 KiB). Trailing bytes after the pack, duplicate
 *    fields, NaN/Inf, unknown must-understand fields ("..._", unknown base
 *    labels) and bver > 10 are refused.
 * 2. map: each record onto a platform metric (the fixed table below) with
 *    its unit, a plausible range and a time window; the base name may only
 *    name the node itself.
 *
 * Both return 0 or a negative errno with a short diagnostic in diag (the
 * text of the CoAP error answer). Pure functions: no logging, no state.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/record.h"
#include "edge/sensor.h"

#define EDGE_SENML_JSON	       110 /* application/senml+json */
#define EDGE_SENML_CBOR	       112 /* application/senml+cbor */
#define EDGE_SENML_MAX_RECORDS 64
#define EDGE_SENML_NAME_MAX    96 /* bn + n, with the NUL */
#define EDGE_SENML_UNIT_MAX    16
#define EDGE_SENML_DIAG_MAX    64

enum edge_senml_kind {
	EDGE_SENML_NONE, /* only base fields: yields no reading */
	EDGE_SENML_NUMBER,
	EDGE_SENML_STRING,
	EDGE_SENML_BOOL,
	EDGE_SENML_DATA,
	EDGE_SENML_SUM,
};

struct edge_senml_record {
	char name[EDGE_SENML_NAME_MAX]; /* bn + n */
	uint8_t base_len;		/* leading bytes of name that came from bn */
	char unit[EDGE_SENML_UNIT_MAX]; /* u, else bu, else "" */
	enum edge_senml_kind kind;
	double value; /* bv + v (EDGE_SENML_NUMBER) */
	double time;  /* bt + t in seconds; < 2^28 relative to arrival */
};

struct edge_senml_pack {
	size_t n;
	struct edge_senml_record rec[EDGE_SENML_MAX_RECORDS];
};

/* fmt: EDGE_SENML_JSON or EDGE_SENML_CBOR (-EPROTONOSUPPORT otherwise). */
int edge_senml_decode(int fmt, const void *buf, size_t len, struct edge_senml_pack *out, char *diag,
		      size_t diaglen);
int edge_senml_decode_json(const void *buf, size_t len, struct edge_senml_pack *out, char *diag,
			   size_t diaglen);
int edge_senml_decode_cbor(const void *buf, size_t len, struct edge_senml_pack *out, char *diag,
			   size_t diaglen);

/* The metric table: SenML name -> channel, SenML unit, accepted range. */
struct edge_senml_metric {
	const char *name; /* "heartRate" */
	const char *unit; /* "beat/min" */
	enum edge_channel ch;
	enum edge_vital vital;
	double min, max; /* in the SenML unit */
};
/* NULL when name is not in the table. */
const struct edge_senml_metric *edge_senml_metric_find(const char *name);
const struct edge_senml_metric *edge_senml_metrics(size_t *n);

struct edge_senml_reading {
	enum edge_channel ch;
	enum edge_vital vital;
	int32_t value;	/* channel fixed point (edge/sensor.h) */
	uint64_t ts_ms; /* wall clock */
	bool absolute;	/* the node sent an absolute time */
};

#define EDGE_SENML_FUTURE_MS 300000	 /* five minutes of clock skew */
#define EDGE_SENML_REL_LIMIT 268435456.0 /* 2^28: below it a time is relative */

/* Maps every record of p for node_id at wall time now_ms. out holds at least
 * p->n readings. Returns the number of readings, -EPERM when a base name
 * names another node, -EINVAL for an unknown metric, a wrong unit, a value
 * out of range or not a number, a time more than five minutes ahead or older
 * than max_age_s. */
int edge_senml_map(const struct edge_senml_pack *p, const char *node_id, uint64_t now_ms,
		   uint32_t max_age_s, struct edge_senml_reading *out, char *diag, size_t diaglen);

#endif
