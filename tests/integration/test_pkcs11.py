"""The device key in a PKCS#11 token (a real SoftHSM2 token made by the test):
MQTT over mutual TLS through the agent to a real mosquitto with
require_certificate; --check-config's errors (wrong PIN, missing token,
missing object, a PIN in the config); the token gone at run time (the agent
keeps sampling, reports the error, connects when it is back); key files,
PIN files and claim tokens that group or others may read are refused."""
# ctest-timeout: 240
import json
import os
import stat
import subprocess
import time

import edgetest as et
from edgetest import BIN, Harness, check
from p11test import SoftHSM, private_key_files, sign_csr


def token_identity(h, hsm, cn="sim-0001"):
    """A key made in the token, its CSR signed in the token, the certificate
    from the test CA."""
    hsm.keygen()
    csr = hsm.csr(h.path("token.csr"), cn)
    return sign_csr(h.ca, csr, h.path("token.crt"))


def token_config(h, broker, hsm, crt, **over):
    cfg = h.agent_config(broker, **over)
    cfg["mqtt"]["tls"]["cert_file"] = crt
    cfg["mqtt"]["tls"]["key_file"] = hsm.uri()
    cfg["pkcs11"] = {"module": hsm.module, "pin_file": hsm.pin_file}
    return cfg


def check_config(h, cfg, hsm, name):
    path = h.write_config(cfg, name + ".json")
    return subprocess.run([os.path.join(BIN, "edge-agent"), "--config", path, "--check-config"],
                          env=hsm.environ(), capture_output=True, text=True, timeout=30)


def test_mutual_tls_with_token_key():
    with Harness("p11-mtls") as h:
        broker, sub = et.broker_and_subscriber(h, ["health/device_data", "devices/sim-0001/status"])
        hsm = SoftHSM(h)
        crt = token_identity(h, hsm)
        # the key is not extractable and sensitive, as the token reports it
        access = hsm.key_access()
        check("never extractable" in access and "sensitive" in access.split(",")[0], access)
        cfg = token_config(h, broker, hsm, crt)
        r = check_config(h, cfg, hsm, "ok")
        check(r.returncode == 0, f"--check-config failed: {r.stdout}{r.stderr}")
        check("key pkcs11:token=edge" in r.stdout, r.stdout)
        agent = h.start_agent(cfg, env=hsm.env)
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=20)
        msgs = sub.wait("health/device_data", 3, timeout=20)
        check(all(json.loads(m[1])["deviceId"] == "sim-0001" for m in msgs), msgs[:1])
        # the broker took the identity from the certificate of the token key
        check("sim-0001" in broker.log_text(), "broker log lacks the device identity")
        rc = agent.stop()
        check(rc == 0, f"agent exit status {rc} (a sanitizer finding at exit?)")
        check(not private_key_files(h.path("state")), private_key_files(h.path("state")))


def test_check_config_errors():
    with Harness("p11-check") as h:
        h.make_pki()
        broker = h.start_broker()
        hsm = SoftHSM(h)
        crt = token_identity(h, hsm)
        cases = []
        # wrong PIN
        bad_pin = h.path("bad.pin")
        fd = os.open(bad_pin, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"0000\n")
        os.close(fd)
        cfg = token_config(h, broker, hsm, crt)
        cfg["pkcs11"]["pin_file"] = bad_pin
        cases.append(("wrong-pin", cfg, ["mqtt.tls.key_file", 'token "edge"', "wrong PIN"]))
        # missing token
        cfg = token_config(h, broker, hsm, crt)
        cfg["mqtt"]["tls"]["key_file"] = "pkcs11:token=nope;object=device;type=private"
        cases.append(("no-token", cfg, ["mqtt.tls.key_file", 'token "nope" not found',
                                        '"edge"']))
        # missing object
        cfg = token_config(h, broker, hsm, crt)
        cfg["mqtt"]["tls"]["key_file"] = "pkcs11:token=edge;object=other;type=private"
        cases.append(("no-object", cfg, ["mqtt.tls.key_file", 'object "other"',
                                         "no such private key"]))
        # the PIN written in the configuration
        cfg = token_config(h, broker, hsm, crt)
        cfg["mqtt"]["tls"]["key_file"] = hsm.uri() + "?pin-value=" + hsm.pin
        cases.append(("pin-value", cfg, ["mqtt.tls.key_file", "pin-value", "must not"]))
        # no PIN at all for a token that needs one
        cfg = token_config(h, broker, hsm, crt)
        del cfg["pkcs11"]["pin_file"]
        cases.append(("no-pin", cfg, ["mqtt.tls.key_file", 'token "edge" needs a PIN']))
        # a module that is not there
        cfg = token_config(h, broker, hsm, crt)
        cfg["pkcs11"]["module"] = "/nonexistent/libnothing.so"
        cases.append(("no-module", cfg, ["mqtt.tls.key_file", "/nonexistent/libnothing.so"]))
        # the PIN file readable by others
        loose = h.path("loose.pin")
        with open(loose, "w") as f:
            f.write(hsm.pin + "\n")
        os.chmod(loose, 0o644)
        cfg = token_config(h, broker, hsm, crt)
        cfg["pkcs11"]["pin_file"] = loose
        cases.append(("loose-pin", cfg, ["pkcs11.pin_file", loose, "0644", "chmod 600"]))
        for name, cfg, needles in cases:
            r = check_config(h, cfg, hsm, name)
            out = r.stdout + r.stderr
            check(r.returncode == 1, f"{name}: exit {r.returncode}, expected 1: {out}")
            check(len(r.stderr.strip().splitlines()) == 1, f"{name}: not one line: {r.stderr}")
            for n in needles:
                check(n in r.stderr, f"{name}: {n!r} not in {r.stderr.strip()!r}")
            print(f"  {name}: {r.stderr.strip()}")


