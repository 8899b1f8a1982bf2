/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL 3 deprecates the ENGINE API; the pkcs11 provider is not packaged
 * in Debian 12 and libcurl 7.88 takes PKCS#11 keys only through an engine. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include <openssl/engine.h>
#include <openssl/err.h>

#include "curl_engine.h"

int edge_prov_engine_prepare(const char *module, const char *pin, char *why, size_t whylen)
{
	static bool done;
	ENGINE *e;
	int ok;

	if (done)
		return 0;
	ENGINE_load_builtin_engines();
	e = ENGINE_by_id("pkcs11");
	if (!e) {
		ERR_clear_error();
		snprintf(why, whylen,
			 "OpenSSL's pkcs11 engine is not installed (libengine-pkcs11-openssl)");
		return -ENOENT;
	}
	/* ENGINE_by_id() has put the engine it loaded into OpenSSL's list
	 * (dynamic engines are listed on load), so later ENGINE_by_id() calls,
	 * libcurl's included, return this configured instance. */
	ok = ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) &&
	     (!pin || !*pin || ENGINE_ctrl_cmd_string(e, "PIN", pin, 0));
	if (ok) {
		ENGINE *again = ENGINE_by_id("pkcs11");

		ok = again == e;
		ENGINE_free(again);
	}
	ENGINE_free(e); /* the list keeps its own reference */
	if (!ok) {
		ERR_clear_error();
		snprintf(why, whylen,
			 "pkcs11 engine: cannot set module %s or the PIN, or it is not the listed "
			 "instance",
			 module);
		return -EIO;
	}
	done = true;
	return 0;
}
