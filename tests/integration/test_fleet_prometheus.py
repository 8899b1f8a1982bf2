#!/usr/bin/python3
"""edge-fleet-exporter against a real mosquitto (mutual TLS) and a real
Prometheus scraping it: per-device values after devices connect, after one is
SIGKILLed (Last Will -> offline -> edge_device_up 0), after a retained status
is cleared (device removed), and with hostile payloads.

Devices are simulated by paho clients in child processes (so SIGKILL drops
the TCP connection like a crashed agent). The helpers here are shared with
the other test_fleet_*.py files.
"""
# ctest-timeout: 150
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import edgetest
from edgetest import BIN, Harness, TestFailure, check, free_port, wait_port

SRC = os.environ.get("EDGE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
PROMETHEUS = "/usr/bin/prometheus"

# ---------------------------------------------------------------- helpers


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(v[i + 1], "\\" + v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def parse_metrics(text):
    """Text exposition -> {name: [(labels dict, value float)]}; checks the
    grammar strictly enough to catch broken escaping."""
    fams = {}
    for ln, line in enumerate(text.split("\n"), 1):
        if not line or line.startswith("#"):
            if line.startswith("# TYPE "):
                check(len(line.split(" ")) == 4, f"line {ln}: bad TYPE line {line!r}")
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        check(m is not None, f"line {ln}: not a sample: {line!r}")
        labels = {}
        body = m.group(3) or ""
        pos = 0
        while pos < len(body):
            lm = _LABEL_RE.match(body, pos)
            check(lm is not None, f"line {ln}: bad labels at {body[pos:]!r}")
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
        fams.setdefault(m.group(1), []).append((labels, float(m.group(4))))
    return fams


def sample(fams, name, **labels):
    for lab, v in fams.get(name, []):
        if all(lab.get(k) == val for k, val in labels.items()):
            return v
    return None


class Exporter:
    def __init__(self, h, broker, name="exporter", env=None, **cfg_over):
        self.h = h
        self.env = env
        self.port = free_port()
        crt, key = h.ca.issue("fleet-exporter")
        cfg = {
            "mqtt": {"host": "127.0.0.1", "port": broker.port, "protocol": "v5",
                     "tls": {"ca_file": h.ca.ca_crt, "cert_file": crt, "key_file": key},
                     "backoff": {"base_ms": 100, "cap_ms": 1000}},
            "listen": {"address": "127.0.0.1", "port": self.port},
            "log_level": "debug",
        }
        for k, v in cfg_over.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        self.config = h.path(f"{name}.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=1)
        self.log = h.path(f"{name}.log")
        self.start()

    def start(self):
        lf = open(self.log, "a")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen([os.path.join(BIN, "edge-fleet-exporter"), "--config",
                                      self.config], stdout=lf, stderr=subprocess.STDOUT, env=env)
        lf.close()
        self.h.procs.append(self.proc)
        wait_port(self.port)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(10)
        return rc

    def finish(self):
        """Stops it with SIGTERM: it must exit 0 without sanitizer reports
        (the EDGE_SANITIZE build turns leaks and UB into a failed test)."""
        if self.proc.poll() is None:
            rc = self.stop()
        else:
            rc = self.proc.returncode
        with open(self.log, errors="replace") as f:
            log = f.read()
        for bad in ("Sanitizer", "runtime error:"):
            check(bad not in log, f"exporter log shows {bad}:\n{log[-3000:]}")
        check(rc == 0, f"exporter exited with {rc} on SIGTERM")

    def url(self, path="/metrics"):
        return f"http://127.0.0.1:{self.port}{path}"

    def text(self):
        st, body = http_get(self.url())
        check(st == 200, f"/metrics answered {st}")
        return body

    def metrics(self):
        return parse_metrics(self.text())

    def wait(self, pred, what, timeout=15):
        end = time.time() + timeout
        fams = None
        while time.time() < end:
            check(self.proc.poll() is None, f"exporter exited with {self.proc.returncode}")
            fams = self.metrics()
            if pred(fams):
                return fams
            time.sleep(0.1)
        raise TestFailure(f"exporter never showed {what}")


DEVICE_SCRIPT = r"""
import json, sys, time
import paho.mqtt.client as mqtt
port, ca, crt, key, dev, boot, proto = sys.argv[1:8]
c = mqtt.Client(client_id=dev, protocol=mqtt.MQTTv5 if proto == "v5" else mqtt.MQTTv311)
c.tls_set(ca_certs=ca, certfile=crt, keyfile=key)
c.will_set(f"devices/{dev}/status", json.dumps({"state": "offline", "deviceId": dev, "boot": boot}),
           qos=1, retain=True)
c.connect("127.0.0.1", int(port), keepalive=5)
c.loop_start()
for line in sys.stdin:
    cmd = json.loads(line)
    payload = cmd["payload"]
    if not isinstance(payload, str):
        payload = json.dumps(payload)
    data = payload.encode("latin-1") if cmd.get("raw") else payload.encode()
    c.publish(cmd["topic"], data, qos=1, retain=cmd.get("retain", False)).wait_for_publish()
    print("ok", flush=True)
c.disconnect()
c.loop_stop()
"""


class SimDevice:
    """A paho client in a child process: a device that can crash for real."""

    def __init__(self, h, broker, device_id, proto="v311"):
        self.id = device_id
        self.boot = f"boot-{device_id}-{time.time_ns() % 1000000}"
        crt, key = h.device_cert
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-c", DEVICE_SCRIPT, str(broker.port), h.ca.ca_crt, crt, key,
             device_id, self.boot, proto],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        h.procs.append(self.proc)

    def publish(self, topic, payload, retain=False, raw=False):
        self.proc.stdin.write(json.dumps({"topic": topic, "payload": payload, "retain": retain,
                                          "raw": raw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        check(line.strip() == "ok", f"simulated device {self.id} failed to publish")

    def status(self, **over):
        st = status_payload(self.id, boot=self.boot, **over)
        self.publish(f"devices/{self.id}/status", st, retain=True)
        return st

    def alert(self, severity, rule="hr-high", state="firing"):
        self.publish(f"alerts/{severity}", {
            "deviceId": self.id, "rule": rule, "metric": "heartRate", "value": 150,
            "severity": severity, "state": state, "timestamp": int(time.time() * 1000)})

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)


def status_payload(device_id, **over):
    now = int(time.time() * 1000)
    st = {"state": "online", "deviceId": device_id, "board": "sim", "version": "0.1.0",
          "firmware": "0.1.0", "boot": "b", "timestamp": now, "uptimeS": 123, "backlog": 10,
          "dropped": 0, "reconnects": 1, "lastPublishMs": now - 1000, "lastError": "",
          "sensors": {"vitals": {"enabled": True, "healthy": True, "errors": 0,
                                 "lastReadingMs": now - 500}},
          "alerts": {"active": 0, "total": 3}, "certExpiresMs": now + 365 * 86400 * 1000,
          "memory": {"rssKb": 2100, "pssKb": 1800}, "recordsIncomplete": 0,
          "ingress": {"nodes": 3, "nodesActive": 2, "sessions": 2, "accepted": 10,
                      "refused": 1, "rateLimited": 0}}
    st.update(over)
    return st


class Prometheus:
    """The Debian prometheus binary on a free loopback port scraping targets
    every second, its TSDB in the test's temp dir."""

    def __init__(self, h, targets, job="edge-fleet", config=None):
        self.port = free_port()
        conf = config or h.path("prometheus.yml")
        if not config:
            with open(conf, "w") as f:
                f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: {job}
    static_configs:
      - targets: [{", ".join(repr(t) for t in targets)}]
""")
        log = open(h.path("prometheus.log"), "a")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={h.path('tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
             "--storage.tsdb.retention.time=1h"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        h.procs.append(self.proc)
        wait_port(self.port, timeout=30)
        end = time.time() + 30
        while time.time() < end:
            try:
                if http_get(f"http://127.0.0.1:{self.port}/-/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TestFailure("prometheus never became ready")

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        try:
            st, body = http_get(url)
        except urllib.error.HTTPError as e:
            raise TestFailure(f"query {expr!r}: HTTP {e.code}: {e.read()[:300]!r}")
        res = json.loads(body)
        check(res["status"] == "success", f"query {expr!r} failed: {res}")
        return res["data"]

    def vector(self, expr):
        """{frozenset(labels minus __name__): value}"""
        data = self.query(expr)
        check(data["resultType"] == "vector", f"{expr!r} is not a vector")
        return {frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"):
                float(r["value"][1]) for r in data["result"]}

    def value(self, expr):
        v = self.vector(expr)
        return next(iter(v.values())) if len(v) == 1 else None

    def wait_value(self, expr, want, timeout=20):
        end = time.time() + timeout
        got = None
        while time.time() < end:
            got = self.value(expr)
            if got == want:
                return
            time.sleep(0.25)
        raise TestFailure(f"prometheus: {expr} = {got}, wanted {want} within {timeout}s")


# ------------------------------------------------------------------ tests


def test_fleet_prometheus_devices_and_last_will():
    with Harness("fleet-prom") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker)
        prom = Prometheus(h, [f"127.0.0.1:{exp.port}"])
        devs = [SimDevice(h, broker, f"sim-000{i}") for i in (1, 2, 3)]
        devs[0].status(backlog=10, firmware="0.1.0")
        devs[1].status(backlog=250, firmware="0.2.0", certExpiresMs=1795298000500,
                       sensors={"vitals": {"healthy": True, "errors": 0},
                                "cuff": {"healthy": False, "errors": 7}})
        devs[2].status(backlog=0, firmware="0.2.0", dropped=5, reconnects=4)
        devs[1].alert("critical")
        devs[1].alert("critical")
        devs[1].alert("critical", state="resolved")
        devs[2].alert("warning")

        prom.wait_value("edge_devices_online", 3)
        check(prom.value("edge_devices_total") == 3, "edge_devices_total != 3")
        check(prom.value('up{job="edge-fleet"}') == 1, "prometheus could not scrape the exporter")
        for d in devs:
            check(prom.value(f'edge_device_up{{device_id="{d.id}"}}') == 1, f"{d.id} not up")
        check(prom.value('edge_device_backlog{device_id="sim-0002"}') == 250, "backlog of sim-0002")
        check(prom.value('edge_device_dropped_total{device_id="sim-0003"}') == 5, "dropped")
        check(prom.value('edge_device_reconnects_total{device_id="sim-0003"}') == 4, "reconnects")
        check(prom.value('edge_device_cert_expiry_timestamp_seconds{device_id="sim-0002"}')
              == 1795298000.5, "cert expiry of sim-0002")
        check(prom.value('edge_device_memory_rss_bytes{device_id="sim-0001"}') == 2100 * 1024,
              "rss")
        check(prom.value('edge_device_sensor_healthy{device_id="sim-0002",sensor="cuff"}') == 0,
              "cuff sensor should be unhealthy")
        check(prom.value('edge_device_sensor_healthy{device_id="sim-0002",sensor="vitals"}') == 1,
              "vitals sensor should be healthy")
        fw = prom.vector("count by (firmware) (edge_device_info)")
        check(fw == {frozenset({("firmware", "0.1.0")}): 1, frozenset({("firmware", "0.2.0")}): 2},
              f"firmware distribution: {fw}")
        prom.wait_value('edge_alerts_total{device_id="sim-0002",severity="critical"}', 2)
        check(prom.value('edge_alerts_resolved_total{device_id="sim-0002",severity="critical"}')
              == 1, "resolved alerts")
        check(prom.value('edge_alerts_total{device_id="sim-0003",severity="warning"}') == 1,
              "warning alert of sim-0003")
        check(prom.value("edge_exporter_mqtt_connected") == 1, "exporter not connected")
        seen = prom.value('edge_device_last_seen_timestamp_seconds{device_id="sim-0001"}')
        check(seen is not None and abs(seen - time.time()) < 30, f"last seen {seen}")

        # a crashed device: the broker publishes its Last Will
        devs[1].kill()
        prom.wait_value('edge_device_up{device_id="sim-0002"}', 0)
        prom.wait_value("edge_devices_online", 2)
        check(prom.value("edge_devices_total") == 3, "an offline device still counts")
        # the last known figures survive the will (it carries few fields)
        check(prom.value('edge_device_backlog{device_id="sim-0002"}') == 250,
              "backlog lost with the will")
        check(prom.value('edge_device_up{device_id="sim-0001"}') == 1, "sim-0001 went down")

        # a cleared retained status removes the device
        devs[2].publish("devices/sim-0003/status", "", retain=True)
        prom.wait_value("edge_devices_total", 2)
        check(prom.value('edge_device_up{device_id="sim-0003"}') is None,
              "sim-0003's series should be gone")

        # a restarted exporter rebuilds the same picture from retained statuses
        exp.stop()
        exp.start()
        fams = exp.wait(lambda f: sample(f, "edge_devices_total") == 2, "2 devices after restart")
        check(sample(fams, "edge_device_up", device_id="sim-0001") == 1, "sim-0001 after restart")
        check(sample(fams, "edge_device_up", device_id="sim-0002") == 0, "sim-0002 after restart")
        exp.finish()


def test_fleet_hostile_payloads():
    with Harness("fleet-hostile") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker, mqtt={"protocol": "v311"})  # the others use v5
        dev = SimDevice(h, broker, "sim-0001")
        prom = Prometheus(h, [f"127.0.0.1:{exp.port}"])
        bad = [
            ("devices/sim-0001/status", "not json"),
            ("devices/sim-0001/status", "[1,2,3]"),
            ("devices/sim-0001/status", '{"state":'),
            ("alerts/critical", '{"state":"firing"}'),  # no deviceId
            ("alerts/critical", "\u0000\u0001"),
        ]
        for topic, payload in bad:
            dev.publish(topic, payload)
        # wrong types everywhere, odd label characters, invalid UTF-8 in a string
        odd = 'we"ird\\dev{ice}'
        dev.publish(f"devices/{odd}/status", status_payload("x"))
        dev.publish("devices/sim-0009/status", json.dumps({
            "state": "online", "backlog": "many", "dropped": -3, "reconnects": 1e300,
            "firmware": 17, "board": ["sim"], "memory": "lots", "alerts": [],
            "sensors": {"a": 1, "b": {"healthy": "yes", "errors": -1}, "c\"d": {"healthy": True}},
            "certExpiresMs": None, "uptimeS": 5.9}))
        dev.publish("devices/sim-0008/status", b'{"state":"online","firmware":"\xff\xfe"}'.decode(
            "latin-1"), raw=True)
        dev.publish("devices/sim-0007/status", "{" + '"k":' * 5000 + "1" + "}" * 5000)
        dev.publish("devices/sim-0006/status", {"state": "online", "sensors": {
            f"s{i}": {"healthy": True} for i in range(100)}})
        dev.status()
        fams = exp.wait(lambda f: sample(f, "edge_device_up", device_id="sim-0001") == 1,
                        "sim-0001 after the garbage")
        check(sample(fams, "edge_device_up", device_id="sim-0009") == 1, "sim-0009 missing")
        check(sample(fams, "edge_device_backlog", device_id="sim-0009") is None,
              "a string backlog must be skipped")
        check(sample(fams, "edge_device_uptime_seconds", device_id="sim-0009") == 5,
              "uptime 5.9 should read 5")
        check(sample(fams, "edge_device_sensor_healthy", device_id="sim-0009", sensor='c"d') == 1,
              "sensor name with a quote")
        check(len([1 for lab, _ in fams["edge_device_sensor_healthy"]
                   if lab["device_id"] == "sim-0006"]) == 32, "sensors are capped at 32")
        errs = sample(fams, "edge_exporter_parse_errors_total", kind="status")
        check(errs is not None and errs >= 4, f"status parse errors {errs}")
        check(sample(fams, "edge_exporter_parse_errors_total", kind="alert") >= 2, "alert errors")
        check(sample(fams, "edge_exporter_fields_skipped_total") >= 8, "skipped fields")
        # what Prometheus thinks of the exposition with all of that in it
        prom.wait_value('edge_device_up{device_id="sim-0009"}', 1)
        check(prom.value('up{job="edge-fleet"}') == 1, "the scrape failed")
        ids = {dict(k).get("device_id") for k in prom.vector("edge_device_up")}
        check(odd in ids, f"the odd device id did not survive escaping: {ids}")
        # promtool agrees with the format
        lint = subprocess.run(["promtool", "check", "metrics"], input=exp.text(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        bad_lines = [ln for ln in lint.stdout.splitlines()
                     if ln.strip() and "non-counter metrics should not have \"_total\" suffix"
                     not in ln and "edge_devices_total" not in ln]
        check(not bad_lines, "promtool check metrics:\n" + "\n".join(bad_lines))
        check(exp.proc.poll() is None, "exporter died")
        exp.finish()


def test_fleet_broker_restart_reconnects():
    import socket
    with Harness("fleet-reconnect") as h:
        h.make_pki()
        broker = h.start_broker(persistence=True)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(h.path("notify.sock"))
        notify.settimeout(10)
        exp = Exporter(h, broker, env={"NOTIFY_SOCKET": h.path("notify.sock")})
        said = []
        while not any("STATUS=connected" in m for m in said):
            said.append(notify.recv(4096).decode())
        check("READY=1" in said[0], f"sd_notify messages {said}")
        dev = SimDevice(h, broker, "sim-0001")
        dev.status()
        exp.wait(lambda f: sample(f, "edge_exporter_mqtt_connected") == 1 and
                 sample(f, "edge_device_up", device_id="sim-0001") == 1, "first connection")
        check(http_get(exp.url("/readyz"))[0] == 200, "/readyz while connected")
        broker.stop()
        exp.wait(lambda f: sample(f, "edge_exporter_mqtt_connected") == 0, "disconnected")
        try:
            http_get(exp.url("/readyz"))
            raise TestFailure("/readyz should be 503 while disconnected")
        except urllib.error.HTTPError as e:
            check(e.code == 503, f"/readyz answered {e.code}")
        check(http_get(exp.url("/healthz"))[0] == 200, "/healthz")
        time.sleep(1.5)
        broker.start()
        fams = exp.wait(lambda f: sample(f, "edge_exporter_mqtt_connects_total") == 2,
                        "a reconnect", timeout=20)
        check(sample(fams, "edge_exporter_mqtt_connected") == 1, "connected again")
        exp.finish()
        notify.settimeout(0.5)
        try:
            while True:
                said.append(notify.recv(4096).decode())
        except socket.timeout:
            pass
        check(any("STATUS=disconnected" in m for m in said) and "STOPPING=1" in said[-1],
              f"sd_notify messages {said}")
        notify.close()


def test_fleet_resync_forgets_devices_cleared_while_away():
    import paho.mqtt.client as mqtt
    with Harness("fleet-resync") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker, mqtt={"client_id": "fleet-resync-exporter", "resync_s": 2})
        dev = SimDevice(h, broker, "sim-0001")
        dev.status()
        dev2 = SimDevice(h, broker, "sim-0002")
        dev2.status()
        exp.wait(lambda f: sample(f, "edge_devices_total") == 2, "two devices")
        # freeze the exporter, take its session over so the broker drops it,
        # and clear sim-0002's status while it cannot hear
        exp.proc.send_signal(signal.SIGSTOP)
        try:
            c = mqtt.Client(client_id="fleet-resync-exporter", protocol=mqtt.MQTTv311)
            c.tls_set(ca_certs=h.ca.ca_crt, certfile=h.sub_cert[0], keyfile=h.sub_cert[1])
            c.connect("127.0.0.1", broker.port)
            c.loop_start()
            c.publish("devices/sim-0002/status", b"", qos=1, retain=True).wait_for_publish()
            c.disconnect()
            c.loop_stop()
        finally:
            exp.proc.send_signal(signal.SIGCONT)
        fams = exp.wait(lambda f: sample(f, "edge_exporter_mqtt_connects_total") == 2,
                        "a reconnection", timeout=20)
        check(sample(fams, "edge_devices_total") == 2, "the resync should not be instant")
        fams = exp.wait(lambda f: sample(f, "edge_devices_total") == 1, "sim-0002 forgotten",
                        timeout=10)
        check(sample(fams, "edge_device_up", device_id="sim-0001") == 1, "sim-0001 kept")
        check(sample(fams, "edge_exporter_devices_resync_removed_total") == 1, "resync count")
        exp.finish()


def test_fleet_stale_after():
    with Harness("fleet-stale") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker, stale_after_s=2)
        quiet, chatty = SimDevice(h, broker, "sim-quiet"), SimDevice(h, broker, "sim-chatty")
        quiet.status()
        chatty.status()
        exp.wait(lambda f: sample(f, "edge_devices_online") == 2, "both online")
        time.sleep(3)
        chatty.status()  # only one refreshes its status
        fams = exp.wait(lambda f: sample(f, "edge_device_up", device_id="sim-chatty") == 1 and
                        sample(f, "edge_device_up", device_id="sim-quiet") == 0,
                        "quiet stale, chatty fresh", timeout=2)
        check(sample(fams, "edge_devices_online") == 1, "online count")
        quiet.status()
        exp.wait(lambda f: sample(f, "edge_device_up", device_id="sim-quiet") == 1, "fresh again")
        exp.finish()


def slow_scrape(port, chunk=65536, pause=0.01):
    """GET /metrics reading slowly, so the body is still being sent while
    other scrapes render."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = bytearray()
    while True:
        got = s.recv(chunk)
        if not got:
            break
        data += got
        time.sleep(pause)
    s.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), f"scrape answered {head[:40]!r}")
    return body.decode()


def test_fleet_concurrent_scrapes_of_a_big_fleet():
    import threading
    n = 2000
    with Harness("fleet-concurrent") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker, log_level="notice")
        crt, key = h.device_cert
        subprocess.run([os.path.join(BIN, "edge-fleet-benchpub"), "127.0.0.1", str(broker.port),
                        h.ca.ca_crt, crt, key, str(n)], check=True, stdout=subprocess.DEVNULL)
        exp.wait(lambda f: sample(f, "edge_devices_total") == n, f"{n} devices", timeout=60)
        bodies, errors = [], []

        def worker():
            try:
                for _ in range(3):
                    bodies.append(slow_scrape(exp.port))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        check(not errors, f"scrape errors: {errors}")
        check(len(bodies) == 12, f"{len(bodies)} bodies")
        for body in bodies:
            fams = parse_metrics(body)
            check(sample(fams, "edge_devices_total") == n, "a body lost its header")
            check(len(fams["edge_device_up"]) == n, "a body has a wrong number of devices")
            check(body.endswith("edge_exporter_build_info{version=\"0.1.0\"} 1\n"),
                  "a body is truncated or mixed with another")
        exp.finish()


def mosquitto_pub(h, broker, topic, payload=None, retain=True):
    """A real mosquitto_pub client (mutual TLS, QoS 1); payload None sends
    an empty message (-n), which clears a retained one."""
    if not shutil.which("mosquitto_pub"):
        raise TestFailure("CANNOT RUN: mosquitto_pub is not installed (mosquitto-clients)")
    crt, key = h.device_cert
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", h.ca.ca_crt,
            "--cert", crt, "--key", key, "-q", "1", "-t", topic]
    args += ["-n"] if payload is None else ["-m", json.dumps(payload)]
    if retain:
        args.append("-r")
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=20)
    check(r.returncode == 0, f"mosquitto_pub {topic} exited {r.returncode}: {r.stdout}")


