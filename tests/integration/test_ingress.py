"""CoAP/DTLS ingress (issue 12, DESIGN 5.6) against real peers: coap-client-openssl
(libcoap3-bin) and edge-coap-load (bench/coap, libcoap's client API) talk to the real
agent, which publishes to a real mosquitto over mutual TLS.

coap-client-openssl exits 0 on time-outs and on 4.xx answers: every check here parses
its output (-v 7 prints each PDU: "v:1 t:ACK c:2.04 i:... [ options ] :: 'diagnostic'").

The helpers at the top are shared by test_ingress_durability.py and
test_ingress_storm.py."""
# ctest-timeout: 420
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time

import edgetest as et

CLIENT = "coap-client-openssl"
LOAD = os.path.join(et.BUILD_DIR, "bench", "edge-coap-load")
KEY1 = "node01-secret-key-0123456789abcd"  # text keys: coap-client-openssl takes -k as text


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def key_hex(text):
    return text.encode().hex()


def write_keys(h, nodes, name="nodes.json", mode=0o600):
    """nodes: list of (id, key_text[, revoked]). Returns the path (mode 0600)."""
    p = h.path(name)
    with open(p, "w") as f:
        json.dump({"nodes": [{"id": n[0], "psk_hex": key_hex(n[1]),
                              "revoked": bool(n[2]) if len(n) > 2 else False} for n in nodes]}, f)
    os.chmod(p, mode)
    return p


def start_ingress_agent(h, broker, keys, name="agent", state_dir=None, **coap):
    """The real agent with ingress.coap on free UDP ports; waits for the endpoint."""
    coap.setdefault("port", free_udp_port())
    coap.setdefault("keys_file", keys)
    cfg = h.agent_config(broker, state_dir=state_dir, log_level="info",
                         ingress={"coap": coap})
    a = h.start_agent(cfg, name=name)
    a.wait_log("/v1/readings for")
    a.coap_port = coap["port"]
    a.plain_port = coap.get("plain_port", 0)
    a.cfg = cfg
    return a


LABELS = {"bver": -1, "bn": -2, "bt": -3, "bu": -4, "bv": -5, "bs": -6, "n": 0, "u": 1, "v": 2,
          "vs": 3, "vb": 4, "s": 5, "t": 6, "ut": 7, "vd": 8}


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 256:
        return bytes([major << 5 | 24, n])
    if n < 65536:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    if n < 2 ** 32:
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    return bytes([major << 5 | 27]) + struct.pack(">Q", n)


def cbor(v):
    """A small CBOR encoder (RFC 8949) for test packs."""
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


def senml_cbor(records):
    return cbor([{LABELS[k]: v for k, v in r.items()} for r in records])


class Answer:
    def __init__(self, proc, out):
        self.rc = proc.returncode
        self.out = out
        # responses are ACKs (or NON/CON for separate answers) with a response code
        self.lines = re.findall(r"^v:1 t:(?:ACK|NON|CON) c:(\d\.\d\d) .*$", out, re.M)
        self.full = [l for l in out.splitlines() if re.match(r"^v:1 t:(ACK|NON|CON) c:\d\.\d\d", l)]
        self.codes = self.lines
        # requests on the wire (with -b the client first shows the whole body, unsplit)
        self.requests = len([l for l in re.findall(r"^v:1 t:CON c:(?:POST|GET|PUT|DELETE).*$",
                                                    out, re.M)
                             if int((re.findall(r"data length (\d+)", l) or ["0"])[0]) <= 1024])

    @property
    def code(self):
        return self.codes[-1] if self.codes else None

    def __repr__(self):
        return f"codes={self.codes} tail={self.out[-1500:]!r}"


def coap(h, uri, payload=None, fmt=110, method="post", ident="node-01", key=KEY1, extra=(),
         timeout=6):
    """One request with coap-client-openssl; the answer parsed from its -v 7 output."""
    args = [CLIENT, "-m", method, "-v", "7", "-B", str(timeout)]
    if fmt is not None:
        args += ["-t", str(fmt)]
    if ident is not None and uri.startswith("coaps"):
        args += ["-u", ident, "-k", key]
    if payload is not None:
        if isinstance(payload, (list, dict)):
            payload = json.dumps(payload)
        if isinstance(payload, str):
            payload = payload.encode()
        fd, path = tempfile.mkstemp(dir=h.dir, suffix=".pack")
        os.write(fd, payload)
        os.close(fd)
        args += ["-f", path]
    args += list(extra) + [uri]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
    return Answer(p, p.stdout + p.stderr)


