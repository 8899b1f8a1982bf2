"""Shared harness for edge-agent integration tests.

Everything here starts real processes on loopback: throwaway certificates
made with openssl, a real mosquitto with mutual TLS on a free port, the real
edge-agent binary. Run with Debian's /usr/bin/python3 (python3-paho-mqtt).

    with Harness("mytest") as h:
        h.make_pki()
        broker = h.start_broker()
        agent = h.start_agent(h.agent_config(broker))
        msgs = h.collect(broker, "health/device_data", count=3, timeout=15)
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

BUILD_DIR = os.environ.get("EDGE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
BIN = os.path.join(BUILD_DIR, "bin")


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TestFailure(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


class PKI:
    """A CA and certificates signed by it, all EC P-256, made with openssl."""

    def __init__(self, d, name="ca"):
        self.dir = d
        self.name = name
        self.ca_key = os.path.join(d, f"{name}.key")
        self.ca_crt = os.path.join(d, f"{name}.crt")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", self.ca_key, "-out", self.ca_crt, "-days", "2",
             "-subj", f"/CN=edge-test-{name}"])

    def issue(self, cn, server=False, days=2):
        key = os.path.join(self.dir, f"{self.name}-{cn}.key")
        csr = os.path.join(self.dir, f"{self.name}-{cn}.csr")
        crt = os.path.join(self.dir, f"{self.name}-{cn}.crt")
        ext = os.path.join(self.dir, f"{self.name}-{cn}.ext")
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={cn}"])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key,
             "-CAcreateserial", "-out", crt, "-days", str(days), "-extfile", ext])
        os.chmod(key, 0o600)
        return crt, key


class Broker:
    def __init__(self, h, port, proc, conf, log, ca, persistence_dir):
        self.h, self.port, self.proc, self.conf, self.log = h, port, proc, conf, log
        self.ca = ca
        self.persistence_dir = persistence_dir

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.h.procs.append(self.proc)
        wait_port(self.port)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Agent:
    def __init__(self, h, proc, config_path, log_path):
        self.h, self.proc, self.config_path, self.log_path = h, proc, config_path, log_path

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise TestFailure(f"agent did not exit within {timeout}s of signal {sig}")
        return self.proc.returncode

    def wait_log(self, text, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.log_text():
                return
            if not self.alive():
                break
            time.sleep(0.1)
        raise TestFailure(f"agent log never showed {text!r}; log:\n{self.log_text()[-3000:]}")


class Subscriber:
    """A paho MQTT v5 client over mutual TLS collecting messages in the background."""

    def __init__(self, h, broker, topics, client_id=None, clean=True):
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        cid = client_id or f"sub-{os.getpid()}-{time.time_ns() % 100000}"
        self.c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        self.c.tls_set(ca_certs=broker.ca.ca_crt, certfile=h.sub_cert[0], keyfile=h.sub_cert[1])
        self.topics = topics if isinstance(topics, list) else [topics]

        def on_connect(c, u, f, rc, props=None):
            for t in self.topics:
                c.subscribe(t, qos=1)
            self.connected.set()

        def on_message(c, u, m):
            props = {}
            if m.properties is not None and hasattr(m.properties, "UserProperty"):
                props = dict(m.properties.UserProperty)
            with self.lock:
                self.msgs.append((m.topic, m.payload, props, m.retain, time.time()))

        self.c.on_connect = on_connect
        self.c.on_message = on_message
        self.c.connect("127.0.0.1", broker.port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise TestFailure("test subscriber could not connect to the broker")
        time.sleep(0.3)  # let the SUBACK arrive

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()

    def snapshot(self, topic=None):
        with self.lock:
            return [m for m in self.msgs if topic is None or mqtt.topic_matches_sub(topic, m[0])]

    def wait(self, topic, count, timeout=20, pred=None):
        end = time.time() + timeout
        while time.time() < end:
            got = [m for m in self.snapshot(topic) if pred is None or pred(m)]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        got = [m for m in self.snapshot(topic) if pred is None or pred(m)]
        raise TestFailure(f"got {len(got)} of {count} messages on {topic} within {timeout}s")


class Harness:
    def __init__(self, name):
        self.name = name
        self.procs = []
        self.subs = []
        self.dir = tempfile.mkdtemp(prefix=f"edge-{name}-")
        self.keep = os.environ.get("EDGE_KEEP_TMP") == "1"

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        for s in self.subs:
            try:
                s.close()
            except Exception:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if et is not None:
            print(f"[{self.name}] FAILED: {ev}", file=sys.stderr)
            for f in sorted(os.listdir(self.dir)):
                if f.endswith(".log"):
                    with open(os.path.join(self.dir, f), errors="replace") as fh:
                        tail = fh.read()[-4000:]
                    print(f"---- {f} (tail) ----\n{tail}", file=sys.stderr)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def make_pki(self, device_id="sim-0001"):
        self.ca = PKI(self.dir, "ca")
        self.server_cert = self.ca.issue("localhost", server=True)
        self.device_cert = self.ca.issue(device_id)
        self.sub_cert = self.ca.issue("test-subscriber")
        return self.ca

    def start_broker(self, port=None, persistence=False, extra=""):
        port = port or free_port()
        conf = self.path(f"mosquitto-{port}.conf")
        log = self.path(f"mosquitto-{port}.log")
        pdir = self.path(f"mosq-persist-{port}")
        os.makedirs(pdir, exist_ok=True)
        with open(conf, "w") as f:
            f.write(f"""user root
