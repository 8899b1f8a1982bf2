"""Faults with replicas on one PostgreSQL behind nginx:
- one replica SIGKILLed in the middle of a load: registrations go on through
  the other; nothing is half done (token uses = device rows, every device's
  stored certificate is the one its client holds);
- PostgreSQL stopped in the middle of a load of real agents' clients
  (edge-prov-client, the agent's provisioning library): 503 with Retry-After
  and /healthz 503 while it is down, the clients back off (requests counted
  on both sides), and every device is registered once it is back;
- one replica cut off from the database (a TCP relay): its /healthz turns
  503, a readiness prober takes it out of nginx, the other serves alone
  without a single 503, and after the cut heals the replica reconnects and
  is taken back."""
# ctest-timeout: 240
import concurrent.futures
import http.client
import os
import random
import re
import subprocess
import threading
import time

import edgetest
from edgetest import Harness, check
from provtest import (CLIENT, Provisiond, ReadinessProber, StreamBalancer, TcpRelay, factory,
                      pg_cluster)

LIMITS = {"rate_per_s": 100000, "burst": 100000, "threads": 4, "max_connections": 512}


def replicas(h, n, relay_for=None, **over):
    """n replicas on one PostgreSQL database; relay_for: {index: TcpRelay}
    whose replica reaches the database through the relay."""
    first = Provisiond(h, name="replica-0", registry="postgresql", limits=LIMITS, **over)
    reps = [first]
    for i in range(1, n):
        extra = {}
        if relay_for and i in relay_for:
            extra["registry_url"] = first.db_url.replace(f":{first.pg.port}/",
                                                         f":{relay_for[i].port}/")
        reps.append(Provisiond(h, name=f"replica-{i}", replica_of=first, limits=LIMITS, **extra))
    return reps


def register_retrying(prov, port, tok, serial, csr, deadline):
    """A client with full-jitter backoff that waits at least Retry-After.
    Returns (final status, document, [(time, status)])."""
    attempts = []
    cap = 0.2
    while time.time() < deadline:
        try:
            st, doc, hdrs = prov.register(tok, serial, csr, port=port, with_headers=True)
        except (OSError, http.client.HTTPException):
            st, doc, hdrs = 0, None, {}
        attempts.append((time.time(), st))
        if st in (200, 201) or 400 <= st < 500:
            return st, doc, attempts
        wait = random.uniform(0, cap)
        cap = min(cap * 2, 2.0)
        if hdrs.get("Retry-After"):
            wait += float(hdrs["Retry-After"])
        time.sleep(wait)
    return 0, None, attempts


def registry_matches(prov, certs, n):
    """n device rows, one token use each, each row's certificate the one
    its client holds."""
    rows = prov.sql("SELECT id, cert_pem, pubkey_sha256 FROM devices")
    check(len(rows) == n, f"{len(rows)} device rows, want {n}")
    for dev_id, cert, pub in rows:
        check(pub and cert, f"{dev_id}: incomplete row")
        check(certs.get(dev_id) == cert, f"{dev_id}: stored certificate is not the client's")
    uses = sum(int(u) for (u,) in prov.sql("SELECT uses FROM tokens"))
    check(uses == n, f"{uses} token uses for {n} devices")


def bundles(h, prov, tok, count, prefix):
    out = h.path("factory")
    factory(h, out, tok, prov, count=count, prefix=prefix)
    serials = [f"{prefix}{i:04d}" for i in range(1, count + 1)]
    csrs = {s: open(os.path.join(out, s, "device.csr")).read() for s in serials}
    return out, serials, csrs


