"""CoAP ingress in PKI mode (DESIGN 5.6 "node id = certificate CN"): DTLS with client
certificates on the same coaps:// endpoint as the PSK nodes, the node id read from the
certificate's CN, the node listed in the keys file (without psk_hex) so that revocation is
the PSK mode's. Certificate nodes made by edge-factory (nodes --init-ca, --cert,
--gateway-cert), and the PKI files re-read at a reload (SIGHUP, edgectl nodes reload).

Real peers: coap-client-openssl (-c cert -j key -C ca) and openssl s_client -dtls1_2 (a
DTLS session held open) against the real agent, which publishes to a real mosquitto; the
certificates are made here with openssl or with edge-factory. Refusals of the handshake
are checked with the client's -n (no server check), so that only the agent can be the one
refusing; the same client line with a good certificate is the control."""
# ctest-timeout: 420
import json
import os
import shutil
import signal
import subprocess
import time

import edgetest as et
from test_ingress import (KEY1, coap, coaps_uri, edgectl, free_udp_port, ingress_status, key_hex,
                          node_msgs)

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


FACTORY = os.path.join(et.BIN, "edge-factory")


def factory(*args):
    """edge-factory nodes ARGS; must succeed."""
    r = subprocess.run([FACTORY, "nodes", *args], capture_output=True, text=True, timeout=60)
    et.check(r.returncode == 0, f"edge-factory nodes {' '.join(args)}: {r.stdout}{r.stderr}")
    return r


def mode(path):
    return os.stat(path).st_mode & 0o777


def bundle(out, node):
    """(cert, key, ca) of a certificate node's bundle made by edge-factory."""
    return tuple(os.path.join(out, node, f) for f in ("node.crt", "node.key", "ca.crt"))


def ca_files(d):
    """(node-ca.crt, node-ca.key, coap-gw.crt, coap-gw.key) of edge-factory nodes --init-ca."""
    return tuple(os.path.join(d, f) for f in ("node-ca.crt", "node-ca.key", "coap-gw.crt",
                                              "coap-gw.key"))


def pki_agent(h, b, port, keys, ca, crt, key):
    cfg = h.agent_config(b, log_level="info", ingress={"coap": {
        "port": port, "keys_file": keys, "rate_per_min": 6000, "burst": 1000,
        "pki": {"ca_file": ca, "cert_file": crt, "key_file": key}}})
    a = h.start_agent(cfg)
    a.wait_log("PSK and certificates")
    a.coap_port = port
    return a


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
        sub.wait("sensors/node-01/heart_rate", 2, timeout=15)  # the control's publish
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


