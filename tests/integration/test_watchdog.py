"""The hardware watchdog on a sim board (issue 10 item 6).

The agent arms the board's sim watchdog and feeds it while its loop runs; the
sim writes its state to $EDGE_SIM_STATE_DIR/watchdog-NAME.json. A stop shorter
than watchdog.timeout_s is survived; a longer one (SIGSTOP) is a hang: at
SIGCONT the late keepalive finds the watchdog expired, and the sim "resets the
board" (stderr line, exit status 86, resets = 1 in the state file). The next
start sees the reset cause; a reload applies a new timeout; SIGTERM disarms
with the magic close.
"""
# ctest-timeout: 120
import json
import os
import re
import signal
import subprocess
import time

import edgetest as et

SIM_WATCHDOG_EXIT = 86  # EDGE_SIM_WATCHDOG_EXIT in hal/include/edge/hal/sim.h
TIMEOUT_S = 3           # fed every 1000 ms


def board_with_watchdog(h):
    """The fast sim board of edgetest plus a sim watchdog."""
    d = et.fast_board(h, interval_ms=500, name="simwdog", freshness_ms=5000)
    path = os.path.join(d, "simwdog.json")
    with open(path) as f:
        board = json.load(f)
    board["watchdog"] = "sim:watchdog0"
    with open(path, "w") as f:
        json.dump(board, f)
    return d


def read_state(path):
    with open(path) as f:  # replaced by rename: never half written
        return json.load(f)


def wait_state(path, pred, what, timeout=10):
    end = time.time() + timeout
    st = None
    while time.time() < end:
        if os.path.exists(path):
            st = read_state(path)
            if pred(st):
                return st
        time.sleep(0.1)
    raise et.TestFailure(f"sim watchdog state never showed {what}: {st}")


def wait_exit(a, timeout):
    try:
        return a.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise et.TestFailure(f"the agent still runs {timeout}s after the watchdog expired")


def test_watchdog_fed_reset_reloaded_disarmed():
    with et.Harness("watchdog") as h:
        h.make_pki()
        b = h.start_broker()
        simdir = h.path("simstate")
        os.makedirs(simdir)
        state = os.path.join(simdir, "watchdog-watchdog0.json")
        env = {"EDGE_SIM_STATE_DIR": simdir}
        cfg = h.agent_config(b, boards_dir=board_with_watchdog(h), board="simwdog",
                             watchdog={"timeout_s": TIMEOUT_S})

        # 1. Healthy: armed with the timeout asked for, keepalives growing.
        a = h.start_agent(cfg, env=env)
        a.wait_log(f"sim:watchdog0 armed: timeout {TIMEOUT_S} s (asked {TIMEOUT_S} s), "
                   "fed every 1000 ms while the agent is healthy")
        st = wait_state(state, lambda s: s["pid"] == a.proc.pid, "the agent's pid")
        et.check(st["armed"] and st["opens"] == 1 and st["timeout_s"] == TIMEOUT_S,
                 f"not armed as configured: {st}")
        k0 = st["keepalives"]
        time.sleep(3.5)
        st = read_state(state)
        et.check(st["keepalives"] >= k0 + 2, f"keepalives {k0} -> {st['keepalives']} in 3.5 s")
        et.check(st["resets"] == 0 and st["armed"], f"healthy agent: {st}")

        # 2. A stop shorter than the timeout is survived.
        a.proc.send_signal(signal.SIGSTOP)
        time.sleep(1.0)
        a.proc.send_signal(signal.SIGCONT)
        k1 = read_state(state)["keepalives"]
        time.sleep(2.5)
        st = read_state(state)
        et.check(a.alive(), f"a 1 s stop with a {TIMEOUT_S} s timeout ended the agent: {st}")
        et.check(st["resets"] == 0 and st["keepalives"] > k1, f"after a 1 s stop: {st}")

        # 3. A hang longer than the timeout: the board resets at the next keepalive.
        a.proc.send_signal(signal.SIGSTOP)
        time.sleep(TIMEOUT_S + 1.5)
        et.check(a.alive(), "the agent ended while stopped")
        a.proc.send_signal(signal.SIGCONT)
        rc = wait_exit(a, 10)
        et.check(rc == SIM_WATCHDOG_EXIT, f"exit status {rc}, want {SIM_WATCHDOG_EXIT}")
        m = re.search(r"sim watchdog watchdog0 expired after (\d+) ms: board reset", a.log_text())
        et.check(m is not None, "no reset line on stderr")
        et.check(int(m.group(1)) > TIMEOUT_S * 1000, f"expired after only {m.group(1)} ms")
        st = read_state(state)
        et.check(st["resets"] == 1 and not st["armed"] and not st["magic_closed"],
                 f"after the reset: {st}")
        et.check(st["last_reset"].startswith("expired after "), f"reset cause {st}")
        et.check("stopped;" not in a.log_text(), "the reset ran the agent's clean shutdown")

        # 4. The next "boot": armed again, the reset cause kept; a reload re-times it.
        a = h.start_agent(cfg, name="agent2", env=env)
        a.wait_log("sim:watchdog0 armed:")
        st = wait_state(state, lambda s: s["pid"] == a.proc.pid, "the new agent's pid")
        et.check(st["armed"] and st["opens"] == 1 and st["resets"] == 1,
                 f"after the reboot: {st}")
        cfg["watchdog"]["timeout_s"] = 5
        h.write_config(cfg, "agent2.json")
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log(f"sim:watchdog0: timeout {TIMEOUT_S} s -> 5 s (asked 5 s)")
        wait_state(state, lambda s: s["timeout_s"] == 5, "timeout_s 5 after the reload")

        # 5. SIGTERM: magic close, disarmed, no reset.
        et.check(a.stop() == 0, "SIGTERM must exit 0")
        et.check("sim:watchdog0 disarmed (clean stop)" in a.log_text(), "no disarm line")
        st = read_state(state)
        et.check(st["magic_closed"] and not st["armed"], f"after SIGTERM: {st}")
        et.check(st["resets"] == 1, f"a clean stop counted as a reset: {st}")


def test_board_without_watchdog_and_disabled():
    """The sim board names no watchdog: nothing is armed and nothing is written;
    watchdog.enabled false leaves a named one alone."""
    with et.Harness("watchdog-off") as h:
        h.make_pki()
        b = h.start_broker()
        simdir = h.path("simstate")
        os.makedirs(simdir)
        env = {"EDGE_SIM_STATE_DIR": simdir}
        a = h.start_agent(h.agent_config(b), env=env)
        a.wait_log("the board names no watchdog: nothing to arm")
        et.check(a.stop() == 0, "exit code")
        a = h.start_agent(h.agent_config(b, boards_dir=board_with_watchdog(h), board="simwdog",
                                         watchdog={"enabled": False}), name="agent2", env=env)
        a.wait_log("watchdog.enabled is false: sim:watchdog0 stays unarmed")
        et.check(a.stop() == 0, "exit code")
        et.check(os.listdir(simdir) == [], f"a watchdog was opened: {os.listdir(simdir)}")


if __name__ == "__main__":
    et.main([test_watchdog_fed_reset_reloaded_disarmed, test_board_without_watchdog_and_disabled])
