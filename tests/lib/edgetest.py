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

    def wait_log_count(self, text, n, timeout=15):
        """Until text is in the log n times (the log goes on across restarts)."""
        end = time.time() + timeout
        while time.time() < end:
            if self.log_text().count(text) >= n:
                return
            if not self.alive():
                break
            time.sleep(0.1)
        raise TestFailure(f"agent log never showed {text!r} {n} times; log:\n"
                          f"{self.log_text()[-3000:]}")


class MessageLog:
    """snapshot() and wait() over self.msgs (tuples, topic first) under self.lock,
    for the test's MQTT clients. wait_failure is the message wait() fails with."""

    wait_failure = "got {got} of {count} messages on {topic} within {timeout}s"

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
        raise TestFailure(self.wait_failure.format(got=len(got), count=count, topic=topic,
                                                   timeout=timeout))


class Subscriber(MessageLog):
    """A paho MQTT v5 client over mutual TLS collecting messages in the background."""

    def __init__(self, h, broker, topics, client_id=None, clean=True):
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        cid = client_id or f"sub-{os.getpid()}-{time.time_ns() % 100000}"
        self.c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        self.clean = clean
        self.c.tls_set(ca_certs=broker.ca.ca_crt, certfile=h.sub_cert[0], keyfile=h.sub_cert[1])
        self.topics = topics if isinstance(topics, list) else [topics]

        self.connects = 0

        def on_connect(c, u, f, rc, props=None):
            for t in self.topics:
                c.subscribe(t, qos=1)
            self.connects += 1
            self.connected.set()

        def on_subscribe(c, u, mid, rcs, props=None):
            self.subacks += 1

        self.subacks = 0
        self.c.on_subscribe = on_subscribe
        self.c.reconnect_delay_set(min_delay=0.1, max_delay=0.5)

        def on_message(c, u, m):
            props = {}
            if m.properties is not None and hasattr(m.properties, "UserProperty"):
                props = dict(m.properties.UserProperty)
            with self.lock:
                self.msgs.append((m.topic, m.payload, props, m.retain, time.time()))

        self.c.on_connect = on_connect
        self.c.on_message = on_message
        props = None
        if not clean:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.c.connect("127.0.0.1", broker.port, keepalive=30, clean_start=clean,
                       properties=props)
        # Our own network thread: paho's loop_start() gives up after a broker's
        # graceful DISCONNECT (server shutting down); a test subscriber must not.
        self.stopping = False

        def run():
            while not self.stopping:
                try:
                    self.c.loop_forever(retry_first_connection=True)
                except Exception:  # noqa: BLE001 - keep reconnecting
                    pass
                if self.stopping:
                    break
                time.sleep(0.1)
                try:
                    self.c.reconnect()
                except Exception:  # noqa: BLE001
                    pass

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not self.connected.wait(10):
            raise TestFailure("test subscriber could not connect to the broker")
        time.sleep(0.3)  # let the SUBACK arrive

    def close(self):
        self.stopping = True
        self.c.disconnect()
        self.thread.join(5)

    def wait_resubscribed(self, before, timeout=15):
        """Waits until every topic is subscribed again after a broker restart."""
        end = time.time() + timeout
        while time.time() < end:
            if self.subacks >= before + len(self.topics):
                return
            time.sleep(0.05)
        raise TestFailure("test subscriber did not resubscribe after the broker restart")


class FakeBroker:
    """Stands in for a Broker where only its port is needed (agent_config): for
    tests whose "broker" is a socket the test controls."""

    def __init__(self, port):
        self.port = port


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
            # nginx's master must stop its workers: SIGKILL would orphan them
            if p.poll() is None and isinstance(p.args, (list, tuple)) and p.args and \
                    os.path.basename(str(p.args[0])) == "nginx":
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
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


def broker_and_subscriber(h, topics, **broker_kw):
    """The usual start of a test: h.make_pki(), a broker (start_broker(**broker_kw))
    and a test subscriber on topics. Returns (broker, subscriber)."""
    h.make_pki()
    b = h.start_broker(**broker_kw)
    return b, h.subscribe(b, topics)


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


def acked_count(state_dir):
    """Messages the agent has had acknowledged: committed seqs no longer in its
    outbox (state_dir must be fresh, seqs starting at 1). Reads while the agent
    runs or is frozen (WAL readers never block)."""
    con = sqlite3.connect(os.path.join(state_dir, "outbox.db"), timeout=5)
    try:
        nxt = con.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        rows = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        con.close()
    return (nxt[0] - 1 if nxt else 0) - rows


