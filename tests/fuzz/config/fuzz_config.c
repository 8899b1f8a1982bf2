/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the agent's JSON configuration parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_config cfg;
	char err[512];

	err[0] = '\0';
	if (edge_config_parse((const char *)data, size, "fuzz.json", &cfg, err, sizeof(err)) == 0) {
		/* a config that parses is complete and self-consistent */
		if (!cfg.device_id[0] || !cfg.mqtt.tls.ca_file[0] || !cfg.mqtt.client_id[0])
			__builtin_trap();
	} else if (!err[0]) {
		__builtin_trap(); /* every refusal explains itself */
	}
	return 0;
}
