/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's parsing of provisioning API answers (success and error). */
#include <stddef.h>
#include <stdint.h>

#include "edge/provision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_prov_response r;
	const char *why;
	char msg[128];

	if (edge_prov_parse_response((const char *)data, size, &r, &why) == 0)
		edge_prov_response_clear(&r);
	edge_prov_parse_error((const char *)data, size, msg, sizeof(msg));
	return 0;
}
