"""Remote commands end to end over a real mosquitto with mutual TLS (issue 6).

Every action answers with {"id","status","message","data"}; the MQTT v5
Response Topic + Correlation Data win over the default response topic; a
repeated id returns the stored result without running the action again,
also after a restart; expired, malformed and oversized commands are answered
(when an id can be recovered) and never stop the agent; reboot, restart and
config.set can be required to carry a JWS ES256 signature.
"""
# ctest-timeout: 240
import json
import os
import time

import cmdlib as cl
import edgetest as et


def sensor_enabled(req):
    st = req.call("status")["data"]["status"]
    return st["sensors"]["vitals"]["enabled"]


def test_every_action():
    with et.Harness("cmd-actions") as h:
        h.make_pki()
        b = h.start_broker()
        a = cl.start_agent(h, cl.config(h, b))
        req = cl.Requester(h, b)

        r = req.call("ping")
        et.check(r["status"] == "ok" and r["data"]["pong"] is True, f"ping {r}")
        et.check(set(r) == {"id", "status", "message", "data"}, f"result keys {sorted(r)}")
        r = req.call("status")
        st = r["data"]["status"]
        for k in ("version", "firmware", "uptimeS", "backlog", "dropped", "reconnects",
                  "lastPublishMs", "sensors", "memory", "alerts", "certExpiresMs"):
            et.check(k in st, f"status lacks {k}")
        et.check(st["certExpiresMs"] > cl.now_ms() + 86400e3 * 0.5,
                 f"certExpiresMs {st['certExpiresMs']} (test certs last 2 days)")
        et.check(st["alerts"] == {"active": 0, "total": 0}, f"alerts {st['alerts']}")
        r = req.call("config.get")
        cfg = r["data"]["config"]
        et.check(cfg["sensors"]["vitals"]["interval_ms"] == 100, f"config.get {cfg}")
        et.check(cfg["log_level"] == "debug" and cfg["overlay"] is None, f"config.get {cfg}")
        r = req.call("sample-now")
        et.check(r["status"] == "ok" and r["data"]["sensorsRead"] == 1, f"sample-now {r}")

        r = req.call("sensor.disable", {"name": "vitals"})
        et.check(r["status"] == "ok", f"sensor.disable {r}")
        et.check(sensor_enabled(req) is False, "sensor still enabled")
        r = req.call("sensor.enable", {"name": "vitals"})
        et.check(r["status"] == "ok" and sensor_enabled(req) is True, f"sensor.enable {r}")
        r = req.call("sensor.disable", {"name": "nope"})
        et.check(r["status"] == "error" and "nope" in r["message"], f"unknown sensor {r}")

        r = req.call("flush")
        et.check(r["status"] == "ok" and r["data"]["connected"] is True
                 and "backlog" in r["data"], f"flush {r}")
        r = req.call("identify", {"seconds": 1})
        # through the GPIO HAL: the sim pin itself is on now
        et.check(r["status"] == "ok" and r["data"]["chip"] == "sim:leds"
                 and r["data"]["line"] == 3 and r["data"]["backend"] == "gpio-hal"
                 and r["data"]["level"] == 1, f"identify {r}")
        time.sleep(1.4)
        r2 = req.call("identify", {"seconds": 1})
        et.check(r2["data"]["ledToggles"] >= r["data"]["ledToggles"] + 6,
                 f"LED did not blink: {r['data']} -> {r2['data']}")
        r = req.call("identify", {"seconds": 0})
        et.check(r["status"] == "error", f"identify 0 s {r}")

        # ota (docs/ota.md): without an op it is refused and says what it takes
        r = req.call("ota", {"manifest": "x"})
        et.check(r["status"] == "rejected" and "install, cancel or status" in r["message"],
                 f"ota {r}")
        r = req.call("ota", {"op": "status"})
        et.check(r["status"] == "ok" and r["data"]["ota"]["state"] == "idle", f"ota status {r}")
        r = req.call("self-destruct")
        et.check(r["status"] == "unknown_action", f"unknown {r}")
        r = req.call("reboot")
        et.check(r["status"] == "rejected" and "confirm" in r["message"], f"reboot {r}")
        r = req.call("reboot", {"confirm": True})
        et.check(r["status"] == "ok" and r["data"]["backend"] == "system-hal:sim"
                 and r["data"]["rebootRequests"] == 1, f"reboot {r}")
        a.wait_log("rebooting (")
        time.sleep(0.5)
        et.check(a.alive(), "a sim reboot must not stop the agent")
        et.check(req.call("ping")["status"] == "ok", "ping after the sim reboot")

        # the default response topic is devices/{id}/responses/{action}
        topics = {m[0] for m in req.answers()}
        et.check("devices/sim-0001/responses/ping" in topics, f"topics {topics}")
        et.check("devices/sim-0001/responses/sensor.disable" in topics, f"topics {topics}")

        r = req.call("restart")
        et.check(r["status"] == "ok" and r["data"]["exitCode"] == 75, f"restart {r}")
        code = a.proc.wait(15)
        et.check(code == 75, f"restart must exit 75 for systemd's Restart=, got {code}")