def test_replica_killed_mid_load():
    with Harness("prov-pg-kill") as h:
        reps = replicas(h, 2)
        for p in reps:
            p.start()
        lb = StreamBalancer(h, reps)
        first = reps[0]
        n = 120
        tok = first.token("line-k", uses=n)
        _, serials, csrs = bundles(h, first, tok, n, "KL-")
        done = []
        lock = threading.Lock()
        deadline = time.time() + 90

        def reg(serial):
            r = register_retrying(first, lb.port, tok, serial, csrs[serial], deadline)
            with lock:
                done.append((time.time(), serial, r))
            return serial, r

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            futs = [ex.submit(reg, s) for s in serials]
            while True:
                with lock:
                    if len(done) >= 30:
                        break
                time.sleep(0.005)
            reps[0].proc.kill()  # SIGKILL: no goodbye, transactions cut
            t_kill = time.time()
            with lock:
                at_kill = len(done)
            results = dict(f.result() for f in futs)
        reps[0].proc.wait()
        check(at_kill < n - 30, f"the kill came too late ({at_kill} of {n} done)")
        certs = {}
        for serial, (st, doc, attempts) in results.items():
            check(st in (200, 201), f"{serial}: {st} after {attempts}")
            # 200 for a first registration only when an answer was lost
            check(st == 201 or any(s == 0 for _, s in attempts[:-1]),
                  f"{serial}: 200 without a lost answer: {attempts}")
            certs[serial] = doc["certificate"]
        after = sum(1 for t, _, _ in done if t > t_kill)
        check(after >= 60, f"only {after} registrations finished after the kill")
        check(reps[1].log_text().count("registered ") >= 60, "the surviving replica did little")
        registry_matches(first, certs, n)
        reps[1].stop()


