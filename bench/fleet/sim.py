#!/usr/bin/python3
"""bench/fleet/sim.py: a fleet of real edge-agent processes on one mosquitto.

Starts N real `edge-agent` processes on the sim board (device ids sim-0001..,
each its own EC P-256 certificate from a throwaway CA made at run time, its own
state_dir), optionally registering each through a real edge-provisiond first,
against one mosquitto with mutual TLS and persistence on a loopback port, and
measures:

  - delivery: a persistent-session subscriber (mosquitto_sub, MQTT v5, QoS 1)
    on the data topic records the `seq` user property of every message; at the
    end each device's seqs must form the gap-free range 1..last, where last is
    what the agent assigned minus what is still in its (closed) outbox;
    duplicates are allowed and counted;
  - broker connection times: every "New client connected ... as ID" line of
    the broker's log, stamped when it appears (polled every 50 ms);
  - per-agent memory: RSS, PSS and anonymous memory from
    /proc/PID/smaps_rollup (median, p95, total);
  - broker CPU (utime + stime from /proc/PID/stat) and the agents' CPU;
  - with --restart: the broker is stopped (SIGTERM; it saves its persistent
    sessions) for --down seconds and started again; the reconnect storm as the
    broker saw it (connections per second, time until every device is back),
    beside the same storm computed from the agent's backoff (full jitter,
    mqtt.backoff.base_ms / cap_ms, common/backoff.c) for this outage;
  - with --exporter: edge-fleet-exporter and a real Prometheus scraping it
    (scrape_duration_seconds, edge_devices_online, which must be exactly N).

Prints a Markdown table on stdout (progress on stderr) and, with --json FILE,
every figure as JSON. Exit status 0 only if every check held (delivery
complete, every agent alive and back after the restart, devices online = N).
Every process it starts is stopped on exit, also on errors and SIGINT/SIGTERM.

  EDGE_BUILD_DIR=build /usr/bin/python3 bench/fleet/sim.py --agents 100 --seconds 60 \
      --restart --exporter
  (docs/performance.md, "A fleet on one broker", has the 1,000-gateway run.)
"""
import argparse
import json
import os
import random
import re
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../tests/lib"))
sys.path.insert(0, os.path.join(HERE, "../../tests/integration"))
import edgetest  # noqa: E402
from edgetest import BIN, Broker, Harness, TestFailure, free_port  # noqa: E402

# The agent's documented reconnect defaults (edge-agent --help-config).
DEFAULT_BASE_MS = 1000
DEFAULT_CAP_MS = 60000


def log(msg):
    print(f"[fleet {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values, p):
    """The p-th percentile (nearest rank) of values; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------ /proc readers

def smaps_rollup(pid):
    """{"Rss","Pss","Anonymous"} in KiB, or None when the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] in ("Rss:", "Pss:", "Anonymous:"):
                    out[parts[0][:-1]] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out