def test_factory_cert_nodes():
    """edge-factory makes a node CA with the gateway's certificate (--init-ca) and two
    certificate nodes (--cert) beside a PSK node in one keys file; the agent runs on exactly
    those files: each certificate node gets 2.04 (the gateway checked with the bundle's
    ca.crt) and its reading arrives on MQTT; a node of the same id made with another CA is
    refused. Keys and the keys file are 0600."""
    with et.Harness("ingress-pki-factory") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        port = free_udp_port()
        ca_dir, out = h.path("node-ca"), h.path("nodes")
        factory("--init-ca", "--out", ca_dir, "--gateway", "127.0.0.1")
        ca_crt, ca_key, gw_crt, gw_key = ca_files(ca_dir)
        et.check(mode(ca_key) == 0o600 and mode(gw_key) == 0o600,
                 f"CA key {mode(ca_key):o}, gateway key {mode(gw_key):o}: not 0600")
        r = subprocess.run([FACTORY, "nodes", "--init-ca", "--out", ca_dir], capture_output=True,
                           text=True, timeout=60)
        et.check(r.returncode != 0 and "refusing to replace the node CA" in r.stderr,
                 f"second --init-ca over the CA: rc {r.returncode} {r.stderr}")
        factory("--out", out, "--count", "2", "--prefix", "thermo-", "--cert", "--ca-cert", ca_crt,
                "--ca-key", ca_key, "--gateway", "127.0.0.1", "--port", str(port))
        factory("--out", out, "--id", "psk-01", "--text-keys")
        keys = os.path.join(out, "nodes.json")
        et.check(mode(keys) == 0o600, f"keys file {mode(keys):o}: not 0600")
        entries = {n["id"]: n for n in json.load(open(keys))["nodes"]}
        et.check(sorted(entries) == ["psk-01", "thermo-0001", "thermo-0002"] and
                 "psk_hex" not in entries["thermo-0001"] and "psk_hex" in entries["psk-01"],
                 f"keys file {entries}")
        for n in ("thermo-0001", "thermo-0002"):
            crt, key, ca = bundle(out, n)
            et.check(mode(key) == 0o600, f"{n}: node.key {mode(key):o}: not 0600")
            info = json.load(open(os.path.join(out, n, "node.json")))
            et.check(info["auth"] == "certificate" and info["cert_file"] == "node.crt" and
                     info["uri"] == f"coaps://127.0.0.1:{port}/v1/readings", f"{n}: {info}")
            with open(ca) as f, open(ca_crt) as g:
                et.check(f.read() == g.read(), f"{n}: ca.crt is not the node CA")
        crt1, key1, _ = bundle(out, "thermo-0001")
        r = subprocess.run([FACTORY, "nodes", "--out", out, "--id", "thermo-0001", "--cert",
                            "--ca-cert", ca_crt, "--ca-key", ca_key], capture_output=True,
                           text=True, timeout=60)
        et.check(r.returncode != 0 and "re-key" in r.stderr, f"re-made silently: {r.stderr}")
        # the same node id from another CA
        other, other_out = h.path("other-ca"), h.path("other-nodes")
        factory("--init-ca", "--out", other, "--gateway", "127.0.0.1")
        factory("--out", other_out, "--id", "thermo-0001", "--cert", "--ca-cert",
                ca_files(other)[0], "--ca-key", ca_files(other)[1])

        a = pki_agent(h, b, port, keys, ca_crt, gw_crt, gw_key)
        for i, n in enumerate(("thermo-0001", "thermo-0002")):
            crt, key, ca = bundle(out, n)
            r = cert_post(h, a, crt, key, ca=ca,
                          payload=[{"n": "heartRate", "u": "beat/min", "v": 60 + i}])
            et.check(r.code == "2.04", f"factory node {n}: {r}")
            doc = json.loads(sub.wait(f"sensors/{n}/heart_rate", 1, timeout=15)[0][1])
            et.check(doc["deviceId"] == n and doc["value"] == 60 + i, f"{n} published {doc}")
        with open(os.path.join(out, "psk-01", "psk.txt")) as f:
            r = coap(h, coaps_uri(a), PACK, ident="psk-01", key=f.read().strip())
        et.check(r.code == "2.04", f"PSK node from the same keys file: {r}")
        before = ingress_status(h, a)["handshakes"]
        foreign = bundle(other_out, "thermo-0001")
        r = cert_post(h, a, foreign[0], foreign[1])
        et.check(r.code is None, f"thermo-0001 from another CA: answered {r}")
        r = cert_post(h, a, crt1, key1)  # the control, same client line
        et.check(r.code == "2.04", f"control: {r}")
        hs = ingress_status(h, a)["handshakes"]
        et.check(hs["failed"] - before["failed"] >= 1, f"failed handshakes {before} -> {hs}")
        # the 2.04s come after the COMMIT, the publishes after them
        sub.wait("sensors/psk-01/heart_rate", 1, timeout=15)
        sub.wait("sensors/thermo-0001/heart_rate", 2, timeout=15)
        msgs = [m[0] for m in node_msgs(sub, "+") if not m[0].startswith("sensors/sim-0001/")]
        et.check(sorted(msgs) == ["sensors/psk-01/heart_rate"] +
                 ["sensors/thermo-0001/heart_rate"] * 2 + ["sensors/thermo-0002/heart_rate"],
                 f"published {msgs}")
        print("    factory CA + gateway cert + 2 certificate nodes -> 2.04 and MQTT; same id "
              "from another CA: no handshake; keys 0600")


class HeldSession:
    """openssl s_client -dtls1_2: one DTLS session that stays open (its stdin does)."""

    def __init__(self, h, port, name, *args):
        self.log = h.path(f"s_client-{name}.log")
        with open(self.log, "w") as lf:
            self.p = subprocess.Popen(["openssl", "s_client", "-dtls1_2", "-connect",
                                       f"127.0.0.1:{port}", *args],
                                      stdin=subprocess.PIPE, stdout=lf, stderr=subprocess.STDOUT)
        h.procs.append(self.p)

    def alive(self):
        return self.p.poll() is None


