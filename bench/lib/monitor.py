#!/usr/bin/python3
"""Watches a process for the benchmark: RSS, PSS and anonymous memory (heap,
stacks: what the process itself allocated, independent of how many other
processes share its libraries) every 100 ms from /proc/PID/smaps_rollup
(peaks, PSS median) and, with --drained-at SEQ, the agent's outbox
until no row with seq <= SEQ is left (every backlog message acknowledged
and deleted). Prints one line of key=value pairs.

  monitor.py --pid PID --seconds S                     memory for S seconds
  monitor.py --pid PID --db outbox.db --drained-at N   until drained (or --timeout)
"""
import argparse
import os
import sqlite3
import sys
import time


def mem(pid):
    """(rss, pss, anon, uss) in KiB; uss = private pages (clean + dirty), which
    no other process maps: what stopping this process would give back."""
    rss = pss = anon = uss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Anonymous:"):
                    anon = int(line.split()[1])
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    uss += int(line.split()[1])
    except OSError:
        return None
    return rss, pss, anon, uss


def breakdown(pid, top=8):
    """The largest PSS contributors by mapping, for the log (stderr)."""
    per = {}
    name = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    parts = line.split()
                    name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                elif line.startswith(("Pss:", "Rss:")):
                    k = line.split(":", 1)[0]
                    per.setdefault(name, {"Pss": 0, "Rss": 0})[k] += int(line.split()[1])
    except OSError:
        return ""
    items = sorted(per.items(), key=lambda kv: -kv[1]["Pss"])[:top]
    return " ".join(f"{n}={v['Pss']}/{v['Rss']}" for n, v in items)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--db")
    ap.add_argument("--drained-at", type=int)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()

    start = time.monotonic()
    peak_rss = peak_pss = peak_anon = peak_uss = 0
    pss_samples = []
    top = ""
    con = None
    if a.db:
        con = sqlite3.connect(a.db, timeout=5)  # reads only
    drained = None
    left = None
    while True:
        m = mem(a.pid)
        if m is None:
            print("monitor: the process went away", file=sys.stderr)
            break
        peak_rss, peak_pss, peak_anon, peak_uss = (
            max(p, v) for p, v in zip((peak_rss, peak_pss, peak_anon, peak_uss), m))
        if m[1] >= peak_pss:
            top = breakdown(a.pid)
        pss_samples.append(m[1])
        now = time.monotonic()
        if con is not None:
            # min(seq) is one b-tree descent: cheap even with a million rows
            lo = con.execute("SELECT min(seq) FROM outbox").fetchone()[0]
            left = lo
            if lo is None or lo > a.drained_at:
                drained = now - start
                break
            if now - start > a.timeout:
                break
        elif now - start >= a.seconds:
            break
        time.sleep(0.1)
    pss_samples.sort()
    med = pss_samples[len(pss_samples) // 2] if pss_samples else 0
    out = (f"rss_peak_kib={peak_rss} pss_peak_kib={peak_pss} pss_median_kib={med} "
           f"anon_peak_kib={peak_anon} uss_peak_kib={peak_uss}")
    print(f"monitor: at the PSS peak, PSS/RSS KiB by mapping: {top}", file=sys.stderr)
    if con is not None:
        out += f" drained_s={drained:.2f}" if drained is not None else f" drained_s=timeout min_seq={left}"
    print(out)


if __name__ == "__main__":
    main()
