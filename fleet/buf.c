/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/buf.h"

void edge_fleet_buf_reserve(struct edge_fleet_buf *b, size_t cap)
{
	char *p;

	if (b->oom || cap <= b->cap)
		return;
	p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->data = p;
	b->cap = cap;
}

/* Room for n more bytes plus the terminating NUL; doubles the capacity so a
 * render of N bytes reallocates O(log N) times at most. */
static bool room(struct edge_fleet_buf *b, size_t n)
{
	size_t need, cap;

	if (b->oom)
		return false;
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	edge_fleet_buf_reserve(b, cap);
	return !b->oom;
}

void edge_fleet_buf_put(struct edge_fleet_buf *b, const char *s, size_t n)
{
	if (!room(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

char *edge_fleet_buf_extend(struct edge_fleet_buf *b, size_t n)
{
	char *p;

	if (!room(b, n))
		return NULL;
	p = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return p;
}

void edge_fleet_buf_puts(struct edge_fleet_buf *b, const char *s)
{
	edge_fleet_buf_put(b, s, strlen(s));
}

void edge_fleet_buf_putc(struct edge_fleet_buf *b, char c)
{
	edge_fleet_buf_put(b, &c, 1);
}

void edge_fleet_buf_put_i64(struct edge_fleet_buf *b, int64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	edge_fleet_buf_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void edge_fleet_buf_put_ms_as_s(struct edge_fleet_buf *b, int64_t ms)
{
	int64_t sec = ms / 1000;
	int64_t frac = ms % 1000;
	char dec[5];
	size_t n = 4;

	if (ms < 0 && frac) {
		/* keep it simple and exact for the rare negative value */
		edge_fleet_buf_put_double(b, (double)ms / 1000.0);
		return;
	}
	edge_fleet_buf_put_i64(b, sec);
	if (!frac)
		return;
	dec[0] = '.';
	dec[1] = (char)('0' + frac / 100);
	dec[2] = (char)('0' + frac / 10 % 10);
	dec[3] = (char)('0' + frac % 10);
	while (dec[n - 1] == '0')
		n--;
	edge_fleet_buf_put(b, dec, n);
}

void edge_fleet_buf_put_double(struct edge_fleet_buf *b, double v)
{
	char tmp[40];
	int n;

	if (isnan(v)) {
		edge_fleet_buf_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		edge_fleet_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == (double)(int64_t)v && fabs(v) < 9007199254740992.0) {
		edge_fleet_buf_put_i64(b, (int64_t)v);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	if (n > 0)
		edge_fleet_buf_put(b, tmp, (size_t)n);
}

void edge_fleet_buf_put_label_value(struct edge_fleet_buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc;

		switch (*s) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\n':
			esc = "\\n";
			break;
		default:
			continue;
		}
		edge_fleet_buf_put(b, run, (size_t)(s - run));
		edge_fleet_buf_put(b, esc, 2);
		run = s + 1;
	}
	edge_fleet_buf_put(b, run, (size_t)(s - run));
}

char *edge_fleet_buf_steal(struct edge_fleet_buf *b, size_t *len)
{
	char *d = b->data;

	if (len)
		*len = b->len;
	*b = (struct edge_fleet_buf){0};
	return d;
}

void edge_fleet_buf_reset(struct edge_fleet_buf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->data)
		b->data[0] = '\0';
}

void edge_fleet_buf_free(struct edge_fleet_buf *b)
{
	free(b->data);
	*b = (struct edge_fleet_buf){0};
}