def replace(src, dst):
    """Puts src's contents (and mode) under the path dst, as an operator's mv would."""
    tmp = dst + ".new"
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def test_pki_reload():
    """New PKI files under the same paths apply at a reload, without a restart: a broken
    file (SIGHUP) or a certificate that is not its key's (edgectl nodes reload) is reported
    and the running files keep serving; a new CA file and gateway certificate then apply to
    the next handshakes: a node of the new CA gets 2.04, a node of the old CA is refused.
    Established sessions: a PSK session and a certificate session the new CA file still
    accepts stay open; a certificate session it no longer accepts is closed."""
    with et.Harness("ingress-pki-reload") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        port = free_udp_port()
        d, out = h.path("pki"), h.path("nodes")
        os.makedirs(d)
        # CA A by edge-factory; CA B an operator's own, made by openssl (a comma in its
        # subject, a subjectKeyIdentifier that is not the key's hash)
        a_dir = h.path("ca-a")
        factory("--init-ca", "--out", a_dir, "--gateway", "127.0.0.1", "--ca-cn", "node CA A")
        a_crt, a_key, a_gw_crt, a_gw_key = ca_files(a_dir)
        b_crt, b_key = os.path.join(d, "b.crt"), os.path.join(d, "b.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", b_key, "-out", b_crt, "-days", "2",
                "-subj", "/C=DE/O=Acme, Inc./CN=Acme node CA",
                "-addext", "subjectKeyIdentifier=01:02:03:04:05:06:07:08",
                "-addext", "authorityKeyIdentifier=none",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign")
        b_dir = h.path("ca-b")
        factory("--gateway-cert", "--out", b_dir, "--ca-cert", b_crt, "--ca-key", b_key,
                "--gateway", "127.0.0.1")
        b_gw_crt, b_gw_key = ca_files(b_dir)[2:]
        factory("--out", out, "--id", "a1", "--cert", "--ca-cert", a_crt, "--ca-key", a_key)
        factory("--out", out, "--id", "b1", "--cert", "--ca-cert", b_crt, "--ca-key", b_key)
        factory("--out", out, "--id", "p1", "--text-keys")
        keys = os.path.join(out, "nodes.json")
        with open(os.path.join(out, "p1", "psk.txt")) as f:
            p1_key = f.read().strip()
        a1, b1 = bundle(out, "a1"), bundle(out, "b1")
        # the agent's files, replaced under these paths from here on
        live_ca, live_crt, live_key = (os.path.join(d, f) for f in ("ca.crt", "gw.crt", "gw.key"))
        for src, dst in ((a_crt, live_ca), (a_gw_crt, live_crt), (a_gw_key, live_key)):
            replace(src, dst)
        a = pki_agent(h, b, port, keys, live_ca, live_crt, live_key)
        sock = h.path("state", "edgectl.sock")

        r = cert_post(h, a, a1[0], a1[1], ca=a1[2])
        et.check(r.code == "2.04", f"a1 of CA A: {r}")
        r = cert_post(h, a, b1[0], b1[1])
        et.check(r.code is None, f"b1 of CA B before the reload: answered {r}")
        # two sessions held open: a1's certificate, p1's PSK
        held_a1 = HeldSession(h, port, "a1", "-cert", a1[0], "-key", a1[1], "-CAfile", a_crt)
        a.wait_log("node a1 connected")
        held_p1 = HeldSession(h, port, "p1", "-psk_identity", "p1", "-psk", key_hex(p1_key))
        a.wait_log("node p1 connected")
        et.check(ingress_status(h, a)["sessions"] == 2, "two held sessions")

        # a broken CA file: SIGHUP reports it, the running files stay
        with open(live_ca + ".new", "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        os.replace(live_ca + ".new", live_ca)
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log("reload: certificates: ingress.coap.pki.ca_file")
        st = ingress_status(h, a)
        et.check(st["pki"]["on"] and "no PEM certificate" in st["pki"]["error"],
                 f"broken CA file in the status: {st['pki']}")
        r = cert_post(h, a, a1[0], a1[1], ca=a1[2])
        et.check(r.code == "2.04", f"a1 after a refused reload (running files): {r}")
        # CA file good again, certificate of B but the key still A's: edgectl says so
        replace(a_crt, live_ca)
        replace(b_gw_crt, live_crt)
        r = edgectl(h, sock, "nodes", "reload")
        et.check(r.returncode != 0 and "not the key of" in r.stdout + r.stderr and
                 "the running ones stay" in r.stdout + r.stderr,
                 f"mismatched key: rc {r.returncode} {r.stdout}{r.stderr}")
        r = edgectl(h, sock, "nodes")
        et.check("Certificates: " + live_ca in r.stdout and "not the key of" in r.stdout,
                 f"edgectl nodes: {r.stdout}")
        r = cert_post(h, a, a1[0], a1[1], ca=a1[2])
        et.check(r.code == "2.04", f"a1 after the second refused reload: {r}")
        et.check(held_a1.alive() and held_p1.alive() and ingress_status(h, a)["sessions"] == 2,
                 "held sessions after the refused reloads")

        # B's gateway certificate and key, CA file B + A: SIGHUP applies them
        with open(live_ca + ".new", "w") as f:
            f.write(open(b_crt).read() + open(a_crt).read())
        os.replace(live_ca + ".new", live_ca)
        replace(b_gw_key, live_key)
        replace(b_gw_crt, live_crt)
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log_count("certificates re-read", 1)
        et.check("0 certificate session(s) the CA file no longer accepts closed" in a.log_text(),
                 "a session the CA file still accepts was closed")
        st = ingress_status(h, a)
        et.check(st["pki"]["on"] and st["pki"]["error"] == "", f"pki status {st['pki']}")
        r = cert_post(h, a, b1[0], b1[1], ca=b1[2])  # the gateway now shows B's certificate
        et.check(r.code == "2.04", f"b1 of CA B after the reload: {r}")
        sub.wait("sensors/b1/heart_rate", 1, timeout=15)
        r = cert_post(h, a, a1[0], a1[1], ca=a1[2])
        et.check(r.code is None, f"a1 checking the gateway with CA A: answered {r} (old gateway "
                                 "certificate still shown?)")
        r = cert_post(h, a, a1[0], a1[1])
        et.check(r.code == "2.04", f"a1 with CA A still in the CA file: {r}")
        time.sleep(0.5)
        et.check(held_a1.alive() and held_p1.alive() and ingress_status(h, a)["sessions"] == 2,
                 "held sessions after the reload to B + A")

        # CA file B only: A's nodes are refused, a1's open session is closed
        replace(b_crt, live_ca)
        r = edgectl(h, sock, "nodes", "reload")
        et.check(r.returncode == 0 and "certificates re-read" in r.stdout,
                 f"reload to B: {r.stdout}{r.stderr}")
        a.wait_log_count("1 certificate session(s) the CA file no longer accepts closed", 1)
        end = time.time() + 10
        while held_a1.alive() and time.time() < end:
            time.sleep(0.1)
        et.check(not held_a1.alive(), "a1's session of CA A still open (s_client running)")
        et.check(held_p1.alive(), "p1's PSK session closed by a certificate reload")
        st = ingress_status(h, a)
        et.check(st["sessions"] == 1, f"sessions after the reload to B: {st['sessions']}")
        r = cert_post(h, a, a1[0], a1[1])
        et.check(r.code is None, f"a1 of CA A after the reload to B: answered {r}")
        r = cert_post(h, a, b1[0], b1[1], ca=b1[2])
        et.check(r.code == "2.04", f"b1 after the reload to B: {r}")
        r = coap(h, coaps_uri(a), PACK, ident="p1", key=p1_key)
        et.check(r.code == "2.04", f"PSK node p1: {r}")
        # the 2.04 follows the COMMIT, the publish comes after it: wait for it to arrive
        sub.wait("sensors/p1/heart_rate", 1, timeout=15)
        sub.wait("sensors/b1/heart_rate", 2, timeout=15)
        msgs = [m[0] for m in node_msgs(sub, "+") if not m[0].startswith("sensors/sim-0001/")]
        et.check(sorted(msgs) == ["sensors/a1/heart_rate"] * 4 + ["sensors/b1/heart_rate"] * 2 +
                 ["sensors/p1/heart_rate"], f"published {msgs}")
        et.check(a.stop() == 0, "the agent did not stop cleanly after the reloads")
        print("    broken CA file (SIGHUP), key not the certificate's (edgectl): reported, "
              "running files kept; new CA + gateway cert -> new node 2.04, old node refused; "
              "PSK and still-accepted sessions kept, the refused one closed")


if __name__ == "__main__":
    et.main([test_pki_beside_psk, test_factory_cert_nodes, test_pki_reload])
