#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_prov_service (input format in
fuzz_prov_service.c): CSRs and a self-signed certificate made with fresh
P-256 keys that are thrown away (the target checks signatures and CNs, not
who holds the key)."""
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CLAIM = "fuzz-claim-token-0123456789abcdefghijkl"
ADMIN = "fuzz-admin-token-0123456789abcdefghijkl"
PEER_DEVICE, PEER_INPUT, NO_AUTH = 1, 2, 4


def csr(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, hashes.SHA256())
    return req.public_bytes(serialization.Encoding.PEM).decode()


def self_signed_der(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def seed(flags, url, auth, body, der=None):
    out = bytearray([flags | (PEER_INPUT if der is not None else 0)])
    out += url.encode() + b"\0" + auth.encode() + b"\0"
    if der is not None:
        out += len(der).to_bytes(2, "big") + der
    out += body if isinstance(body, bytes) else json.dumps(body).encode()
    return bytes(out)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(HERE, exist_ok=True)
    reg = "/v1/devices/register"
    bearer = "Bearer " + CLAIM
    write("register_new", seed(0, reg, bearer, {
        "serial": "GW-1000", "board": "rpi4", "model": "edge-gateway", "firmware": "0.1.0",
        "realtimePlatform": "health-data", "sensors": ["max30102", {"name": "bp", "kind": "ble"}],
        "csr": csr("GW-1000")}))
    write("register_minimal", seed(0, reg, "bearer   " + CLAIM, {"serial": "GW-1001", "csr": csr("GW-1001")}))
    write("register_cn_mismatch", seed(0, reg, bearer, {"serial": "GW-1002", "csr": csr("GW-9999")}))
    write("register_taken_serial", seed(0, reg, bearer, {"serial": "GW-0001", "csr": csr("GW-0001")}))
    write("register_bad_platform", seed(0, reg, bearer, {"serial": "GW-1003", "realtimePlatform": "Not_A_Label",
                                                        "csr": csr("GW-1003")}))
    write("register_no_auth", seed(NO_AUTH, reg, "", {"serial": "GW-1004", "csr": csr("GW-1004")}))
    write("register_unknown_token", seed(0, reg, "Bearer nope", {"serial": "GW-1005"}))
    write("register_basic_auth", seed(0, reg, "Basic Zm9vOmJhcg==", {}))
    write("register_not_json", seed(0, reg, bearer, b"serial=GW-1&csr=x"))
    write("renew", seed(PEER_DEVICE, "/v1/devices/GW-0001/renew", "", {"csr": csr("GW-0001")}))
    write("renew_other_device", seed(PEER_DEVICE, "/v1/devices/GW-0002/renew", "", {"csr": csr("GW-0002")}))
    write("renew_no_peer", seed(0, "/v1/devices/GW-0001/renew", "", {"csr": csr("GW-0001")}))
    write("renew_self_signed_peer", seed(0, "/v1/devices/GW-0001/renew", "", {"csr": csr("GW-0001")},
                                         der=self_signed_der("GW-0001")))
    write("renew_csr_other_cn", seed(PEER_DEVICE, "/v1/devices/GW-0001/renew", "", {"csr": csr("GW-7")}))
    write("renew_no_csr", seed(PEER_DEVICE, "/v1/devices/GW-0001/renew", "", {"key": 1}))
    write("get_admin", seed(0, "/v1/devices/GW-0001", "Bearer " + ADMIN, b""))
    write("get_unknown", seed(0, "/v1/devices/GW-4040", "Bearer " + ADMIN, b""))
    write("get_claim_token", seed(0, "/v1/devices/GW-0001", bearer, b""))
    write("paths", seed(0, "/v1/devices//renew", bearer, b""))
    write("path_long_id", seed(0, "/v1/devices/" + "a" * 65, "Bearer " + ADMIN, b""))
    write("path_extra_level", seed(PEER_DEVICE, "/v1/devices/GW-0001/renew/x", "", b"{}"))


if __name__ == "__main__":
    main()
