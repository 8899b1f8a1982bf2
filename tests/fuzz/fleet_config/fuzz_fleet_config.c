/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: edge-fleet-exporter's configuration file and flags
 * through the public loader, edge_fleet_config_load() (fleet/config.c).
 *
 * Input: the file, then optionally NUL and up to four command-line
 * arguments separated by NUL (flags override the file).
 * Checks: 0 means a configuration the exporter can run with (host,
 * protocol, ports, topic templates, listen address, log level all set and
 * in range); 1 means --help/--version wrote to out; a refusal returns a
 * negative errno and explains itself on err.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_valid(const struct edge_fleet_config *c)
{
	if (!c->mqtt_host || !c->mqtt_host[0] || !c->mqtt_protocol || !c->status_topic ||
	    !c->alert_topic || !c->listen_address || !c->log_level || !c->mqtt_client_id ||
	    !c->mqtt_username || !c->mqtt_password_file || !c->tls_ca_file || !c->tls_cert_file ||
	    !c->tls_key_file)
		abort();
	if (strcmp(c->mqtt_protocol, "v5") && strcmp(c->mqtt_protocol, "v311"))
		abort();
	if (c->mqtt_port < 1 || c->mqtt_port > 65535 || c->listen_port < 1 ||
	    c->listen_port > 65535 || c->max_devices < 1 || c->backoff_cap_ms < c->backoff_base_ms)
		abort();
	if (!strstr(c->status_topic, "{device_id}") || !strstr(c->alert_topic, "{severity}") ||
	    strpbrk(c->status_topic, "+#") || strpbrk(c->alert_topic, "+#"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[300];
	char args[4][256], *argv[8];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	struct edge_fleet_config cfg;
	char *out_text = NULL, *err_text = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *out, *err;
	int argc = 0, rc;

	if (!path[0])
		fuzz_path(path, sizeof(path), "exporter.json");
	fuzz_write_file(path, data, flen);
	argv[argc++] = (char *)"edge-fleet-exporter";
	argv[argc++] = (char *)"--config";
	argv[argc++] = path;
	if (nul) {
		data = nul + 1;
		size -= flen + 1;
		for (int i = 0; i < 4 && size > 0; i++) {
			fuzz_take_string(&data, &size, args[i], sizeof(args[i]));
			argv[argc++] = args[i];
		}
	}
	argv[argc] = NULL;
	out = open_memstream(&out_text, &out_len);
	err = open_memstream(&err_text, &err_len);
	if (!out || !err)
		abort();
	rc = edge_fleet_config_load(&cfg, argc, argv, out, err);
	fflush(out);
	fflush(err);
	if (rc == 0)
		check_valid(&cfg);
	else if (rc == 1 && out_len == 0)
		abort(); /* --help / --version print something */
	else if (rc < 0 && err_len == 0)
		abort(); /* every refusal explains itself */
	else if (rc > 1)
		abort();
	edge_fleet_config_free(&cfg);
	fclose(out);
	fclose(err);
	free(out_text);
	free(err_text);
	return 0;
}
