/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the helpers' line protocol (edge/ota/progress.h). Every
 * line of a known word that parses must format back (within the protocol's
 * 512 bytes) and parse again to the same message; NUL-terminated fields must
 * be terminated; a refused line leaves a zeroed message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/ota/progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct edge_ota_msg zero;
	struct edge_ota_msg m, back;
	char buf[EDGE_OTA_LINE_MAX + 64];
	int n;

	if (edge_ota_msg_parse((const char *)data, size, &m) != 0) {
		if (memcmp(&m, &zero, sizeof(m)) != 0)
			abort();
		return 0;
	}
	if (!memchr(m.word, '\0', sizeof(m.word)) || !memchr(m.text, '\0', sizeof(m.text)))
		abort();
	if (m.ev == EDGE_OTA_EV_UNKNOWN)
		return 0;
	n = edge_ota_msg_format(buf, sizeof(buf), &m);
	if (n <= 0 || n > EDGE_OTA_LINE_MAX || buf[n - 1] != '\n')
		abort();
	if (edge_ota_msg_parse(buf, (size_t)n - 1, &back) != 0 || memcmp(&m, &back, sizeof(m)) != 0)
		abort();
	return 0;
}
