"""The provisioning chain with the device key in a real SoftHSM2 token made by
the test: edge-factory makes the key inside the token and signs the CSR
there -> edge-agent registers with edge-provisiond (the factory CSR) ->
mutual TLS to mosquitto (require_certificate, use_identity_as_username) with
the token key -> records flow -> renewal over mutual TLS with the token key
(edge-prov-client, libcurl's engine options; a CSR signed in the token) ->
reconnect with the new certificate. The key is sensitive and never
extractable, and no private key file is ever written. Twice: SoftHSM2, and a
TPM 2.0 (swtpm, the simulator, behind tpm2-abrmd, with tpm2-pkcs11)."""
# ctest-timeout: 240
import json
import os
import time

import edgetest as et
from edgetest import Harness, check
from p11test import SoftHSM, SwTPM, private_key_files
from provtest import FACTORY, agent_cfg, cert_serial, openssl_verify, run, setup


def factory(h, prov, hsm, serial):
    """edge-factory with the key made in the token; returns the bundle."""
    token = prov.token("line-p11", uses=5)
    out = h.path("factory")
    r = run([FACTORY, "--out", out, "--url", prov.url, "--ca", prov.ca, "--token", token,
             "--platform", "health-data", "--board", "sim", "--serial", serial,
             "--agent-state-dir", h.path(f"state-{serial}"),
             "--pkcs11-uri", hsm.uri(), "--pkcs11-module", hsm.module,
             "--pin-file", hsm.pin_file], env=hsm.environ())
    check("not extractable" in r.stderr.decode(), r.stderr)
    bundle = os.path.join(out, serial)
    check(not os.path.exists(os.path.join(bundle, "device.key")), "factory wrote a key file")
    return bundle


def chain(name, make_token):
    with Harness(name) as h:
        prov, broker = setup(h, "prov", cert_validity="20s")
        prov.start()
        hsm = make_token(h)
        serial = "GW-P11-01"
        bundle = factory(h, prov, hsm, serial)
        # the token's own view: sensitive, never extractable, made inside it
        access = hsm.key_access()
        for want in ("sensitive", "always sensitive", "never extractable", "local"):
            check(want in [a.strip() for a in access.split(",")], f"{want!r} not in {access!r}")
        check("extractable" not in [a.strip() for a in access.split(",")], access)
        cfg, state = agent_cfg(h, broker, prov, serial, bundle, renew_before_days=1)
        frag = json.load(open(os.path.join(bundle, "agent-config.json")))
        check(frag["mqtt"]["tls"]["key_file"].startswith("pkcs11:"), frag)
        cfg["pkcs11"] = frag["pkcs11"]
        sub = h.subscribe(broker, ["health/device_data"])
        agent = h.start_agent(cfg, env=hsm.env)
        crt = os.path.join(state, "device.crt")
        # The first renewal may follow the registration within milliseconds
        # (a 20 s certificate, renew_before_days 1), and it is renewed again
        # halfway: watch device.crt until two certificates have been seen.
        serials = set()
        end = time.time() + 40
        while time.time() < end and len(serials) < 2:
            if os.path.exists(crt):
                try:
                    serials.add(cert_serial(crt))
                except Exception:  # noqa: BLE001 - mid-replace: read again
                    pass
            time.sleep(0.02)
        agent.wait_log(f"registered as {serial}", timeout=5)
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=20)
        msgs = sub.wait("health/device_data", 3, timeout=20)
        check(all(json.loads(m[1])["deviceId"] == serial for m in msgs), msgs[:1])
        check(serial in broker.log_text(), "broker log lacks the device identity")
        ok, txt = openssl_verify(prov.ca, crt)
        check(ok, txt)
        # renewal over mutual TLS with the token key, then the reconnect
        agent.wait_log("certificate renewed", timeout=30)
        check(f"renewed {serial}" in prov.log_text(), "server did not renew")
        check(len(serials) >= 2, f"device.crt never changed after the renewal: {serials}")
        end = time.time() + 20
        while time.time() < end and agent.log_text().count("connected to 127.0.0.1") < 2:
            time.sleep(0.2)
        check(agent.log_text().count("connected to 127.0.0.1") >= 2, "no reconnect after renewal")
        t = time.time()
        sub.wait("health/device_data", 2, timeout=15, pred=lambda m: m[4] > t)
        rc = agent.stop()
        check(rc == 0, f"agent exit status {rc} (a sanitizer finding at exit?)")
        keys = private_key_files(state) + private_key_files(bundle)
        check(not keys, f"private key files written: {keys}")


def test_chain_softhsm2():
    chain("p11-chain", SoftHSM)


def test_chain_tpm2_swtpm():
    chain("p11-chain-tpm", SwTPM)


def test_token_absent_then_back():
    """A token that is not there when the key is needed (a TPM resource
    manager started late, a secure element re-enumerating, a file store being
    rewritten): registration and renewal try again with the backoff and go
    through once it is back. (Before, registration gave up until a restart
    and a renewal waited 10 minutes, after this test's certificate expired.)"""
    with Harness("p11-absent") as h:
        prov, broker = setup(h, "prov", cert_validity="20s")
        prov.start()
        hsm = SoftHSM(h)
        serial = "GW-P11-02"
        bundle = factory(h, prov, hsm, serial)
        cfg, state = agent_cfg(h, broker, prov, serial, bundle, renew_before_days=1)
        cfg["pkcs11"] = json.load(open(os.path.join(bundle, "agent-config.json")))["pkcs11"]
        crt = os.path.join(state, "device.crt")
        hsm.hide()
        agent = h.start_agent(cfg, env=hsm.env)
        agent.wait_log('registration not done (token "edge" not found', timeout=15)
        check("not retrying" not in agent.log_text(), agent.log_text()[-1500:])
        time.sleep(2)
        check(not os.path.exists(crt), "a certificate without the token")
        hsm.restore()
        agent.wait_log(f"registered as {serial}", timeout=40)
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=20)
        agent.wait_log("certificate renewed", timeout=30)
        # a restart that renews at once (20 s certificates), with the token away
        check(agent.stop() == 0, "agent exit status")
        renewed = agent.log_text().count("certificate renewed")
        hsm.hide()
        agent = h.start_agent(cfg, env=hsm.env)
        agent.wait_log('certificate renewal not done (token "edge" not found', timeout=15)
        hsm.restore()
        agent.wait_log_count("certificate renewed", renewed + 1, timeout=15)
        ok, txt = openssl_verify(prov.ca, crt)
        check(ok, txt)
        check(agent.stop() == 0, "agent exit status")


if __name__ == "__main__":
    et.main([test_chain_softhsm2, test_chain_tpm2_swtpm, test_token_absent_then_back])
