/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the Blood Pressure Measurement (0x2A35) decoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edge/bp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const struct edge_bp_value *v)
{
	int32_t x;

	if (edge_bp_value_int(v, &x) == 0 && !v->valid)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_bp_measurement m;
	int64_t x;

	if (edge_bp_decode(data, size, &m) == 0) {
		if (size < 7)
			abort();
		check_value(&m.systolic);
		check_value(&m.diastolic);
		check_value(&m.map);
		check_value(&m.pulse);
		if (m.has_time && !(m.flags & EDGE_BP_FLAG_TIME))
			abort();
	}
	if (size >= 3)
		(void)edge_sfloat_scaled(edge_sfloat_decode((uint16_t)(data[0] | data[1] << 8)),
					 (int)(int8_t)data[2] % 21, &x);
	return 0;
}
