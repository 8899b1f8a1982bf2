/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: edge-provisiond's configuration file through its
 * public loader, srv_config_load() (provisioning/server/config.c). The
 * input is the file.
 * Checks: 0 means a configuration the server can start with (every path
 * derived, numbers inside their documented bounds, claim options known);
 * a refusal returns a negative errno, explains itself and frees everything.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_valid(const struct srv_config *c)
{
	if (!c->listen_addr || !c->state_dir || !c->db_file || !c->ca_cert_file ||
	    !c->ca_key_file || !c->tls_cert_file || !c->tls_key_file || !c->admin_token_file ||
	    !c->gitops_dir || !c->mqtt_host || !c->claim.database || !c->claim.visualization ||
	    !c->k8s_namespace)
		abort();
	if (c->port < 1 || c->port > 65535 || c->mqtt_port < 1 || c->mqtt_port > 65535 ||
	    c->dynsec_port < 1 || c->dynsec_port > 65535)
		abort();
	if (c->cert_validity_s < 10 || c->cert_validity_s > 3650LL * 86400 || c->backdate_s < 0 ||
	    c->backdate_s > 86400)
		abort();
	if (c->max_body < 256 || c->max_body > 1048576 || !(c->rate_per_s >= 0.01) ||
	    c->rate_per_s > 1e6 || c->rate_burst < 1 || c->threads < 1 || c->threads > 64 ||
	    c->max_connections < 1 || c->max_connections > 65536)
		abort();
	if (c->claim.min_replicas < 0 || c->claim.max_replicas < c->claim.min_replicas)
		abort();
	if (c->k8s_url && !c->k8s_token_file)
		abort();
	for (size_t i = 0; i < c->claim.n_mqtt_users; i++)
		if (!c->claim.mqtt_users[i].username || !c->claim.mqtt_users[i].password)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	struct srv_config cfg;
	char err[SRV_ERR_LEN];
	int rc;

	if (!path[0])
		fuzz_path(path, sizeof(path), "provisiond.json");
	fuzz_write_file(path, data, size);
	err[0] = '\0';
	rc = srv_config_load(path, &cfg, err, sizeof(err));
	if (rc == 0) {
		check_valid(&cfg);
		srv_config_free(&cfg);
	} else if (rc > 0 || !err[0]) {
		abort();
	}
	return 0;
}
