"""SIGTERM is prompt while a provisioning helper runs (DESIGN 6, issue 10).

A real edge-provisiond registers the device but answers 404 ("unknown
device") to its renewal: a SQLite trigger in the server's registry deletes
each device row right after it is written, so the registration answer goes
out and the renewal finds no device. The issued certificate is valid for one
day, fewer than provisioning.renew_before_days (30), so the agent starts the
renewal helper (edge-prov-client) at once; after the 404 the helper stays
alive waiting for its next attempt. SIGTERM must then end the agent within
store.shutdown_flush_ms + 2 s and leave no edge-prov-client behind; the
helper must have run with an empty signal mask (the daemon blocks SIGTERM
for its signalfd; a helper that inherits that mask never sees the agent's
SIGTERM). A reload keeps the waiting helper; one that removes provisioning
stops it while the agent runs on."""
# ctest-timeout: 120
# registry: sqlite only (the trigger above lives in the SQLite file; the registry backend is
# not what this tests)
import os
import signal
import sqlite3
import time

import edgetest
from edgetest import Harness, check
from provtest import agent_cfg, factory, setup

SERIAL = "GW-STOP1"
FLUSH_MS = 1500
BOUND_S = FLUSH_MS / 1000.0 + 2.0


def proc_status(pid):
    """{field: value} from /proc/PID/status, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except (FileNotFoundError, ProcessLookupError):
        return None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def helpers(state_dir):
    """pids of edge-prov-client processes working on this test's state_dir
    (other tests may run their own at the same time)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        args = cmdline(int(d))
        if args and os.path.basename(args[0]) == "edge-prov-client" and state_dir in args:
            out.append(int(d))
    return out


