"""Core agent against a real mosquitto with mutual TLS (issue: core agent).

Records match the platform schema exactly; status is retained and the Last
Will appears when the agent is killed; a client certificate from another CA
is refused with a clear TLS error while readings accumulate in the outbox;
seq continues without a gap across restarts; config errors name the key.
"""
# ctest-timeout: 240
import json
import os
import signal
import subprocess
import time

import edgetest as et

SCHEMA = {"deviceId": str, "timestamp": int, "heartRate": int, "systolic": int,
          "diastolic": int, "oxygenSaturation": int, "bodyTemperature": float,
          "latitude": float, "longitude": float}


def fast_board(h, interval_ms=100):
    d = h.path("boards")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "simfast.json"), "w") as f:
        json.dump({"name": "simfast", "hal": "sim",
                   "buses": [{"name": "i2c0", "type": "i2c", "path": "sim:i2c0"}],
                   "sensors": [{"name": "vitals", "compatible": "edge,sim-vitals", "bus": "i2c0",
                                "address": "0x50", "interval_ms": interval_ms,
                                "freshness_ms": 2000}]}, f)
    return d


def check_record(payload):
    rec = json.loads(payload)
    et.check(set(rec) == set(SCHEMA), f"record keys {sorted(rec)} != schema {sorted(SCHEMA)}")
    for k, t in SCHEMA.items():
        v = rec[k]
        et.check(type(v) is t, f"{k}={v!r} is {type(v).__name__}, schema wants {t.__name__}")
    et.check(55 <= rec["heartRate"] <= 110, f"heartRate {rec['heartRate']}")
    et.check(93 <= rec["oxygenSaturation"] <= 100, f"SpO2 {rec['oxygenSaturation']}")
    et.check(100 <= rec["systolic"] <= 140 and 60 <= rec["diastolic"] <= 90, "blood pressure")
    et.check(36.0 <= rec["bodyTemperature"] <= 37.8, f"temperature {rec['bodyTemperature']}")
    et.check(abs(rec["timestamp"] / 1000 - time.time()) < 60, "timestamp is not epoch ms now")
    et.check(rec["deviceId"] == "sim-0001", "deviceId")
    return rec


def test_records_schema_and_properties():
    with et.Harness("records") as h:
        b, sub = et.broker_and_subscriber(h, ["health/device_data", "sensors/sim-0001/#"])
        a = h.start_agent(h.agent_config(b, boards_dir=fast_board(h), board="simfast",
                                         record={"interval_ms": 200}))
        recs = sub.wait("health/device_data", 5, timeout=20)
        for topic, payload, props, retain, _ in recs:
            check_record(payload)
            et.check("seq" in props and "boot" in props, f"user properties {props}")
            et.check(not retain, "records must not be retained")
        readings = sub.wait("sensors/sim-0001/+", 14, timeout=10)
        metrics = {m[0].split("/")[-1] for m in readings}
        et.check({"heart_rate", "spo2", "systolic", "diastolic", "body_temperature",
                  "latitude", "longitude"} <= metrics, f"metrics {metrics}")
        r = json.loads(readings[0][1])
        et.check(set(r) == {"deviceId", "metric", "value", "unit", "timestamp"}, f"reading {r}")
        seqs = [int(m[2]["seq"]) for m in sub.snapshot()]
        et.check(len(set(seqs)) == len(seqs), "duplicate seq on a healthy connection")
        et.check(a.stop() == 0, "SIGTERM must exit 0")
        et.check("stopped;" in a.log_text(), "no shutdown line")


def test_status_retained_and_last_will():
    with et.Harness("status") as h:
        h.make_pki()
        b = h.start_broker()
        a = h.start_agent(h.agent_config(b, boards_dir=fast_board(h), board="simfast"))
        a.wait_log("connected to")
        time.sleep(0.5)
        # a subscriber arriving later still gets the retained status
        sub = h.subscribe(b, "devices/sim-0001/status")
        m = sub.wait("devices/sim-0001/status", 1, timeout=10)[0]
        st = json.loads(m[1])
        et.check(m[3], "status must be retained")
        et.check(st["state"] == "online", f"status {st}")
        for k in ("version", "boot", "uptimeS", "backlog", "dropped", "lastError", "sensors"):
            et.check(k in st, f"status lacks {k}: {st}")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        sub.wait("devices/sim-0001/status", 1, timeout=15,
                 pred=lambda m: json.loads(m[1])["state"] == "offline")
        late = h.subscribe(b, "devices/sim-0001/status")
        m = late.wait("devices/sim-0001/status", 1, timeout=10)[0]
        et.check(json.loads(m[1])["state"] == "offline" and m[3], "Last Will not retained")