def test_token_missing_at_run_time():
    with Harness("p11-gone") as h:
        h.make_pki()
        broker = h.start_broker()
        hsm = SoftHSM(h)
        crt = token_identity(h, hsm)
        sub = h.subscribe(broker, "health/device_data")
        cfg = token_config(h, broker, hsm, crt)
        hsm.hide()
        t0 = time.time() * 1000
        agent = h.start_agent(cfg, env=hsm.env)
        agent.wait_log('token "edge" not found', timeout=20)
        time.sleep(2)
        check(agent.alive(), "agent died without its token")
        rows = h.outbox_rows()
        check(rows >= 2, f"only {rows} readings kept while the token was missing")
        # the status names the problem (edgectl status)
        r = subprocess.run([os.path.join(BIN, "edgectl"), "--config", agent.config_path,
                            "--json", "status"], capture_output=True, text=True, timeout=10)
        check(r.returncode == 0, r.stderr)
        check("not found through" in r.stdout and "edge" in r.stdout,
              f"status lacks the token error: {r.stdout}")
        hsm.restore()
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=30)
        msgs = sub.wait("health/device_data", 3, timeout=20)
        check(min(json.loads(m[1])["timestamp"] for m in msgs) < t0 + 3000,
              "readings sampled while the token was missing were not delivered")
        agent.stop()


def test_loose_secrets_refused():
    with Harness("p11-hygiene") as h:
        h.make_pki()
        broker = h.start_broker()
        # a world-readable private key file
        cfg = h.agent_config(broker)
        key = cfg["mqtt"]["tls"]["key_file"]
        os.chmod(key, 0o644)
        agent = h.start_agent(cfg)
        rc = agent.proc.wait(10)
        log = agent.log_text()
        check(rc == 1, f"agent started with a 0644 key (exit {rc}): {log}")
        check("mqtt.tls.key_file" in log and key in log and "0644" in log, log)
        os.chmod(key, 0o640)  # group-readable: refused too
        r = subprocess.run([os.path.join(BIN, "edge-agent"), "--config", agent.config_path,
                            "--check-config"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "0640" in r.stderr, r.stdout + r.stderr)
        os.chmod(key, 0o600)
        r = subprocess.run([os.path.join(BIN, "edge-agent"), "--config", agent.config_path,
                            "--check-config"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, r.stdout + r.stderr)
        # a world-readable claim token
        tok = h.path("claim-token")
        with open(tok, "w") as f:
            f.write("x" * 43)
        os.chmod(tok, 0o604)
        cfg = h.agent_config(broker, provisioning={
            "url": "https://127.0.0.1:1", "ca_file": h.ca.ca_crt, "claim_token_file": tok})
        agent = h.start_agent(cfg, name="agent2")
        rc = agent.proc.wait(10)
        log = agent.log_text()
        check(rc == 1, f"agent started with a 0604 claim token (exit {rc}): {log}")
        check("provisioning.claim_token_file" in log and tok in log, log)
        check(stat.S_IMODE(os.stat(tok).st_mode) == 0o604, "the agent changed the mode itself")


def server_cert(pki, cn, san):
    """A broker certificate from pki with the given subjectAltName."""
    key, csr, crt = (pki.dir + f"/{pki.name}-{cn}.{x}" for x in ("key", "csr", "crt"))
    ext = pki.dir + f"/{pki.name}-{cn}.ext"
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    et.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={cn}"])
    et.run(["openssl", "x509", "-req", "-in", csr, "-CA", pki.ca_crt, "-CAkey", pki.ca_key,
            "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
    return crt, key


def test_rogue_broker_refused():
    """The broker is verified on the token path too (token_key.c builds the
    whole TLS context): a broker certificate from another CA, and one from
    the right CA for another name, are refused; with the file key as well."""
    with Harness("p11-rogue") as h:
        h.make_pki()
        hsm = SoftHSM(h)
        crt = token_identity(h, hsm)
        other = et.PKI(h.dir, "rogue")
        cases = [("foreign CA", other.issue("localhost", server=True), "certificate verify failed"),
                 ("wrong name", server_cert(h.ca, "elsewhere", "DNS:broker.example.org"),
                  "certificate verify failed")]
        good = h.server_cert
        for what, cert, needle in cases:
            h.server_cert = cert
            broker = h.start_broker()
            for kind in ("token", "file"):
                cfg = (token_config(h, broker, hsm, crt) if kind == "token"
                       else h.agent_config(broker))
                name = f"agent-{what.replace(' ', '-')}-{kind}"
                agent = h.start_agent(cfg, name=name, env=hsm.env)
                agent.wait_log(needle, timeout=20)
                time.sleep(1)
                check("connected to" not in agent.log_text(),
                      f"{what}, {kind} key: connected to a rogue broker")
                check("New client connected" not in broker.log_text(),
                      f"{what}, {kind} key: the rogue broker saw a client")
                agent.stop()
            broker.stop()
        # and the right broker is accepted with the same settings
        h.server_cert = good
        broker = h.start_broker()
        agent = h.start_agent(token_config(h, broker, hsm, crt), name="agent-good", env=hsm.env)
        agent.wait_log("connected to 127.0.0.1:%d" % broker.port, timeout=20)
        agent.stop()


if __name__ == "__main__":
    et.main([test_mutual_tls_with_token_key, test_check_config_errors,
             test_token_missing_at_run_time, test_loose_secrets_refused, test_rogue_broker_refused])
