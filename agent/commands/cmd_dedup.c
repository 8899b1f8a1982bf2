/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cmd_dedup.h"
#include "edge/cfgtab.h"
#include "edge/file.h"

/* Wall-clock milliseconds stay below 2^53 until about the year 287000. */
#define AT_MAX_MS (UINT64_C(1) << 53)

struct entry {
	char *id;
	char *result;
	uint64_t at_ms; /* wall clock */
};

struct edge_dedup {
	char *path;
	size_t max;
	uint64_t ttl_ms;
	struct entry *e; /* oldest first */
	size_t n, cap;
	bool dirty;
};

static void drop_first(struct edge_dedup *d, size_t k)
{
	if (k == 0)
		return;
	for (size_t i = 0; i < k; i++) {
		free(d->e[i].id);
		free(d->e[i].result);
	}
	memmove(d->e, d->e + k, (d->n - k) * sizeof(*d->e));
	d->n -= k;
	d->dirty = true;
}

static void prune(struct edge_dedup *d, uint64_t now_ms)
{
	size_t k = 0;

	while (k < d->n &&
	       (d->e[k].at_ms + d->ttl_ms <= now_ms || d->e[k].at_ms > now_ms + d->ttl_ms))
		k++;
	if (d->n - k > d->max)
		k = d->n - d->max;
	drop_first(d, k);
}

/* The stored form of an oversized result: id, status, message. */
static char *shrink(const char *result)
{
	cJSON *r = cJSON_Parse(result), *s = cJSON_CreateObject();
	const char *keys[] = {"id", "status", "message"};
	char *out = NULL;

	if (r && s) {
		for (size_t i = 0; i < 3; i++) {
			cJSON *v = cJSON_GetObjectItemCaseSensitive(r, keys[i]);

			if (v)
				cJSON_AddItemToObject(s, keys[i], cJSON_Duplicate(v, true));
		}
		cJSON_AddStringToObject(s, "note", "result too large to keep; data omitted");
		cJSON_AddNullToObject(s, "data");
		out = cJSON_PrintUnformatted(s);
	}
	cJSON_Delete(r);
	cJSON_Delete(s);
	if (out && strlen(out) > EDGE_DEDUP_RESULT_MAX) {
		free(out);
		out = NULL;
	}
	return out ? out : strdup("{\"id\":null,\"status\":\"error\",\"message\":\"result lost\"}");
}

static int append(struct edge_dedup *d, const char *id, const char *result, uint64_t at)
{
	struct entry *e;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct entry *ne = realloc(d->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		d->e = ne;
		d->cap = cap;
	}
	e = &d->e[d->n];
	e->id = strdup(id);
	e->result = strlen(result) > EDGE_DEDUP_RESULT_MAX ? shrink(result) : strdup(result);
	e->at_ms = at;
	if (!e->id || !e->result) {
		free(e->id);
		free(e->result);
		return -ENOMEM;
	}
	d->n++;
	return 0;
}

static void load(struct edge_dedup *d, uint64_t now_ms)
{
	char *buf;
	size_t len;
	cJSON *arr, *it;

	if (edge_file_read(d->path, 64u << 20, &buf, &len))
		return;
	arr = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		return;
	}
	cJSON_ArrayForEach (it, arr) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "result");
		uint64_t at;

		/* a damaged "at" (1e30, -1, 1.5) drops the entry; checked before
		 * the cast, and small enough that at + ttl cannot wrap */
		if (cJSON_IsString(id) && cJSON_IsString(r) &&
		    edge_json_to_u64(cJSON_GetObjectItemCaseSensitive(it, "at"), 0, AT_MAX_MS,
				     &at) == 0)
			append(d, id->valuestring, r->valuestring, at);
	}
	cJSON_Delete(arr);
	prune(d, now_ms);
	d->dirty = false;
}

int edge_dedup_open(const char *path, size_t max, uint64_t ttl_ms, uint64_t now_ms,
		    struct edge_dedup **out)
{
	struct edge_dedup *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return -ENOMEM;
	}
	d->max = max ? max : 1;
	d->ttl_ms = ttl_ms;
	load(d, now_ms);
	*out = d;
	return 0;
}

void edge_dedup_set_limits(struct edge_dedup *d, size_t max, uint64_t ttl_ms)
{
	d->max = max ? max : 1;
	d->ttl_ms = ttl_ms;
}

void edge_dedup_free(struct edge_dedup *d)
{
	if (!d)
		return;
	edge_dedup_flush(d);
	drop_first(d, d->n);
	free(d->e);
	free(d->path);
	free(d);
}

const char *edge_dedup_get(struct edge_dedup *d, const char *id, uint64_t now_ms)
{
	prune(d, now_ms);
	for (size_t i = d->n; i-- > 0;)
		if (strcmp(d->e[i].id, id) == 0)
			return d->e[i].result;
	return NULL;
}

int edge_dedup_put(struct edge_dedup *d, const char *id, const char *result, uint64_t now_ms,
		   bool sync)
{
	int rc;

	prune(d, now_ms);
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->e[i].id, id) == 0) {
			free(d->e[i].id);
			free(d->e[i].result);
			memmove(&d->e[i], &d->e[i + 1], (d->n - i - 1) * sizeof(*d->e));
			d->n--;
			break;
		}
	}
	if (d->n >= d->max)
		drop_first(d, d->n - d->max + 1);
	rc = append(d, id, result, now_ms);
	if (rc)
		return rc;
	d->dirty = true;
	return sync ? edge_dedup_flush(d) : 0;
}

int edge_dedup_flush(struct edge_dedup *d)
{
	cJSON *arr;
	char *text;
	int rc;

	if (!d->dirty)
		return 0;
	arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < d->n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		cJSON_AddStringToObject(o, "id", d->e[i].id);
		cJSON_AddNumberToObject(o, "at", (double)d->e[i].at_ms);
		cJSON_AddStringToObject(o, "result", d->e[i].result);
		cJSON_AddItemToArray(arr, o);
	}
	text = arr ? cJSON_PrintUnformatted(arr) : NULL;
	cJSON_Delete(arr);
	if (!text)
		return -ENOMEM;
	rc = edge_file_write_atomic(d->path, text, strlen(text), 0600);
	free(text);
	if (rc == 0)
		d->dirty = false;
	return rc;
}

size_t edge_dedup_count(const struct edge_dedup *d)
{
	return d->n;
}
