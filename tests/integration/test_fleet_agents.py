#!/usr/bin/python3
"""Two real edge-agent processes -> mosquitto (mutual TLS) -> edge-fleet-exporter
-> a real Prometheus. Per-device values after the agents connect; one agent
SIGKILLed (its Last Will -> offline -> edge_device_up 0) while the other stays
up; the killed one restarted (a new boot) comes back up; a graceful stop ends
offline too.
"""
# ctest-timeout: 120
import os
import signal
import time

import edgetest
from edgetest import BIN, Harness, check
from test_fleet_prometheus import Exporter, Prometheus, sample


# sim heart rate is 55-110 bpm: "> 0" always holds, the alert fires at once
ALWAYS = {"name": "hr-any", "metric": "heart_rate", "comparison": ">", "threshold": 0,
          "for_s": 0, "severity": "critical"}


def agent_cfg(h, broker, device_id, **over):
    return h.agent_config(broker, device_id=device_id, state_dir=h.path(f"state-{device_id}"),
                          log_level="info", **over)


def test_fleet_two_real_agents_one_killed():
    check(os.path.exists(os.path.join(BIN, "edge-agent")), "bin/edge-agent is not built")
    with Harness("fleet-agents") as h:
        h.make_pki()
        broker = h.start_broker()
        exp = Exporter(h, broker)
        prom = Prometheus(h, [f"127.0.0.1:{exp.port}"])
        agents = {"sim-0001": h.start_agent(agent_cfg(h, broker, "sim-0001", alerts=[ALWAYS]),
                                            name="agent-sim-0001"),
                  "sim-0002": h.start_agent(agent_cfg(h, broker, "sim-0002"),
                                            name="agent-sim-0002")}

        prom.wait_value("edge_devices_online", 2, timeout=30)
        for d in agents:
            check(prom.value(f'edge_device_up{{device_id="{d}"}}') == 1, f"{d} not up")
            check(prom.value(f'edge_device_backlog{{device_id="{d}"}}') is not None,
                  f"{d}: no backlog")
            rss = prom.value(f'edge_device_memory_rss_bytes{{device_id="{d}"}}')
            check(rss is not None and rss > 100 * 1024, f"{d}: rss {rss}")
            up = prom.value(f'edge_device_uptime_seconds{{device_id="{d}"}}')
            check(up is not None and 0 <= up < 120, f"{d}: uptime {up}")
            seen = prom.value(f'edge_device_last_seen_timestamp_seconds{{device_id="{d}"}}')
            check(seen is not None and abs(seen - time.time()) < 60, f"{d}: last seen {seen}")
        info = prom.vector("edge_device_info")
        check(len(info) == 2, f"edge_device_info: {info}")
        for labels in info:
            lab = dict(labels)
            check(lab.get("firmware") and lab.get("board") == "sim", f"info labels {lab}")
        # the agent reads its certificate's notAfter (the test PKI issues 2 days)
        for d in agents:
            exp_s = prom.value(f'edge_device_cert_expiry_timestamp_seconds{{device_id="{d}"}}')
            check(exp_s is not None and abs(exp_s - (time.time() + 2 * 86400)) < 3600,
                  f"{d}: certificate expiry {exp_s}")
        # an edge alert from the real agent, counted per device and severity
        prom.wait_value('edge_alerts_total{device_id="sim-0001",severity="critical"}', 1)
        check(not prom.vector('edge_alerts_total{device_id="sim-0002"}'), "sim-0002 alerted")
        sensors = prom.vector("edge_device_sensor_healthy")
        check(len(sensors) >= 2, f"no sensor health: {sensors}")
        # the agent's status follows the contract: nothing skipped, nothing refused
        fams = exp.metrics()
        check(sample(fams, "edge_exporter_fields_skipped_total") == 0,
              "the exporter skipped fields of the agent's status (wrong type or range)")
        check(sample(fams, "edge_exporter_parse_errors_total", kind="status") == 0,
              "the exporter could not parse an agent status")

        # SIGKILL: the broker publishes sim-0002's Last Will
        agents["sim-0002"].stop(signal.SIGKILL)
        prom.wait_value('edge_device_up{device_id="sim-0002"}', 0)
        prom.wait_value("edge_devices_online", 1)
        check(prom.value('edge_device_up{device_id="sim-0001"}') == 1, "sim-0001 went down")
        check(prom.value("edge_devices_total") == 2, "the dead device is still counted")

        # back with a new boot
        agents["sim-0002"] = h.start_agent(agent_cfg(h, broker, "sim-0002"),
                                           name="agent-sim-0002-again")
        prom.wait_value('edge_device_up{device_id="sim-0002"}', 1, timeout=30)
        prom.wait_value("edge_devices_online", 2)

        # a graceful stop ends offline as well
        check(agents["sim-0001"].stop() == 0, "agent did not exit 0 on SIGTERM")
        prom.wait_value('edge_device_up{device_id="sim-0001"}', 0)
        check(prom.value('edge_device_up{device_id="sim-0002"}') == 1, "sim-0002 went down")
        exp.finish()


if __name__ == "__main__":
    edgetest.main([test_fleet_two_real_agents_one_killed])
