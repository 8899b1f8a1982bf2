"""100 devices of one realtime platform registering concurrently produce
exactly one RealtimePlatformClaim (one GitOps file, one API server POST) with
the content DESIGN 5.3 shows; a second platform gets its own claim, and an
API server answering 409 (exists) is fine."""
# ctest-timeout: 180
import concurrent.futures
import os

import edgetest
from edgetest import Harness, check
from provtest import FakeKube, Provisiond, expected_claim, factory


def test_hundred_devices_one_claim():
    with Harness("prov-claims") as h:
        h.make_pki()
        kube = FakeKube(h)
        try:
            prov = Provisiond(h, kubernetes=kube.config("iot"), claims={
                "database": "postgres", "visualization": "grafana", "data_retention": "7d",
                "min_replicas": 1, "max_replicas": 3,
                "mqtt_users": [{"username": "ingest", "password": "p@ss:word"}]},
                limits={"rate_per_s": 10000, "burst": 10000, "threads": 8}).start()
            token = prov.token("line-100", uses=100)
            out = h.path("factory")
            factory(h, out, token, prov, count=100, prefix="HD-")
            serials = [f"HD-{i:04d}" for i in range(1, 101)]
            csrs = {s: open(os.path.join(out, s, "device.csr")).read() for s in serials}

            def reg(s):
                return prov.register(token, s, csrs[s], platform="health-data")

            with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
                results = list(ex.map(reg, serials))
            statuses = [st for st, _ in results]
            check(statuses.count(201) == 100, f"statuses: {sorted(set(statuses))}")
            created = [d["deviceId"] for st, d in results if d["realtimePlatform"]["created"]]
            check(len(created) == 1, f"{len(created)} registrations claim to have created it")
            check(all(d["realtimePlatform"]["claim"] == "health-data-realtime" for _, d in results),
                  "claim name")

            extra = ('  mqttUsers:\n    - username: "ingest"\n      password: "p@ss:word"\n'
                     '  dataRetention: "7d"\n  scaling:\n    minReplicas: 1\n    maxReplicas: 3\n')
            want = expected_claim("health-data", visualization="grafana", extra=extra)
            gitops = os.path.join(prov.dir, "gitops")
            check(os.listdir(gitops) == ["health-data-realtime.yaml"], os.listdir(gitops))
            got = open(os.path.join(gitops, "health-data-realtime.yaml")).read()
            check(got == want, f"claim YAML:\n{got}")
            posts = [p for p in kube.posts if "health-data" in p["body"]]
            check(len(posts) == 1, f"{len(posts)} POSTs for health-data")
            check(posts[0]["body"] == want and posts[0]["ctype"] == "application/yaml", posts[0])
            check(posts[0]["path"].endswith("/namespaces/iot/realtimeplatformclaims"), posts[0]["path"])

            # the quota is spent: the 101st device is refused
            factory(h, out, token, prov, serial="HD-0101")
            st, d = prov.register(token, "HD-0101",
                                  open(os.path.join(out, "HD-0101", "device.csr")).read())
            check(st == 401 and "exhausted" in d["error"], f"101st device: {st} {d}")

            # a second platform: its own claim; the API server already has it (409 = fine)
            kube.seen.add("vitals-lab-realtime")
            tok2 = prov.token("line-lab", uses=1)
            factory(h, out, tok2, prov, serial="LAB-1", platform="vitals-lab")
            st, d = prov.register(tok2, "LAB-1", open(os.path.join(out, "LAB-1", "device.csr")).read(),
                                  platform="vitals-lab")
            check(st == 201 and d["realtimePlatform"]["created"], f"{st} {d}")
            check(sorted(os.listdir(gitops)) == ["health-data-realtime.yaml", "vitals-lab-realtime.yaml"],
                  os.listdir(gitops))
            check(len(kube.posts) == 2, f"{len(kube.posts)} POSTs in all")
            check("answered 409" in prov.log_text(), "409 not reported as fine")
            # restart: nothing emitted again
            prov.stop()
            prov.start()
            st, d = prov.register(token, "HD-0001", csrs["HD-0001"])
            check(st == 200 and not d["realtimePlatform"]["created"], f"{st} {d}")
            check(len(kube.posts) == 2, "claim POSTed again after a restart")
            lst = prov.admin_cmd("devices", "list", "--json").splitlines()
            check(len(lst) == 101, f"{len(lst)} devices listed")
        finally:
            kube.close()


if __name__ == "__main__":
    edgetest.main([test_hundred_devices_one_claim])
