"""Per-device broker ACLs: with the dynamic-security plugin (the shipped
deploy/mosquitto/dynamic-security.json), edge-provisiond creates a role and a
client for each registered device; the device publishes its own topics,
cannot publish as another device or read another device's commands, and
loses the broker when revoked."""
# ctest-timeout: 120
import os
import threading
import time

import paho.mqtt.client as mqtt

import edgetest
from edgetest import Harness, check
from provtest import agent_cfg, factory, setup


def test_device_acls():
    with Harness("prov-dynsec") as h:
        prov, broker = setup(h, "prov", dynsec=True)
        prov.start()
        token = prov.token("line-acl", uses=5)
        out = h.path("factory")
        factory(h, out, token, prov, serial="GW-0001")
        bundle = os.path.join(out, "GW-0001")
        sub = h.subscribe(broker, ["health/device_data", "sensors/#", "devices/#"])
        cfg, state = agent_cfg(h, broker, prov, "GW-0001", bundle)
        agent = h.start_agent(cfg)
        agent.wait_log("registered as GW-0001", timeout=20)
        sub.wait("health/device_data", 2, timeout=20)
        sub.wait("devices/GW-0001/status", 1, timeout=20)
        log = broker.log_text()
        check("createRole | rolename=device-GW-0001" in log, "no dynsec role created")
        check("createClient | username=GW-0001" in log, "no dynsec client created")

        # the device's own certificate, used by something else than the agent
        acks = {}
        subacks = {}
        done = threading.Event()
        c = mqtt.Client(client_id="GW-0001-spoof", protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=h.ca.ca_crt, certfile=os.path.join(state, "device.crt"),
                  keyfile=os.path.join(bundle, "device.key"))
        c.on_publish = lambda cl, u, mid: acks.__setitem__(mid, True)
        c.on_subscribe = lambda cl, u, mid, rcs, props=None: subacks.__setitem__(mid, rcs)
        c.on_connect = lambda cl, u, f, rc, props=None: done.set()
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        check(done.wait(10), "device certificate rejected by the broker")
        c.publish("sensors/GW-0001/spo2", b"own", qos=1)
        c.publish("sensors/GW-0002/spo2", b"spoofed", qos=1)
        c.publish("devices/GW-0002/status", b"spoofed", qos=1)
        _, mid = c.subscribe("commands/GW-0002/#", qos=1)
        _, mid_own = c.subscribe("commands/GW-0001/#", qos=1)
        time.sleep(1.5)
        c.loop_stop()
        c.disconnect()
        got = [(m[0], m[1]) for m in sub.snapshot()]
        check(("sensors/GW-0001/spo2", b"own") in got, "own topic not delivered")
        check(not any(p == b"spoofed" for _, p in got), f"spoofed publish delivered: {got[-5:]}")
        rc_other = subacks.get(mid)
        rc_own = subacks.get(mid_own)
        check(rc_other and rc_other[0].value >= 0x80, f"subscribe to another device's commands: {rc_other}")
        check(rc_own and rc_own[0].value < 0x80, f"subscribe to own commands: {rc_own}")

        # revoke: the broker drops the client and refuses its data
        prov.admin_cmd("device", "revoke", "GW-0001")
        end = time.time() + 10
        while time.time() < end and "deleteClient | username=GW-0001" not in broker.log_text():
            time.sleep(0.1)
        check("deleteClient | username=GW-0001" in broker.log_text(), "revocation did not reach the broker")
        time.sleep(2)
        t = time.time()
        time.sleep(3)
        late = [m for m in sub.snapshot("health/device_data") if m[4] > t]
        check(not late, f"{len(late)} records delivered after revocation")
        agent.stop()


if __name__ == "__main__":
    edgetest.main([test_device_acls])
