"""edge-provisiond API against DESIGN 5.3: register (201/200/400/401/409/413),
renewal over mutual TLS, admin lookup, registry kept across a restart, claim
POSTed once to a (fake) Kubernetes API, and the client library's behaviour on
4xx (stops), on an unreachable server (backs off) and with a wrong CA."""
# ctest-timeout: 180
import json
import os
import re
import time

import edgetest
from edgetest import Harness, check
from provtest import (FakeKube, Provisiond, cert_serial, expected_claim, make_key_csr,
                      openssl_verify, run_client)


def test_register_and_errors():
    with Harness("prov-api") as h:
        h.make_pki()
        kube = FakeKube(h)
        try:
            prov = Provisiond(h, kubernetes=kube.config("health")).start()
            tok = prov.token("line-a", uses=2)
            key, csr = make_key_csr(h, "dev-a1")

            st, doc = prov.register(tok, "dev-a1", csr)
            check(st == 201, f"first registration: {st} {doc}")
            for k in ("deviceId", "certificate", "caChain", "mqtt", "topics", "realtimePlatform"):
                check(k in doc, f"answer lacks {k}: {doc}")
            check(doc["deviceId"] == "dev-a1", doc["deviceId"])
            check(doc["mqtt"] == {"host": "127.0.0.1", "port": 8883}, doc["mqtt"])
            check(doc["topics"]["commands"] == "commands/dev-a1/{action}", doc["topics"])
            check(doc["realtimePlatform"] == {"name": "health-data", "claim": "health-data-realtime",
                                              "created": True}, doc["realtimePlatform"])
            crt = h.path("dev-a1.crt")
            with open(crt, "w") as f:
                f.write(doc["certificate"])
            ok, out = openssl_verify(prov.ca, crt)
            check(ok, f"issued certificate does not verify: {out}")
            subj = edgetest.run(["openssl", "x509", "-in", crt, "-noout", "-subject"]).stdout.decode()
            check("CN = dev-a1" in subj, subj)

            # idempotent: same serial + same key -> 200, same certificate
            st2, doc2 = prov.register(tok, "dev-a1", csr)
            check(st2 == 200, f"re-registration: {st2} {doc2}")
            check(doc2["certificate"] == doc["certificate"], "re-registration changed the cert")
            check(doc2["realtimePlatform"]["created"] is False, doc2["realtimePlatform"])

            # 409: another key for the same serial
            _, csr_b = make_key_csr(h, "dev-a1", name="dev-a1-other")
            st, doc = prov.register(tok, "dev-a1", csr_b)
            check(st == 409 and "another key" in doc["error"], f"second key: {st} {doc}")

            # 400: CN does not match the serial
            _, csr_x = make_key_csr(h, "someone-else")
            st, doc = prov.register(tok, "dev-a2", csr_x)
            check(st == 400 and "common name" in doc["error"], f"CN mismatch: {st} {doc}")
            # 400: not a CSR / bad fields
            st, doc = prov.register(tok, "dev-a2", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n")
            check(st == 400 and "csr" in doc["error"], f"garbage CSR: {st} {doc}")
            st, doc = prov.register(tok, "dev a2!", csr_x)
            check(st == 400 and "serial" in doc["error"], f"bad serial: {st} {doc}")
            # 400: malformed JSON, with a message
            st, doc = prov.request("POST", "/v1/devices/register", '{"serial": "x", ', token=tok)
            check(st == 400 and doc and "malformed JSON" in doc.get("error", ""),
                  f"malformed JSON: {st} {doc}")
            # 413: body too large (declared and actual)
            st, doc = prov.request("POST", "/v1/devices/register", "x" * 40000, token=tok)
            check(st == 413, f"oversized body: {st} {doc}")
            # 401: no token, unknown token
            st, _ = prov.register(None, "dev-a2", csr_x)
            check(st == 401, f"no token: {st}")
            st, doc = prov.register("not-a-token", "dev-a2", csr_x)
            check(st == 401, f"bad token: {st} {doc}")

            # quota: the token had 2 uses; dev-a1 took one, dev-a3 takes the other
            _, csr3 = make_key_csr(h, "dev-a3")
            st, _ = prov.register(tok, "dev-a3", csr3)
            check(st == 201, f"second use of the token: {st}")
            _, csr4 = make_key_csr(h, "dev-a4")
            st, doc = prov.register(tok, "dev-a4", csr4)
            check(st == 401 and "exhausted" in doc["error"], f"exhausted token: {st} {doc}")
            # ... but the devices it registered may still re-register (idempotent)
            st, _ = prov.register(tok, "dev-a3", csr3)
            check(st == 200, f"re-registration with an exhausted token: {st}")
            # expired token
            tok_old = prov.token("line-old", uses=5)
            prov.expire_tokens("line-old")
            st, doc = prov.register(tok_old, "dev-a4", csr4)
            check(st == 401 and "expired" in doc["error"], f"expired token: {st} {doc}")

            # admin lookup
            st, doc = prov.request("GET", "/v1/devices/dev-a1", token=prov.admin)
            check(st == 200 and doc["deviceId"] == "dev-a1" and doc["batch"] == "line-a", f"{st} {doc}")
            st, _ = prov.request("GET", "/v1/devices/dev-a1", token=tok)
            check(st == 401, f"admin lookup with a claim token: {st}")
            st, doc = prov.request("GET", "/healthz")
            check(st == 200 and doc["status"] == "ok" and doc["registry"]["state"] == "ok"
                  and doc["registry"]["schema"] >= 2, f"healthz {st} {doc}")

            # renewal: mutual TLS with the current certificate, new CSR (new key)
            st, doc = prov.request("POST", "/v1/devices/dev-a1/renew", {"csr": csr})
            check(st == 401, f"renew without client certificate: {st} {doc}")
            st, doc = prov.request("POST", "/v1/devices/dev-a3/renew", {"csr": csr3}, cert=crt, key=key)
            check(st == 403, f"renew of another device: {st} {doc}")
            key_n, csr_n = make_key_csr(h, "dev-a1", name="dev-a1-next")
            st, doc = prov.request("POST", "/v1/devices/dev-a1/renew", {"csr": csr_n}, cert=crt, key=key)
            check(st == 200, f"renew: {st} {doc}")
            crt_n = h.path("dev-a1-next.crt")
            with open(crt_n, "w") as f:
                f.write(doc["certificate"])
            ok, out = openssl_verify(prov.ca, crt_n)
            check(ok, f"renewed certificate does not verify: {out}")
            check(cert_serial(crt_n) != cert_serial(crt), "renewal returned the old certificate")
            # the serial is now bound to the new key
            st, _ = prov.register(tok, "dev-a1", csr_n)
            check(st == 200, f"re-registration with the renewed key: {st}")

            # registry survives a restart
            prov.stop()
            prov.start()
            st, doc = prov.request("GET", "/v1/devices/dev-a3", token=prov.admin)
            check(st == 200 and doc["deviceId"] == "dev-a3", f"after restart: {st} {doc}")
            st, _ = prov.register(tok, "dev-a3", csr3)
            check(st == 200, f"re-registration after restart: {st}")
            lst = prov.admin_cmd("devices", "list", "--json")
            ids = sorted(json.loads(l)["deviceId"] for l in lst.splitlines())
            check(ids == ["dev-a1", "dev-a3"], f"devices list: {ids}")
            # revoke: renewal and re-registration refused
            prov.admin_cmd("device", "revoke", "dev-a3")
            st, _ = prov.register(tok, "dev-a3", csr3)
            check(st == 403, f"revoked device re-registers: {st}")

            # the claim: one file, one POST to the API server
            gitops = os.path.join(prov.dir, "gitops")
            files = os.listdir(gitops)
            check(files == ["health-data-realtime.yaml"], f"gitops dir: {files}")
            with open(os.path.join(gitops, files[0])) as f:
                check(f.read() == expected_claim("health-data"), "claim YAML differs")
            check(len(kube.posts) == 1, f"API server got {len(kube.posts)} POSTs")
            p = kube.posts[0]
            check(p["path"] == "/apis/platform.example.org/v1alpha1/namespaces/health/realtimeplatformclaims",
                  p["path"])
            check(p["auth"] == "Bearer kube-test-token", p["auth"])
            check(p["body"] == expected_claim("health-data"), p["body"])
        finally:
            kube.close()


def test_client_stops_on_4xx_and_backs_off():
    with Harness("prov-client") as h:
        prov = Provisiond(h).start()
        # 401: one request, then FAILED, no retry
        bad = prov.token_file("wrong-token")
        rc, events, out = run_client(h, prov, "dev-c1", h.path("c1"), bad, seconds=10)
        check(rc == 3, f"client exit {rc}: {out}")
        check([e["event"] for e in events] == ["FAILED"], out)
        check(events[0]["status"] == "401", out)
        check(not os.path.exists(h.path("c1", "device.crt")), "certificate written on 401")
        hits = len(re.findall(r"POST /v1/devices/register -> 401", prov.log_text()))
        check(hits == 1, f"client sent {hits} registrations after a 401")

        # CN mismatch from a factory CSR -> refused locally? no: server 400, no retry
        key, _ = make_key_csr(h, "dev-c2")
        tok = prov.token_file(prov.token("line-c", uses=5))
        _, csr_other = make_key_csr(h, "not-dev-c2", name="c2-other")
        # (a CSR not made from the key is refused before any request)
        with open(h.path("c2-other.csr"), "w") as f:
            f.write(csr_other)
        rc, events, out = run_client(h, prov, "dev-c2", h.path("c2"), tok, key=key,
                                     csr=h.path("c2-other.csr"), seconds=10)
        check(rc == 3 and events[-1]["event"] == "FAILED", out)

        # server down: retries with growing, jittered delays; no hammering
        dead = Provisiond(h, name="dead")
        rc, events, out = run_client(h, dead, "dev-c3", h.path("c3"), tok, seconds=4,
                                     extra=["--retry-base-ms", "200", "--retry-cap-ms", "1500"])
        check(rc == 4, f"expected a timeout exit: {rc} {out}")
        retries = [e for e in events if e["event"] == "RETRYING"]
        check(2 <= len(retries) <= 25, f"{len(retries)} retries in 4 s: {out}")
        total = sum(int(e["retry_ms"]) for e in retries)
        check(total <= 4000 + 1500, f"retry delays add up to {total} ms")

        # wrong CA: the server is not trusted, nothing is registered
        rc, events, out = run_client(h, prov, "dev-c4", h.path("c4"), tok, seconds=2,
                                     ca="/etc/ssl/certs/ca-certificates.crt")
        ev = [e["event"] for e in events if e["event"] != "TIMEOUT"]
        check(ev and all(e == "RETRYING" for e in ev), out)
        check(not os.path.exists(h.path("c4", "device.crt")), "registered through an untrusted server")

        # server comes up while the client waits -> registers; loop kept ticking
        late = Provisiond(h, name="late")
        tok_late = late.token_file(late.token("line-late", uses=1))
        import subprocess
        from provtest import CLIENT
        p = subprocess.Popen([CLIENT, "--url", late.url, "--ca", late.ca, "--token-file", tok_late,
                              "--device-id", "dev-c5", "--state-dir", h.path("c5"),
                              "--retry-base-ms", "200", "--retry-cap-ms", "800", "--seconds", "20"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.5)
        late.start()
        out, _ = p.communicate(timeout=60)
        out = out.decode()
        check(p.returncode == 0, f"late registration: {out}")
        last = out.strip().splitlines()[-1]
        check("event=REGISTERED" in last, out)
        ticks = int(re.search(r"ticks=(\d+)", last).group(1))
        check(ticks >= 10, f"loop ticked only {ticks} times while registering: {out}")
        with open(h.path("c5", "provisioning.json")) as f:
            st = json.load(f)
        check(st["deviceId"] == "dev-c5" and st["mqtt"]["port"] == 8883, st)
        check(oct(os.stat(h.path("c5", "device.key")).st_mode & 0o777) == "0o600", "key mode")


def test_client_retries_5xx():
    """A 5xx is transient: the client backs off and registers once the server
    recovers (here the GitOps dir vanishes, so the claim cannot be written)."""
    import shutil
    import subprocess
    from provtest import CLIENT
    with Harness("prov-5xx") as h:
        prov = Provisiond(h).start()
        tok = prov.token_file(prov.token("line-5", uses=1))
        gitops = os.path.join(prov.dir, "gitops")
        shutil.rmtree(gitops)
        p = subprocess.Popen([CLIENT, "--url", prov.url, "--ca", prov.ca, "--token-file", tok,
                              "--device-id", "dev-5xx", "--state-dir", h.path("c"),
                              "--platform", "health-data", "--retry-base-ms", "200",
                              "--retry-cap-ms", "600", "--seconds", "45"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # generous: under ASan with a PostgreSQL registry on a loaded machine
        # the first answers can take several seconds
        end = time.time() + 30
        while time.time() < end and prov.log_text().count("-> 500") < 2:
            time.sleep(0.1)
        check(prov.log_text().count("-> 500") >= 2, "no retried 500s")
        os.makedirs(gitops)
        out, _ = p.communicate(timeout=30)
        out = out.decode()
        check(p.returncode == 0, out)
        lines = out.strip().splitlines()
        check(all("event=RETRYING status=500" in l for l in lines[:-1]) and len(lines) >= 3, out)
        check("event=REGISTERED status=201" in lines[-1], out)
        check(os.path.exists(os.path.join(gitops, "health-data-realtime.yaml")), "claim missing")
        # the failed attempts did not spend the single-use token
        st, doc = prov.request("GET", "/v1/devices/dev-5xx", token=prov.admin)
        check(st == 200, f"{st} {doc}")


def test_rate_limit_and_config_errors():
    with Harness("prov-limits") as h:
        prov = Provisiond(h, limits={"rate_per_s": 0.5, "burst": 3}).start()
        codes = [prov.register("no-such-token", "dev-r1", "x")[0] for _ in range(6)]
        check(codes[:3] == [401, 401, 401] and codes[3:] == [429, 429, 429], f"codes: {codes}")
        st, _ = prov.request("GET", "/healthz")
        check(st == 200, "healthz is rate limited")
        # a typo in the config is an error naming the key
        bad = h.path("bad.json")
        with open(bad, "w") as f:
            json.dump({"state_dir": prov.dir, "limits": {"rate_per_sec": 5}}, f)
        import subprocess
        from provtest import PROVISIOND
        r = subprocess.run([PROVISIOND, "serve", "--config", bad], stderr=subprocess.PIPE, timeout=10)
        check(r.returncode != 0 and b"limits.rate_per_sec: unknown key" in r.stderr, r.stderr)
        with open(bad, "w") as f:
            json.dump({"state_dir": prov.dir, "claims": {"database": "oracle"}}, f)
        r = subprocess.run([PROVISIOND, "serve", "--config", bad], stderr=subprocess.PIPE, timeout=10)
        check(r.returncode != 0 and b"claims.database" in r.stderr, r.stderr)
        r = subprocess.run([PROVISIOND, "serve", "--state-dir", h.path("no-ca")],
                           stderr=subprocess.STDOUT, stdout=subprocess.PIPE, timeout=10)
        check(r.returncode != 0 and b"init-ca" in r.stdout, r.stdout)


if __name__ == "__main__":
    edgetest.main([test_register_and_errors, test_client_stops_on_4xx_and_backs_off,
                   test_client_retries_5xx, test_rate_limit_and_config_errors])