def coaps_uri(a, host="127.0.0.1"):
    return f"coaps://{host}:{a.coap_port}/v1/readings"


def status(h, a):
    sock = h.path("state", "edgectl.sock") if not hasattr(a, "sock") else a.sock
    r = subprocess.run([os.path.join(et.BIN, "edgectl"), "-s", sock, "-j", "status"],
                       capture_output=True, text=True, timeout=30)
    et.check(r.returncode == 0, f"edgectl status: {r.stderr}")
    return json.loads(r.stdout)["status"]


def ingress_status(h, a):
    return status(h, a).get("ingress") or {}


def node_msgs(sub, node, metric="#"):
    return sub.snapshot(f"sensors/{node}/{metric}")


def health_of(sub, node):
    return [m for m in sub.snapshot("health/device_data") if json.loads(m[1])["deviceId"] == node]


def load(*args, timeout=120):
    p = subprocess.run([LOAD, *args], capture_output=True, text=True, timeout=timeout)
    et.check(p.returncode == 0, f"edge-coap-load {args}: rc {p.returncode} {p.stderr[-500:]}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else p.stdout


VITALS_A = [{"bn": "node-01/", "n": "heartRate", "u": "beat/min", "v": 72},
            {"n": "oxygenSaturation", "u": "%", "v": 97},
            {"n": "bodyTemperature", "u": "Cel", "v": 36.85}]
VITALS_B = [{"bn": "node-01/", "n": "systolic", "u": "mm[Hg]", "v": 121},
            {"n": "diastolic", "u": "mm[Hg]", "v": 79},
            {"n": "latitude", "u": "lat", "v": 48.8566123},
            {"n": "longitude", "u": "lon", "v": -2.3522}]


def test_json_and_cbor_packs():
    """JSON and CBOR packs -> 2.04 -> sensors/node-01/{metric} with the gateway's payload
    format and seq; HealthData once every vital is fresh, judged like the gateway's own."""
    with et.Harness("ingress-packs") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#", "health/device_data"])
        keys = write_keys(h, [("node-01", KEY1)])
        a = start_ingress_agent(h, b, keys, freshness_ms=3000)
        r = coap(h, coaps_uri(a), VITALS_A)
        et.check(r.code == "2.04", f"JSON pack: {r}")
        got = sub.wait("sensors/node-01/#", 3, timeout=15)
        by = {m[0]: json.loads(m[1]) for m in got}
        hr = by.get("sensors/node-01/heart_rate")
        et.check(hr and hr["deviceId"] == "node-01" and hr["value"] == 72 and hr["unit"] == "bpm",
                 f"heart rate reading {by}")
        et.check(by["sensors/node-01/body_temperature"]["value"] == 36.85, f"temperature {by}")
        et.check(abs(hr["timestamp"] - time.time() * 1000) < 10000, f"timestamp {hr}")
        et.check(all("seq" in m[2] for m in got), f"no seq user property: {got}")
        et.check(not health_of(sub, "node-01"), "HealthData before every vital was there")
        r = coap(h, coaps_uri(a), senml_cbor(VITALS_B), fmt=112)
        et.check(r.code == "2.04", f"CBOR pack: {r}")
        sub.wait("sensors/node-01/#", 7, timeout=15)
        rec = sub.wait("health/device_data", 1, timeout=15,
                       pred=lambda m: json.loads(m[1])["deviceId"] == "node-01")[0]
        doc = json.loads(rec[1])
        et.check(sorted(doc) == sorted(["deviceId", "timestamp", "heartRate", "systolic",
                                        "diastolic", "oxygenSaturation", "bodyTemperature",
                                        "latitude", "longitude"]), f"HealthData keys {doc}")
        et.check(doc["heartRate"] == 72 and doc["systolic"] == 121 and doc["diastolic"] == 79
                 and doc["oxygenSaturation"] == 97 and doc["bodyTemperature"] == 36.85
                 and doc["latitude"] == 48.8566123 and doc["longitude"] == -2.3522,
                 f"HealthData values {doc}")
        # one sequence for the gateway's and the nodes' messages: no seq twice
        seqs = [int(m[2]["seq"]) for m in sub.snapshot() if "seq" in m[2]]
        et.check(len(seqs) == len(set(seqs)), "a seq was used twice")
        node_seqs = [int(m[2]["seq"]) for m in node_msgs(sub, "node-01")]
        et.check(node_seqs == sorted(node_seqs), f"node seqs out of order {node_seqs}")
        # the freshness window (3 s here) applies to the node's vitals as to the gateway's
        time.sleep(3.5)
        n_rec = len(health_of(sub, "node-01"))
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 80}])
        et.check(r.code == "2.04", f"late pack: {r}")
        sub.wait("sensors/node-01/heart_rate", 2, timeout=10)
        time.sleep(1.5)
        et.check(len(health_of(sub, "node-01")) == n_rec, "HealthData from stale vitals")
        st = ingress_status(h, a)
        et.check(st["records"] == 1 and st["recordsIncomplete"] >= 2, f"record counters {st}")
        et.check(st["perNode"]["node-01"]["accepted"] == 3 and
                 st["perNode"]["node-01"]["readings"] == 8, f"per-node counters {st}")
        # a pack that fills in every vital at once builds a record again
        r = coap(h, coaps_uri(a), VITALS_A + VITALS_B)
        et.check(r.code == "2.04", f"full pack: {r}")
        sub.wait("health/device_data", n_rec + 1, timeout=10,
                 pred=lambda m: json.loads(m[1])["deviceId"] == "node-01")
        print(f"    packs: 8 readings + 2 HealthData records; seq {node_seqs[0]}..{node_seqs[-1]}")