def test_database_stopped_mid_load():
    with Harness("prov-pg-outage") as h:
        reps = replicas(h, 2)
        for p in reps:
            p.start()
        lb = StreamBalancer(h, reps)
        first = reps[0]
        pg = first.pg
        n = 40
        tok = first.token("line-o", uses=n + 1)
        tok_file = first.token_file(tok)
        out, serials, csrs = bundles(h, first, tok, n + 1, "OU-")
        probe_serial = serials.pop()
        clients = {}
        outage = 4.0

        def start_client(serial):
            bundle = os.path.join(out, serial)
            clients[serial] = subprocess.Popen(
                [CLIENT, "--url", lb.url, "--ca", first.ca, "--token-file", tok_file,
                 "--device-id", serial, "--state-dir", h.path("agents", serial),
                 "--key", os.path.join(bundle, "device.key"),
                 "--csr", os.path.join(bundle, "device.csr"), "--board", "sim",
                 "--platform", "health-data", "--retry-base-ms", "250",
                 "--retry-cap-ms", "2000", "--seconds", "60"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def registered():
            return sum(p.log_text().count("registered OU-") for p in reps)

        # agents come up over 2 s; the database goes away once a few made it
        for i, s in enumerate(serials):
            start_client(s)
            if i == 5:
                end = time.time() + 10
                while registered() < 3 and time.time() < end:
                    time.sleep(0.02)
                pg.stop("fast")
                t_down = time.time()
            time.sleep(0.05)
        before = registered()
        check(before < n, "everything registered before the outage")
        # while it is down: 503 + Retry-After, and /healthz says so
        st, doc, hdrs = first.register(tok, probe_serial, csrs[probe_serial], port=lb.port,
                                       with_headers=True)
        check(st == 503 and hdrs.get("Retry-After", "").isdigit()
              and 1 <= int(hdrs["Retry-After"]) <= 30, f"during the outage: {st} {doc} {hdrs}")
        for p in reps:
            hs, hdoc, ra = p.health()
            check(hs == 503 and hdoc["registry"]["state"] == "unreachable" and ra,
                  f"{p.name} /healthz during the outage: {hs} {hdoc} Retry-After={ra}")
        time.sleep(max(0.0, t_down + outage - time.time()))
        pg.start()
        t_up = time.time()
        outputs = {}
        for s, proc in clients.items():
            o, _ = proc.communicate(timeout=90)
            outputs[s] = (proc.returncode, o.decode())
        took = time.time() - t_up

        certs, attempts, saw_503 = {}, {}, 0
        for s, (rc, text) in outputs.items():
            lines = [l for l in text.splitlines() if l.startswith("event=")]
            check(rc == 0 and lines and re.match(r"event=REGISTERED status=20[01]", lines[-1]),
                  f"{s} exit {rc}: {text[-600:]}")
            retries = [l for l in lines if l.startswith("event=RETRYING")]
            saw_503 += any("status=503" in l for l in retries)
            attempts[s] = len(retries) + 1
            with open(h.path("agents", s, "device.crt")) as f:
                certs[s] = f.read()
        check(saw_503 >= 10, f"only {saw_503} agents saw a 503")
        # Backoff (250 ms base, 2 s cap, full jitter: about one try a second
        # once at the cap) over the outage plus the replicas' reconnection
        # backoff (<= 5 s): a dozen tries each, where a client without
        # backoff would make hundreds.
        worst = max(attempts.values())
        total = sum(attempts.values())
        span = time.time() - t_down
        bound = int(5 + 2 * span)
        check(worst <= bound, f"an agent tried {worst} times in {span:.1f} s (bound {bound}): "
              f"{sorted(attempts.values())}")
        check(total <= n * (3 + span), f"{total} registration requests for {n} agents")
        # the servers saw exactly the clients' requests (+ the probe)
        served = sum(len(re.findall(r"POST /v1/devices/register -> \d+", p.log_text()))
                     for p in reps)
        check(served == total + 1, f"servers answered {served} requests, clients sent {total} + 1")
        check(took < 30, f"{took:.1f} s to finish after the database came back")
        registry_matches(first, certs, n)
        for p in reps:
            check(p.health()[0] == 200, f"{p.name} unhealthy after the outage")
            p.stop()
        print(f"outage {outage:.0f} s: {total} requests from {n} agents in {span:.1f} s "
              f"(worst {worst}, bound {bound}), "
              f"{saw_503} saw 503, all registered {took:.1f} s after the database returned")


def test_partitioned_replica_taken_out():
    with Harness("prov-pg-partition") as h:
        pg = pg_cluster(h)
        relay = TcpRelay(pg.port)
        try:
            reps = replicas(h, 2, relay_for={1: relay})
            for p in reps:
                p.start()
            lb = StreamBalancer(h, reps)
            prober = ReadinessProber(lb)
            first = reps[0]
            n = 90
            tok = first.token("line-p", uses=n)
            _, serials, csrs = bundles(h, first, tok, n, "PT-")
            port1 = f"127.0.0.1:{reps[1].port}"
            deadline = time.time() + 90

            def reg(serial):
                return serial, register_retrying(first, lb.port, tok, serial, csrs[serial],
                                                 deadline)

            with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
                results = dict(ex.map(reg, serials[:30]))
                check(lb.connections().get(port1, 0) >= 5, f"replica-1 unused: {lb.connections()}")
                relay.cut()
                end = time.time() + 10
                while lb.ready[1] and time.time() < end:
                    time.sleep(0.05)
                check(not lb.ready[1], "the cut-off replica was not taken out")
                hs, hdoc, _ = reps[1].health()
                check(hs == 503 and hdoc["registry"]["state"] == "unreachable", f"{hs} {hdoc}")
                time.sleep(0.5)
                through1 = lb.connections().get(port1, 0)
                phase2 = dict(ex.map(reg, serials[30:60]))
                check(all(len(a) == 1 for _, _, a in phase2.values()),
                      "clients retried while the cut-off replica was out: "
                      f"{[a for _, _, a in phase2.values() if len(a) > 1][:3]}")
                results.update(phase2)
                check(lb.connections().get(port1, 0) == through1,
                      "the balancer still sent registrations to the cut-off replica")
                relay.heal()
                end = time.time() + 15
                while not lb.ready[1] and time.time() < end:
                    time.sleep(0.05)
                check(lb.ready[1], "the replica did not come back after the cut healed")
                results.update(ex.map(reg, serials[60:]))
            prober.stop()
            check(lb.connections().get(port1, 0) > through1, "the healed replica got no work")
            certs = {}
            for serial, (st, doc, attempts) in results.items():
                check(st == 201, f"{serial}: {st} after {attempts}")
                certs[serial] = doc["certificate"]
            registry_matches(first, certs, n)
            for p in reps:
                p.stop()
        finally:
            relay.close()


if __name__ == "__main__":
    edgetest.main([test_replica_killed_mid_load, test_database_stopped_mid_load,
                   test_partitioned_replica_taken_out])
