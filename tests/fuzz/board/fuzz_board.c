/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: board descriptor parser. */
#include <stddef.h>
#include <stdint.h>

#include "edge/board.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_board b;
	char err[256];

	err[0] = '\0';
	if (edge_board_parse((const char *)data, size, "fuzz", &b, err, sizeof(err)) == 0) {
		if (b.n_sensors > EDGE_BOARD_MAX_SENSORS || b.n_buses > EDGE_BOARD_MAX_BUSES)
			__builtin_trap();
	} else if (!err[0]) {
		__builtin_trap();
	}
	return 0;
}