def test_response_topic_and_correlation():
    with et.Harness("cmd-v5") as h:
        h.make_pki()
        b = h.start_broker()
        a = cl.start_agent(h, cl.config(h, b))
        req = cl.Requester(h, b, extra_topics=["replies/#"])
        req.send("ping", {"id": "v5-1"}, response_topic="replies/console-7", corr=b"\x00\x01corr")
        got = req.wait(lambda t, d, c: t == "replies/console-7")
        et.check(got[0][2]["id"] == "v5-1" and got[0][2]["status"] == "ok", f"{got[0][1]}")
        et.check(got[0][3] == b"\x00\x01corr", f"correlation data {got[0][3]!r}")
        # correlation data alone: answered on the default topic, with the data
        req.send("ping", {"id": "v5-2"}, corr=b"abc")
        got = req.wait(lambda t, d, c: d and d.get("id") == "v5-2")
        et.check(got[0][0] == "devices/sim-0001/responses/ping" and got[0][3] == b"abc",
                 f"{got[0][0]} {got[0][3]!r}")
        time.sleep(0.3)
        et.check(not req.answers(lambda t, d, c: d and d.get("id") == "v5-1"
                                 and t.startswith("devices/")),
                 "v5-1 must be answered only on its Response Topic")
        # a malformed command without an id but with correlation data is answered
        req.send("ping", b"\xff\xfe not json", response_topic="replies/console-7", corr=b"k")
        got = req.wait(lambda t, d, c: c == b"k")
        et.check(got[0][2]["status"] == "error" and got[0][2]["id"] is None, f"{got[0][1]}")
        et.check(a.stop() == 0, "exit code")
        # MQTT 3.1.1 has no properties: answers go to the default topic
        cfg = cl.config(h, b, state_dir=h.path("state311"))
        cfg["mqtt"]["protocol"] = "v311"
        a = cl.start_agent(h, cfg, name="agent311")
        req.send("ping", {"id": "v311-1"}, response_topic="replies/ignored", corr=b"z")
        got = req.wait(lambda t, d, c: d and d.get("id") == "v311-1")
        et.check(got[0][0] == "devices/sim-0001/responses/ping" and got[0][3] is None,
                 f"v3.1.1 answer {got[0][0]} {got[0][3]!r}")
        et.check(a.stop() == 0, "exit code")