def non_loopback_ipv4():
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) > 3 and f[1] != "lo":
            return f[3].split("/")[0]
    return None


def test_refusals():
    """Every refusal of 5.6 with its code (and its diagnostic), and nothing stored."""
    with et.Harness("ingress-refusals") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1), ("node-rev", "revoked-node-key-0123456789abcde", True),
                              ("node-02", "node02-secret-key-0123456789abcd")])
        plain = free_udp_port()
        a = start_ingress_agent(h, b, keys, plain_port=plain, plain_address="0.0.0.0",
                                handshake_timeout_ms=2000, max_age_s=3600, rate_per_min=6000,
                                burst=1000)
        uri = coaps_uri(a)
        ok = [{"n": "heartRate", "v": 70}]
        # control: the path works (one reading)
        r = coap(h, uri, ok)
        et.check(r.code == "2.04", f"control: {r}")
        sub.wait("sensors/node-01/heart_rate", 1, timeout=10)
        results = {}

        def expect(name, ans, code, diag=None):
            et.check(ans.code == code, f"{name}: expected {code}, got {ans}")
            if diag:
                et.check(diag in ans.out, f"{name}: diagnostic {diag!r} missing: {ans}")
            results[name] = code

        # DTLS identity
        r = coap(h, uri, ok, key="wrong-key-wrong-key-wrong-key-00", timeout=4)
        et.check(r.code is None and "c:2.04" not in r.out, f"wrong key answered: {r}")
        results["wrong key"] = "no handshake"
        r = coap(h, uri, ok, ident="nobody", timeout=4)
        et.check(r.code is None, f"unknown identity answered: {r}")
        results["unknown identity"] = "no handshake"
        expect("revoked node", coap(h, uri, ok, ident="node-rev",
                                    key="revoked-node-key-0123456789abcde"), "4.03", "revoked")
        # plain CoAP: loopback only, and then with ?node=
        expect("plain without node", coap(h, f"coap://127.0.0.1:{plain}/v1/readings", ok),
               "4.01")
        ip = non_loopback_ipv4()
        if ip:
            expect("plain from non-loopback",
                   coap(h, f"coap://{ip}:{plain}/v1/readings?node=node-01", ok,
                        extra=["-a", ip]), "4.01", "loopback")
        else:
            print("    SKIPPED (LOUDLY): no non-loopback IPv4 address on this machine; "
                  "plain CoAP from beyond loopback not exercised", flush=True)
        # identity in the pack
        expect("bn names another node", coap(h, uri, [{"bn": "node-02/", "n": "heartRate",
                                                        "v": 60}]), "4.03", "another node")
        # formats
        expect("wrong Content-Format", coap(h, uri, ok, fmt=50), "4.15")
        expect("no Content-Format", coap(h, uri, ok, fmt=None), "4.15")
        expect("malformed JSON", coap(h, uri, '[{"n":"heartRate","v":'), "4.00", "not JSON")
        expect("malformed CBOR", coap(h, uri, b"\x81\xa2\x00\x69heart", fmt=112), "4.00")
        expect("trailing bytes (JSON)", coap(h, uri, json.dumps(ok) + "]"), "4.00", "trailing")
        expect("trailing bytes (CBOR)", coap(h, uri, senml_cbor(ok) + b"\x00", fmt=112),
               "4.00", "trailing")
        expect("unknown metric", coap(h, uri, [{"n": "bloodSugar", "v": 5}]), "4.00",
               "unknown metric")
        expect("NaN", coap(h, uri, senml_cbor([{"n": "heartRate", "v": float("nan")}]),
                           fmt=112), "4.00", "finite")
        expect("wrong unit", coap(h, uri, [{"n": "heartRate", "u": "Hz", "v": 1}]), "4.00")
        expect("value out of range", coap(h, uri, [{"n": "oxygenSaturation", "v": 140}]),
               "4.00", "range")
        expect("time in the future", coap(h, uri, [{"n": "heartRate", "v": 60, "t": 600}]),
               "4.00", "future")
        expect("time too old", coap(h, uri, [{"n": "heartRate", "v": 60,
                                              "t": time.time() - 7200}]), "4.00", "older")
        # size: refused at block 0 (Size1), never buffered
        big = json.dumps([{"n": "heartRate", "v": 60, "foo": "x" * 40}] * 60)
        et.check(len(big) > 2048, "test pack not big enough")
        r = coap(h, uri, big, extra=["-b", "1024"])
        expect("oversized body (Block1)", r, "4.13")
        et.check("Size1:2048" in r.out.replace(" ", ""), f"4.13 without Size1: {r}")
        et.check(r.requests == 1, f"more than block 0 was sent: {r.requests} requests")
        # over 1 KiB in one message (no Block1; coap-client would split it): 4.13, Size1
        # 1024 (libcoap itself answers RST beyond its 1152-byte default MTU)
        us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        us.settimeout(5)
        us.sendto(coap_message(0x77, b"\x07", (json.dumps(ok) + " " * 1040).encode()),
                  ("127.0.0.1", plain))
        ans = us.recv(2048)
        us.close()
        et.check(ans[1] == 0x8d and b"\xd2\x2f\x04\x00" in ans,
                 f"over 1 KiB in one message: {ans.hex()}")  # Size1 (60) = 1024
        results["body over 1 KiB (no Block1)"] = "4.13"
        expect("block out of order", coap(h, uri, json.dumps(ok) + " " * 300,
                                          extra=["-b", "1,64"]), "4.08", "out of order")
        expect("GET", coap(h, uri, None, method="get", fmt=None), "4.05")
        expect("PUT", coap(h, uri, ok, method="put"), "4.05")
        # nothing of the refused packs was stored
        time.sleep(2)
        msgs = node_msgs(sub, "node-01") + node_msgs(sub, "node-02") + node_msgs(sub, "node-rev")
        et.check(len(msgs) == 1, f"refused packs were stored: {[m[0] for m in msgs]}")
        st = ingress_status(h, a)
        et.check(st["readings"] == 1 and st["accepted"] == 1, f"counters {st}")
        hs = st["handshakes"]
        et.check(hs["unknownIdentity"] >= 1, f"unknown identity not counted {hs}")
        et.check(hs["timedOut"] + hs["failed"] >= 1, f"the wrong-key handshake was not dropped {hs}")
        for code in ("4.00", "4.01", "4.03", "4.05", "4.08", "4.13", "4.15"):
            et.check(st["answers"].get(code, 0) >= 1, f"answers[{code}] not counted: {st}")
        et.check(st["perNode"]["node-01"]["refused"] >= 15, f"per-node refusals {st}")
        # libcoap's own log lines come through the agent's log, in its format
        log = a.log_text()
        et.check(re.search(r"^\S+ (warning|info|notice)\s+libcoap: ", log, re.M),
                 "no libcoap line in the agent's log")
        et.check(not re.search(r"^\w{3} \d\d \d\d:\d\d:\d\d\.\d{3} (WARN|INFO|DEBG|ERR|NOTE)",
                               log, re.M), "libcoap wrote its own log format")
        for k, v in results.items():
            print(f"    {k:28s} {v}")


