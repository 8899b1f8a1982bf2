/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_FLEET_TOPIC_H
#define EDGE_FLEET_TOPIC_H
#include <stdbool.h>
#include <stddef.h>

/* "devices/{device_id}/status" -> "devices/+/status" (every {..} level
 * becomes +). Caller frees with free(); NULL on allocation failure. */
char *edge_fleet_topic_filter(const char *tmpl);

/* Matches topic against tmpl level by level; a {..} level matches any one
 * non-empty level, copied to cap (first placeholder only). False when the
 * topic does not match or the captured level does not fit cap_size. */
bool edge_fleet_topic_match(const char *tmpl, const char *topic, char *cap, size_t cap_size);

#endif
