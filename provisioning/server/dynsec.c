/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "srv.h"

/* The dynamic-security command batch that gives device <id> a role allowing
 * exactly its own topics. */
int srv_dynsec_commands(const char *id, bool remove, char **json_out)
{
	static const struct {
		const char *type;
		const char *pre; /* topic = pre + (own ? id + "/#" : "") */
		bool own;
	} acls[] = {
	    {"publishClientSend", "health/device_data", false},
	    {"publishClientSend", "sensors/", true},
	    {"publishClientSend", "devices/", true},
	    {"publishClientSend", "alerts/#", false},
	    {"subscribePattern", "commands/", true},
	    {"publishClientReceive", "commands/", true},
	};
	char role[80], topic[160];
	cJSON *root = cJSON_CreateObject();
	cJSON *cmds = cJSON_AddArrayToObject(root, "commands");
	cJSON *c;

	snprintf(role, sizeof(role), "device-%s", id);
	if (remove) {
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "command", "deleteClient");
		cJSON_AddStringToObject(c, "username", id);
		cJSON_AddItemToArray(cmds, c);
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "command", "deleteRole");
		cJSON_AddStringToObject(c, "rolename", role);
		cJSON_AddItemToArray(cmds, c);
	} else {
		cJSON *acl_arr;

		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "command", "createRole");
		cJSON_AddStringToObject(c, "rolename", role);
		acl_arr = cJSON_AddArrayToObject(c, "acls");
		for (size_t i = 0; i < sizeof(acls) / sizeof(acls[0]); i++) {
			cJSON *a = cJSON_CreateObject();

			snprintf(topic, sizeof(topic), "%s%s%s", acls[i].pre, acls[i].own ? id : "",
				 acls[i].own ? "/#" : "");
			cJSON_AddStringToObject(a, "acltype", acls[i].type);
			cJSON_AddStringToObject(a, "topic", topic);
			cJSON_AddNumberToObject(a, "priority", 0);
			cJSON_AddBoolToObject(a, "allow", 1);
			cJSON_AddItemToArray(acl_arr, a);
		}
		cJSON_AddItemToArray(cmds, c);
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "command", "createClient");
		cJSON_AddStringToObject(c, "username", id);
		cJSON *roles = cJSON_AddArrayToObject(c, "roles");
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "rolename", role);
		cJSON_AddItemToArray(roles, r);
		cJSON_AddItemToArray(cmds, c);
	}
	*json_out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return *json_out ? 0 : -ENOMEM;
}

/* A persistent admin connection (libmosquitto's own network thread); each
 * batch is published QoS 1 and waited for until its PUBACK. The plugin
 * answers "already exists" for repeats, which makes adds idempotent. */
struct srv_dynsec {
	struct mosquitto *mosq;
	pthread_mutex_t op_lock; /* one batch at a time */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int acked_mid;
	bool connected;
};

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct srv_dynsec *d = arg;

	(void)m;
	pthread_mutex_lock(&d->lock);
	d->connected = rc == 0;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	struct srv_dynsec *d = arg;

	(void)m;
	(void)rc;
	pthread_mutex_lock(&d->lock);
	d->connected = false;
	pthread_mutex_unlock(&d->lock);
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	struct srv_dynsec *d = arg;

	(void)m;
	pthread_mutex_lock(&d->lock);
	d->acked_mid = mid;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int srv_dynsec_new(const struct srv_config *cfg, struct srv_dynsec **out)
{
	struct srv_dynsec *d = calloc(1, sizeof(*d));
	char id[64];
	int rc;

	if (!d)
		return -ENOMEM;
	mosquitto_lib_init();
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->op_lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	snprintf(id, sizeof(id), "edge-provisiond-%d", (int)getpid());
	d->mosq = mosquitto_new(id, true, d);
	if (!d->mosq) {
		rc = -ENOMEM;
		goto err;
	}
	mosquitto_connect_callback_set(d->mosq, on_connect);
	mosquitto_disconnect_callback_set(d->mosq, on_disconnect);
	mosquitto_publish_callback_set(d->mosq, on_publish);
	mosquitto_reconnect_delay_set(d->mosq, 1, 30, true);
	if (mosquitto_tls_set(d->mosq, cfg->dynsec_ca_file, NULL, cfg->dynsec_cert_file,
			      cfg->dynsec_key_file, NULL) != MOSQ_ERR_SUCCESS ||
	    mosquitto_tls_opts_set(d->mosq, 1, "tlsv1.2", NULL) != MOSQ_ERR_SUCCESS) {
		rc = -EINVAL;
		goto err;
	}
	/* A broker that is not up yet is fine: the network thread reconnects. */
	(void)mosquitto_connect_async(d->mosq, cfg->dynsec_host, cfg->dynsec_port, 30);
	if (mosquitto_loop_start(d->mosq) != MOSQ_ERR_SUCCESS) {
		rc = -EIO;
		goto err;
	}
	*out = d;
	return 0;
err:
	srv_dynsec_free(d);
	return rc;
}

void srv_dynsec_free(struct srv_dynsec *d)
{
	if (!d)
		return;
	if (d->mosq) { /* no-ops on a client that never connected or started */
		mosquitto_disconnect(d->mosq);
		mosquitto_loop_stop(d->mosq, false);
		mosquitto_destroy(d->mosq);
	}
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->op_lock);
	free(d);
	mosquitto_lib_cleanup();
}

static int send_batch(struct srv_dynsec *d, const char *id, bool remove)
{
	struct timespec ts;
	char *json = NULL;
	int mid = 0, rc;

	rc = srv_dynsec_commands(id, remove, &json);
	if (rc)
		return rc;
	pthread_mutex_lock(&d->lock);
	deadline(&ts, 5000);
	while (!d->connected && rc == 0)
		rc = pthread_cond_timedwait(&d->cond, &d->lock, &ts);
	if (!d->connected) {
		pthread_mutex_unlock(&d->lock);
		free(json);
		return -ENOTCONN;
	}
	/* One batch in flight at a time keeps the PUBACK matching simple. */
	d->acked_mid = 0;
	rc = mosquitto_publish(d->mosq, &mid, "$CONTROL/dynamic-security/v1", (int)strlen(json),
			       json, 1, false);
	free(json);
	if (rc != MOSQ_ERR_SUCCESS) {
		pthread_mutex_unlock(&d->lock);
		return -EIO;
	}
	rc = 0;
	while (d->acked_mid != mid && rc == 0)
		rc = pthread_cond_timedwait(&d->cond, &d->lock, &ts);
	rc = d->acked_mid == mid ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int send_serialized(struct srv_dynsec *d, const char *id, bool remove)
{
	int rc;

	pthread_mutex_lock(&d->op_lock);
	rc = send_batch(d, id, remove);
	pthread_mutex_unlock(&d->op_lock);
	return rc;
}

int srv_dynsec_device_add(struct srv_dynsec *d, const char *id)
{
	return send_serialized(d, id, false);
}

int srv_dynsec_device_remove(struct srv_dynsec *d, const char *id)
{
	return send_serialized(d, id, true);
}