def test_rate_limit():
    """The per-node token bucket: 4.29 with Max-Age, nothing stored for it."""
    with et.Harness("ingress-rate") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1)])
        a = start_ingress_agent(h, b, keys, rate_per_min=30, burst=3)
        res = load("--port", str(a.coap_port), "--id", "node-01", "--key-text", KEY1,
                   "--count", "6", "post")
        et.check(res["codes"] == {"2.04": 3, "4.29": 3}, f"burst of 6 with burst 3: {res}")
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 60}])
        et.check(r.code == "4.29", f"seventh: {r}")
        m = re.search(r"Max-Age:(\d+)", r.out)
        et.check(m and 1 <= int(m.group(1)) <= 2, f"4.29 without a sensible Max-Age: {r}")
        time.sleep(int(m.group(1)) + 0.5)
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 61}])
        et.check(r.code == "2.04", f"after Max-Age: {r}")
        sub.wait("sensors/node-01/#", 4, timeout=15)
        time.sleep(1.5)  # and nothing more: no 4.29 pack was stored
        et.check(len(node_msgs(sub, "node-01")) == 4, f"stored {len(node_msgs(sub, 'node-01'))}")
        st = ingress_status(h, a)
        et.check(st["rateLimited"] == 4 and st["perNode"]["node-01"]["rateLimited"] == 4,
                 f"rate-limited counters {st}")
        print(f"    4.29 Max-Age {m.group(1)} s at 30/min, burst 3")


