/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_OTA_CORE_PRIV_H
#define EDGE_OTA_CORE_PRIV_H
/* Shared between the files of edge_ota_core; not installed. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/ota/manifest.h"

/* The manifest schema applied to an already parsed object (the JWS payload,
 * or the "manifest" member of state.json). why is prefixed with prefix
 * ("" or "manifest.") before the field name. strict_keys: an unknown key
 * is refused (a signed manifest) rather than ignored (state.json, which a
 * newer agent may have written). 0 or -EINVAL. */
int ota_manifest_from_object(const cJSON *o, const char *prefix, bool strict_keys,
			     struct edge_ota_manifest *m, char *why, size_t whylen);

/* The manifest as a cJSON object (NULL on allocation failure). */
cJSON *ota_manifest_to_object(const struct edge_ota_manifest *m);

/* Adds an integer member written in decimal digits. cJSON prints numbers
 * with 15 significant digits and accepts the result when it is within a
 * relative epsilon: 9007199254740992 would come out as
 * 9.00719925474099e+15, another size. NULL on allocation failure. */
cJSON *ota_add_u64(cJSON *o, const char *key, uint64_t v);
cJSON *ota_add_i64(cJSON *o, const char *key, int64_t v);

/* 64 hex digits of either case, folded to lower case into out. */
bool ota_sha256_hex(const char *s, char out[65]);

/* Fills why (when given) with the formatted text; returns rc. */
__attribute__((format(printf, 4, 5))) int ota_why(int rc, char *why, size_t whylen, const char *fmt,
						  ...);

#endif
