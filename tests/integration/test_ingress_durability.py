"""CoAP ingress durability (issue 12): an ACK means durable. A pack answered 2.04 and
the agent SIGKILLed right after is delivered after the restart; with the outbox on a
full filesystem the agent answers 5.03 (Max-Age 30) and everything it acknowledged
is delivered, nothing it refused is. Packs arriving together share one COMMIT and
their answers wait for it: SIGKILLed mid-load, the outbox holds every acknowledged
pack."""
# ctest-timeout: 300
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import edgetest as et
import test_ingress as ti


def test_ack_then_sigkill():
    with et.Harness("ingress-kill") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/node-01/#"])
        keys = ti.write_keys(h, [("node-01", ti.KEY1)])
        b.stop()  # nothing can be published before the kill: only the outbox has it
        a = ti.start_ingress_agent(h, b, keys)
        acked = []
        for v in (101, 102, 103):
            r = ti.coap(h, ti.coaps_uri(a), [{"n": "heartRate", "v": v}])
            et.check(r.code == "2.04", f"pack {v}: {r}")
            acked.append(v)
        a.proc.send_signal(signal.SIGKILL)  # right after the last 2.04
        a.proc.wait(10)
        marks = sub.subacks
        b.start()
        sub.wait_resubscribed(marks)
        a2 = h.start_agent(a.cfg, name="agent2")
        got = sub.wait("sensors/node-01/heart_rate", 3, timeout=30)
        vals = sorted(json.loads(m[1])["value"] for m in got)
        et.check(vals[:3] == acked, f"after SIGKILL and restart: {vals}")
        a2.stop()
        print(f"    3 packs acknowledged, agent SIGKILLed, all 3 delivered after the restart")


def node_rows(h):
    """Rows of the nodes' readings in the outbox (the gateway samples its own too)."""
    con = sqlite3.connect(h.path("state", "outbox.db"), timeout=5)
    try:
        return con.execute("SELECT count(*) FROM outbox WHERE topic LIKE 'sensors/node-%'"
                           ).fetchone()[0]
    finally:
        con.close()