def coap_message(mid, token, payload, node="node-01"):
    """A confirmable POST /v1/readings?node=... with Content-Format 110, by hand."""
    def opt(delta, value):
        ln = len(value)
        d = delta if delta < 13 else 13
        l = ln if ln < 13 else 13
        out = bytes([d << 4 | l])
        if d == 13:
            out += bytes([delta - 13])
        if l == 13:
            out += bytes([ln - 13])
        return out + value
    head = bytes([0x40 | len(token), 0x02]) + struct.pack(">H", mid) + token
    opts = opt(11, b"v1") + opt(0, b"readings") + opt(1, bytes([110])) + \
        opt(3, f"node={node}".encode())
    return head + opts + b"\xff" + payload


def test_retransmitted_con():
    """The same confirmable message three times: one stored reading, the same answer."""
    with et.Harness("ingress-retransmit") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1)])
        plain = free_udp_port()
        a = start_ingress_agent(h, b, keys, plain_port=plain)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        msg = coap_message(0x4242, b"\x01\x02\x03\x04",
                           json.dumps([{"n": "heartRate", "v": 77}]).encode())
        answers = []
        for _ in range(3):
            s.sendto(msg, ("127.0.0.1", plain))
            answers.append(s.recv(2048))
        et.check(answers[0][1] == 0x44 and answers[0][2:4] == b"\x42\x42",
                 f"not a 2.04 ACK for mid 0x4242: {answers[0].hex()}")
        et.check(answers[0] == answers[1] == answers[2], f"answers differ {answers}")
        # a refusal is replayed the same way
        bad = coap_message(0x4243, b"\x05", b"[{\"n\":\"nope\",\"v\":1}]")
        refusals = []
        for _ in range(3):
            s.sendto(bad, ("127.0.0.1", plain))
            refusals.append(s.recv(2048))
        et.check(refusals[0][1] == 0x80 and refusals[0] == refusals[1] == refusals[2],
                 f"refusal replay {refusals}")
        # the same message id with a new token is a new exchange
        s.sendto(coap_message(0x4242, b"\x09\x09", json.dumps([{"n": "heartRate",
                                                                  "v": 78}]).encode()),
                 ("127.0.0.1", plain))
        et.check(s.recv(2048)[1] == 0x44, "new token not answered 2.04")
        s.close()
        sub.wait("sensors/node-01/heart_rate", 2, timeout=15)
        time.sleep(2)  # and no third: the retransmissions stored nothing
        got = node_msgs(sub, "node-01", "heart_rate")
        vals = sorted(json.loads(m[1])["value"] for m in got)
        et.check(vals == [77, 78], f"stored {vals}")
        st = ingress_status(h, a)
        et.check(st["duplicates"] == 4 and st["readings"] == 2, f"counters {st}")
        print("    3 x mid 0x4242: 1 row, 3 identical ACKs; refusals replayed too")


