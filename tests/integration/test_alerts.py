"""Edge alerts over a real mosquitto (issue 6).

Thresholds are chosen against the sim vitals (heart rate 55-110 bpm): a rule
"heart_rate > 0" always holds, "> 1000" never does, so episodes start and end
deterministically. An alert goes to alerts/{severity} once per episode,
"resolved" ends it; raised while the broker is down it waits in the outbox
(priority 1) and is delivered ahead of the older telemetry when it returns.
"""
# ctest-timeout: 180
import json
import time

import cmdlib as cl
import edgetest as et

RULE = {"name": "hr-high", "metric": "heart_rate", "comparison": ">", "threshold": 0,
        "for_s": 1, "severity": "critical"}
NEVER = {"name": "spo2-low", "metric": "spo2", "comparison": "<", "threshold": 0,
         "for_s": 0, "severity": "warning"}


def test_episode_once_and_resolved():
    with et.Harness("alerts-episode") as h:
        b, sub = et.broker_and_subscriber(h, ["alerts/#"])
        start = time.time()
        a = cl.start_agent(h, cl.config(h, b, alerts=[RULE, NEVER]))
        req = cl.Requester(h, b)
        m = sub.wait("alerts/#", 1, timeout=10)[0]
        et.check(m[0] == "alerts/critical", f"topic {m[0]}")
        al = json.loads(m[1])
        et.check(set(al) == {"deviceId", "rule", "metric", "value", "severity", "state",
                             "timestamp"}, f"keys {sorted(al)}")
        et.check(al["deviceId"] == "sim-0001" and al["rule"] == "hr-high"
                 and al["metric"] == "heart_rate" and al["state"] == "firing"
                 and al["severity"] == "critical" and 55 <= al["value"] <= 110, f"alert {al}")
        et.check(m[4] - start >= 1.0, "fired before for_s elapsed")
        et.check(not m[3], "alerts are not retained")
        time.sleep(2)  # ~20 more readings over the threshold: still one message
        et.check(len(sub.snapshot("alerts/#")) == 1, f"more than one message per episode: "
                 f"{[x[1] for x in sub.snapshot('alerts/#')]}")
        st = req.call("status")["data"]["status"]
        et.check(st["alerts"] == {"active": 1, "total": 1}, f"status alerts {st['alerts']}")

        # a higher threshold at run time ends the episode: one resolved message
        rule = dict(RULE, threshold=1000)
        r = req.call("config.set", {"alerts": [rule, NEVER]})
        et.check(r["status"] == "ok", f"config.set {r}")
        got = sub.wait("alerts/#", 2, timeout=5)
        res = json.loads(got[1][1])
        et.check(res["state"] == "resolved" and res["rule"] == "hr-high", f"resolved {res}")
        time.sleep(1)
        et.check(len(sub.snapshot("alerts/#")) == 2, "extra alert messages after resolve")
        st = req.call("status")["data"]["status"]
        et.check(st["alerts"] == {"active": 0, "total": 1}, f"status alerts {st['alerts']}")
        # back below: a new episode, again exactly one firing
        r = req.call("config.set", {"alerts": [RULE, NEVER]})
        sub.wait("alerts/#", 3, timeout=5)
        time.sleep(1.5)
        msgs = [json.loads(x[1]) for x in sub.snapshot("alerts/#")]
        et.check([x["state"] for x in msgs] == ["firing", "resolved", "firing"], f"{msgs}")
        st = req.call("status")["data"]["status"]
        et.check(st["alerts"] == {"active": 1, "total": 2}, f"status alerts {st['alerts']}")
        et.check(a.stop() == 0, "exit code")


def test_offline_alert_queued_ahead_of_telemetry():
    with et.Harness("alerts-offline") as h:
        h.make_pki()
        b = h.start_broker(persistence=True)
        sub = cl.SessionSub(h, b, ["alerts/#", "sensors/sim-0001/heart_rate"])
        cfg = cl.config(h, b, alerts=[NEVER])
        cfg["mqtt"]["connect_timeout_s"] = 2
        a = cl.start_agent(h, cfg)
        sub.wait("sensors/sim-0001/heart_rate", 3, timeout=10)
        b.stop()  # the session and its subscriptions are saved
        a.wait_log("retrying in")
        stopped_ms = cl.now_ms()  # from here on readings can only wait in the outbox
        time.sleep(1.5)  # telemetry older than the alert piles up
        # offline: the rule is added through the local socket
        sock = h.path("state", "edgectl.sock")
        r = cl.edgectl(h, sock, "cmd", "config.set",
                       json.dumps({"alerts": [dict(RULE, for_s=0), NEVER]}))
        et.check(r.returncode == 0, f"edgectl config.set: {r.stdout} {r.stderr}")
        a.wait_log("alert alerts/critical")
        time.sleep(1)  # and more behind it
        rows = h.outbox_rows()
        et.check(rows > 10, f"outbox holds only {rows} rows while offline")
        restarted = time.time()
        b.start()
        got = sub.wait("alerts/#", 1, timeout=20)
        alert = json.loads(got[0][1])
        et.check(alert["state"] == "firing", f"alert {alert}")
        sub.wait("sensors/sim-0001/heart_rate", 1, timeout=10,
                 pred=lambda m: m[2] > restarted and json.loads(m[1])["timestamp"]
                 > alert["timestamp"])
        # (the broker may first redeliver what it had queued before the outage)
        after = [m for m in sub.snapshot() if m[2] >= restarted and (
            m[0].startswith("alerts/") or json.loads(m[1])["timestamp"] >= stopped_ms)]
        et.check(after[0][0] == "alerts/critical",
                 f"first message after the outage is {after[0][0]}, not the alert: "
                 f"{[(m[0], m[1][-20:]) for m in after[:5]]}")
        older = [m for m in after[1:] if m[0].startswith("sensors/")
                 and json.loads(m[1])["timestamp"] < alert["timestamp"]]
        et.check(older, "no older telemetry was delivered after the alert (nothing overtaken)")
        et.check(a.stop() == 0, "exit code")


if __name__ == "__main__":
    et.main([test_episode_once_and_resolved, test_offline_alert_queued_ahead_of_telemetry])