def test_foreign_ca_refused_and_outbox_grows():
    with et.Harness("foreignca") as h:
        h.make_pki()
        other = et.PKI(h.dir, "other")
        bad_cert = other.issue("sim-0001")
        b = h.start_broker()
        cfg = h.agent_config(b, boards_dir=fast_board(h), board="simfast")
        cfg["mqtt"]["tls"]["cert_file"], cfg["mqtt"]["tls"]["key_file"] = bad_cert
        a = h.start_agent(cfg)
        a.wait_log("TLS error", timeout=20)
        time.sleep(1)
        rows1 = h.outbox_rows()
        time.sleep(2)
        rows2 = h.outbox_rows()
        et.check(rows2 > rows1 > 0, f"outbox did not grow while refused: {rows1} -> {rows2}")
        et.check(a.alive(), "agent died on a TLS failure")
        lines = [l for l in a.log_text().splitlines() if "TLS error" in l]
        et.check(any("certificate" in l or "alert" in l for l in lines), f"unclear: {lines[:2]}")
        et.check(a.stop() == 0, "SIGTERM exit code")


def test_seq_continues_across_restart():
    with et.Harness("restart") as h:
        b, sub = et.broker_and_subscriber(h, ["health/device_data", "sensors/#"])
        cfg = h.agent_config(b, boards_dir=fast_board(h), board="simfast")
        a = h.start_agent(cfg)
        sub.wait("sensors/#", 30, timeout=15)
        et.check(a.stop() == 0, "first run exit code")
        n1 = len(sub.snapshot())
        a = h.start_agent(cfg, name="agent2")
        sub.wait("sensors/#", n1 + 30, timeout=15)
        et.check(a.stop() == 0, "second run exit code")
        time.sleep(0.5)
        msgs = sub.snapshot()
        seqs = sorted({int(m[2]["seq"]) for m in msgs})
        boots = {m[2]["boot"] for m in msgs}
        et.check(len(boots) == 2, f"expected two boots, got {boots}")
        et.check(seqs == list(range(seqs[0], seqs[-1] + 1)),
                 f"gap in seq across the restart: {len(seqs)} seqs {seqs[0]}..{seqs[-1]}")
        et.check(h.outbox_rows() == 0, "outbox not drained")


def test_config_errors_and_reload():
    with et.Harness("config") as h:
        h.make_pki()
        b = h.start_broker()
        cfg = h.agent_config(b, boards_dir=fast_board(h), board="simfast")
        bad = json.loads(json.dumps(cfg))
        bad["mqtt"]["port"] = 99999
        p = h.write_config(bad, "bad.json")
        r = subprocess.run([os.path.join(et.BIN, "edge-agent"), "--config", p, "--check-config"],
                           capture_output=True, text=True)
        et.check(r.returncode == 1, f"--check-config exit {r.returncode}")
        et.check("bad.json" in r.stderr and "mqtt.port" in r.stderr and "out of range" in r.stderr,
                 f"unclear error: {r.stderr}")
        good = h.write_config(cfg, "good.json")
        r = subprocess.run([os.path.join(et.BIN, "edge-agent"), "--config", good,
                            "--check-config"], capture_output=True, text=True)
        et.check(r.returncode == 0, f"good config rejected: {r.stderr}")
        # reload: a broken file is refused and the backlog stays; a good one applies
        b.stop()
        a = h.start_agent(good)
        time.sleep(2)
        before = h.outbox_rows()
        et.check(before > 0, "no backlog while the broker is down")
        with open(good, "w") as f:
            f.write("{ broken")
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log("reload refused")
        cfg["log_level"] = "info"
        h.write_config(cfg, "good.json")
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log("configuration reloaded")
        et.check(h.outbox_rows() >= before, "reload lost backlog")
        b.start()
        sub = h.subscribe(b, "sensors/#")
        sub.wait("sensors/#", before, timeout=30)
        et.check(a.stop() == 0, "exit code")


def test_mqtt_v311():
    with et.Harness("v311") as h:
        b, sub = et.broker_and_subscriber(h, "health/device_data")
        cfg = h.agent_config(b, boards_dir=fast_board(h), board="simfast",
                             record={"interval_ms": 200})
        cfg["mqtt"]["protocol"] = "v311"
        a = h.start_agent(cfg)
        for m in sub.wait("health/device_data", 3, timeout=15):
            check_record(m[1])
        et.check("MQTT 3.1.1" in a.log_text(), "protocol not logged")
        et.check(a.stop() == 0, "exit code")


if __name__ == "__main__":
    et.main([test_records_schema_and_properties, test_status_retained_and_last_will,
             test_foreign_ca_refused_and_outbox_grows, test_seq_continues_across_restart,
             test_config_errors_and_reload, test_mqtt_v311])
