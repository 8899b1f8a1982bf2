/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what the agent's provisioning helper does with a
 * server's answer (provisioning/client.c finish() and write_state()):
 * edge_prov_parse_response() or edge_prov_parse_error(), then identity.c's
 * PEM handling of the certificate and the CA chain: the public key
 * fingerprint that must match the device key, and notAfter.
 *
 * Input: a flags byte, then the answer body. Flags bit 0: the body is
 * handed to the identity functions as it is (any PEM: certificate, CSR or
 * key branch), besides the parse.
 * Checks: a parsed answer has a valid device id, PEM certificate and chain
 * and a port in 1..65535; fingerprints are 64 lowercase hex digits; when
 * the helper's checks accept the certificate for the device key below (the
 * seeds' device), the first certificate of the PEM, the one TLS presents,
 * is for that key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/prov_identity.h"
#include "edge/provision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* SHA-256 of the SubjectPublicKeyInfo of the seeds' device key
 * (make_corpus.py prints it; the private key is not kept). */
static const char device_fp[] = "bd83b5c3c975e8c8b79dc264401c7c2f2625d76971471f8861f0e2556aad6e21";

static void check_hex(const char *hex)
{
	for (size_t i = 0; i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			abort();
	if (hex[64] != '\0')
		abort();
}

static void check_first_certificate(const char *pem)
{
	static const char end_line[] = "-----END CERTIFICATE-----";
	const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----");
	const char *e = b ? strstr(b, end_line) : NULL;
	char *first, fp[65];

	if (!e)
		abort();
	first = strndup(b, (size_t)(e - b) + sizeof(end_line) - 1);
	if (!first)
		abort();
	if (edge_id_pubkey_fingerprint(first, fp) != 0 || strcmp(fp, device_fp) != 0)
		abort();
	free(first);
}

static void identity(const char *pem)
{
	char fp[65];
	int64_t not_after;

	if (edge_id_pubkey_fingerprint(pem, fp) == 0)
		check_hex(fp);
	(void)edge_id_cert_not_after(pem, &not_after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_prov_response r;
	const char *why = NULL;
	char msg[128], *text;
	int64_t not_after;
	char fp[65];

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 1)
		identity(text);

	if (edge_prov_parse_response(text, size - 1, &r, &why) == 0) {
		if (why || !edge_id_serial_valid(r.device_id) ||
		    !strstr(r.certificate, "-----BEGIN CERTIFICATE-----") ||
		    !strstr(r.ca_chain, "-----BEGIN CERTIFICATE-----") || !r.mqtt_host[0] ||
		    r.mqtt_port < 1 || r.mqtt_port > 65535 ||
		    (r.platform_name && !r.platform_claim))
			abort();
		/* write_state() accepts the certificate when its key is the device
		 * key and it has a notAfter: then the certificate TLS will present,
		 * the first one in device.crt, must be for the device key. */
		if (edge_id_pubkey_fingerprint(r.certificate, fp) == 0) {
			check_hex(fp);
			if (strcmp(fp, device_fp) == 0 &&
			    edge_id_cert_not_after(r.certificate, &not_after) == 0)
				check_first_certificate(r.certificate);
		}
		identity(r.ca_chain);
		edge_prov_response_clear(&r);
	} else if (!why) {
		abort(); /* every refusal has a reason */
	}
	edge_prov_parse_error(text, size - 1, msg, sizeof(msg));
	for (const char *p = msg; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort(); /* the text goes to logs: printable ASCII only */
	free(text);
	return 0;
}
