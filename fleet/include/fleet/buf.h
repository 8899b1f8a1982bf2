/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FLEET_BUF_H
#define EDGE_FLEET_BUF_H
/*
 * A growing byte buffer for rendering the exposition text. Appends never
 * fail individually: an allocation failure sets `oom` and later appends do
 * nothing, so a renderer checks once at the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge_fleet_buf {
	char *data; /* owned; NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	bool oom;
};

/* Makes room for at least cap bytes in total. */
void edge_fleet_buf_reserve(struct edge_fleet_buf *b, size_t cap);
void edge_fleet_buf_put(struct edge_fleet_buf *b, const char *s, size_t n);
/* Appends n bytes for the caller to fill; NULL (and nothing appended) when
 * out of memory. The pointer is valid until the next append. */
char *edge_fleet_buf_extend(struct edge_fleet_buf *b, size_t n);
void edge_fleet_buf_puts(struct edge_fleet_buf *b, const char *s);
void edge_fleet_buf_putc(struct edge_fleet_buf *b, char c);
void edge_fleet_buf_put_i64(struct edge_fleet_buf *b, int64_t v);
/* Milliseconds as seconds with up to three decimals ("1763762000.5"). */
void edge_fleet_buf_put_ms_as_s(struct edge_fleet_buf *b, int64_t ms);
/* A double in the shortest form that reads back exactly; NaN/+Inf/-Inf as
 * the exposition format spells them. */
void edge_fleet_buf_put_double(struct edge_fleet_buf *b, double v);
/* A label value escaped for the text exposition format: \ " and newline. */
void edge_fleet_buf_put_label_value(struct edge_fleet_buf *b, const char *s);
/* Hands the data to the caller (free() it); the buffer is empty after. */
char *edge_fleet_buf_steal(struct edge_fleet_buf *b, size_t *len);
void edge_fleet_buf_reset(struct edge_fleet_buf *b);
void edge_fleet_buf_free(struct edge_fleet_buf *b);

#endif
