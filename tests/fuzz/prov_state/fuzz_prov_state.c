/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: <state_dir>/provisioning.json as the agent reads it at
 * start and after every registration or renewal (provisioning/state.c,
 * edge_prov_state_load()). The input is the file.
 * Checks: a load that succeeds leaves every string terminated inside its
 * field; a failed load returns a negative errno and leaves the state zeroed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/provision.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	struct edge_prov_state st;
	int rc;

	if (!path[0])
		fuzz_path(path, sizeof(path), "provisioning.json");
	fuzz_write_file(path, data, size);
	memset(&st, 0x5a, sizeof(st));
	rc = edge_prov_state_load(fuzz_tmpdir(), &st);
	if (rc > 0)
		abort();
	terminated(st.device_id, sizeof(st.device_id));
	terminated(st.mqtt_host, sizeof(st.mqtt_host));
	terminated(st.cert_file, sizeof(st.cert_file));
	terminated(st.key_file, sizeof(st.key_file));
	terminated(st.ca_file, sizeof(st.ca_file));
	if (edge_prov_need_registration(fuzz_tmpdir()) != true)
		abort(); /* no device.crt in the scratch directory */
	return 0;
}
