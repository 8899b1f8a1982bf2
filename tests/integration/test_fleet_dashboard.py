#!/usr/bin/python3
"""The shipped deploy/ files against the real thing:
- deploy/prometheus/*.yml pass promtool, and the real Prometheus runs with the
  shipped prometheus.yml (target and interval rewritten) and loads the rules;
- every metric name in the Grafana dashboard's PromQL exists in the
  exporter's /metrics output once a full status and alerts have arrived;
- every dashboard expression (variables substituted) is valid PromQL for
  Prometheus, and the main panels return data.
"""
# ctest-timeout: 120
import json
import os
import re
import shutil
import subprocess
import time

import edgetest
from edgetest import BIN, Harness, check
from test_fleet_prometheus import SRC, Exporter, Prometheus, SimDevice, sample

DASHBOARD = os.path.join(SRC, "deploy/grafana/dashboards/edge-fleet.json")
PROM_DIR = os.path.join(SRC, "deploy/prometheus")
# PromQL words that look like identifiers but are not metric names
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "rate", "irate", "increase", "deriv",
    "time", "vector", "sort", "sort_desc", "label_values", "abs", "offset", "bool", "clamp_min",
    "clamp_max", "histogram_quantile", "absent", "changes", "resets", "delta", "scalar"}


def dashboard_exprs():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append((p["title"], t["expr"]))
            walk(p.get("panels", []))

    walk(dash["panels"])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if q:
            exprs.append((f"variable {v['name']}", q))
    return dash, exprs


def metric_names(expr):
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)      # label values
    stripped = re.sub(r"\{[^}]*\}", "", stripped)             # matchers
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)            # ranges
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)  # grouping labels
    names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", stripped))
    return {n for n in names if n not in PROMQL_WORDS and not n.startswith("$")
            and not re.fullmatch(r"\d.*", n) and n != "device_id"}


def substitute(expr):
    # Grafana's label_values(metric, label) -> the PromQL behind it
    expr = re.sub(r"^label_values\((.+),\s*(\w+)\)$", r"count by (\2) (\1)", expr)
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
            .replace("$__range", "1h").replace("$device", ".*"))


