/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "edge/log.h"
#include "edge/provision.h"
#include "provision_glue.h"

#define MOD "provision"

static struct edge_ratelimit rl_retry = EDGE_RATELIMIT_INIT(60000, 5);

void edge_agent_prov_apply_state(struct edge_agent *a)
{
	struct edge_prov_state st;

	if (!a->cfg.provisioning.enabled || edge_prov_state_load(a->cfg.state_dir, &st) != 0)
		return;
	/* The platform names the broker at registration; it wins over mqtt.host/port. */
	if (strcmp(a->cfg.mqtt.host, st.mqtt_host) != 0 ||
	    a->cfg.mqtt.port != (uint32_t)st.mqtt_port)
		EDGE_INFO(MOD, "broker from the registration: %s:%d", st.mqtt_host, st.mqtt_port);
	snprintf(a->cfg.mqtt.host, sizeof(a->cfg.mqtt.host), "%s", st.mqtt_host);
	a->cfg.mqtt.port = (uint32_t)st.mqtt_port;
}

static void reconfigure_uplink(struct edge_agent *a)
{
	char *will = edge_status_json(a, false, NULL);

	if (will)
		edge_uplink_reconfigure(a->uplink, &a->cfg, a->status_topic, will);
	free(will);
}

static void on_prov(const struct edge_prov_result *r, void *arg)
{
	struct edge_agent *a = arg;

	switch (r->event) {
	case EDGE_PROV_REGISTERED:
		EDGE_NOTICE(MOD,
			    "registered as %s (HTTP %ld): certificate %s valid until %lld, broker "
			    "%s:%d%s",
			    r->device_id, r->http_status, r->cert_file, (long long)r->not_after,
			    r->mqtt_host, r->mqtt_port,
			    r->platform_claim_created ? "; realtime platform claim created" : "");
		a->last_error[0] = '\0';
		edge_agent_prov_apply_state(a);
		reconfigure_uplink(a);
		edge_uplink_start(a->uplink);
		break;
	case EDGE_PROV_RENEWED:
		EDGE_NOTICE(MOD, "certificate renewed, valid until %lld: reconnecting",
			    (long long)r->not_after);
		edge_agent_prov_apply_state(a);
		reconfigure_uplink(a);
		edge_uplink_reconnect(a->uplink);
		break;
	case EDGE_PROV_RETRYING:
		EDGE_LOG_RL(&rl_retry, EDGE_LOG_WARNING, MOD,
			    "provisioning API unavailable (%s%s%ld): retrying in %u ms",
			    r->message ? r->message : "", r->http_status ? ", HTTP " : "",
			    r->http_status, r->retry_in_ms);
		break;
	case EDGE_PROV_FAILED:
		EDGE_ERR(MOD,
			 "registration refused%s%.0ld: %s; not retrying (readings stay in the "
			 "outbox; fix provisioning.* and restart)",
			 r->http_status ? " with HTTP " : "", r->http_status,
			 r->message ? r->message : strerror(-r->err));
		snprintf(a->last_error, sizeof(a->last_error), "registration refused: %.200s",
			 r->message ? r->message : strerror(-r->err));
		break;
	case EDGE_PROV_RENEW_FAILED:
		EDGE_WARN(MOD, "certificate renewal refused%s%.0ld: %s; keeping the current one",
			  r->http_status ? " with HTTP " : "", r->http_status,
			  r->message ? r->message : strerror(-r->err));
		break;
	}
}

int edge_agent_prov_start(struct edge_agent *a, bool *hold_uplink)
{
	const struct edge_config *c = &a->cfg;
	const char *sensors[EDGE_BOARD_MAX_SENSORS];
	char default_key[PATH_MAX];
	struct edge_prov_config pc = {0};
	int rc;

	*hold_uplink = false;
	if (!c->provisioning.enabled)
		return 0;
	for (size_t i = 0; i < a->board.n_sensors; i++)
		sensors[pc.n_sensors++] = a->board.sensors[i].compatible;
	snprintf(default_key, sizeof(default_key), "%s/device.key", c->state_dir);
	pc.url = c->provisioning.url;
	pc.ca_file = c->provisioning.ca_file;
	pc.claim_token_file = c->provisioning.claim_token_file;
	pc.key_file = c->mqtt.tls.key_file;
	pc.generate_key = strcmp(c->mqtt.tls.key_file, default_key) == 0;
	pc.cert_file = c->mqtt.tls.cert_file;
	pc.csr_file = *c->provisioning.csr_file ? c->provisioning.csr_file : NULL;
	pc.device_id = c->device_id;
	pc.board = c->board;
	pc.model = c->provisioning.model;
	pc.firmware = EDGE_AGENT_VERSION_STR;
	pc.realtime_platform =
	    *c->provisioning.realtime_platform ? c->provisioning.realtime_platform : NULL;
	pc.sensors = sensors;
	pc.renew_before_days = c->provisioning.renew_before_days;
	rc = edge_prov_client_new(a->loop, &pc, c->state_dir, on_prov, a, &a->prov);
	if (rc) {
		EDGE_ERR(MOD, "provisioning client: %s", strerror(-rc));
		return rc;
	}
	*hold_uplink =
	    edge_prov_need_registration(c->state_dir) || access(c->mqtt.tls.cert_file, R_OK) != 0;
	if (*hold_uplink)
		EDGE_NOTICE(MOD,
			    "no device certificate yet: registering with %s (sampling goes on)",
			    c->provisioning.url);
	rc = edge_prov_client_start(a->prov);
	if (rc) {
		/* e.g. an unreadable certificate: no renewal, but keep sampling; the
		 * uplink reports what is wrong with the TLS files. */
		EDGE_ERR(MOD, "provisioning: %s (%s): renewal disabled", strerror(-rc),
			 c->mqtt.tls.cert_file);
		edge_agent_prov_stop(a);
	}
	return 0;
}

void edge_agent_prov_stop(struct edge_agent *a)
{
	edge_prov_client_free(a->prov);
	a->prov = NULL;
}
