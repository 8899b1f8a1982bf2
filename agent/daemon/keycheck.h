/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_AGENT_KEYCHECK_H
#define EDGE_AGENT_KEYCHECK_H
/*
 * The checks on the device's secrets made before the agent starts (and by
 * --check-config): a private key, claim token or PIN file that group or
 * others may read is refused (a copied key impersonates the gateway); a key
 * in a PKCS#11 token is looked up when probe_token is set: module, token,
 * PIN and object, each failure naming the configuration key and the token.
 */
#include <stdbool.h>
#include <stddef.h>

#include "agent/config.h"

/* 0, or a negative errno with err holding one line
 * ("mqtt.tls.key_file: token \"edge\": login: wrong PIN (CKR_PIN_INCORRECT)"). */
int edge_agent_check_keys(const struct edge_config *cfg, bool probe_token, char *err,
			  size_t errlen);

#endif
