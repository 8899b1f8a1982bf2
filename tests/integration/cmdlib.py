"""Helpers shared by the command, alert and edgectl integration tests."""
import base64
import json
import os
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import edgetest as et

DEVICE = "sim-0001"


def board_dir(h, interval_ms=100, freshness_ms=2000, led=True):
    """A fast sim board (with a status LED on a sim GPIO chip)."""
    d = h.path("boards")
    os.makedirs(d, exist_ok=True)
    b = {"name": "simfast", "hal": "sim",
         "buses": [{"name": "i2c0", "type": "i2c", "path": "sim:i2c0"}],
         "sensors": [{"name": "vitals", "compatible": "edge,sim-vitals", "bus": "i2c0",
                      "address": "0x50", "interval_ms": interval_ms,
                      "freshness_ms": freshness_ms}]}
    if led:
        b["status_led"] = {"chip": "sim:leds", "line": 3}
    with open(os.path.join(d, "simfast.json"), "w") as f:
        json.dump(b, f)
    return d


def config(h, broker, **over):
    over.setdefault("boards_dir", board_dir(h))
    over.setdefault("board", "simfast")
    return h.agent_config(broker, **over)


def start_agent(h, cfg, **kw):
    """h.start_agent(cfg, **kw), then waits until the agent has subscribed to its
    command topic."""
    a = h.start_agent(cfg, **kw)
    a.wait_log("subscribed commands/")
    return a


class _Client:
    """A paho MQTT v5 client over mutual TLS (the test subscriber's certificate)
    whose callbacks fill self.msgs under self.lock; subclasses connect it and
    then call _run()."""

    def __init__(self, h, broker, cid):
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        self.c.tls_set(ca_certs=broker.ca.ca_crt, certfile=h.sub_cert[0], keyfile=h.sub_cert[1])

    def _run(self, h, who):
        """Starts paho's network thread and waits for the connection (and the
        SUBACKs); h closes the client at the end of the test."""
        self.c.loop_start()
        if not self.connected.wait(10):
            raise et.TestFailure(f"{who} could not connect")
        time.sleep(0.3)
        h.subs.append(self)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class Requester(_Client):
    """An MQTT v5 client that sends commands and collects the answers."""

    def __init__(self, h, broker, extra_topics=()):
        super().__init__(h, broker, f"req-{os.getpid()}-{time.time_ns() % 100000}")
        topics = [f"devices/{DEVICE}/responses/#", *extra_topics]

        def on_connect(c, u, f, rc, props=None):
            for t in topics:
                c.subscribe(t, qos=1)
            self.connected.set()

        def on_message(c, u, m):
            corr = None
            if m.properties is not None and hasattr(m.properties, "CorrelationData"):
                corr = m.properties.CorrelationData
            with self.lock:
                self.msgs.append((m.topic, m.payload, corr, time.time()))

        self.c.on_connect = on_connect
        self.c.on_message = on_message
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self._run(h, "requester")

    def send(self, action, body, response_topic=None, corr=None):
        props = None
        if response_topic or corr is not None:
            props = Properties(PacketTypes.PUBLISH)
            if response_topic:
                props.ResponseTopic = response_topic
            if corr is not None:
                props.CorrelationData = corr
        payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
        info = self.c.publish(f"commands/{DEVICE}/{action}", payload, qos=1, properties=props)
        info.wait_for_publish(5)

    def answers(self, pred=None):
        with self.lock:
            out = []
            for t, p, corr, ts in self.msgs:
                try:
                    d = json.loads(p)
                except ValueError:
                    d = None
                if pred is None or pred(t, d, corr):
                    out.append((t, p, d, corr))
            return out

    def wait(self, pred, count=1, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            got = self.answers(pred)
            if len(got) >= count:
                return got
            time.sleep(0.03)
        raise et.TestFailure(f"expected {count} answer(s), got {len(self.answers(pred))}; "
                             f"all: {[m[1][:200] for m in self.answers()]}")

    def call(self, action, params=None, cid=None, timeout=10, **extra):
        cid = cid or f"{action}-{time.time_ns()}"
        body = {"id": cid, "params": params or {}, **extra}
        self.send(action, body)
        return self.wait(lambda t, d, c: d is not None and d.get("id") == cid,
                         timeout=timeout)[0][2]


def now_ms():
    return int(time.time() * 1000)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_to_raw(der):
    """ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) -> raw r||s, 32 bytes each."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n]
        out += v.lstrip(b"\x00").rjust(32, b"\x00")
        i += 2 + n
    return out


class Signer:
    """A platform signing key (P-256) and JWS ES256 signing of commands, with
    the openssl command line (no Python crypto package needed)."""

    def __init__(self, h, name="platform"):
        self.key_path = h.path(f"{name}-key.pem")
        self.pub_path = h.path(f"{name}-pub.pem")
        et.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout",
                "-out", self.key_path])
        et.run(["openssl", "ec", "-in", self.key_path, "-pubout", "-out", self.pub_path])

    def jws(self, payload, header=None):
        h = b64u(json.dumps(header or {"alg": "ES256", "typ": "JWT"}).encode())
        p = b64u(json.dumps(payload, separators=(",", ":")).encode())
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key_path],
                             input=f"{h}.{p}".encode(), check=True,
                             capture_output=True).stdout
        return f"{h}.{p}.{b64u(der_to_raw(der))}"

    def command(self, action, params, cid, expires_in_ms=60000, device=DEVICE, tamper=None):
        exp = now_ms() + expires_in_ms
        signed = {"id": cid, "action": action, "deviceId": device, "params": params,
                  "expiresAt": exp}
        body = {"id": cid, "params": params, "expiresAt": exp, "jws": self.jws(signed)}
        if tamper:
            tamper(body)
        return body


def edgectl(h, sock, *args, timeout=20):
    return subprocess.run([os.path.join(et.BIN, "edgectl"), "-s", sock, *args],
                          capture_output=True, text=True, timeout=timeout)


class SessionSub(_Client, et.MessageLog):
    """A v5 subscriber with a persistent session (clean_start=False, session
    expiry 1 h): with a persistent broker it misses nothing across a broker
    restart. Messages are (topic, payload, time)."""

    wait_failure = "got {got} of {count} on {topic}"

    def __init__(self, h, broker, topics, cid="alerts-sub"):
        super().__init__(h, broker, cid)
        self.c.reconnect_delay_set(min_delay=1, max_delay=2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600

        def on_connect(c, u, f, rc, p=None):
            for t in topics:
                c.subscribe(t, qos=1)
            self.connected.set()

        def on_message(c, u, m):
            with self.lock:
                self.msgs.append((m.topic, m.payload, time.time()))

        self.c.on_connect = on_connect
        self.c.on_message = on_message
        self.c.connect("127.0.0.1", broker.port, keepalive=30, clean_start=False,
                       properties=props)
        self._run(h, "session subscriber")
