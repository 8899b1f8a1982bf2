#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_prov_answer: answers as edge-provisiond
gives them (service.c respond_device) with a fleet CA and a device
certificate made here; the keys are thrown away. Prints the device key's
fingerprint for fuzz_prov_answer.c (device_fp) when run with --print-fp."""
import datetime
import hashlib
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
T0 = datetime.datetime(2025, 11, 18, 12, 0, 0)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def main():
    os.makedirs(HERE, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("edge fleet CA")).issuer_name(name("edge fleet CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(T0)
          .not_valid_after(T0 + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    dev_key = ec.generate_private_key(ec.SECP256R1())
    dev = (x509.CertificateBuilder().subject_name(name("GW-0001")).issuer_name(ca.subject)
           .public_key(dev_key.public_key()).serial_number(0x2a).not_valid_before(T0)
           .not_valid_after(T0 + datetime.timedelta(days=365))
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    spki = dev_key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    if "--print-fp" in sys.argv:
        print(hashlib.sha256(spki).hexdigest())
    other = ec.generate_private_key(ec.SECP256R1())
    wrong = (x509.CertificateBuilder().subject_name(name("GW-0001")).issuer_name(ca.subject)
             .public_key(other.public_key()).serial_number(0x2b).not_valid_before(T0)
             .not_valid_after(T0 + datetime.timedelta(days=365)).sign(ca_key, hashes.SHA256()))
    d = "GW-0001"
    answer = {
        "deviceId": d, "certificate": pem(dev), "caChain": pem(ca),
        "notAfter": int((T0 + datetime.timedelta(days=365)).timestamp()),
        "mqtt": {"host": "mqtt.example.org", "port": 8883},
        "topics": {"data": "health/device_data", "sensors": "sensors/%s/{metric}" % d,
                   "status": "devices/%s/status" % d, "alerts": "alerts/{severity}",
                   "commands": "commands/%s/{action}" % d,
                   "responses": "devices/%s/responses/{action}" % d, "ota": "devices/%s/ota" % d},
        "realtimePlatform": {"name": "health-data", "claim": "health-data-realtime", "created": True},
    }

    def write(fname, flags, body):
        with open(os.path.join(HERE, fname), "wb") as f:
            f.write(bytes([flags]) + (body if isinstance(body, bytes) else json.dumps(body).encode()))

    write("registered", 0, answer)
    write("renewed_no_platform", 0, dict(answer, realtimePlatform=None))
    write("chain_two_certs", 0, dict(answer, caChain=pem(ca) + pem(ca)))
    write("other_key", 0, dict(answer, certificate=pem(wrong)))
    write("cert_is_csr", 0, dict(answer, certificate="-----BEGIN CERTIFICATE-----\n" +
                                 x509.CertificateSigningRequestBuilder().subject_name(name(d))
                                 .sign(dev_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
                                 .decode()))
    # The helper took the device key from the CSR and wrote a certificate for
    # another key as device.crt (found with this target; client_parse.c).
    dev_csr = (x509.CertificateSigningRequestBuilder().subject_name(name(d))
               .sign(dev_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
    write("csr_before_other_cert", 0, dict(answer, certificate=dev_csr + pem(wrong)))
    write("truncated_pem", 0, dict(answer, certificate=pem(dev)[:300]))
    write("ipv6_host", 0, dict(answer, mqtt={"host": "[::1]", "port": 1}))
    write("error_401", 0, {"error": "unknown or revoked claim token"})
    write("error_binary", 0, {"error": "bad\u0001\u00e9\n"})
    write("raw_cert_pem", 1, pem(dev).encode())
    write("raw_csr_pem", 1, x509.CertificateSigningRequestBuilder().subject_name(name(d))
          .sign(other, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    write("raw_not_pem", 1, b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")


if __name__ == "__main__":
    main()
