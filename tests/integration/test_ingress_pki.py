"""CoAP ingress in PKI mode (DESIGN 5.6 "node id = certificate CN"): DTLS with client
certificates on the same coaps:// endpoint as the PSK nodes, the node id read from the
certificate's CN, the node listed in the keys file (without psk_hex) so that revocation is
the PSK mode's.

Real peers: coap-client-openssl (-c cert -j key -C ca) against the real agent, which
publishes to a real mosquitto; every certificate is made here with openssl. Refusals of
the handshake are checked with the client's -n (no server check), so that only the agent
can be the one refusing; the same client line with a good certificate is the control."""
# ctest-timeout: 240
import json
import os
import shutil
import subprocess

import edgetest as et
from test_ingress import KEY1, coap, coaps_uri, free_udp_port, ingress_status, key_hex, node_msgs

PACK = [{"n": "heartRate", "u": "beat/min", "v": 71}]


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if p.returncode:
        raise et.TestFailure(f"openssl {args[0]}: {p.stderr[-400:]}")


class CA:
    def __init__(self, d, name):
        self.d, self.name = d, name
        self.key, self.crt = os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.crt")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.key, "-out", self.crt, "-days", "2", "-subj", f"/CN={name}")

    def issue(self, fname, subj, ext="extendedKeyUsage=clientAuth\n"):
        """subj: an openssl -subj string (any CN, bad ones included); fname: file stem."""
        key, csr, crt, extf = (os.path.join(self.d, f"{fname}.{x}") for x in
                               ("key", "csr", "crt", "ext"))
        with open(extf, "w") as f:
            f.write(ext)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", subj)
        openssl("x509", "-req", "-in", csr, "-CA", self.crt, "-CAkey", self.key,
                "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", extf)
        os.chmod(key, 0o600)
        return crt, key


def cert_post(h, a, crt, key, ca=None, payload=PACK):
    """POST with a client certificate; ca=None: the client does not check the gateway (-n)."""
    extra = ["-c", crt, "-j", key] + (["-C", ca] if ca else ["-n"])
    return coap(h, coaps_uri(a), payload, ident=None, extra=extra)