def cpu_seconds(pid):
    """user + system CPU seconds of pid (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


# ------------------------------------------------------------ certificates

LEAF_CNF = """[req]
distinguished_name = dn
x509_extensions = v3
prompt = no
[dn]
CN = x
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def issue_client_certs(ca, ids, out_dir, workers=2):
    """One EC P-256 key and client certificate per device id, signed by ca
    (edgetest.PKI), CN = device id (the broker uses it as the user name).
    One openssl process per device (`req -x509 -CA`), `workers` at a time.
    Returns {id: (crt, key)}."""
    os.makedirs(out_dir, exist_ok=True)
    cnf = os.path.join(out_dir, "leaf.cnf")
    with open(cnf, "w") as f:
        f.write(LEAF_CNF)

    def one(dev):
        key = os.path.join(out_dir, f"{dev}.key")
        crt = os.path.join(out_dir, f"{dev}.crt")
        edgetest.run(["openssl", "req", "-x509", "-config", cnf, "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                      "-subj", f"/CN={dev}", "-CA", ca.ca_crt, "-CAkey", ca.ca_key, "-days", "2"])
        os.chmod(key, 0o600)
        return dev, (crt, key)

    with ThreadPoolExecutor(workers) as ex:
        return dict(ex.map(one, ids))


# ------------------------------------------------------------ broker

def start_broker(h, persistence=True, max_queued=1000000, cafile=None):
    """mosquitto with mutual TLS on a free loopback port, like
    edgetest.Harness.start_broker, but logging only connections and errors
    (log_type all writes several lines per message: at 1,000 msg/s that is
    broker CPU the benchmark would charge to the fleet) and with room for
    the subscriber's queue while it reconnects."""
    port = free_port()
    conf = h.path("mosquitto.conf")
    logf = h.path("mosquitto.log")
    pdir = h.path("mosq-persist")
    os.makedirs(pdir, exist_ok=True)
    with open(conf, "w") as f:
        f.write(f"""user root
per_listener_settings false
allow_anonymous false
listener {port} 127.0.0.1
cafile {cafile or h.ca.ca_crt}
certfile {h.server_cert[0]}
keyfile {h.server_cert[1]}
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
log_dest file {logf}
log_type error
log_type warning
log_type notice
log_type information
log_timestamp true
max_connections -1
max_queued_messages {max_queued}
persistence {"true" if persistence else "false"}
persistence_location {pdir}/
autosave_interval 1800
""")
    b = Broker(h, port, None, conf, logf, h.ca, pdir)
    b.start()
    return b


class BrokerLog:
    """Follows the broker's log file (across restarts: the file is appended
    to) and records, for each 'New client connected ... as ID' line, the time
    it was seen (polled every 50 ms), the broker's own second stamp and which
    broker run wrote it (1 for the first start, +1 for every 'mosquitto
    version ... starting' line after it)."""

    CONNECTED = re.compile(r"^(\d+): New client connected from \S+ as (\S+) ")
    NEW_CONN = re.compile(r"^(\d+): New connection from ")
    STARTING = re.compile(r"^(\d+): mosquitto version \S+ starting")

    def __init__(self, path):
        self.path = path
        self.connects = []  # (seen_time, broker_second, client_id, run)
        self.tcp_accepts = []  # (seen_time, broker_second)
        self.run = 0  # broker starts read so far
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        pos, buf = 0, ""
        while not self.stopping:
            try:
                with open(self.path, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
            except FileNotFoundError:
                chunk = ""
            if chunk:
                now = time.time()
                buf += chunk
                lines = buf.split("\n")
                buf = lines.pop()
                with self.lock:
                    for line in lines:
                        m = self.CONNECTED.match(line)
                        if m:
                            self.connects.append((now, int(m.group(1)), m.group(2), self.run))
                            continue
                        m = self.NEW_CONN.match(line)
                        if m:
                            self.tcp_accepts.append((now, int(m.group(1))))
                            continue
                        if self.STARTING.match(line):
                            self.run += 1
            time.sleep(0.05)

    def close(self):
        self.stopping = True
        self.thread.join(2)

    def runs(self):
        """Broker starts read from the log so far."""
        with self.lock:
            return self.run

    def connects_since(self, t0):
        with self.lock:
            return [c[:3] for c in self.connects if c[0] >= t0]

    def connects_of_run(self, run):
        with self.lock:
            return [c[:3] for c in self.connects if c[3] == run]


def reconnect_delays(blog, run, t_up):
    """{client id: seconds from t_up to its first connection to broker run
    `run`}. t_up is when the restarted broker was seen listening (a connect
    every 50 ms, edgetest.wait_port), up to ~50 ms after it really was: a
    device can connect in that gap, and its line can be read before t_up.
    So the broker run, not the time, says who came back, and a connection
    logged before t_up counts as 0 s."""
    firsts = {}
    for t, _, cid in blog.connects_of_run(run):
        firsts.setdefault(cid, max(0.0, t - t_up))
    return firsts


# ------------------------------------------------------------ subscriber

class SeqSubscriber:
    """mosquitto_sub (C, so a 2-core machine can follow 1,000 devices) with a
    persistent MQTT v5 session (clean start off, expiry 1 h, fixed client id):
    with a persistent broker nothing published while it reconnects is lost.
    Each line is 'TOPIC<TAB>USER-PROPERTIES<TAB>PAYLOAD'; the device id is
    taken from the payload's deviceId (health/device_data) or the topic
    (sensors/{id}/...)."""

    SEQ = re.compile(r"(?:^|\s)seq:(\d+)")

    def __init__(self, h, broker, topics, client_id="fleet-sim-sub"):
        crt, key = h.sub_cert
        args = ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
                "--cafile", h.ca.ca_crt, "--cert", crt, "--key", key, "-V", "5", "-q", "1",
                "-c", "-x", "3600", "-i", client_id, "-k", "30", "-F", "%t\t%P\t%p"]
        for t in topics:
            args += ["-t", t]
        self.errlog = h.path("mosquitto_sub.log")
        self.err = open(self.errlog, "a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     errors="replace", bufsize=1)
        h.procs.append(self.proc)
        self.lock = threading.Lock()
        self.seqs = {}  # device -> {seq: count}
        self.messages = 0
        self.unparsed = 0
        self.last_rx = time.time()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for line in self.proc.stdout:
            parts = line.rstrip("\n").split("\t", 2)
            dev = None
            seq = None
            if len(parts) == 3:
                m = self.SEQ.search(parts[1])
                if m:
                    seq = int(m.group(1))
                if parts[0].startswith("sensors/"):
                    dev = parts[0].split("/")[1]
                else:
                    try:
                        dev = json.loads(parts[2]).get("deviceId")
                    except ValueError:
                        dev = None
            with self.lock:
                self.messages += 1
                self.last_rx = time.time()
                if dev is None or seq is None:
                    self.unparsed += 1
                    continue
                d = self.seqs.setdefault(dev, {})
                d[seq] = d.get(seq, 0) + 1

    def max_seq(self, dev):
        with self.lock:
            d = self.seqs.get(dev)
            return max(d) if d else 0

    def snapshot(self):
        with self.lock:
            return {k: dict(v) for k, v in self.seqs.items()}

    def wait_quiet(self, quiet_s=2.0, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                idle = time.time() - self.last_rx
            if idle >= quiet_s:
                return True
            time.sleep(0.2)
        return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        self.err.close()


# ------------------------------------------------------------ the fleet

class Fleet:
    """N edge-agent processes. Their logs and state_dirs live in
    {harness}/agents/ so the harness's failure dump (top-level *.log) stays
    readable."""

    def __init__(self, h, broker, n, base_ms=None, cap_ms=None, board_dir=None, board="sim",
                 sensor_topics=False, log_level="notice", prov=None, extra_cfg=None,
                 prefix="sim-"):
        self.h, self.broker, self.n = h, broker, n
        self.dir = h.path("agents")
        os.makedirs(self.dir, exist_ok=True)
        self.ids = [f"{prefix}{i:04d}" for i in range(1, n + 1)]
        self.procs = {}
        self.configs = {}
        self.base_ms = base_ms or DEFAULT_BASE_MS
        self.cap_ms = cap_ms or DEFAULT_CAP_MS
        self.prov = prov
        certs = None
        if prov is None:
            t0 = time.time()
            certs = issue_client_certs(h.ca, self.ids, os.path.join(self.dir, "pki"))
            self.cert_s = time.time() - t0
            log(f"{n} client certificates in {self.cert_s:.1f} s")
        else:
            self.cert_s = None
        for dev in self.ids:
            state = os.path.join(self.dir, f"state-{dev}")
            os.makedirs(state, exist_ok=True)
            cfg = h.agent_config(broker, device_id=dev, state_dir=state, log_level=log_level)
            # The documented defaults unless asked otherwise: the benchmark is
            # about what a fleet does out of the box.
            del cfg["mqtt"]["backoff"]
            if base_ms or cap_ms:
                cfg["mqtt"]["backoff"] = {"base_ms": self.base_ms, "cap_ms": self.cap_ms}
            cfg["board"] = board
            if board_dir:
                cfg["boards_dir"] = board_dir
            cfg["record"] = {"sensor_topics": sensor_topics}
            if prov is not None:
                cfg = prov.agent_config(dev, cfg)
            else:
                cfg["mqtt"]["tls"]["cert_file"], cfg["mqtt"]["tls"]["key_file"] = certs[dev]
            for k, v in (extra_cfg or {}).items():
                if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                    cfg[k].update(v)
                else:
                    cfg[k] = v
            path = os.path.join(self.dir, f"{dev}.json")
            with open(path, "w") as f:
                json.dump(cfg, f, indent=1)
            self.configs[dev] = (path, state)

    def start(self, rate=50.0):
        """Starts every agent, at most `rate` per second (a fleet does not
        power on in the same millisecond; the restart storm is measured
        separately)."""
        gap = 1.0 / rate if rate > 0 else 0
        t0 = time.time()
        for i, dev in enumerate(self.ids):
            path, _ = self.configs[dev]
            lf = open(os.path.join(self.dir, f"{dev}.log"), "a")
            p = subprocess.Popen([os.path.join(BIN, "edge-agent"), "--config", path,
                                  "--foreground"], stdout=lf, stderr=subprocess.STDOUT)
            lf.close()
            self.h.procs.append(p)
            self.procs[dev] = p
            wait = t0 + (i + 1) * gap - time.time()
            if wait > 0:
                time.sleep(wait)
        return time.time() - t0

    def dead(self):
        return [d for d, p in self.procs.items() if p.poll() is not None]

    def memory(self):
        rows = {}
        for dev, p in self.procs.items():
            m = smaps_rollup(p.pid)
            if m:
                rows[dev] = m
        return rows

    def cpu(self):
        return sum(cpu_seconds(p.pid) for p in self.procs.values())

    def stop(self, timeout=60):
        """SIGTERM to all, then wait (each flushes for up to
        store.shutdown_flush_ms); SIGKILL for any still running at the end.
        Returns {dev: exit status}."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        end = time.time() + timeout
        rcs = {}
        for dev, p in self.procs.items():
            try:
                rcs[dev] = p.wait(max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                rcs[dev] = p.wait()
        return rcs

    def backlog(self):
        """Rows waiting in the outboxes now: (total, max of one device). A
        fleet that keeps up has about one record in flight per device."""
        rows = []
        for dev in self.ids:
            _, state = self.configs[dev]
            try:
                con = sqlite3.connect(f"file:{state}/outbox.db?mode=ro", uri=True, timeout=5)
                try:
                    rows.append(con.execute("SELECT count(*) FROM outbox").fetchone()[0])
                finally:
                    con.close()
            except sqlite3.Error:
                pass
        return sum(rows), max(rows, default=0)

    def log_text(self, dev):
        with open(os.path.join(self.dir, f"{dev}.log"), errors="replace") as f:
            return f.read()


def check_delivery(fleet, sub):
    """After the agents have exited and the subscriber is quiet: per device,
    every seq from 1 to the last the agent assigned either arrived or is still
    in its closed outbox, and what arrived is the gap-free range 1..max.
    Returns a summary dict (lost = seqs neither delivered nor left)."""
    got = sub.snapshot()
    res = {"devices": len(fleet.ids), "assigned": 0, "delivered": 0, "duplicates": 0,
           "left_in_outbox": 0, "lost": 0, "gaps": 0, "bad_devices": [], "integrity": "ok"}
    for dev in fleet.ids:
        _, state = fleet.configs[dev]
        remaining, next_seq, _meta, integrity = edgetest.outbox_state(state)
        if integrity != "ok":
            res["integrity"] = f"{dev}: {integrity}"
        seqs = got.get(dev, {})
        assigned = next_seq - 1
        delivered = set(seqs)
        res["assigned"] += assigned
        res["delivered"] += len(delivered)
        res["duplicates"] += sum(c - 1 for c in seqs.values())
        res["left_in_outbox"] += len(remaining)
        lost = set(range(1, next_seq)) - delivered - remaining
        top = max(delivered) if delivered else 0
        gaps = top - len(delivered)  # seqs below the highest delivered one that never came
        res["lost"] += len(lost)
        res["gaps"] += gaps
        if lost or gaps:
            res["bad_devices"].append({"device": dev, "assigned": assigned,
                                       "delivered": len(delivered), "max": top,
                                       "left": len(remaining),
                                       "lost_sample": sorted(lost)[:10]})
    res["bad_devices"] = res["bad_devices"][:20]
    return res


# ------------------------------------------------------------ backoff model

def backoff_model(n, outage_s, base_ms, cap_ms, handshake_s=0.0, runs=20, seed=1):
    """The reconnect delays (seconds after the broker is back) that the
    agent's backoff (common/backoff.c: the k-th delay uniform in
    [0, min(cap, base * 2^k)]) gives n agents that all lost the broker at
    t=0 for outage_s, each failed attempt failing at once (refused TCP probe).
    Monte Carlo over `runs` fleets; returns sorted delays."""
    rnd = random.Random(seed)
    out = []
    for _ in range(runs):
        for _ in range(n):
            t, k = 0.0, 0
            while True:
                ceil = min(cap_ms, base_ms * (2 ** k)) / 1000.0
                t += rnd.uniform(0, ceil)
                k += 1
                if t >= outage_s:
                    out.append(t - outage_s + handshake_s)
                    break
    out.sort()
    return out


def per_second(times, t0, width=1.0):
    """Histogram of times (>= t0) in width-second bins: [(start_s, count)]."""
    bins = {}
    for t in times:
        if t >= t0:
            b = int((t - t0) // width)
            bins[b] = bins.get(b, 0) + 1
    if not bins:
        return []
    return [(b * width, bins.get(b, 0)) for b in range(max(bins) + 1)]


# ------------------------------------------------------------ provisioning

class ProvFleet:
    """Registration through a real edge-provisiond before the first connect:
    the agent gets a factory bundle (key, CSR, claim token) and a
    `provisioning` object, no certificate; it registers, stores the issued
    certificate in its state_dir and connects with it (README, Zero-touch
    provisioning)."""

    def __init__(self, h, n):
        from provtest import Provisiond  # noqa: E402 - only this mode needs it
        self.prov = Provisiond(h, limits={"rate_per_s": 100000, "burst": 100000, "threads": 4})
        self.h = h
        self.token = self.prov.token("fleet-sim", uses=n + 10)
        self.bundles = h.path("agents", "bundles")

    def point_at(self, broker):
        """The provisioning server names the broker in its answer."""
        with open(self.prov.config) as f:
            cfg = json.load(f)
        cfg["broker"] = {"host": "127.0.0.1", "port": broker.port, "ca_file": self.h.ca.ca_crt}
        with open(self.prov.config, "w") as f:
            json.dump(cfg, f)
        self.prov.start(log_level="notice")

    def agent_config(self, dev, cfg):
        from provtest import FACTORY  # noqa: E402
        edgetest.run([FACTORY, "--out", self.bundles, "--url", self.prov.url, "--ca", self.prov.ca,
                      "--token", self.token, "--platform", "health-data", "--board", "sim",
                      "--agent-state-dir", cfg["state_dir"], "--serial", dev])
        with open(os.path.join(self.bundles, dev, "agent-config.json")) as f:
            frag = json.load(f)
        cfg["device_id"] = frag["device_id"]
        cfg["mqtt"]["tls"] = frag["mqtt"]["tls"]
        cfg["provisioning"] = frag["provisioning"]
        return cfg


# ------------------------------------------------------------ the run

def summarize_mem(rows):
    def stats(key):
        v = [r[key] for r in rows.values() if key in r]
        return {"median_kib": statistics.median(v) if v else None, "p95_kib": pct(v, 95),
                "max_kib": max(v) if v else None, "sum_kib": sum(v)}
    return {"agents": len(rows), "rss": stats("Rss"), "pss": stats("Pss"),
            "anon": stats("Anonymous")}


def run(args):
    fd_limit = raise_fd_limit()
    res = {"agents": args.agents, "fd_limit": fd_limit, "checks": {}, "date":
           time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "cpus": os.cpu_count()}
    ok = True

    def fail(what):
        nonlocal ok
        ok = False
        res["checks"][what] = False
        log(f"CHECK FAILED: {what}")

    with Harness("fleet-sim") as h:
        h.keep = h.keep or args.keep
        res["workdir"] = h.dir
        h.make_pki()
        prov = ProvFleet(h, args.agents) if args.provision else None
        cafile = None
        if prov:
            # devices present fleet-CA certificates, the subscriber and the
            # exporter harness-CA ones
            cafile = h.path("broker-cafile.pem")
            with open(cafile, "w") as f:
                f.write(open(prov.prov.ca).read() + open(h.ca.ca_crt).read())
        broker = start_broker(h, cafile=cafile)
        if prov:
            prov.point_at(broker)
        blog = BrokerLog(broker.log)
        topics = ["health/device_data"] + (["sensors/#"] if args.sensor_topics else [])
        sub = SeqSubscriber(h, broker, topics)
        mem0 = mem_available_kib()

        exporter = prom = None
        if args.exporter:
            from test_fleet_prometheus import Exporter, Prometheus  # noqa: E402
            exporter = Exporter(h, broker, log_level="notice")
            conf = h.path("prometheus-fleet.yml")
            with open(conf, "w") as f:
                f.write(f"""global:
  scrape_interval: {args.scrape_interval}s
  scrape_timeout: {args.scrape_interval}s
  evaluation_interval: {args.scrape_interval}s
scrape_configs:
  - job_name: edge-fleet
    static_configs:
      - targets: ['127.0.0.1:{exporter.port}']
""")
            prom = Prometheus(h, [], config=conf)

        board_dir = None
        board = "sim"
        if args.record_ms != 1000:
            board_dir = edgetest.fast_board(h, interval_ms=args.record_ms, name="simfleet",
                                            freshness_ms=max(5000, 5 * args.record_ms))
            board = "simfleet"
        fleet = Fleet(h, broker, args.agents, base_ms=args.backoff_base_ms,
                      cap_ms=args.backoff_cap_ms, board_dir=board_dir, board=board,
                      sensor_topics=args.sensor_topics,
                      prov=prov, extra_cfg={"record": {"interval_ms": args.record_ms}}
                      if args.record_ms != 1000 else None)
        res["cert_s"] = fleet.cert_s
        res["backoff"] = {"base_ms": fleet.base_ms, "cap_ms": fleet.cap_ms}

        # ---- start and wait until every device is connected
        t_start = time.time()
        start_s = fleet.start(rate=args.start_rate)
        log(f"{args.agents} agents started in {start_s:.1f} s")
        end = time.time() + args.connect_timeout
        while time.time() < end:
            ids = {c[2] for c in blog.connects_since(t_start)}
            if all(d in ids for d in fleet.ids):
                break
            time.sleep(0.5)
        connected = {c[2] for c in blog.connects_since(t_start)}
        missing = [d for d in fleet.ids if d not in connected]
        res["initial_connect_s"] = time.time() - t_start
        if missing:
            fail(f"{len(missing)} devices never connected, e.g. {missing[:5]}")
        log(f"all connected {res['initial_connect_s']:.1f} s after the first start"
            if not missing else f"{len(missing)} not connected")
        first = {}
        for t, _, cid in blog.connects_since(t_start):
            first.setdefault(cid, t)
        res["initial_connect_spread_s"] = (max(first.values()) - min(first.values())) if first else None

        # ---- steady state: memory, CPU
        time.sleep(args.settle)
        c_b0, c_a0, t0 = cpu_seconds(broker.proc.pid), fleet.cpu(), time.time()
        msgs0 = sub.messages
        time.sleep(args.seconds)
        dt = time.time() - t0
        c_b1, c_a1 = cpu_seconds(broker.proc.pid), fleet.cpu()
        mem = fleet.memory()
        backlog_total, backlog_max = fleet.backlog()
        res["steady"] = {
            "outbox_rows_total": backlog_total,
            "outbox_rows_max": backlog_max,
            "seconds": dt,
            "broker_cpu_pct": 100.0 * (c_b1 - c_b0) / dt,
            "agents_cpu_pct": 100.0 * (c_a1 - c_a0) / dt,
            "agent_cpu_ms_per_s": 1000.0 * (c_a1 - c_a0) / dt / max(1, len(fleet.procs)),
            "msgs_per_s": (sub.messages - msgs0) / dt,
            "loadavg": os.getloadavg()[0],
            "broker_fds": open_fds(broker.proc.pid),
            "broker_rss_kib": (smaps_rollup(broker.proc.pid) or {}).get("Rss"),
            "mem_available_drop_mib": (mem0 - mem_available_kib()) / 1024.0,
        }
        res["memory"] = summarize_mem(mem)
        log(f"steady: {json.dumps(res['steady'])}")
        log(f"memory: {json.dumps(res['memory'])}")

        if prom:
            try:
                prom.wait_value("edge_devices_online", args.agents, timeout=60)
            except TestFailure as e:
                fail(f"prometheus: {e}")
            time.sleep(2 * args.scrape_interval)
            res["prometheus"] = {
                "edge_devices_online": prom.value("edge_devices_online"),
                "edge_devices_total": prom.value("edge_devices_total"),
                "scrape_duration_s": prom.value('scrape_duration_seconds{job="edge-fleet"}'),
                "scrape_duration_max_s": prom.value(
                    'max_over_time(scrape_duration_seconds{job="edge-fleet"}[1m])'),
                "scrape_samples": prom.value('scrape_samples_scraped{job="edge-fleet"}'),
                "up": prom.value('up{job="edge-fleet"}'),
                "exporter_rss_kib": (smaps_rollup(exporter.proc.pid) or {}).get("Rss"),
            }
            log(f"prometheus: {json.dumps(res['prometheus'])}")
            if res["prometheus"]["edge_devices_online"] != args.agents:
                fail("edge_devices_online != agents")

        # ---- broker restart: the reconnect storm
        if args.restart:
            t_down = time.time()
            broker.stop(signal.SIGTERM)
            t_stopped = time.time()
            time.sleep(max(0.0, args.down - (t_stopped - t_down)))
            c_b0 = None
            run_no = blog.runs() + 1  # the restarted broker's lines
            broker.start()
            t_up = time.time()
            c_b0 = cpu_seconds(broker.proc.pid)
            log(f"broker stopped in {t_stopped - t_down:.2f} s, down {t_up - t_down:.1f} s, back")
            end = time.time() + args.reconnect_timeout
            while time.time() < end:
                back = reconnect_delays(blog, run_no, t_up)
                if all(d in back for d in fleet.ids):
                    break
                time.sleep(0.2)
            storm_cpu = cpu_seconds(broker.proc.pid) - c_b0
            conns = blog.connects_of_run(run_no)
            firsts = reconnect_delays(blog, run_no, t_up)
            back_ids = [d for d in fleet.ids if d in firsts]
            delays = sorted(firsts[d] for d in back_ids)
            hist = per_second([t_up + firsts[d] for d in back_ids], t_up)
            all_back = len(back_ids) == len(fleet.ids)
            outage = t_up - t_down
            model = backoff_model(len(fleet.ids), outage, fleet.base_ms, fleet.cap_ms)
            model_hist = per_second([m + t_up for m in model], t_up)
            runs = 20
            res["restart"] = {
                "down_s": outage,
                "stop_s": t_stopped - t_down,
                "all_back": all_back,
                "back": len(back_ids),
                "all_back_after_s": delays[-1] if all_back else None,
                "p50_s": pct(delays, 50), "p90_s": pct(delays, 90), "p99_s": pct(delays, 99),
                "peak_conns_per_s": max((c for _, c in hist), default=0),
                "connects_total": len(conns),
                "broker_cpu_s_during_storm": storm_cpu,
                "per_second": hist,
                "model": {"p50_s": pct(model, 50), "p90_s": pct(model, 90),
                          "p99_s": pct(model, 99), "max_s": model[-1] if model else None,
                          "peak_conns_per_s": max((c for _, c in model_hist), default=0) / runs,
                          "per_second": [(s, c / runs) for s, c in model_hist]},
            }
            r = res["restart"]
            log(f"restart: back {r['back']}/{args.agents}, all after {r['all_back_after_s']}, "
                f"p50 {r['p50_s']}, p90 {r['p90_s']}, peak {r['peak_conns_per_s']}/s; "
                f"model p50 {r['model']['p50_s']:.2f} p90 {r['model']['p90_s']:.2f} "
                f"max {r['model']['max_s']:.2f}")
            if not all_back:
                missing = [d for d in fleet.ids if d not in firsts]
                fail(f"only {len(back_ids)} of {args.agents} reconnected, not e.g. {missing[:5]}")
            # let the backlog of the outage drain and statuses settle
            time.sleep(args.after)
            if prom:
                try:
                    prom.wait_value("edge_devices_online", args.agents, timeout=60)
                    res["prometheus"]["online_after_restart"] = args.agents
                except TestFailure as e:
                    fail(f"prometheus after the restart: {e}")

        # ---- stop everything, check delivery
        dead = fleet.dead()
        if dead:
            fail(f"{len(dead)} agents died, e.g. {dead[:3]}: "
                 f"{fleet.log_text(dead[0])[-600:]}")
        rcs = fleet.stop()
        bad_rc = {d: rc for d, rc in rcs.items() if rc != 0}
        if bad_rc:
            fail(f"{len(bad_rc)} agents exited non-zero: {list(bad_rc.items())[:5]}")
        sub.wait_quiet(2.0, timeout=60)
        res["subscriber"] = {"messages": sub.messages, "unparsed": sub.unparsed}
        res["delivery"] = check_delivery(fleet, sub)
        d = res["delivery"]
        log(f"delivery: {json.dumps({k: v for k, v in d.items() if k != 'bad_devices'})}")
        if d["lost"] or d["gaps"] or d["integrity"] != "ok":
            fail(f"delivery: {d['lost']} lost, {d['gaps']} gaps: {d['bad_devices'][:3]}")
        if d["delivered"] == 0:
            fail("nothing delivered")
        sub.close()
        blog.close()
        if exporter:
            exporter.finish()
    res["ok"] = ok
    return res


def table(res):
    out = []
    s, m = res.get("steady", {}), res.get("memory", {})

    def mib(k):
        return "n/a" if k is None else f"{k / 1024:.1f} MiB"
    out.append(f"edge-agent fleet: {res['agents']} agents, {res['date']}, {res['cpus']} CPUs, "
               f"backoff base {res['backoff']['base_ms']} ms cap {res['backoff']['cap_ms']} ms\n")
    out.append("| figure | value |")
    out.append("|---|---|")
    out.append(f"| all connected after the first start | {res.get('initial_connect_s', 0):.1f} s |")
    if s:
        out.append(f"| messages/s at the subscriber (steady, {s['seconds']:.0f} s) | {s['msgs_per_s']:.0f} |")
        out.append(f"| broker CPU (steady) | {s['broker_cpu_pct']:.1f} % of one core |")
        out.append(f"| agents' CPU (steady, all together) | {s['agents_cpu_pct']:.1f} % of one core "
                   f"({s['agent_cpu_ms_per_s']:.2f} ms/s each) |")
        out.append(f"| rows waiting in the outboxes at the end (all / largest) | "
                   f"{s['outbox_rows_total']} / {s['outbox_rows_max']} |")
        out.append(f"| broker RSS / open fds | {mib(s['broker_rss_kib'])} / {s['broker_fds']} |")
        out.append(f"| MemAvailable drop (whole machine) | {s['mem_available_drop_mib']:.0f} MiB |")
    for k, label in (("rss", "RSS"), ("pss", "PSS"), ("anon", "anonymous")):
        if m.get(k):
            out.append(f"| per-agent {label}: median / p95 / max | {mib(m[k]['median_kib'])} / "
                       f"{mib(m[k]['p95_kib'])} / {mib(m[k]['max_kib'])} |")
    if m.get("pss"):
        out.append(f"| PSS of all agents together | {mib(m['pss']['sum_kib'])} |")
    p = res.get("prometheus")
    if p:
        out.append(f"| Prometheus: edge_devices_online | {p['edge_devices_online']} |")
        out.append(f"| Prometheus: scrape_duration_seconds (last / max over 1 m) | "
                   f"{p['scrape_duration_s'] * 1000:.1f} ms / {p['scrape_duration_max_s'] * 1000:.1f} ms "
                   f"({p['scrape_samples']:.0f} samples) |")
    r = res.get("restart")
    if r:
        mo = r["model"]
        out.append(f"| broker restart: down (SIGTERM to listening again; its stop took) | "
                   f"{r['down_s']:.1f} s ({r['stop_s']:.1f} s) |")
        after = f", all after {r['all_back_after_s']:.1f} s" if r["all_back"] else ""
        out.append(f"| devices back | {r['back']} of {res['agents']}{after} |")
        out.append(f"| reconnect delay p50 / p90 / p99 (broker log) | {r['p50_s']:.1f} / "
                   f"{r['p90_s']:.1f} / {r['p99_s']:.1f} s |")
        out.append(f"| same from the backoff model (full jitter) | {mo['p50_s']:.1f} / "
                   f"{mo['p90_s']:.1f} / {mo['p99_s']:.1f} s, max {mo['max_s']:.1f} s |")
        out.append(f"| peak connections/s (measured / model) | {r['peak_conns_per_s']} / "
                   f"{mo['peak_conns_per_s']:.0f} |")
        out.append(f"| broker CPU during the storm | {r['broker_cpu_s_during_storm']:.2f} s |")
        out.append("| connections per second after the restart | "
                   + " ".join(str(c) for _, c in r["per_second"]) + " |")
    d = res.get("delivery")
    if d:
        out.append(f"| readings assigned / delivered / left in outbox | {d['assigned']} / "
                   f"{d['delivered']} / {d['left_in_outbox']} |")
        out.append(f"| readings lost / gaps / duplicates | {d['lost']} / {d['gaps']} / "
                   f"{d['duplicates']} |")
    out.append(f"| every check held | {'yes' if res.get('ok') else 'NO: ' + ', '.join(res['checks'])} |")
    return "\n".join(out)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30, help="steady-state window")
    ap.add_argument("--settle", type=float, default=5, help="wait after all connected")
    ap.add_argument("--start-rate", type=float, default=50, help="agents started per second")
    ap.add_argument("--connect-timeout", type=float, default=300)
    ap.add_argument("--restart", action="store_true", help="restart the broker, measure the storm")
    ap.add_argument("--down", type=float, default=5, help="seconds the broker stays down")
    ap.add_argument("--reconnect-timeout", type=float, default=180)
    ap.add_argument("--after", type=float, default=10, help="seconds to drain after all are back")
    ap.add_argument("--exporter", action="store_true", help="edge-fleet-exporter + Prometheus")
    ap.add_argument("--scrape-interval", type=int, default=5)
    ap.add_argument("--provision", action="store_true", help="register through edge-provisiond")
    ap.add_argument("--sensor-topics", action="store_true",
                    help="also publish every reading on sensors/{id}/{metric} (7 more msg/s)")
    ap.add_argument("--record-ms", type=int, default=1000, help="record interval")
    ap.add_argument("--backoff-base-ms", type=int, default=None)
    ap.add_argument("--backoff-cap-ms", type=int, default=None)
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    return ap.parse_args(argv)


def main():
    args = parse_args()

    def on_term(signum, frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    res = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    print(table(res))
    sys.exit(0 if res["ok"] else 1)


if __name__ == "__main__":
    main()