def test_duplicates_expiry_malformed():
    with et.Harness("cmd-dup") as h:
        b, sub = et.broker_and_subscriber(h, "sensors/sim-0001/#")
        cfg = cl.config(h, b, commands={"max_payload": 2048})
        a = cl.start_agent(h, cfg)
        req = cl.Requester(h, b)

        first = req.call("sensor.disable", {"name": "vitals"}, cid="dup-1")
        et.check(first["status"] == "ok", f"first {first}")
        et.check(req.call("sensor.enable", {"name": "vitals"})["status"] == "ok", "enable")
        raw1 = req.answers(lambda t, d, c: d and d.get("id") == "dup-1")[0][1]
        req.send("sensor.disable", {"id": "dup-1", "params": {"name": "vitals"}})
        got = req.wait(lambda t, d, c: d and d.get("id") == "dup-1", count=2)
        et.check(got[1][1] == raw1, f"duplicate answer differs: {got[1][1]} vs {raw1}")
        et.check(sensor_enabled(req) is True, "a duplicate id ran the action again")
        a.wait_log("duplicate, answering the stored result")

        # expiry
        r = req.call("sensor.disable", {"name": "vitals"}, expiresAt=cl.now_ms() - 1000)
        et.check(r["status"] == "expired", f"expired {r}")
        et.check(sensor_enabled(req) is True, "an expired command ran")
        r = req.call("ping", expiresAt=cl.now_ms() + 60000)
        et.check(r["status"] == "ok", f"future expiresAt {r}")

        # malformed and oversized
        n_before = len(req.answers())
        req.send("ping", b'{"id": "bad-1", "params": ')
        req.send("ping", {"id": "bad-2", "params": [1, 2]})
        req.send("ping", {"params": {}})  # no id: nothing to answer
        req.send("ping", b"\x00\x01\x02garbage")
        req.send("ping", {"id": "big-1", "params": {"x": "A" * 5000}})
        req.send("ping", {"id": 42})
        req.send("ping", {"id": "bad-3", "expiresAt": "soon"})
        req.send("ping", {"id": "x" * 200})
        req.send("ping", b"")
        for cid, frag in (("bad-1", "JSON"), ("bad-2", "params"), ("big-1", "exceeds"),
                          ("bad-3", "expiresAt")):
            got = req.wait(lambda t, d, c, cid=cid: d and d.get("id") == cid)
            et.check(got[0][2]["status"] == "error" and frag in got[0][2]["message"],
                     f"{cid}: {got[0][1]}")
        time.sleep(0.5)
        et.check(len(req.answers()) == n_before + 4, "answers without a recoverable id: "
                 f"{[m[1][:80] for m in req.answers()[n_before:]]}")
        et.check(a.alive(), "agent died on malformed input")
        n = len(sub.snapshot())
        sub.wait("sensors/sim-0001/#", n + 10, timeout=10)
        et.check(req.call("ping")["status"] == "ok", "ping after malformed input")
        st = req.call("status")["data"]["status"]
        et.check(st["commands"]["malformed"] >= 8 and st["commands"]["duplicates"] == 1,
                 f"counters {st['commands']}")

        # ids survive a restart
        et.check(a.stop() == 0, "exit code")
        a = cl.start_agent(h, cfg, name="agent2")
        req.send("sensor.disable", {"id": "dup-1", "params": {"name": "vitals"}})
        got = req.wait(lambda t, d, c: d and d.get("id") == "dup-1", count=3)
        et.check(got[2][1] == raw1, "stored result lost across the restart")
        et.check(sensor_enabled(req) is True, "a duplicate id ran again after the restart")
        et.check(a.stop() == 0, "exit code")