def ota_report(state, progress=None, result=None, reason="", ota_id="cmd-ota-1"):
    return {"otaId": ota_id, "state": state, "version": "1.3.0", "fromVersion": "1.2.0",
            "installer": "bundle", "progress": progress or {}, "resumedFrom": 0, "attempt": 1,
            "slot": {"booted": "A", "target": "B"}, "result": result, "reason": reason,
            "ts": int(time.time() * 1000)}


def test_fleet_ota_reports():
    """Retained OTA reports (DESIGN 5.4) published by mosquitto_pub: the
    device's state, versions and progress; an outcome counted once when it
    arrives live, not again when the same report is repeated or replayed
    after an exporter restart; an empty retained report clears the series."""
    with Harness("fleet-ota") as h:
        h.make_pki()
        broker = h.start_broker(persistence=True)
        exp = Exporter(h, broker)
        exp.wait(lambda f: sample(f, "edge_exporter_mqtt_connected") == 1, "the connection")
        topic = "devices/gw-ota-1/ota"
        mosquitto_pub(h, broker, topic, ota_report(
            "downloading", {"bytes": 3 * 1048576, "total": 12 * 1048576, "percent": 25}))
        fams = exp.wait(lambda f: sample(f, "edge_ota_state", device_id="gw-ota-1") == 1,
                        "the OTA state of gw-ota-1")
        check(sample(fams, "edge_ota_state", device_id="gw-ota-1", state="downloading") == 1,
              f"state: {fams.get('edge_ota_state')}")
        check(sample(fams, "edge_ota_info", device_id="gw-ota-1", version="1.3.0",
                     from_version="1.2.0", installer="bundle") == 1,
              f"info: {fams.get('edge_ota_info')}")
        check(sample(fams, "edge_ota_progress_ratio", device_id="gw-ota-1") == 0.25,
              f"progress: {fams.get('edge_ota_progress_ratio')}")
        for res in ("success", "failure", "rolled_back"):
            check(sample(fams, "edge_ota_results_total", result=res) == 0,
                  f"results before any outcome: {fams.get('edge_ota_results_total')}")

        # the outcome, twice (the agent republishes its retained report)
        final = ota_report("rolled_back", result="rolled_back", reason="trial failed")
        mosquitto_pub(h, broker, topic, final)
        mosquitto_pub(h, broker, topic, final)
        fams = exp.wait(lambda f: sample(f, "edge_ota_state", device_id="gw-ota-1",
                                         state="rolled_back") == 1, "rolled_back")
        time.sleep(0.5)  # the second copy has arrived too
        fams = exp.metrics()
        check(sample(fams, "edge_ota_results_total", result="rolled_back") == 1,
              f"one outcome counted {sample(fams, 'edge_ota_results_total', result='rolled_back')}"
              " times")
        check(sample(fams, "edge_ota_progress_ratio", device_id="gw-ota-1") is None,
              "progress of a finished update still shown")
        check(sample(fams, "edge_exporter_messages_received_total", kind="ota") == 3,
              f"ota messages: {fams.get('edge_exporter_messages_received_total')}")

        # a restarted exporter shows the retained state but counts nothing old
        exp.stop()
        exp.start()
        fams = exp.wait(lambda f: sample(f, "edge_ota_state", device_id="gw-ota-1",
                                         state="rolled_back") == 1, "the retained report")
        check(sample(fams, "edge_ota_results_total", result="rolled_back") == 0,
              "a replayed retained outcome was counted")

        # a new update that succeeds, live
        mosquitto_pub(h, broker, topic, ota_report("committed", result="success",
                                                   ota_id="cmd-ota-2"))
        fams = exp.wait(lambda f: sample(f, "edge_ota_results_total", result="success") == 1,
                        "the success counted")
        # cleared: the series go
        mosquitto_pub(h, broker, topic, None)
        exp.wait(lambda f: sample(f, "edge_ota_state", device_id="gw-ota-1") is None,
                 "the OTA series of gw-ota-1 gone")
        exp.finish()


if __name__ == "__main__":
    edgetest.main([test_fleet_prometheus_devices_and_last_will, test_fleet_hostile_payloads,
                   test_fleet_broker_restart_reconnects,
                   test_fleet_resync_forgets_devices_cleared_while_away,
                   test_fleet_stale_after, test_fleet_concurrent_scrapes_of_a_big_fleet,
                   test_fleet_ota_reports])
