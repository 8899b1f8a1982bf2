/* SPDX-License-Identifier: Apache-2.0 */
/* edge-provisiond request parsing: the register body (JSON), the CSR it
 * carries (PEM/DER, P-256, signature, CN) and the renewal body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_register_req req;
	mbedtls_x509_csr csr;
	char err[SRV_ERR_LEN], fp[65];
	char *renew_csr = NULL;

	if (srv_parse_register((const char *)data, size, &req, err, sizeof(err)) == 0) {
		srv_csr_check(req.csr, req.serial, &csr, fp, err, sizeof(err));
		mbedtls_x509_csr_free(&csr);
		srv_register_req_clear(&req);
	}
	if (srv_parse_renew((const char *)data, size, &renew_csr, err, sizeof(err)) == 0) {
		srv_csr_check(renew_csr, "GW-0001", &csr, fp, err, sizeof(err));
		mbedtls_x509_csr_free(&csr);
		free(renew_csr);
	}
	return 0;
}