def distinct_data(sub):
    return len({(m[0], m[1]) for m in sub.snapshot() if not m[0].startswith("devices/")})


def stop_broker_quiesced(broker, agent, subs, sig=signal.SIGKILL, state_dir=None):
    """Kills the broker mid-stream without charging the agent for the broker's
    own loss. The agent is frozen first; then, with state_dir, we wait until the
    subscriber holds at least as many distinct messages as the agent has had
    acknowledged (what the broker PUBACKed it must forward), otherwise until the
    subscribers are quiet. Anything missing later was never acknowledged at the
    agent and must be published again by it."""
    agent.proc.send_signal(signal.SIGSTOP)
    try:
        end = time.time() + 30
        if state_dir:
            want = acked_count(state_dir)
            while time.time() < end and distinct_data(subs[0]) < want:
                time.sleep(0.05)
            if distinct_data(subs[0]) < want:
                print(f"    NOTE: the broker acknowledged {want} messages but delivered only "
                      f"{distinct_data(subs[0])} to the test subscriber within 30 s", flush=True)
        last, stable_since = None, time.time()
        while time.time() < end:
            n = sum(len(s.msgs) for s in subs)
            if n != last:
                last, stable_since = n, time.time()
            elif time.time() - stable_since > 1.5:
                break
            time.sleep(0.05)
        broker.stop(sig)
    finally:
        agent.proc.send_signal(signal.SIGCONT)


def restart_broker_paused(broker, agent, subs):
    """Starts the broker again with the agent frozen (SIGSTOP) until every test
    subscriber has resubscribed, so the test never misses what the agent sends
    first after reconnecting (that would be the test's loss, not the agent's)."""
    marks = [s.subacks for s in subs]
    agent.proc.send_signal(signal.SIGSTOP)
    try:
        broker.start()
        for s, m in zip(subs, marks):
            s.wait_resubscribed(m)
    finally:
        agent.proc.send_signal(signal.SIGCONT)


def fast_board(h, interval_ms=10, name="simfast", freshness_ms=2000):
    """A sim board sampling every interval_ms (7 readings per tick)."""
    d = h.path("boards")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{name}.json"), "w") as f:
        json.dump({"name": name, "hal": "sim",
                   "buses": [{"name": "i2c0", "type": "i2c", "path": "sim:i2c0"}],
                   "sensors": [{"name": "vitals", "compatible": "edge,sim-vitals", "bus": "i2c0",
                                "address": "0x50", "interval_ms": interval_ms,
                                "freshness_ms": freshness_ms}]}, f)
    return d


def outbox_state(state_dir):
    """(remaining seqs, next_seq, meta dict) of an outbox the agent has closed."""
    db = os.path.join(state_dir, "outbox.db")
    con = sqlite3.connect(db, timeout=5)
    try:
        rows = {r[0] for r in con.execute("SELECT seq FROM outbox")}
        meta = dict(con.execute("SELECT key, value FROM meta"))
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    return rows, meta.get("next_seq", 1), meta, ok


def check_delivery(msgs, state_dir, window, first=1, allow_missing=0):
    """Every seq from first to the last one the agent assigned either arrived or is
    still in the (closed) outbox; per topic, new seqs arrive in increasing order and
    anything arriving below the topic's high-water mark is a duplicate within
    `window`. Returns a dict of figures for the test's output."""
    remaining, next_seq, meta, integrity = outbox_state(state_dir)
    check(integrity == "ok", f"outbox integrity_check: {integrity}")
    delivered = {}
    per_topic_max = {}
    dups = 0
    max_back = 0
    for topic, payload, props, retain, t in msgs:
        if "seq" not in props:
            continue
        s = int(props["seq"])
        hi = per_topic_max.get(topic, 0)
        if s <= hi:
            check(s in delivered, f"{topic}: seq {s} arrived after {hi} but was never seen "
                                  f"before: out of order")
            max_back = max(max_back, hi - s)
            dups += 1
        else:
            per_topic_max[topic] = s
        delivered[s] = delivered.get(s, 0) + 1
    expected = set(range(first, next_seq))
    missing = expected - set(delivered) - remaining
    check(len(missing) <= allow_missing,
          f"{len(missing)} seqs lost, e.g. {sorted(missing)[:10]} (next_seq {next_seq}, "
          f"delivered {len(delivered)}, left in outbox {len(remaining)})")
    check(max_back <= window, f"a duplicate came {max_back} seqs back, window is {window}")
    return {"assigned": next_seq - first, "delivered": len(delivered), "duplicates": dups,
            "max_back": max_back, "left": len(remaining), "meta": meta}
