"""Replicas on one registry: two edge-provisiond processes on one PostgreSQL
behind nginx (TCP, TLS passed through) take 200 concurrent registrations of
one realtime platform, from two batches whose tokens hold 100 uses in all
(55 devices per batch want one; 45 of them send their registration twice, to
either replica). The database alone decides: one claim file and one
Kubernetes POST, no token over its quota (exactly 50 devices per batch), each
device registered once (one 201, its twin 200 with the same certificate, or
401 for all when its batch ran out), the registry rows matching the answers,
the shared CA key only read. The same with SQLite behind one replica."""
# ctest-timeout: 180
import concurrent.futures
import hashlib
import json
import os
import random
import stat
import threading

import edgetest
from edgetest import Harness, check
from provtest import FakeKube, Provisiond, StreamBalancer, expected_claim, factory

BATCHES = (("line-1", "LA-"), ("line-2", "LB-"))
QUOTA = 50        # per batch: 100 uses in all
DEVICES = 55      # per batch, each wanting a use
TWICE = 45        # per batch, devices that send two registrations
# 2 x (45 x 2 + 10) = 200 requests


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def registrations_at_once(backend, replicas):
    name = f"prov-load-{backend}"
    with Harness(name) as h:
        h.make_pki()
        kube = FakeKube(h)
        try:
            gitops = h.path("gitops")
            limits = {"rate_per_s": 100000, "burst": 100000, "threads": 4,
                      "max_connections": 512}
            first = Provisiond(h, name="replica-0", registry=backend,
                               kubernetes=kube.config("iot"), claims={"gitops_dir": gitops},
                               limits=limits)
            reps = [first] + [Provisiond(h, name=f"replica-{i}", replica_of=first, limits=limits)
                              for i in range(1, replicas)]
            # The replicas share the CA key read-only.
            os.chmod(first.ca_key, 0o400)
            key_sum = sha256_file(first.ca_key)
            for p in reps:
                p.start()
            lb = StreamBalancer(h, reps)
            out = h.path("factory")
            jobs, csrs = [], {}
            for batch, prefix in BATCHES:
                tok = first.token(batch, uses=QUOTA)
                factory(h, out, tok, first, count=DEVICES, prefix=prefix)
                for i in range(1, DEVICES + 1):
                    serial = f"{prefix}{i:04d}"
                    with open(os.path.join(out, serial, "device.csr")) as f:
                        csrs[serial] = f.read()
                    jobs += [(serial, tok)] * (2 if i <= TWICE else 1)
            check(len(jobs) == 200, f"{len(jobs)} jobs")
            random.Random(13).shuffle(jobs)
            start = threading.Barrier(len(jobs), timeout=60)

            def reg(job):
                serial, tok = job
                start.wait()
                st, doc = first.register(tok, serial, csrs[serial], port=lb.port)
                return serial, st, doc

            with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as ex:
                results = list(ex.map(reg, jobs))

            # the answers
            statuses = sorted({st for _, st, _ in results})
            check(set(statuses) <= {200, 201, 401}, f"statuses {statuses}: "
                  + "; ".join(f"{s} {st} {d}" for s, st, d in results if st not in (200, 201, 401))[:800])
            by_serial = {}
            for serial, st, doc in results:
                by_serial.setdefault(serial, []).append((st, doc))
            certs = {}
            for serial, answers in by_serial.items():
                codes = sorted(st for st, _ in answers)
                if 201 in codes:
                    check(codes.count(201) == 1 and set(codes) <= {200, 201},
                          f"{serial} answered {codes}")
                    certs[serial] = {d["certificate"] for st, d in answers}
                    check(len(certs[serial]) == 1, f"{serial}: two different certificates")
                    certs[serial] = certs[serial].pop()
                else:
                    check(all(st == 401 and "exhausted" in d["error"] for st, d in answers),
                          f"{serial} answered {answers}")
            for batch, prefix in BATCHES:
                n = sum(1 for s in certs if s.startswith(prefix))
                check(n == QUOTA, f"batch {batch}: {n} devices registered, quota {QUOTA}")
            created = [s for s, st, d in results if st == 201 and d["realtimePlatform"]["created"]]
            check(len(created) == 1, f"{len(created)} answers say they created the claim")

            # one claim file, one POST
            check(os.listdir(gitops) == ["health-data-realtime.yaml"], os.listdir(gitops))
            with open(os.path.join(gitops, "health-data-realtime.yaml")) as f:
                check(f.read() == expected_claim("health-data"), "claim YAML differs")
            posts = [p for p in kube.posts if "health-data" in p["body"]]
            check(len(posts) == 1, f"{len(posts)} Kubernetes POSTs")

            # the registry: rows = answers, uses = rows, nothing else
            rows = first.sql("SELECT id, batch, cert_pem, revoked FROM devices")
            check(len(rows) == 2 * QUOTA, f"{len(rows)} device rows")
            for dev_id, batch, cert, revoked in rows:
                check(certs.get(dev_id) == cert, f"{dev_id}: registry certificate differs")
                check(batch == ("line-1" if dev_id.startswith("LA-") else "line-2"), dev_id)
                check(revoked in ("0", "f", "false"), f"{dev_id} revoked={revoked}")
            for batch, uses, uses_max in first.sql("SELECT batch, uses, uses_max FROM tokens"):
                check(int(uses) == QUOTA and int(uses_max) == QUOTA,
                      f"token {batch}: {uses} of {uses_max} uses")
            plat = first.sql("SELECT name, k8s_done FROM platforms")
            check(len(plat) == 1 and plat[0][1] in ("1", "t"), f"platforms: {plat}")
            listed = first.admin_cmd("devices", "list", "--json").splitlines()
            check(len(listed) == 2 * QUOTA, f"devices list: {len(listed)}")
            check({json.loads(line)["deviceId"] for line in listed} == set(certs), "devices list")

            # the work was shared, the CA key only read
            conns = lb.connections()
            if replicas > 1:
                for p in reps:
                    n = conns.get(f"127.0.0.1:{p.port}", 0)
                    check(n >= 20, f"{p.name} got {n} of the connections: {conns}")
                    check(p.log_text().count("registered ") >= 5,
                          f"{p.name} registered almost nothing")
            check(sha256_file(first.ca_key) == key_sum, "the CA key changed")
            check(stat.S_IMODE(os.stat(first.ca_key).st_mode) == 0o400, "CA key mode changed")
            for p in reps:
                p.stop()
        finally:
            kube.close()


def test_two_replicas_on_postgresql():
    registrations_at_once("postgresql", 2)


def test_one_replica_on_sqlite():
    registrations_at_once("sqlite", 1)


if __name__ == "__main__":
    edgetest.main([test_two_replicas_on_postgresql, test_one_replica_on_sqlite])