def test_fleet_deploy_files_pass_promtool():
    for args in (["check", "config", os.path.join(PROM_DIR, "prometheus.yml")],
                 ["check", "rules", os.path.join(PROM_DIR, "edge-fleet.rules.yml")]):
        r = subprocess.run(["promtool", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        check(r.returncode == 0, f"promtool {' '.join(args)}:\n{r.stdout}")
    example = os.path.join(SRC, "fleet/exporter.example.json")
    r = subprocess.run([os.path.join(BIN, "edge-fleet-exporter"), "--config", example,
                        "--check-config"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    check(r.returncode == 0, f"the example exporter config does not load:\n{r.stdout}")
    dash, exprs = dashboard_exprs()
    check(dash["uid"] == "edge-fleet" and len(exprs) >= 15, "dashboard looks empty")
    uids = {p["datasource"]["uid"] for p in dash["panels"]}
    with open(os.path.join(SRC, "deploy/grafana/provisioning/datasources/prometheus.yml")) as f:
        ds = f.read()
    check(uids == {"edge-prometheus"} and "uid: edge-prometheus" in ds,
          f"panels use data sources {uids}; the provisioned one must match")
    ids = [p["id"] for p in dash["panels"]]
    check(len(ids) == len(set(ids)), f"duplicate panel ids {ids}")
    cells = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        check(g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24 and g["h"] > 0,
              f"panel {p['title']!r} is outside the 24-column grid: {g}")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                check((x, y) not in cells, f"panels {cells.get((x, y))!r} and {p['title']!r} overlap")
                cells[(x, y)] = p["title"]
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for want in ("online", "offline", "backlog", "firmware", "alert rate", "expiring",
                 "dropped", "reconnects", "versions over time", "update failures",
                 "rollbacks", "updates in progress"):
        check(want in titles, f"no dashboard panel about {want!r}")


def test_fleet_dashboard_metrics_exist_and_queries_run():
    dash, exprs = dashboard_exprs()
    with Harness("fleet-dash") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker)
        a = SimDevice(h, broker, "sim-0001")
        b = SimDevice(h, broker, "sim-0002")
        a.status(certExpiresMs=int((time.time() + 5 * 86400) * 1000), dropped=3)
        b.status(firmware="0.2.0", sensors={"cuff": {"healthy": False, "errors": 2},
                                            "pulse": {"enabled": False, "healthy": False}})
        a.alert("critical")
        b.alert("warning", state="resolved")
        # OTA reports for the "Updates" row: one update under way, one rolled back
        a.publish("devices/sim-0001/ota", {
            "otaId": "c-1", "state": "downloading", "version": "0.3.0", "fromVersion": "0.1.0",
            "installer": "bundle", "progress": {"bytes": 512, "total": 2048, "percent": 25},
            "result": None, "reason": "", "ts": int(time.time() * 1000)}, retain=True)
        b.publish("devices/sim-0002/ota", {
            "otaId": "c-2", "state": "rolled_back", "version": "0.3.0", "fromVersion": "0.2.0",
            "installer": "bundle", "progress": {}, "result": "rolled_back",
            "reason": "trial failed", "ts": int(time.time() * 1000)}, retain=True)
        fams = exp.wait(lambda f: sample(f, "edge_devices_total") == 2 and
                        sample(f, "edge_alerts_total", device_id="sim-0001") == 1 and
                        sample(f, "edge_ota_results_total", result="rolled_back") == 1,
                        "both devices, the alert and the OTA reports")
        b.kill()  # one device down for the "Devices down" panel
        fams = exp.wait(lambda f: sample(f, "edge_device_up", device_id="sim-0002") == 0,
                        "sim-0002 down")

        used = set()
        for title, expr in exprs:
            used |= metric_names(expr)
        missing = sorted(n for n in used if not fams.get(n))
        check(not missing, f"dashboard uses metrics the exporter does not expose: {missing}")
        check({"edge_devices_online", "edge_device_backlog", "edge_device_info",
               "edge_alerts_total", "edge_device_cert_expiry_timestamp_seconds"} <= used,
              f"the name extraction missed core metrics: {sorted(used)}")

        # the shipped prometheus.yml, pointed at this exporter, every second
        pdir = h.path("prom-config")
        os.makedirs(pdir)
        with open(os.path.join(PROM_DIR, "prometheus.yml")) as f:
            conf = f.read()
        check("127.0.0.1:9810" in conf and "scrape_interval: 15s" in conf,
              "prometheus.yml changed shape; update this test")
        conf = conf.replace("127.0.0.1:9810", f"127.0.0.1:{exp.port}")
        conf = conf.replace("scrape_interval: 15s", "scrape_interval: 1s")
        conf = conf.replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        conf = conf.replace("scrape_timeout: 10s", "scrape_timeout: 1s")
        with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
            f.write(conf)
        shutil.copy(os.path.join(PROM_DIR, "edge-fleet.rules.yml"), pdir)
        prom = Prometheus(h, [], config=os.path.join(pdir, "prometheus.yml"))
        prom.wait_value('up{job="edge-fleet"}', 1)
        prom.wait_value("edge_devices_online", 1)

        rules = json.loads(edgetest_get(f"http://127.0.0.1:{prom.port}/api/v1/rules"))
        groups = rules["data"]["groups"]
        check(len(groups) == 1 and len(groups[0]["rules"]) == 7,
              f"rules not loaded: {[g['name'] for g in groups]}")
        time.sleep(2.5)  # a few evaluations, and data for rate()/increase()
        bad = [r["name"] for r in json.loads(edgetest_get(
            f"http://127.0.0.1:{prom.port}/api/v1/rules"))["data"]["groups"][0]["rules"]
            if r.get("health") not in ("ok", "unknown")]
        check(not bad, f"rules failing to evaluate: {bad}")

        results = {}
        for title, expr in exprs:
            data = prom.query(substitute(expr))  # raises on invalid PromQL
            results[title] = data["result"]
        for title in ("Devices online", "Devices offline", "Firmware distribution",
                      "Backlog per device (top 20)", "Certificates expiring soon",
                      "Devices down", "Unhealthy sensors", "Certificates expiring < 30 days",
                      "Versions over time", "Update states", "Updates in progress",
                      "Failed and rolled-back updates"):
            check(results.get(title), f"panel {title!r} has no data")
        states = {r["metric"]["state"]: float(r["value"][1]) for r in prom.query(
            substitute('count by (state) (edge_ota_state{device_id=~"$device"})'))["result"]}
        check(states == {"downloading": 1, "rolled_back": 1}, f"update states {states}")
        fw = {r["metric"]["firmware"]: float(r["value"][1])
              for r in prom.query("count by (firmware) (edge_device_info)")["result"]}
        check(fw == {"0.1.0": 1, "0.2.0": 1}, f"firmware distribution {fw}")
        soon = prom.query(substitute(
            'sort((edge_device_cert_expiry_timestamp_seconds{device_id=~"$device"} - time())'
            ' / 86400 < 30)'))["result"]
        check([r["metric"]["device_id"] for r in soon] == ["sim-0001"],
              f"expiring soon: {soon}")
        check(4.9 < float(soon[0]["value"][1]) <= 5.0, f"days left {soon[0]['value']}")
        unhealthy = prom.query(substitute(next(e for t, e in exprs if t == "Unhealthy sensors" and
                                                 "count" not in e)))
        check([r["metric"]["sensor"] for r in unhealthy["result"]] == ["cuff"],
              f"a disabled sensor must not count as unhealthy: {unhealthy['result']}")
        exp.finish()


def edgetest_get(url):
    from test_fleet_prometheus import http_get
    return http_get(url)[1]


if __name__ == "__main__":
    edgetest.main([test_fleet_deploy_files_pass_promtool,
                   test_fleet_dashboard_metrics_exist_and_queries_run])
