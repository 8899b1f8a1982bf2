/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the NMEA stream parser and the sentence parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edge/nmea.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_nmea_parser p;
	struct edge_nmea_state st = {0};
	struct edge_nmea_sentence s;
	size_t cut = size ? data[0] % (size + 1) : 0;

	/* as a stream, split at an input-chosen point (partial lines) */
	edge_nmea_init(&p);
	edge_nmea_feed(&p, data, cut, &st);
	edge_nmea_feed(&p, data + cut, size - cut, &st);
	if (p.len > EDGE_NMEA_MAX_LINE)
		abort();
	if (st.has_fix && (st.lat_e7 > 900000000 || st.lat_e7 < -900000000 ||
			   st.lon_e7 > 1800000000 || st.lon_e7 < -1800000000))
		abort();
	/* as one sentence */
	if (edge_nmea_parse((const char *)data, size, &s) == 0 && s.has_position &&
	    (s.lat_e7 > 900000000 || s.lat_e7 < -900000000))
		abort();
	return 0;
}