def test_block1_upload():
    """A 1.5 KiB pack in 512-byte blocks: 2.31 for each, 2.04 after the commit."""
    with et.Harness("ingress-block") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1)])
        a = start_ingress_agent(h, b, keys)
        pack = [{"bn": "node-01/", "n": "heartRate", "v": 60, "t": -50}] + \
            [{"n": "heartRate", "v": 60 + i, "t": -50 + i} for i in range(1, 50)]
        body = json.dumps(pack)
        et.check(1024 < len(body) <= 2048, f"pack of {len(body)} bytes")
        r = coap(h, coaps_uri(a), body, extra=["-b", "512"])
        et.check(r.codes.count("2.31") >= 2 and r.code == "2.04", f"block upload: {r}")
        got = sub.wait("sensors/node-01/heart_rate", 50, timeout=20)
        et.check(sorted(json.loads(m[1])["value"] for m in got) == list(range(60, 110)),
                 "block upload readings")
        print(f"    {len(body)} bytes in {r.requests} blocks -> 50 readings")


def edgectl(h, sock, *args):
    return subprocess.run([os.path.join(et.BIN, "edgectl"), "-s", sock, *args],
                          capture_output=True, text=True, timeout=30)


def test_keys_edgectl_factory():
    """edge-factory nodes -> keys file and bundles; edgectl nodes lists them; revocation and
    new nodes apply on `edgectl nodes reload` and SIGHUP; a keys file readable by others is
    refused and the running keys stay."""
    with et.Harness("ingress-keys") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        out = h.path("factory")
        r = subprocess.run([os.path.join(et.BIN, "edge-factory"), "nodes", "--out", out,
                            "--count", "2", "--prefix", "patch-", "--text-keys"],
                           capture_output=True, text=True)
        et.check(r.returncode == 0, f"edge-factory nodes: {r.stderr}")
        keys = os.path.join(out, "nodes.json")
        et.check(os.stat(keys).st_mode & 0o777 == 0o600, "keys file not 0600")
        bundle = json.load(open(os.path.join(out, "patch-0001", "node.json")))
        et.check(os.stat(os.path.join(out, "patch-0001", "node.json")).st_mode & 0o777 == 0o600,
                 "bundle not 0600")
        key1 = open(os.path.join(out, "patch-0001", "psk.txt")).read().strip()
        key2 = open(os.path.join(out, "patch-0002", "psk.txt")).read().strip()
        et.check(bundle["psk_hex"] == key1.encode().hex() and len(key1) == 32, "bundle key")
        r = subprocess.run([os.path.join(et.BIN, "edge-factory"), "nodes", "--out", out,
                            "--id", "patch-0001"], capture_output=True, text=True)
        et.check(r.returncode != 0 and "re-key" in r.stderr, f"re-keyed silently: {r.stderr}")
        a = start_ingress_agent(h, b, keys)
        sock = h.path("state", "edgectl.sock")
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 66}], ident="patch-0001", key=key1)
        et.check(r.code == "2.04", f"factory node: {r}")
        r = edgectl(h, sock, "nodes")
        et.check(r.returncode == 0 and "patch-0001" in r.stdout and "patch-0002" in r.stdout,
                 f"edgectl nodes: {r.stdout} {r.stderr}")
        line = [l for l in r.stdout.splitlines() if l.startswith("patch-0001")][0]
        et.check(re.search(r"\s1\s+0\s+0\s+1\s", line), f"counters in {line!r}")
        js = json.loads(edgectl(h, sock, "-j", "nodes").stdout)
        n1 = [n for n in js["nodes"] if n["id"] == "patch-0001"][0]
        et.check(n1["accepted"] == 1 and n1["lastSeenMs"] > 0 and not n1["revoked"], f"{n1}")
        # revoke patch-0002, reload through edgectl
        r = subprocess.run([os.path.join(et.BIN, "edge-factory"), "nodes", "--keys-file", keys,
                            "--revoke", "patch-0002"], capture_output=True, text=True)
        et.check(r.returncode == 0, f"revoke: {r.stderr}")
        r = edgectl(h, sock, "nodes", "reload")
        et.check(r.returncode == 0 and "2 node(s)" in r.stdout, f"reload: {r.stdout}{r.stderr}")
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 67}], ident="patch-0002", key=key2)
        et.check(r.code == "4.03", f"revoked node: {r}")
        # a keys file others may read is refused; the running keys stay
        os.chmod(keys, 0o644)
        r = edgectl(h, sock, "nodes", "reload")
        et.check(r.returncode == 1 and "chmod 600" in r.stdout + r.stderr,
                 f"0644 keys accepted: {r.stdout}{r.stderr}")
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 68}], ident="patch-0001", key=key1)
        et.check(r.code == "2.04", f"running keys lost after a refused reload: {r}")
        et.check("chmod 600" in ingress_status(h, a)["keysError"], "keysError not reported")
        # a new node, applied by SIGHUP
        os.chmod(keys, 0o600)
        r = subprocess.run([os.path.join(et.BIN, "edge-factory"), "nodes", "--out", out,
                            "--id", "thermo-1", "--text-keys"], capture_output=True, text=True)
        et.check(r.returncode == 0, f"add node: {r.stderr}")
        key3 = open(os.path.join(out, "thermo-1", "psk.txt")).read().strip()
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log("3 node(s), 1 revoked")
        r = coap(h, coaps_uri(a), [{"n": "bodyTemperature", "v": 37.1}], ident="thermo-1",
                 key=key3)
        et.check(r.code == "2.04", f"node added by SIGHUP: {r}")
        sub.wait("sensors/thermo-1/body_temperature", 1, timeout=10)
        et.check(ingress_status(h, a)["keysError"] == "", "keysError not cleared")
        print("    factory keys 0600, edgectl nodes, revoke + reload -> 4.03, 0644 refused, SIGHUP")


