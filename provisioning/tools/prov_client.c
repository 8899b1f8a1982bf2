/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edge-prov-client: drives the agent's provisioning library on its own
 * edge_loop, for diagnostics, tests and the benchmark. A 100 ms ticker runs
 * beside it to show the loop keeps turning during a registration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/log.h"
#include "edge/loop.h"
#include "edge/provision.h"
#include "edge/spawn.h"
#include "edge/time.h"

#define MOD "prov-client"

struct app {
	struct edge_loop *loop;
	unsigned ticks;
	unsigned renewals, want_renewals;
	int exit_code;
	bool exit_on_register;
};

static const char *event_name(enum edge_prov_event e)
{
	switch (e) {
	case EDGE_PROV_REGISTERED:
		return "REGISTERED";
	case EDGE_PROV_RENEWED:
		return "RENEWED";
	case EDGE_PROV_RETRYING:
		return "RETRYING";
	case EDGE_PROV_FAILED:
		return "FAILED";
	case EDGE_PROV_RENEW_FAILED:
		return "RENEW_FAILED";
	}
	return "?";
}

static void on_done(const struct edge_prov_result *r, void *arg)
{
	struct app *a = arg;

	printf("event=%s status=%ld err=%d ticks=%u retry_ms=%u claim_created=%d not_after=%lld "
	       "mqtt=%s:%d message=%s\n",
	       event_name(r->event), r->http_status, r->err, a->ticks, r->retry_in_ms,
	       r->platform_claim_created, (long long)r->not_after,
	       r->mqtt_host ? r->mqtt_host : "-", r->mqtt_port, r->message ? r->message : "-");
	fflush(stdout);
	switch (r->event) {
	case EDGE_PROV_REGISTERED:
		if (a->exit_on_register) {
			a->exit_code = 0;
			edge_loop_stop(a->loop);
		}
		break;
	case EDGE_PROV_RENEWED:
		if (++a->renewals >= a->want_renewals && a->want_renewals) {
			a->exit_code = 0;
			edge_loop_stop(a->loop);
		}
		break;
	case EDGE_PROV_FAILED:
		a->exit_code = 3;
		edge_loop_stop(a->loop);
		break;
	default:
		break;
	}
}

static void on_tick(void *arg)
{
	((struct app *)arg)->ticks++;
}

static void on_deadline(void *arg)
{
	struct app *a = arg;

	printf("event=TIMEOUT ticks=%u\n", a->ticks);
	a->exit_code = 4;
	edge_loop_stop(a->loop);
}

static void usage(void)
{
	printf(
	    "usage: edge-prov-client --url URL --ca FILE --token-file FILE --device-id ID\n"
	    "       --state-dir DIR [--key FILE|pkcs11:URI] [--pkcs11-module SO] [--pin-file F]\n"
	    "       [--csr FILE] [--board B] [--platform NAME]\n"
	    "       [--sensor NAME]... [--renew-before-days D] [--renewals N] [--seconds S]\n"
	    "       [--retry-base-ms MS] [--retry-cap-ms MS] [--parent-pid PID]\n"
	    "Registers (or renews N times with --renewals) and prints one line per event.\n");
}

int main(int argc, char **argv)
{
	struct edge_prov_config cfg = {0};
	const char *state_dir = NULL;
	const char *sensors[16];
	struct edge_prov_client *c = NULL;
	struct app a = {.exit_code = 1, .exit_on_register = true};
	double seconds = 60;
	pid_t parent = 0;
	int rc;

	cfg.model = "edge-gateway";
	cfg.firmware = "0.1.0";
	cfg.sensors = sensors;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "--help") == 0) {
			usage();
			return 0;
		}
		if (!v) {
			fprintf(stderr, "edge-prov-client: %s needs a value\n", k);
			return 2;
		}
		i++;
		if (strcmp(k, "--url") == 0)
			cfg.url = v;
		else if (strcmp(k, "--ca") == 0)
			cfg.ca_file = v;
		else if (strcmp(k, "--token-file") == 0)
			cfg.claim_token_file = v;
		else if (strcmp(k, "--parent-pid") == 0)
			parent = (pid_t)strtol(v, NULL, 10);
		else if (strcmp(k, "--device-id") == 0)
			cfg.device_id = v;
		else if (strcmp(k, "--state-dir") == 0)
			state_dir = v;
		else if (strcmp(k, "--key") == 0)
			cfg.key_file = v;
		else if (strcmp(k, "--csr") == 0)
			cfg.csr_file = v;
		else if (strcmp(k, "--pkcs11-module") == 0)
			cfg.pkcs11_module = v;
		else if (strcmp(k, "--pin-file") == 0)
			cfg.pin_file = v;
		else if (strcmp(k, "--board") == 0)
			cfg.board = v;
		else if (strcmp(k, "--platform") == 0)
			cfg.realtime_platform = v;
		else if (strcmp(k, "--sensor") == 0 && cfg.n_sensors < 16)
			sensors[cfg.n_sensors++] = v;
		else if (strcmp(k, "--renew-before-days") == 0)
			cfg.renew_before_days = strtod(v, NULL);
		else if (strcmp(k, "--renewals") == 0) {
			a.want_renewals = (unsigned)strtoul(v, NULL, 10);
			a.exit_on_register = a.want_renewals == 0;
		} else if (strcmp(k, "--seconds") == 0)
			seconds = strtod(v, NULL);
		else if (strcmp(k, "--retry-base-ms") == 0)
			cfg.retry_base_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "--retry-cap-ms") == 0)
			cfg.retry_cap_ms = (uint32_t)strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "edge-prov-client: unknown option %s\n", k);
			return 2;
		}
	}
	if (!state_dir) {
		usage();
		return 2;
	}
	/* Started by the agent: leave with it, even when it is SIGKILLed. */
	if (parent && edge_spawn_die_with_parent(parent) == -ESRCH) {
		fprintf(stderr, "edge-prov-client: the agent (pid %d) is gone\n", (int)parent);
		return 2;
	}
	if ((rc = edge_loop_new(&a.loop)) != 0 ||
	    (rc = edge_prov_client_new(a.loop, &cfg, state_dir, on_done, &a, &c)) != 0) {
		fprintf(stderr, "edge-prov-client: %s\n", strerror(-rc));
		edge_loop_free(a.loop);
		return 2;
	}
	edge_loop_timer_add(a.loop, 100, 100, on_tick, &a, NULL);
	if (seconds > 0) /* 0: no deadline (the agent runs it until done) */
		edge_loop_timer_add(a.loop, (uint64_t)(seconds * 1000), 0, on_deadline, &a, NULL);
	rc = edge_prov_client_start(c);
	if (rc) {
		fprintf(stderr, "edge-prov-client: start: %s\n", strerror(-rc));
		a.exit_code = 2;
	} else {
		edge_loop_run(a.loop);
	}
	edge_prov_client_free(c);
	edge_loop_free(a.loop);
	return a.exit_code;
}