def kill_helpers(state_dir):
    for pid in helpers(state_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def refuse_renewals(prov):
    """Every device row disappears right after it is written: registration
    answers 201 as usual, a renewal then finds no device (404)."""
    con = sqlite3.connect(os.path.join(prov.dir, "registry.db"), timeout=10)
    with con:
        con.execute("CREATE TRIGGER test_forget_devices AFTER INSERT ON devices "
                    "BEGIN DELETE FROM devices WHERE id = NEW.id; END")
    con.close()


def start_with_waiting_helper(h):
    """provisiond refusing renewals, an agent that registered and whose
    renewal helper now waits after the 404. Returns (agent, cfg, state, pid)."""
    prov, broker = setup(h, "prov")  # certificates valid for 1 day
    prov.start()
    refuse_renewals(prov)
    token = prov.token("line-s", uses=5)
    out = h.path("factory")
    factory(h, out, token, prov, serial=SERIAL)
    cfg, state = agent_cfg(h, broker, prov, SERIAL, os.path.join(out, SERIAL),
                           renew_before_days=30)
    cfg["store"] = {"shutdown_flush_ms": FLUSH_MS}
    agent = h.start_agent(cfg)
    agent.wait_log(f"registered as {SERIAL}", timeout=30)
    agent.wait_log("certificate renewal refused with HTTP 404", timeout=30)
    check(f"POST /v1/devices/{SERIAL}/renew -> 404" in prov.log_text(),
          "the server did not answer the renewal with 404")
    # the renewal helper is the agent's child and still waiting
    kids = [p for p in helpers(state)
            if (proc_status(p) or {}).get("PPid") == str(agent.proc.pid)]
    check(len(kids) == 1, f"expected one waiting edge-prov-client child, found {kids}")
    check("--renewals" in cmdline(kids[0]), f"not the renewal helper: {cmdline(kids[0])}")
    return agent, cfg, state, kids[0]


def stop_and_check(agent, state):
    t0 = time.monotonic()
    agent.proc.send_signal(signal.SIGTERM)
    try:
        rc = agent.proc.wait(BOUND_S + 10)
    except Exception:  # noqa: BLE001 - the defect: blocked in waitpid()
        rc = None
    took = time.monotonic() - t0
    print(f"agent stop took {took:.2f} s (bound {BOUND_S:.1f} s), exit {rc}", flush=True)
    check(rc is not None, f"agent still running {took:.1f} s after SIGTERM (hung)")
    check(took <= BOUND_S, f"agent took {took:.2f} s to stop, bound {BOUND_S:.1f} s")
    check(rc == 0, f"agent exited {rc}")
    check("stopped;" in agent.log_text(), "no 'stopped' line in the agent log")
    left = helpers(state)
    check(not left, f"edge-prov-client left running after the agent exited: {left}")


def test_sigterm_with_waiting_renewal_helper():
    with Harness("prov-stop") as h:
        agent, state = None, h.path("none")
        try:
            agent, _, state, helper = start_with_waiting_helper(h)
            st = proc_status(helper) or {}
            sigblk, sigign = st.get("SigBlk", "?"), st.get("SigIgn", "?")
            time.sleep(0.5)
            check(proc_status(helper) is not None, "the renewal helper ended by itself")
            stop_and_check(agent, state)
            check(proc_status(helper) is None, f"helper pid {helper} still exists")
            check(set(sigblk) == {"0"}, f"the helper ran with blocked signals: SigBlk {sigblk}")
            check(set(sigign) == {"0"}, f"the helper ran with ignored signals: SigIgn {sigign}")
        finally:
            if agent and agent.alive():
                agent.proc.kill()
                agent.proc.wait()
            kill_helpers(state)


def test_reload_keeps_or_stops_helper():
    """SIGHUP with provisioning kept leaves the waiting helper alone; a reload
    that removes provisioning stops it (SIGTERM, bounded) while the agent
    runs on; SIGTERM afterwards is still prompt."""
    with Harness("prov-reload") as h:
        agent, state = None, h.path("none")
        try:
            agent, cfg, state, helper = start_with_waiting_helper(h)
            os.kill(agent.proc.pid, signal.SIGHUP)
            agent.wait_log("configuration reloaded", timeout=10)
            time.sleep(0.5)
            check(helpers(state) == [helper], f"helper changed by a plain reload: {helpers(state)}")

            # without provisioning the files it implied must be named
            del cfg["provisioning"]
            cfg["mqtt"]["tls"]["ca_file"] = os.path.join(state, "ca.crt")
            cfg["mqtt"]["tls"]["cert_file"] = os.path.join(state, "device.crt")
            h.write_config(cfg, os.path.basename(agent.config_path))
            n = agent.log_text().count("configuration reloaded")
            t0 = time.monotonic()
            os.kill(agent.proc.pid, signal.SIGHUP)
            agent.wait_log("provisioning removed from the configuration", timeout=10)
            # gone means stopped and reaped (a zombie still has /proc/PID)
            while proc_status(helper) is not None and time.monotonic() - t0 < 5:
                time.sleep(0.02)
            took = time.monotonic() - t0
            print(f"helper stopped and reaped {took:.2f} s after the reload", flush=True)
            check(proc_status(helper) is None, f"helper still there {took:.1f} s after the reload")
            check(took < 2.5, f"helper took {took:.2f} s to stop after the reload")
            end = time.monotonic() + 10
            while agent.log_text().count("configuration reloaded") <= n and time.monotonic() < end:
                time.sleep(0.05)
            check(agent.alive(), "agent died on the reload")
            check(not helpers(state), f"a helper started after the reload: {helpers(state)}")
            stop_and_check(agent, state)
        finally:
            if agent and agent.alive():
                agent.proc.kill()
                agent.proc.wait()
            kill_helpers(state)


def test_sigkill_takes_the_helper_along():
    """A SIGKILLed agent cannot stop its helper: the helper asked the kernel
    for SIGTERM on its parent's death (PR_SET_PDEATHSIG) and must go too."""
    with Harness("prov-kill") as h:
        agent, state = None, h.path("none")
        try:
            agent, _, state, helper = start_with_waiting_helper(h)
            agent.proc.kill()
            agent.proc.wait()
            end = time.monotonic() + 5
            while proc_status(helper) is not None and time.monotonic() < end:
                time.sleep(0.05)
            check(proc_status(helper) is None,
                  f"helper pid {helper} outlived the SIGKILLed agent by 5 s")
        finally:
            if agent and agent.alive():
                agent.proc.kill()
                agent.proc.wait()
            kill_helpers(state)


if __name__ == "__main__":
    edgetest.main([test_sigterm_with_waiting_renewal_helper, test_reload_keeps_or_stops_helper,
                   test_sigkill_takes_the_helper_along])