def test_pki_beside_psk():
    if not shutil.which("openssl"):
        raise et.TestFailure("CANNOT RUN: openssl not installed")
    with et.Harness("ingress-pki") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        d = h.path("pki")
        os.makedirs(d, exist_ok=True)
        ca, other = CA(d, "node-ca"), CA(d, "other-ca")
        gw = ca.issue("gateway", "/CN=gateway",
                      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        good = ca.issue("node-01", "/CN=node-01")
        revoked = ca.issue("rev-01", "/CN=rev-01")
        unknown = ca.issue("node-99", "/CN=node-99")
        foreign = other.issue("foreign-node-01", "/CN=node-01")
        bad_chars = ca.issue("bad-chars", "/CN=node 01!")
        # libcoap 4.3.1 would hand this one to its CN callback as "node-01" (a SAN DNS name
        # wins over the CN): the agent reads the CN itself
        san_trick = ca.issue("san-trick", "/CN=evil node",
                             "subjectAltName=DNS:node-01\nextendedKeyUsage=clientAuth\n")
        two_cns = ca.issue("two-cns", "/CN=node-01/CN=psk-01")

        keys = h.path("nodes.json")
        with open(keys, "w") as f:
            json.dump({"nodes": [{"id": "node-01"},  # certificate only
                                 {"id": "rev-01", "revoked": True},
                                 {"id": "psk-01", "psk_hex": key_hex(KEY1)}]}, f)
        os.chmod(keys, 0o600)

        # the three files are required together: --check-config names the missing one
        port = free_udp_port()
        cfg = h.agent_config(b, ingress={"coap": {"port": port, "keys_file": keys,
                                                  "pki": {"ca_file": ca.crt, "cert_file": gw[0]}}})
        r = subprocess.run([os.path.join(et.BIN, "edge-agent"), "--config", h.write_config(cfg, "bad.json"),
                            "--check-config"], capture_output=True, text=True, timeout=30)
        et.check(r.returncode != 0 and "ingress.coap.pki.key_file: required" in r.stdout + r.stderr,
                 f"pki without key_file accepted: {r.stdout}{r.stderr}")

        cfg = h.agent_config(b, log_level="info", ingress={"coap": {
            "port": port, "keys_file": keys, "rate_per_min": 6000, "burst": 1000,
            "pki": {"ca_file": ca.crt, "cert_file": gw[0], "key_file": gw[1]}}})
        a = h.start_agent(cfg)
        a.wait_log("PSK and certificates")
        a.coap_port = port

        # a valid node, the gateway verified too (-C): 2.04, published under its CN
        r = cert_post(h, a, *good, ca=ca.crt)
        et.check(r.code == "2.04", f"valid certificate: {r}")
        got = sub.wait("sensors/node-01/heart_rate", 1, timeout=15)
        doc = json.loads(got[0][1])
        et.check(doc["deviceId"] == "node-01" and doc["value"] == 71, f"published {doc}")
        # bn naming another node: 4.03, as in PSK mode
        r = cert_post(h, a, *good, ca=ca.crt,
                      payload=[{"bn": "psk-01/", "n": "heartRate", "u": "beat/min", "v": 70}])
        et.check(r.code == "4.03", f"bn naming another node: {r}")
        # PSK nodes keep working beside it, on the same port
        r = coap(h, coaps_uri(a), PACK, ident="psk-01", key=KEY1)
        et.check(r.code == "2.04", f"PSK node beside PKI: {r}")
        sub.wait("sensors/psk-01/heart_rate", 1, timeout=15)
        # a certificate-only node has no PSK
        r = coap(h, coaps_uri(a), PACK, ident="node-01", key=KEY1)
        et.check(r.code is None, f"PSK handshake for a certificate-only node: {r}")
        # revoked: the handshake completes, the answer is 4.03
        r = cert_post(h, a, *revoked, ca=ca.crt)
        et.check(r.code == "4.03", f"revoked node: {r}")

        # handshake refusals (-n: only the agent can refuse); the control first
        r = cert_post(h, a, *good)
        et.check(r.code == "2.04", f"control with -n: {r}")
        before = ingress_status(h, a)
        for what, cert in [("another CA", foreign), ("unknown node", unknown),
                           ("bad characters", bad_chars), ("SAN naming a node", san_trick),
                           ("two CNs", two_cns)]:
            r = cert_post(h, a, *cert)
            et.check(r.code is None, f"{what}: answered {r}")
        r = coap(h, coaps_uri(a), PACK, ident=None, extra=["-C", ca.crt])
        et.check(r.code is None, f"no client certificate: answered {r}")
        st = ingress_status(h, a)
        hs, hs0 = st["handshakes"], before["handshakes"]
        et.check(st["pki"]["on"] and st["pki"]["error"] == "", f"pki status {st.get('pki')}")
        et.check(st["pki"]["badCn"] - before["pki"]["badCn"] == 3,
                 f"bad CNs counted {before['pki']} -> {st['pki']}")
        et.check(hs["unknownIdentity"] - hs0["unknownIdentity"] == 1,
                 f"unknown node counted {hs0} -> {hs}")
        et.check(hs["failed"] - hs0["failed"] >= 6, f"failed handshakes {hs0} -> {hs}")
        # nothing of the refused ones was stored or published
        # (the gateway's own sim sensors publish on sensors/sim-0001/...: not nodes)
        msgs = [m for m in node_msgs(sub, "+") if not m[0].startswith("sensors/sim-0001/")]
        et.check(sorted(m[0] for m in msgs) == ["sensors/node-01/heart_rate"] * 2 +
                 ["sensors/psk-01/heart_rate"], f"published {[m[0] for m in msgs]}")
        per = st["perNode"]
        et.check(per["node-01"]["accepted"] == 2 and per["node-01"]["refused"] == 1 and
                 per["rev-01"]["refused"] == 1 and per["psk-01"]["accepted"] == 1,
                 f"per-node counters {per}")
        print("    certificate node-01 -> 2.04, bn other -> 4.03, PSK beside it -> 2.04, "
              "revoked -> 4.03; other CA, unknown CN, bad CN, SAN trick, two CNs, no cert: "
              "no handshake")


if __name__ == "__main__":
    et.main([test_pki_beside_psk])
