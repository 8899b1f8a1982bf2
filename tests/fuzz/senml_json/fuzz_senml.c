/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a SenML decoder of the CoAP ingress (SENML_FORMAT: JSON
 * or CBOR, set by the target's CMakeLists) and the mapping of what it
 * accepts (agent/ingress/senml.c). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/senml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct edge_senml_pack pack;
static struct edge_senml_reading rd[EDGE_SENML_MAX_RECORDS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char diag[EDGE_SENML_DIAG_MAX];
	int rc, n;

	diag[0] = '\0';
	rc = edge_senml_decode(SENML_FORMAT, data, size, &pack, diag, sizeof(diag));
	if (rc) {
		/* every refusal explains itself and leaves no records */
		if (rc != -EINVAL || !diag[0] || pack.n)
			__builtin_trap();
		return 0;
	}
	if (pack.n > EDGE_SENML_MAX_RECORDS)
		__builtin_trap();
	for (size_t i = 0; i < pack.n; i++) {
		const struct edge_senml_record *r = &pack.rec[i];
		size_t len = strnlen(r->name, sizeof(r->name));

		if (len == 0 || len == sizeof(r->name) || r->base_len > len ||
		    strnlen(r->unit, sizeof(r->unit)) == sizeof(r->unit))
			__builtin_trap();
		if (r->kind == EDGE_SENML_NUMBER && !(r->value == r->value))
			__builtin_trap(); /* NaN never passes */
	}
	diag[0] = '\0';
	n = edge_senml_map(&pack, "node-01", 1763762000000ull, 86400, rd, diag, sizeof(diag));
	if (n < 0 && ((n != -EINVAL && n != -EPERM) || !diag[0]))
		__builtin_trap();
	for (int i = 0; i < n; i++)
		if (rd[i].ts_ms > 1763762000000ull + EDGE_SENML_FUTURE_MS ||
		    rd[i].ts_ms < 1763762000000ull - 86400000ull)
			__builtin_trap();
	return 0;
}