def test_fleet_exporter_nodes():
    """The gateway's status carries the ingress counters; the fleet exporter turns them
    into nodes per gateway and refusals (what the Grafana panels show)."""
    from test_fleet_prometheus import Exporter, sample
    with et.Harness("ingress-fleet") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1), ("node-02", "node02-secret-key-0123456789abcd")])
        exp = Exporter(h, b)
        port = free_udp_port()
        cfg = h.agent_config(b, log_level="info", status={"interval_s": 5},
                             ingress={"coap": {"port": port, "keys_file": keys}})
        a = h.start_agent(cfg)
        a.wait_log("/v1/readings for")
        a.coap_port = port
        et.check(coap(h, coaps_uri(a), [{"n": "heartRate", "v": 60}]).code == "2.04", "node-01")
        et.check(coap(h, coaps_uri(a), [{"n": "heartRate", "v": 61}], ident="node-02",
                      key="node02-secret-key-0123456789abcd").code == "2.04", "node-02")
        et.check(coap(h, coaps_uri(a), [{"n": "nope", "v": 1}]).code == "4.00", "refusal")
        fams = exp.wait(lambda f: sample(f, "edge_device_ingress_nodes_active",
                                         device_id="sim-0001") == 2 and
                        sample(f, "edge_device_ingress_refused_total", device_id="sim-0001") == 1,
                        "nodes per gateway and refusals", timeout=20)
        et.check(sample(fams, "edge_device_ingress_nodes", device_id="sim-0001") == 2 and
                 sample(fams, "edge_device_ingress_accepted_total", device_id="sim-0001") == 2,
                 "ingress families")
        print("    exporter: edge_device_ingress_nodes_active 2, refused_total 1 for sim-0001")


if __name__ == "__main__":
    et.main([test_json_and_cbor_packs, test_refusals, test_rate_limit, test_retransmitted_con,
             test_block1_upload, test_keys_edgectl_factory, test_fleet_exporter_nodes])
