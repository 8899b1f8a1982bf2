#!/usr/bin/python3
"""edge-ota-fetch against curl, same nginx, same run (bench/ota/README.md).

  EDGE_BUILD_DIR=$PWD/build /usr/bin/python3 bench/ota/run.py [--rounds 5] [--sizes 64,256]

For each size (MiB) a file of random bytes is served by nginx over TLS on
loopback (the test's Nginx, tests/integration/test_ota_fetch.py). Each round
runs, in a rotating order so that load from elsewhere hits all alike:
  curl       curl -s -o FILE URL (the baseline the target is set against)
  curl+sync  the same, then fdatasync(FILE): what "on disk" costs curl
  fetch      edge-ota-fetch (default checkpoints: 4 MiB / 10 s, fdatasync each)
  fetch-mbed the same built with mbedTLS's SHA-256 (bench-ota-fetch-mbedtls)
The helper's memory is sampled every 10 ms: VmHWM (/proc/PID/status) and
Pss/Anonymous (/proc/PID/smaps_rollup). The resume figure: a part holding the
first 90 % (a 4 MiB checkpoint) is resumed with --offset/--validator (prefix
re-hashed, the rest fetched with Range); its time against the full download.
Prints one Markdown table on stdout, progress on stderr. Not a test: exits 0
when a target is missed (marked MISS). The work files live under the build
directory, not /tmp (often a tmpfs, where fdatasync costs nothing)."""
import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.dirname(os.path.dirname(here))
sys.path[:0] = [os.path.join(src, "tests", "lib"), os.path.join(src, "tests", "integration")]
BUILD = os.path.abspath(os.environ.setdefault("EDGE_BUILD_DIR", os.path.join(src, "build")))

from edgetest import Harness  # noqa: E402
from test_ota_fetch import FETCH, Nginx, nginx_etag  # noqa: E402

MBED = os.path.join(BUILD, "bench", "bench-ota-fetch-mbedtls")
MiB = 1024 * 1024


def log(*a):
    print("bench-ota:", *a, file=sys.stderr, flush=True)


def make_file(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(left, 4 * MiB))
            f.write(b)
            h.update(b)
            left -= len(b)
    os.chmod(path, 0o644)
    return h.hexdigest()


