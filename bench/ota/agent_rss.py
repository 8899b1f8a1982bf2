#!/usr/bin/python3
"""The agent's memory while it downloads an update, 64 MiB against 256 MiB
(bench/ota/README.md, "The agent during a download").

  EDGE_BUILD_DIR=$PWD/build /usr/bin/python3 bench/ota/agent_rss.py [--sizes 64,256]

For each size: a real mosquitto (mutual TLS), nginx over TLS on loopback, the
agent in service mode on the fast sim board (tests/lib/otatest.py). An `ota`
install of an image of that size is sent; while the state is downloading,
the agent's and edge-ota-fetch's VmHWM (/proc/PID/status) and Pss/Anonymous
(/proc/PID/smaps_rollup) are sampled every 20 ms; the update is cancelled once
the download is done. Memory must be flat in the image size: the agent only
reads the helper's progress lines. Prints a Markdown table. Not a test.
"""
import argparse
import json
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.dirname(os.path.dirname(here))
sys.path[:0] = [os.path.join(src, "tests", "lib"), os.path.join(src, "tests", "integration")]
os.environ.setdefault("EDGE_BUILD_DIR", os.path.join(src, "build"))

import cmdlib  # noqa: E402
import edgetest as et  # noqa: E402
import otatest as ot  # noqa: E402

MiB = 1024 * 1024


def mem(pid):
    """(VmHWM, Pss, Anonymous) in KiB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
        pss = anon = 0
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for ln in f:
                if ln.startswith("Pss:"):
                    pss = int(ln.split()[1])
                elif ln.startswith("Anonymous:"):
                    anon = int(ln.split()[1])
        return hwm, pss, anon
    except (OSError, StopIteration, ValueError):
        return None


def fetch_pid(agent_pid):
    try:
        with open(f"/proc/{agent_pid}/task/{agent_pid}/children") as f:
            for p in f.read().split():
                with open(f"/proc/{p}/cmdline", "rb") as c:
                    if b"edge-ota-fetch" in c.read().split(b"\0")[0]:
                        return int(p)
    except OSError:
        pass
    return None


def one(size_mib):
    with et.Harness(f"bench-ota-agent-{size_mib}") as h:
        h.make_pki()
        broker = h.start_broker()
        req = cmdlib.Requester(h, broker)
        server = ot.ImageServer(h)
        vendor = ot.Vendor(h)
        cfg = ot.ota_config(h, broker, vendor, server, max_bytes=1 << 40)
        sa = ot.ServiceAgent(h, cfg)
        sa.start().wait_log("subscribed commands/", timeout=20)
        path = os.path.join(server.root, "big.bin")
        with open(path, "wb") as f:
            chunk = os.urandom(MiB)
            for _ in range(size_mib):
                f.write(chunk)
        m = vendor.manifest("9.9.9", server.url("big.bin"), path)
        base = mem(sa.proc.pid)
        ans = req.call("ota", {"op": "install", "manifest": m}, cid="bench", timeout=30)
        if ans["status"] != "ok":
            raise SystemExit(f"install refused: {ans}")
        agent_max, helper_max = [0, 0, 0], [0, 0, 0]
        t0 = time.time()
        while time.time() - t0 < 600:
            for pid, acc in ((sa.proc.pid, agent_max), (fetch_pid(sa.proc.pid), helper_max)):
                v = mem(pid) if pid else None
                if v:
                    for i in range(3):
                        acc[i] = max(acc[i], v[i])
            try:
                st = sa.state().get("state")
            except (OSError, ValueError):
                st = None
            if st != "downloading":
                break
            time.sleep(0.02)
        secs = time.time() - t0
        req.call("ota", {"op": "cancel"}, cid="bench-cancel", timeout=30)
        sa.proc.terminate()
        sa.proc.wait(20)
        return base, agent_max, helper_max, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,256")
    a = ap.parse_args()
    rows = []
    for s in [int(x) for x in a.sizes.split(",")]:
        print(f"agent_rss: {s} MiB ...", file=sys.stderr, flush=True)
        rows.append((s, *one(s)))
    print(f"edge-agent during an OTA download, {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} cores; KiB, max over the download (sampled every 20 ms)\n")
    print("| image | agent before (HWM / PSS / anon) | agent during (HWM / PSS / anon) "
          "| edge-ota-fetch (HWM / PSS / anon) | download |")
    print("|---|---|---|---|---|")
    for s, base, ag, he, secs in rows:
        print(f"| {s} MiB | {base[0]} / {base[1]} / {base[2]} | {ag[0]} / {ag[1]} / {ag[2]} "
              f"| {he[0]} / {he[1]} / {he[2]} | {secs:.1f} s |")
    if len(rows) >= 2:
        d = [rows[-1][2][i] - rows[0][2][i] for i in range(3)]
        print(f"\nagent, {rows[-1][0]} MiB against {rows[0][0]} MiB: HWM {d[0]:+d} KiB, "
              f"PSS {d[1]:+d} KiB, anonymous {d[2]:+d} KiB")
    print(json.dumps({"rows": rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
