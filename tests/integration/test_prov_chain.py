"""The whole chain on loopback: edge-factory makes the identity bundle,
edge-agent (provisioning configured, no certificate) keeps sampling while the
API is down, registers with edge-provisiond once it is up, connects to
mosquitto (require_certificate, use_identity_as_username, cafile = the fleet
CA) with the issued certificate and delivers what it sampled before; then
renewal before expiry and the reconnect with the new certificate."""
# ctest-timeout: 240
import json
import os
import time

import edgetest
from edgetest import Harness, check
from provtest import agent_cfg, cert_serial, factory, openssl_verify, setup


def test_factory_to_broker():
    with Harness("prov-chain") as h:
        prov, broker = setup(h, "prov")
        token = prov.token("line-1", uses=5)
        out = h.path("factory")
        factory(h, out, token, prov, serial="GW-0001")
        bundle = os.path.join(out, "GW-0001")
        sub = h.subscribe(broker, ["health/device_data", "devices/GW-0001/status"])
        cfg, state = agent_cfg(h, broker, prov, "GW-0001", bundle)
        agent = h.start_agent(cfg)
        # API down: the agent keeps sampling into the outbox and retries
        agent.wait_log("registering with", timeout=10)
        time.sleep(3)
        check(agent.alive(), "agent died while the API was down")
        check(not os.path.exists(os.path.join(state, "device.crt")), "certificate without API")
        rows = h.outbox_rows(state)
        check(rows >= 2, f"only {rows} readings kept while unregistered")
        up_at = time.time()
        prov.start()
        agent.wait_log("registered as GW-0001", timeout=30)
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=20)
        msgs = sub.wait("health/device_data", 5, timeout=30)
        recs = [json.loads(m[1]) for m in msgs]
        check(all(r["deviceId"] == "GW-0001" for r in recs), recs[:2])
        check(min(r["timestamp"] for r in recs) / 1000.0 < up_at - 1,
              "readings sampled before registration were not delivered")
        # the broker accepted the identity from the certificate
        check("GW-0001" in broker.log_text(), "broker log does not show the device identity")
        ok, txt = openssl_verify(prov.ca, os.path.join(state, "device.crt"))
        check(ok, txt)
        st = json.load(open(os.path.join(state, "provisioning.json")))
        check(st["mqtt"]["port"] == broker.port, st)
        check(os.path.exists(os.path.join(prov.dir, "gitops", "health-data-realtime.yaml")), "no claim")
        # restart: no second registration, straight to the broker
        agent.stop()
        n_reg = prov.log_text().count("registered GW-0001")
        agent = h.start_agent(cfg, name="agent2")
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=20)
        check(prov.log_text().count("registered GW-0001") == n_reg, "registered again after restart")
        check("registering with" not in agent.log_text(), "agent registered again")
        agent.stop()


def test_bad_token_agent_does_not_hammer():
    with Harness("prov-chain-401") as h:
        prov, broker = setup(h, "prov")
        prov.start()
        out = h.path("factory")
        factory(h, out, "not-a-valid-token", prov, serial="GW-0009")
        cfg, state = agent_cfg(h, broker, prov, "GW-0009", os.path.join(out, "GW-0009"))
        agent = h.start_agent(cfg)
        agent.wait_log("registration refused", timeout=15)
        time.sleep(3)
        check(agent.alive(), "agent exited after a refused registration")
        hits = prov.log_text().count("POST /v1/devices/register -> 401")
        check(hits == 1, f"{hits} registration attempts after a 401")
        check(h.outbox_rows(state) > 0, "readings not kept")
        agent.stop()


def test_renewal_reconnects():
    with Harness("prov-renew") as h:
        prov, broker = setup(h, "prov", cert_validity="16s")
        prov.start()
        token = prov.token("line-r", uses=5)
        out = h.path("factory")
        factory(h, out, token, prov, serial="GW-0100")
        cfg, state = agent_cfg(h, broker, prov, "GW-0100", os.path.join(out, "GW-0100"),
                               renew_before_days=1)
        sub = h.subscribe(broker, "health/device_data")
        agent = h.start_agent(cfg)
        crt = os.path.join(state, "device.crt")
        # The first renewal may follow the registration within milliseconds, and
        # a 16 s certificate is renewed again halfway: watch device.crt until
        # two different certificates have been seen.
        serials = set()
        end = time.time() + 30
        while time.time() < end and len(serials) < 2:
            if os.path.exists(crt):
                try:
                    serials.add(cert_serial(crt))
                except Exception:  # noqa: BLE001 - mid-replace: read again
                    pass
            time.sleep(0.02)
        agent.wait_log("registered as GW-0100", timeout=5)
        agent.wait_log("certificate renewed", timeout=25)
        check(len(serials) >= 2, f"device.crt never changed after renewal: {serials}")
        ok, txt = openssl_verify(prov.ca, crt)
        check(ok, txt)
        check("renewed GW-0100" in prov.log_text(), "server did not renew")
        # reconnected with the new certificate and data still flows
        t = time.time()
        end = time.time() + 20
        while time.time() < end and agent.log_text().count("connected to 127.0.0.1") < 2:
            time.sleep(0.2)
        check(agent.log_text().count("connected to 127.0.0.1") >= 2, "no reconnect after renewal")
        sub.wait("health/device_data", 2, timeout=15,
                 pred=lambda m: m[4] > t)
        agent.stop()


if __name__ == "__main__":
    edgetest.main([test_factory_to_broker, test_bad_token_agent_does_not_hammer,
                   test_renewal_reconnects])