class MemWatch:
    """Peaks of VmHWM, Pss and Anonymous (KiB) of one pid, sampled."""

    def __init__(self, pid, period=0.01):
        self.pid, self.period = pid, period
        self.hwm = self.pss = self.anon = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.hwm = max(self.hwm, int(line.split()[1]))
                with open(f"/proc/{self.pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            self.pss = max(self.pss, int(line.split()[1]))
                        elif line.startswith("Anonymous:"):
                            self.anon = max(self.anon, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            self.stop.wait(self.period)

    def done(self):
        self.stop.set()
        self.t.join()


def run_curl(url, ca, out, sync):
    if os.path.exists(out):
        os.unlink(out)
    t0 = time.perf_counter()
    subprocess.run(["curl", "-s", "--cacert", ca, "-o", out, url], check=True)
    if sync:
        fd = os.open(out, os.O_RDONLY)
        os.fdatasync(fd)
        os.close(fd)
    return time.perf_counter() - t0


def run_fetch(binary, url, ca, out, size, sha, extra=(), fresh=True):
    if fresh and os.path.exists(out):
        os.unlink(out)
    cmd = [binary, "--url", url, "--out", out, "--size", str(size), "--sha256", sha,
           "--ca-file", ca] + list(extra)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    mem = MemWatch(p.pid)
    lines = p.stdout.read().decode().splitlines()
    rc = p.wait()
    took = time.perf_counter() - t0
    mem.done()
    if rc != 0 or f"done {sha}" not in lines:
        raise SystemExit(f"{binary} failed (exit {rc}): {lines[-3:]}")
    return took, mem, lines


def median(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="64,256", help="MiB, comma-separated")
    ap.add_argument("--resume-rounds", type=int, default=3)
    ap.add_argument("--rate", default="",
                    help="nginx limit_rate for every run (e.g. 20m): a gateway's link "
                         "instead of loopback's disk-bound speed")
    a = ap.parse_args()
    for b in (FETCH, MBED):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"{b} missing: cmake --build {BUILD} --target edge-ota-fetch "
                             "bench-ota-fetch-mbedtls")
    tempfile.tempdir = BUILD  # the build's file system, not a tmpfs
    sizes = [int(s) * MiB for s in a.sizes.split(",")]
    res = {}
    with Harness("bench-ota") as h:
        ng = Nginx(h, slow=a.rate or "1m")
        loc = "/slow/" if a.rate else "/"
        try:
            ng.start()
            out_dir = h.path("out")
            os.makedirs(out_dir)
            fs = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", out_dir], stdout=subprocess.PIPE,
                                text=True).stdout.strip() or "?"
            for size in sizes:
                name = f"img{size // MiB}.bin"
                sha = make_file(os.path.join(ng.www, name), size)
                url = ng.url(name, loc)
                out = os.path.join(out_dir, name)
                r = res[size] = {"curl": [], "curl+sync": [], "fetch": [], "fetch-mbed": [],
                                 "ratio": [], "ratio_sync": [], "ratio_mbed": [], "hwm": [],
                                 "pss": [], "anon": [], "resume": [], "full": []}
                runs = {
                    "curl": lambda: r["curl"].append(run_curl(url, ng.ca, out, False)),
                    "curl+sync": lambda: r["curl+sync"].append(run_curl(url, ng.ca, out, True)),
                    "fetch": lambda: r["fetch"].append(fetch_once(FETCH)),
                    "fetch-mbed": lambda: r["fetch-mbed"].append(fetch_once(MBED)),
                }

                def fetch_once(binary):
                    took, mem, _ = run_fetch(binary, url, ng.ca, out, size, sha)
                    if binary == FETCH:
                        r["hwm"].append(mem.hwm)
                        r["pss"].append(mem.pss)
                        r["anon"].append(mem.anon)
                    return took

                order = list(runs)
                run_curl(url, ng.ca, out, False)  # warm-up: the file into nginx's page cache
                for i in range(a.rounds):
                    rot = order[i % len(order):] + order[:i % len(order)]
                    for k in rot:
                        runs[k]()
                    r["ratio"].append(r["curl"][-1] / r["fetch"][-1])
                    r["ratio_sync"].append(r["curl+sync"][-1] / r["fetch"][-1])
                    r["ratio_mbed"].append(r["curl"][-1] / r["fetch-mbed"][-1])
                    log(f"{size // MiB} MiB round {i + 1}: " + ", ".join(
                        f"{k} {r[k][-1]:.3f} s" for k in rot) + f"; fetch/curl {r['ratio'][-1]:.2f}")

                # resume after a cut at 90 %: the part holds a 4 MiB-aligned 90 % prefix
                ckpt = (size * 9 // 10) // (4 * MiB) * (4 * MiB)
                etag = nginx_etag(os.path.join(ng.www, name))
                for i in range(a.resume_rounds):
                    full, _, _ = run_fetch(FETCH, url, ng.ca, out, size, sha)
                    with open(out, "r+b") as f:  # the first ckpt bytes are the image's
                        f.truncate(ckpt)
                        os.fdatasync(f.fileno())
                    took, _, lines = run_fetch(FETCH, url, ng.ca, out, size, sha,
                                               ["--offset", str(ckpt), "--validator", etag],
                                               fresh=False)
                    if any(ln.startswith("restart") for ln in lines):
                        raise SystemExit(f"the resume started over: {lines}")
                    r["full"].append(full)
                    r["resume"].append(took)
                    log(f"{size // MiB} MiB resume from {ckpt}: {took:.3f} s (full {full:.3f} s)")
                os.unlink(out)
                os.unlink(os.path.join(ng.www, name))
        finally:
            ng.stop()  # the harness would SIGKILL the master and orphan the worker

    def mbps(size, s):
        return f"{size / s / 1e6:.0f} MB/s"

    def mark(ok):
        return "met" if ok else "**MISS**"

    cols = [f"{s // MiB} MiB" for s in sizes]
    print()
    print(f"edge-ota-fetch ({subprocess.run(['git', '-C', src, 'rev-parse', '--short', 'HEAD'], stdout=subprocess.PIPE, text=True).stdout.strip() or '?'}), "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores "
          f"({platform.processor() or platform.machine()}), nginx over TLS 1.3 on 127.0.0.1, "
          f"files on {fs}; medians of {a.rounds} rounds (rotating order), resume: "
          f"{a.resume_rounds} rounds.")
    print()
    print("| figure | " + " | ".join(cols) + " | target |")
    print("|---|" + "---|" * len(cols) + "---|")

    def row(label, f, target=""):
        print(f"| {label} | " + " | ".join(f(s, res[s]) for s in sizes) + f" | {target} |")

    row("curl -s -o FILE", lambda s, r: f"{median(r['curl']):.3f} s ({mbps(s, median(r['curl']))})")
    row("curl -s -o FILE, then fdatasync", lambda s, r: f"{median(r['curl+sync']):.3f} s "
        f"({mbps(s, median(r['curl+sync']))})")
    row("edge-ota-fetch (libcrypto SHA-256)", lambda s, r: f"{median(r['fetch']):.3f} s "
        f"({mbps(s, median(r['fetch']))})")
    row("edge-ota-fetch (mbedTLS SHA-256)", lambda s, r: f"{median(r['fetch-mbed']):.3f} s "
        f"({mbps(s, median(r['fetch-mbed']))})")
    row("throughput fetch / curl (median of round ratios)",
        lambda s, r: f"{median(r['ratio']):.2f} {mark(median(r['ratio']) >= 0.9)}", "≥ 0.9")
    row("throughput fetch / (curl + fdatasync)",
        lambda s, r: f"{median(r['ratio_sync']):.2f} {mark(median(r['ratio_sync']) >= 0.9)}",
        "≥ 0.9")
    row("throughput fetch-mbedTLS / curl", lambda s, r: f"{median(r['ratio_mbed']):.2f}")
    row("helper peak RSS (VmHWM, max of runs)", lambda s, r: f"{max(r['hwm']) / 1024:.1f} MiB")
    row("helper peak PSS / anonymous", lambda s, r: f"{max(r['pss']) / 1024:.1f} / "
        f"{max(r['anon']) / 1024:.1f} MiB")
    row("resume after a cut at 90 % (rehash + rest)", lambda s, r: f"{median(r['resume']):.3f} s "
        f"of {median(r['full']):.3f} s full = {median(r['resume']) / median(r['full']):.2f}")
    if len(sizes) >= 2:
        lo, hi = res[sizes[0]], res[sizes[-1]]
        grow = max(hi["anon"]) - max(lo["anon"])
        ghwm = max(hi["hwm"]) - max(lo["hwm"])
        print()
        print(f"Memory, {sizes[-1] // MiB} MiB against {sizes[0] // MiB} MiB: VmHWM "
              f"{ghwm:+d} KiB, anonymous {grow:+d} KiB: "
              f"{mark(abs(grow) <= 512 and abs(ghwm) <= 1024)} (flat: within 512 KiB anon, "
              f"1 MiB RSS).")
    print()
    for s in sizes:
        r = res[s]
        print(f"Runs {s // MiB} MiB, s: curl {' '.join(f'{x:.3f}' for x in r['curl'])}; "
              f"curl+sync {' '.join(f'{x:.3f}' for x in r['curl+sync'])}; fetch "
              f"{' '.join(f'{x:.3f}' for x in r['fetch'])}; fetch-mbedTLS "
              f"{' '.join(f'{x:.3f}' for x in r['fetch-mbed'])}.")


if __name__ == "__main__":
    main()
