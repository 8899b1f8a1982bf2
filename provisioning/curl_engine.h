/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EDGE_PROV_CURL_ENGINE_H
#define EDGE_PROV_CURL_ENGINE_H
#include <stddef.h>

/*
 * libcurl loads a key named by a pkcs11: URI through OpenSSL's pkcs11 engine
 * (CURLOPT_SSLENGINE "pkcs11", CURLOPT_SSLKEYTYPE "ENG"), finding the engine
 * with ENGINE_by_id(). It has no option for the engine's PKCS#11 module, so
 * the engine is loaded first (which lists it in OpenSSL's engine list) and
 * configured with module and PIN; ENGINE_by_id() then returns that one. Once per process (later
 * calls are no-ops). 0, or -ENOENT (engine not installed) / -EIO with why set.
 */
int edge_prov_engine_prepare(const char *module, const char *pin, char *why, size_t whylen);

#endif
