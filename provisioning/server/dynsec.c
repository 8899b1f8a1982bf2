/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct srv_dynsec {
	int unused;
};

int srv_dynsec_new(const struct srv_config *cfg, struct srv_dynsec **out)
{
	(void)cfg;
	*out = NULL;
	return -ENOTSUP;
}

void srv_dynsec_free(struct srv_dynsec *d)
{
	free(d);
}

int srv_dynsec_device_add(struct srv_dynsec *d, const char *id)
{
	(void)d;
	(void)id;
	return -ENOTSUP;
}

int srv_dynsec_device_remove(struct srv_dynsec *d, const char *id)
{
	(void)d;
	(void)id;
	return -ENOTSUP;
}