per_listener_settings false
allow_anonymous false
listener {port} 127.0.0.1
cafile {self.ca.ca_crt}
certfile {self.server_cert[0]}
keyfile {self.server_cert[1]}
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
log_dest file {log}
log_type all
max_queued_messages 100000
persistence {"true" if persistence else "false"}
persistence_location {pdir}/
autosave_interval 1
{extra}
""")
        b = Broker(self, port, None, conf, log, self.ca, pdir)
        b.start()
        return b

    def agent_config(self, broker, device_id="sim-0001", state_dir=None, **over):
        state_dir = state_dir or self.path("state")
        os.makedirs(state_dir, exist_ok=True)
        cfg = {
            "device_id": device_id,
            "board": "sim",
            "state_dir": state_dir,
            "log_level": "debug",
            "mqtt": {
                "host": "127.0.0.1", "port": broker.port, "protocol": "v5", "keepalive_s": 30,
                "tls": {"ca_file": self.ca.ca_crt, "cert_file": self.device_cert[0],
                        "key_file": self.device_cert[1]},
                "backoff": {"base_ms": 100, "cap_ms": 2000},
            },
        }
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        return cfg

    def write_config(self, cfg, name="agent.json"):
        p = self.path(name)
        with open(p, "w") as f:
            json.dump(cfg, f, indent=2)
        return p

    def start_agent(self, cfg, name="agent", extra_args=(), env=None):
        conf = cfg if isinstance(cfg, str) else self.write_config(cfg, f"{name}.json")
        log = self.path(f"{name}.log")
        lf = open(log, "a")
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.Popen([os.path.join(BIN, "edge-agent"), "--config", conf, "--foreground",
                              *extra_args], stdout=lf, stderr=subprocess.STDOUT, env=e)
        lf.close()
        self.procs.append(p)
        return Agent(self, p, conf, log)

    def subscribe(self, broker, topics, **kw):
        s = Subscriber(self, broker, topics, **kw)
        self.subs.append(s)
        return s

    def outbox_rows(self, state_dir=None):
        db = os.path.join(state_dir or self.path("state"), "outbox.db")
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            con.close()


def main(tests):
    """Runs test functions; prints 'N passed, N failed' and exits non-zero on failure."""
    only = sys.argv[1:]
    passed = failed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        start = time.time()
        try:
            t()
            passed += 1
            print(f"PASS {t.__name__} ({time.time() - start:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure kind
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or passed == 0 else 0)
