#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_commands (input format in
fuzz_commands.c). Signed seeds need the platform's private key: with
--new-key a fresh P-256 key is made, its public half printed for
fuzz_commands.c (signing_pem) and the private half thrown away; without it
the existing signed seeds are kept as they are."""
import base64
import json
import os
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
DEV = "GW-0001"
FAR = 4102444800000  # 2100-01-01, never expired in a run

LOCAL, RESP, CORR, REPEAT, SIGNED_ONLY, STATUS_NULL, NO_SAMPLER, OFFLINE = (1 << i for i in range(8))


def remote(flags, action, payload, response=None, corr=None, topic=None):
    out = bytearray([flags | (RESP if response is not None else 0) | (CORR if corr is not None else 0)])
    out += (topic if topic is not None else "commands/%s/%s" % (DEV, action)).encode() + b"\0"
    if response is not None:
        out += response.encode() + b"\0"
    if corr is not None:
        out += bytes([len(corr)]) + corr
    out += payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    return bytes(out)


def local(flags, action, params=None):
    out = bytearray([flags | LOCAL]) + action.encode() + b"\0"
    if params is not None:
        out += params if isinstance(params, bytes) else json.dumps(params).encode()
    return bytes(out)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def signed(key, action, cid, params):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    body = {"id": cid, "action": action, "deviceId": DEV, "expiresAt": FAR, "params": params}
    head = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    pay = b64(json.dumps(body, separators=(",", ":")).encode())
    der = key.sign((head + "." + pay).encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    sig = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return {"id": cid, "params": params, "expiresAt": FAR, "jws": head + "." + pay + "." + sig}


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(HERE, exist_ok=True)
    write("ping", remote(0, "ping", {"id": "c-1"}))
    write("ping_v5", remote(0, "ping", {"id": "c-2"}, response="app/replies/42", corr=b"\x01\x02corr"))
    write("ping_repeated", remote(REPEAT, "ping", {"id": "c-3"}))
    write("ping_offline", remote(OFFLINE, "ping", {"id": "c-4"}))
    write("status", remote(0, "status", {"id": "c-5"}))
    write("status_hook_fails", remote(STATUS_NULL, "status", {"id": "c-6"}))
    write("config_get", remote(0, "config.get", {"id": "c-7"}))
    write("config_set_log_level", remote(0, "config.set", {"id": "c-8", "params": {"log_level": "debug"}}))
    write("config_set_full", remote(REPEAT, "config.set", {"id": "c-9", "params": {
        "log_level": "notice", "record": {"interval_ms": 2000}, "status": {"interval_s": 30},
        "sensors": {"pulse_oximeter": {"interval_ms": 500, "freshness_ms": 8000}},
        "alerts": [{"name": "tachy", "metric": "heart_rate", "comparison": ">", "threshold": 120,
                    "for_s": 10, "severity": "critical"},
                   {"name": "hypox", "metric": "spo2", "comparison": "<=", "threshold": 90}]}}))
    write("config_set_not_settable", remote(0, "config.set", {"id": "c-10", "params": {"mqtt": {"port": 1883}}}))
    write("config_set_unknown_sensor", remote(0, "config.set", {"id": "c-11", "params": {"sensors": {"nope": {"interval_ms": 100}}}}))
    write("config_set_empty", remote(0, "config.set", {"id": "c-12", "params": {}}))
    write("sample_now", remote(0, "sample-now", {"id": "c-13"}))
    write("sample_now_no_sampler", remote(NO_SAMPLER, "sample-now", {"id": "c-14"}))
    write("sensor_disable", remote(0, "sensor.disable", {"id": "c-15", "params": {"name": "gps"}}))
    write("sensor_enable_unknown", remote(0, "sensor.enable", {"id": "c-16", "params": {"sensor": "x"}}))
    write("flush", remote(0, "flush", {"id": "c-17"}))
    write("identify", remote(0, "identify", {"id": "c-18", "params": {"seconds": 2}}))
    write("identify_bad", remote(0, "identify", {"id": "c-19", "params": {"seconds": 1e9}}))
    write("restart", remote(0, "restart", {"id": "c-20"}))
    write("reboot_unconfirmed", remote(0, "reboot", {"id": "c-21"}))
    write("reboot", remote(0, "reboot", {"id": "c-22", "params": {"confirm": True}}))
    write("ota", remote(0, "ota", {"id": "c-23"}))
    write("unknown_action", remote(0, "selfdestruct", {"id": "c-24"}))
    write("expired", remote(0, "ping", {"id": "c-25", "expiresAt": 1000}))
    write("unsigned_required", remote(SIGNED_ONLY, "reboot", {"id": "c-26", "params": {"confirm": True}}))
    write("bad_json_v5", remote(0, "ping", b'{"id":"c-27",', response="r/1", corr=b"x"))
    write("no_id", remote(0, "ping", {"params": {}}))
    write("other_device", remote(0, "ping", {"id": "c-28"}, topic="commands/GW-0002/ping"))
    write("wildcard_response", remote(0, "ping", {"id": "c-29"}, response="app/#", corr=b""))
    write("local_ping", local(0, "ping"))
    write("local_config_set", local(0, "config.set", {"alerts": []}))
    write("local_params_array", local(0, "identify", b"[1]"))
    write("local_unknown", local(0, "nope", {}))
    if "--new-key" in sys.argv:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        print(key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode())
        write("signed_config_set", remote(SIGNED_ONLY, "config.set",
                                          signed(key, "config.set", "s-1", {"log_level": "warning"})))
        write("signed_reboot", remote(SIGNED_ONLY, "reboot", signed(key, "reboot", "s-2", {"confirm": True})))
        write("signed_restart", remote(0, "restart", signed(key, "restart", "s-3", {})))
        forged = signed(key, "reboot", "s-4", {"confirm": False})
        forged["params"] = {"confirm": True}
        write("signed_params_differ", remote(SIGNED_ONLY, "reboot", forged))


if __name__ == "__main__":
    main()
