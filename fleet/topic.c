/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "fleet/topic.h"

static size_t level_len(const char *s)
{
	const char *e = strchr(s, '/');

	return e ? (size_t)(e - s) : strlen(s);
}

static bool is_placeholder(const char *s, size_t n)
{
	return n >= 2 && s[0] == '{' && s[n - 1] == '}';
}

char *edge_fleet_topic_filter(const char *tmpl)
{
	char *out = malloc(strlen(tmpl) + 1);
	char *o = out;

	if (!out)
		return NULL;
	for (;;) {
		size_t n = level_len(tmpl);

		if (is_placeholder(tmpl, n)) {
			*o++ = '+';
		} else {
			memcpy(o, tmpl, n);
			o += n;
		}
		tmpl += n;
		if (!*tmpl)
			break;
		*o++ = *tmpl++; /* the '/' */
	}
	*o = '\0';
	return out;
}

bool edge_fleet_topic_match(const char *tmpl, const char *topic, char *cap, size_t cap_size)
{
	bool captured = false;

	for (;;) {
		size_t tn = level_len(tmpl);
		size_t n = level_len(topic);

		if (is_placeholder(tmpl, tn)) {
			if (n == 0)
				return false;
			if (!captured) {
				if (n >= cap_size)
					return false;
				memcpy(cap, topic, n);
				cap[n] = '\0';
				captured = true;
			}
		} else if (tn != n || memcmp(tmpl, topic, n)) {
			return false;
		}
		tmpl += tn;
		topic += n;
		if (!*tmpl || !*topic)
			return !*tmpl && !*topic;
		tmpl++;
		topic++;
	}
}
