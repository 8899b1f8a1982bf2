/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cbor.h"

void cbor_reader_init(struct cbor_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
}

size_t cbor_left(const struct cbor_reader *r)
{
	return (size_t)(r->end - r->p);
}

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* IEEE 754 binary16 (RFC 8949 appendix D) */
static double half(uint16_t h)
{
	int exp = (h >> 10) & 0x1f;
	int mant = h & 0x3ff;
	double v;

	if (exp == 0)
		v = ldexp(mant, -24);
	else if (exp == 31)
		v = mant ? (double)NAN : (double)INFINITY;
	else
		v = ldexp(mant + 1024, exp - 25);
	return h & 0x8000 ? -v : v;
}

int cbor_read_head(struct cbor_reader *r, struct cbor_head *h)
{
	uint8_t ib;
	size_t n;

	if (r->p >= r->end)
		return -EINVAL;
	ib = *r->p++;
	memset(h, 0, sizeof(*h));
	h->major = (enum cbor_major)(ib >> 5);
	h->info = ib & 0x1f;
	if (h->info < 24) {
		h->arg = h->info;
	} else if (h->info <= 27) {
		n = (size_t)1 << (h->info - 24);
		if (cbor_left(r) < n)
			return -EINVAL;
		h->arg = be(r->p, n);
		r->p += n;
	} else if (h->info == 31) {
		if (h->major == CBOR_SIMPLE) {
			h->brk = true;
			return 0;
		}
		if (h->major < CBOR_BSTR || h->major == CBOR_TAG)
			return -EINVAL; /* no indefinite integers or tags */
		h->indef = true;
		return 0;
	} else {
		return -EINVAL; /* 28..30 reserved */
	}
	if (h->major == CBOR_SIMPLE) {
		if (h->info == 24 && h->arg < 32)
			return -EINVAL; /* two-byte form of a one-byte simple value */
		if (h->info == 25) {
			h->num = half((uint16_t)h->arg);
		} else if (h->info == 26) {
			uint32_t u = (uint32_t)h->arg;
			float f;

			memcpy(&f, &u, sizeof(f));
			h->num = (double)f;
		} else if (h->info == 27) {
			memcpy(&h->num, &h->arg, sizeof(h->num));
		}
	}
	return 0;
}

int cbor_take(struct cbor_reader *r, const struct cbor_head *h, const uint8_t **s, size_t *len)
{
	if ((h->major != CBOR_BSTR && h->major != CBOR_TSTR) || h->indef || h->arg > cbor_left(r))
		return -EINVAL;
	*s = r->p;
	*len = (size_t)h->arg;
	r->p += h->arg;
	return 0;
}

int cbor_head_number(const struct cbor_head *h, double *out)
{
	switch (h->major) {
	case CBOR_UINT:
		*out = (double)h->arg;
		return 0;
	case CBOR_NINT:
		*out = -1.0 - (double)h->arg;
		return 0;
	case CBOR_SIMPLE:
		if (h->info >= 25 && h->info <= 27) {
			*out = h->num;
			return 0;
		}
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

static int skip_item(struct cbor_reader *r, int depth)
{
	struct cbor_head h;
	int rc = cbor_read_head(r, &h);

	if (rc)
		return rc;
	if (h.brk)
		return -EINVAL;
	return cbor_skip_rest(r, &h, depth);
}

int cbor_skip_rest(struct cbor_reader *r, const struct cbor_head *h, int depth)
{
	struct cbor_head c;
	uint64_t items;
	int rc;

	switch (h->major) {
	case CBOR_UINT:
	case CBOR_NINT:
		return 0;
	case CBOR_SIMPLE:
		return h->brk ? -EINVAL : 0;
	case CBOR_BSTR:
	case CBOR_TSTR:
		if (!h->indef) {
			if (h->arg > cbor_left(r))
				return -EINVAL;
			r->p += h->arg;
			return 0;
		}
		/* chunks: definite strings of the same major type, then break */
		for (;;) {
			rc = cbor_read_head(r, &c);
			if (rc)
				return rc;
			if (c.brk)
				return 0;
			if (c.major != h->major || c.indef || c.arg > cbor_left(r))
				return -EINVAL;
			r->p += c.arg;
		}
	case CBOR_TAG:
		if (depth <= 0)
			return -EINVAL;
		return skip_item(r, depth - 1);
	case CBOR_ARRAY:
	case CBOR_MAP:
		if (depth <= 0)
			return -EINVAL;
		if (h->indef) {
			for (;;) {
				rc = cbor_read_head(r, &c);
				if (rc)
					return rc;
				if (c.brk)
					return 0;
				rc = cbor_skip_rest(r, &c, depth - 1);
				if (!rc && h->major == CBOR_MAP)
					rc = skip_item(r, depth - 1);
				if (rc)
					return rc;
			}
		}
		/* every item takes at least one byte: a count beyond what is
		 * left is malformed, and the loop below stays bounded */
		if (h->arg > cbor_left(r))
			return -EINVAL;
		items = h->major == CBOR_MAP ? h->arg * 2 : h->arg;
		for (uint64_t i = 0; i < items; i++) {
			rc = skip_item(r, depth - 1);
			if (rc)
				return rc;
		}
		return 0;
	}
	return -EINVAL;
}
