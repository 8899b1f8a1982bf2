/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_INGRESS_CBOR_H
#define EDGE_INGRESS_CBOR_H
/*
 * A bounded CBOR (RFC 8949) reader over a caller's buffer: no allocation,
 * every length checked against the bytes left before it is used, nesting
 * limited. Only what SenML needs: heads, numbers, text, simple values and a
 * bounded skip. (libcbor's cbor_load() allocates from declared lengths, so a
 * few bytes of input can ask for gigabytes: not used on untrusted data.)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cbor_major {
	CBOR_UINT = 0,
	CBOR_NINT = 1,
	CBOR_BSTR = 2,
	CBOR_TSTR = 3,
	CBOR_ARRAY = 4,
	CBOR_MAP = 5,
	CBOR_TAG = 6,
	CBOR_SIMPLE = 7,
};

#define CBOR_MAX_DEPTH 8

struct cbor_reader {
	const uint8_t *p, *end;
};

/* One item's head. indef: an indefinite-length string/array/map; brk: the
 * "break" stop code (0xff). For major 7, arg is the simple value (20 false,
 * 21 true, 22 null, 23 undefined) or, for floats, info is 25/26/27 and num
 * holds the value. */
struct cbor_head {
	enum cbor_major major;
	uint8_t info; /* the low five bits of the initial byte */
	uint64_t arg;
	bool indef;
	bool brk;
	double num; /* floats */
};

void cbor_reader_init(struct cbor_reader *r, const void *buf, size_t len);
size_t cbor_left(const struct cbor_reader *r);
/* Reads one head. -EINVAL on truncated input or a reserved encoding. */
int cbor_read_head(struct cbor_reader *r, struct cbor_head *h);
/* After a head of a definite string: the string's bytes (borrowed from the
 * buffer). -EINVAL when fewer than h->arg bytes are left. */
int cbor_take(struct cbor_reader *r, const struct cbor_head *h, const uint8_t **s, size_t *len);
/* The head's value as a number: integers (major 0/1) and floats. -EINVAL for
 * anything else. Integers beyond 2^53 are rounded like any double. */
int cbor_head_number(const struct cbor_head *h, double *out);
/* Skips the item whose head was just read (its contents), at most depth
 * levels deep. -EINVAL when malformed or nested deeper. */
int cbor_skip_rest(struct cbor_reader *r, const struct cbor_head *h, int depth);

#endif