def test_signatures_and_config_set():
    with et.Harness("cmd-signed") as h:
        h.make_pki()
        b = h.start_broker()
        signer = cl.Signer(h)
        other = cl.Signer(h, "other")
        cfg = cl.config(h, b, commands={"require_signed": True,
                                        "signing_key_file": signer.pub_path})
        a = cl.start_agent(h, cfg)
        req = cl.Requester(h, b)

        et.check(req.call("ping")["status"] == "ok", "low-risk actions need no signature")
        r = req.call("config.set", {"log_level": "notice"})
        et.check(r["status"] == "rejected" and "sign" in r["message"], f"unsigned {r}")
        for cid, body in (
            ("wrong-key", other.command("config.set", {"log_level": "notice"}, "wrong-key")),
            ("tampered", signer.command("config.set", {"log_level": "notice"}, "tampered",
                                        tamper=lambda b: b["params"].update(log_level="error"))),
            ("other-dev", signer.command("config.set", {"log_level": "notice"}, "other-dev",
                                         device="sim-0002")),
            ("alg-none", {"id": "alg-none", "params": {"log_level": "notice"},
                          "expiresAt": cl.now_ms() + 60000,
                          "jws": cl.b64u(b'{"alg":"none"}') + "." + cl.b64u(json.dumps(
                              {"id": "alg-none", "action": "config.set", "deviceId": cl.DEVICE,
                               "params": {"log_level": "notice"}}).encode()) + "."}),
            ("bad-sig", signer.command("config.set", {"log_level": "notice"}, "bad-sig",
                                       tamper=lambda b: b.update(jws=b["jws"][:-6] + "AAAAAA"))),
        ):
            req.send("config.set", body)
            r = req.wait(lambda t, d, c, cid=cid: d and d.get("id") == cid)[0][2]
            et.check(r["status"] == "rejected", f"{cid}: {r}")
        r = req.call("config.get")["data"]["config"]
        et.check(r["log_level"] == "debug" and r["overlay"] is None, "a rejected set applied")
        a.wait_log("rejected")

        # a good signature: applied at once, persisted in the overlay
        params = {"log_level": "notice", "sensors": {"vitals": {"interval_ms": 300}},
                  "alerts": [{"name": "tachy", "metric": "heart_rate", "comparison": ">",
                              "threshold": 150, "for_s": 5, "severity": "critical"}]}
        req.send("config.set", signer.command("config.set", params, "set-1"))
        r = req.wait(lambda t, d, c: d and d.get("id") == "set-1")[0][2]
        et.check(r["status"] == "ok", f"signed config.set {r}")
        c = r["data"]["config"]
        et.check(c["log_level"] == "notice" and c["sensors"]["vitals"]["interval_ms"] == 300
                 and c["alerts"][0]["name"] == "tachy", f"not applied: {c}")
        overlay = json.load(open(os.path.join(h.path("state"), "config.overlay.json")))
        et.check(overlay["log_level"] == "notice", f"overlay {overlay}")
        # invalid values and keys that cannot change at run time are refused
        for cid, p, frag in (("set-bad", {"record": {"interval_ms": 1}}, "record.interval_ms"),
                             ("set-host", {"mqtt": {"host": "evil"}}, "mqtt.host"),
                             ("set-sensor", {"sensors": {"nope": {"interval_ms": 500}}}, "nope")):
            req.send("config.set", signer.command("config.set", p, cid))
            r = req.wait(lambda t, d, c, cid=cid: d and d.get("id") == cid)[0][2]
            et.check(r["status"] == "error" and frag in r["message"], f"{cid}: {r}")
        # an expired signed command is refused even with a good signature
        req.send("restart", signer.command("restart", {}, "late", expires_in_ms=-1000))
        r = req.wait(lambda t, d, c: d and d.get("id") == "late")[0][2]
        et.check(r["status"] == "expired", f"late {r}")

        # restart keeps the overlay; a signed restart exits 75
        req.send("restart", signer.command("restart", {}, "rs-1"))
        r = req.wait(lambda t, d, c: d and d.get("id") == "rs-1")[0][2]
        et.check(r["status"] == "ok", f"restart {r}")
        et.check(a.proc.wait(15) == 75, "restart exit code")
        a = h.start_agent(cfg, name="agent2")
        a.wait_log("connected to")  # log_level is notice now: no debug line
        time.sleep(0.5)
        c = req.call("config.get")["data"]["config"]
        et.check(c["log_level"] == "notice" and c["sensors"]["vitals"]["interval_ms"] == 300,
                 f"overlay lost across the restart: {c}")
        # the restart id is remembered: no second restart
        req.send("restart", signer.command("restart", {}, "rs-1"))
        req.wait(lambda t, d, c: d and d.get("id") == "rs-1", count=2)
        time.sleep(1)
        et.check(a.alive(), "a duplicate restart restarted the agent")
        et.check(a.stop() == 0, "exit code")


if __name__ == "__main__":
    et.main([test_every_action, test_response_topic_and_correlation,
             test_duplicates_expiry_malformed, test_signatures_and_config_set])