def test_shared_commit_then_sigkill():
    """16 nodes in lock-step: packs that arrive together share a COMMIT (status
    commits < heldPacks) and each gets exactly one answer. The agent is SIGKILLed
    mid-load with the broker down: the outbox holds at least every pack answered 2.04,
    and at most one more per node (committed, its answer lost with the process)."""
    with et.Harness("ingress-shared") as h:
        h.make_pki()
        b = h.start_broker()
        nodes = [(f"node-{i:04d}", ti.KEY1) for i in range(16)]
        keys = ti.write_keys(h, nodes)
        b.stop()  # nothing leaves the outbox: its rows are exactly what was committed
        a = ti.start_ingress_agent(h, b, keys, rate_per_min=600000, burst=10000)
        res = ti.load("--port", str(a.coap_port), "--keys", keys, "--nodes", "16", "--count",
                      "100", "--seconds", "60", "post")
        et.check(res["codes"] == {"2.04": 1600} and res["answered"] == 1600,
                 f"1600 packs: {res}")
        st = ti.ingress_status(h, a)
        et.check(st["accepted"] == 1600 and st["duplicates"] == 0, f"counters {st}")
        et.check(0 < st["commits"] < st["heldPacks"] <= 1600,
                 f"no COMMIT was shared: {st['commits']} commits for {st['heldPacks']} "
                 f"held packs")
        rows = node_rows(h)
        et.check(rows == 1600, f"outbox rows {rows} after 1600 acknowledged packs")
        # now a kill in the middle of a load
        load = subprocess.Popen([ti.LOAD, "--port", str(a.coap_port), "--keys", keys, "--nodes",
                                 "16", "--count", "100000", "--seconds", "4", "post"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(1.5)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)
        out, _ = load.communicate(timeout=120)
        res = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
        acked = res["codes"].get("2.04", 0)
        et.check(acked > 0 and set(res["codes"]) <= {"2.04"}, f"load before the kill: {res}")
        rows = node_rows(h) - 1600
        et.check(acked <= rows <= acked + 16,
                 f"SIGKILL mid-load: {acked} packs answered 2.04, {rows} in the outbox")
        print(f"    16 nodes: {st['heldPacks']} packs in {st['commits']} COMMITs; SIGKILL "
              f"mid-load: {acked} acknowledged, {rows} stored")


def test_full_disk_503():
    with et.Harness("ingress-full") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/node-01/#"])
        keys = ti.write_keys(h, [("node-01", ti.KEY1)] +
                             [(f"node-{i:04d}", ti.KEY1) for i in range(16)])
        state = h.path("tmpfs")
        os.makedirs(state)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", state],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise et.TestFailure(f"CANNOT RUN: mounting a tmpfs needs root: {r.stderr.strip()}")
        try:
            b.stop()  # keep everything in the outbox while the disk fills
            a = ti.start_ingress_agent(h, b, keys, state_dir=state, rate_per_min=600000,
                                       burst=10000)
            a.sock = os.path.join(state, "edgectl.sock")
            r = ti.coap(h, ti.coaps_uri(a), [{"n": "heartRate", "v": 1}])
            et.check(r.code == "2.04", f"before the disk is full: {r}")
            with open(os.path.join(state, "filler"), "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            acked, refused, max_age = [1], [], None
            # 2..299 one reading each (distinct values); the WAL may hold a few more
            # before a write fails, so keep going until refusals are steady
            for v in range(2, 300):
                r = ti.coap(h, ti.coaps_uri(a), [{"n": "heartRate", "v": v}])
                if r.code == "2.04":
                    acked.append(v)
                elif r.code == "5.03":
                    refused.append(v)
                    m = re.search(r"Max-Age:(\d+)", r.out)
                    max_age = int(m.group(1)) if m else None
                    et.check("outbox" in r.out, f"5.03 without a diagnostic: {r}")
                else:
                    raise et.TestFailure(f"pack {v}: unexpected answer {r}")
                if len(refused) >= 5:
                    break
            et.check(len(refused) >= 5, f"no 5.03 on a full disk: acked {len(acked)}")
            et.check(max_age == 30, f"5.03 Max-Age {max_age}")
            et.check(a.alive(), "agent died on a full disk")
            # 16 nodes at once: packs held for a shared COMMIT that fails, every one
            # answered 5.03 (edge-coap-load's nodes are the keys file's first 16)
            held0 = ti.ingress_status(h, a)["heldPacks"]
            res = ti.load("--port", str(a.coap_port), "--keys", keys, "--nodes", "16", "--count",
                          "10", "--seconds", "60", "post")
            et.check(res["codes"] == {"5.03": 160}, f"16 nodes on a full disk: {res}")
            held = ti.ingress_status(h, a)["heldPacks"] - held0
            et.check(held > 0, "no answer was held for a shared COMMIT")
            refused += [None] * 160
            os.unlink(os.path.join(state, "filler"))
            r = ti.coap(h, ti.coaps_uri(a), [{"n": "heartRate", "v": 300}])
            et.check(r.code == "2.04", f"after space came back: {r}")
            acked.append(300)
            et.restart_broker_paused(b, a, [sub])  # the subscriber is back before the agent
            sub.wait("sensors/node-01/heart_rate", len(acked), timeout=60)
            time.sleep(2)
            vals = sorted(json.loads(m[1])["value"] for m in
                          sub.snapshot("sensors/node-01/heart_rate"))
            et.check(sorted(set(vals)) == sorted(acked),
                     f"delivered {len(set(vals))}, acknowledged {len(acked)}; refused and "
                     f"delivered: {sorted(set(vals) & set(refused))}, acknowledged and lost: "
                     f"{sorted(set(acked) - set(vals))}")
            st = ti.ingress_status(h, a)
            et.check(st["storeErrors"] == len(refused) and st["answers"].get("5.03") ==
                     len(refused), f"counters {st}")
            a.stop()
            print(f"    full tmpfs: {len(acked) - 2} more packs acknowledged before the first "
                  f"5.03, {len(refused)} answered 5.03 (Max-Age 30; {held} of them held for "
                  f"a shared COMMIT); every acknowledged one delivered, no refused one")
        finally:
            subprocess.run(["umount", "-l", state])


if __name__ == "__main__":
    et.main([test_ack_then_sigkill, test_shared_commit_then_sigkill, test_full_disk_503])
