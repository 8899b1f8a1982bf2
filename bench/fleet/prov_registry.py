#!/usr/bin/python3
"""bench/fleet: edge-provisiond registrations per second by registry backend.

For each setup a fresh fleet CA, registry and token; bin/prov-bench
(bench/provisioning) pre-generates N keys and CSRs, measures the raw mbedTLS
signing rate with the same CA (one thread) in the same run, then registers the
N devices from C concurrent libcurl clients, a new TLS connection each:
  - SQLite, one replica (the embedded default);
  - PostgreSQL, one replica;
  - PostgreSQL, one replica behind nginx (TCP, TLS passed through);
  - PostgreSQL, two replicas behind nginx.
Everything on loopback; PostgreSQL is a throwaway cluster (provtest.PgCluster).
Prints a markdown table (docs/provisioning.md keeps the latest one).

  EDGE_BUILD_DIR=build /usr/bin/python3 bench/fleet/prov_registry.py [--devices N] [--clients C]
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/integration"))
from edgetest import BIN, Harness  # noqa: E402
from provtest import Provisiond, StreamBalancer  # noqa: E402

LIMITS = {"rate_per_s": 1000000, "burst": 1000000, "threads": 4, "max_connections": 512}


def bench(h, prov, port, n, clients):
    tok = prov.token_file(prov.token("bench", uses=n))
    r = subprocess.run([os.path.join(BIN, "prov-bench"), "--state-dir", prov.dir,
                        "--url", f"https://127.0.0.1:{port}", "--token-file", tok,
                        "--devices", str(n), "--clients", str(clients)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
    out = r.stdout.decode()
    if r.returncode != 0:
        sys.exit(f"prov-bench failed:\n{out}")

    def num(label):
        m = re.search(re.escape(label) + r"[^\n]*?\s([0-9.]+)\n", out)
        return float(m.group(1)) if m else float("nan")

    ok = re.search(r"registrations: (\d+) ok, (\d+) failed", out)
    if not ok or int(ok.group(1)) != n:
        sys.exit(f"not every registration succeeded:\n{out}")
    return (num("raw mbedTLS certificate signing (1 thread)"),
            num("registrations via edge-provisiond (HTTPS)"))


def setup(h, name, backend, replicas, balancer):
    first = Provisiond(h, name=f"{name}-0", registry=backend, limits=LIMITS)
    reps = [first] + [Provisiond(h, name=f"{name}-{i}", replica_of=first, limits=LIMITS)
                      for i in range(1, replicas)]
    for p in reps:
        p.start(log_level="warning")
    port = StreamBalancer(h, reps, name=f"{name}-lb").port if balancer else first.port
    return first, reps, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    rows = []
    with Harness("bench-prov-registry") as h:
        for label, backend, replicas, balancer in (
                ("SQLite, 1 replica", "sqlite", 1, False),
                ("PostgreSQL, 1 replica", "postgresql", 1, False),
                ("PostgreSQL, 1 replica behind nginx", "postgresql", 1, True),
                ("PostgreSQL, 2 replicas behind nginx", "postgresql", 2, True)):
            name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
            first, reps, port = setup(h, name, backend, replicas, balancer)
            sign, reg = bench(h, first, port, a.devices, a.clients)
            rows.append((label, sign, reg))
            for p in reps:
                p.stop()
            print(f"{label}: {reg:.1f} registrations/s, raw signing {sign:.1f}/s", flush=True)
    load = os.getloadavg()[0]
    print(f"\n{a.devices} devices, {a.clients} clients, {os.cpu_count()} CPUs, "
          f"load average {load:.1f}\n")
    print("| setup | registrations/s | raw mbedTLS signing/s (same run) | ratio |")
    print("|---|---|---|---|")
    for label, sign, reg in rows:
        print(f"| {label} | {reg:.1f} | {sign:.1f} | {reg / sign:.2f} |")


if __name__ == "__main__":
    main()
