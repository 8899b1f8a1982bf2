"""MQTT 5 persistent session (mqtt.session_expiry_s) against a real mosquitto.

libmosquitto 2.0 sends CONNECT properties only from its blocking connect, so
the agent probes the broker with a non-blocking TCP connect in its loop first
and then makes a bounded blocking connect carrying the Session Expiry
Interval. What the broker received is proven by its behaviour: a QoS 1
command published while the agent is down is held in the session and
delivered, executed and answered after the agent starts again; with
session_expiry_s 0 it is discarded. A dead or unreachable broker never
stalls sampling.
"""
# ctest-timeout: 240
import json
import os
import signal
import socket
import sqlite3
import time

import cmdlib as cl
import edgetest as et

STATUS = f"devices/{cl.DEVICE}/status"


def session_config(h, b, expiry):
    cfg = cl.config(h, b)
    if expiry is not None:  # None: the default (and a config older binaries accept)
        cfg["mqtt"]["session_expiry_s"] = expiry
    return cfg


def went_offline(req, since):
    """The agent's Last Will (retained status, state offline) arrived after since."""
    return [m for m in req.msgs if m[0] == STATUS and m[3] >= since
            and json.loads(m[1]).get("state") == "offline"]


def command_while_offline(h, expiry):
    """Starts the agent, kills it (SIGKILL), publishes a QoS 1 ping to its command
    topic while it is down, starts it again on the same state_dir and config.
    Returns (requester, restarted agent, command id, first agent's log)."""
    b = h.start_broker()
    req = cl.Requester(h, b, extra_topics=[STATUS])
    cfg = session_config(h, b, expiry)
    a = cl.start_agent(h, cfg, name="agent1")
    et.check(req.call("ping")["status"] == "ok", "ping while online")
    killed = time.time()
    a.proc.kill()
    a.proc.wait()
    # the broker saw the connection go (its Last Will is out): really offline
    end = time.time() + 10
    while time.time() < end and not went_offline(req, killed):
        time.sleep(0.05)
    et.check(went_offline(req, killed), "no Last Will within 10 s of the SIGKILL")
    cid = f"offline-{time.time_ns()}"
    req.send("ping", {"id": cid})  # QoS 1, acknowledged by the broker
    time.sleep(1)
    et.check(not req.answers(lambda t, d, c: d and d.get("id") == cid),
             "answered while the agent was down?")
    a2 = cl.start_agent(h, cfg, name="agent2")
    return req, a2, cid, a.log_text()


def answered(req, cid, timeout):
    try:
        return req.wait(lambda t, d, c: d is not None and d.get("id") == cid,
                        timeout=timeout)[0][2]
    except et.TestFailure:
        return None


def test_command_sent_offline_is_delivered():
    with et.Harness("session-keep") as h:
        h.make_pki()
        req, a, cid, first_log = command_while_offline(h, 300)
        et.check("(MQTT 5, TLS, new session, expiry 300 s)" in first_log,
                 "first connection not logged as a new session with expiry 300 s")
        r = answered(req, cid, 10)
        et.check(r is not None, "the command published while the agent was down was never "
                                "answered: the broker kept no session")
        et.check(r["status"] == "ok" and r["data"]["pong"] is True, f"answer {r}")
        et.check("(MQTT 5, TLS, session resumed, expiry 300 s)" in a.log_text(),
                 "the restarted agent did not log a resumed session")
        et.check(req.call("ping")["status"] == "ok", "ping after the resume")
        et.check(a.stop() == 0, "exit code")


def test_default_keeps_session():
    """No session_expiry_s in the file: the default (3600 s) keeps the session."""
    with et.Harness("session-default") as h:
        h.make_pki()
        req, a, cid, _ = command_while_offline(h, None)
        r = answered(req, cid, 10)
        et.check(r is not None and r["status"] == "ok",
                 f"the command published while the agent was down was not answered ({r})")
        et.check("session resumed, expiry 3600 s" in a.log_text(), "no resumed session logged")
        et.check(a.stop() == 0, "exit code")


def test_no_session_drops_offline_command():
    """session_expiry_s 0 (the behaviour before it existed): the session ends with
    the connection and the broker discards what was sent meanwhile."""
    with et.Harness("session-none") as h:
        h.make_pki()
        req, a, cid, first_log = command_while_offline(h, 0)
        line = [x for x in first_log.splitlines() if "connected to" in x][0]
        et.check(line.endswith("(MQTT 5, TLS)"), f"expiry 0 must connect without a session: "
                                                 f"{line}")
        r = answered(req, cid, 5)
        et.check(r is None, f"answered although no session was kept: {r}")
        et.check("session resumed" not in a.log_text(), "a session was resumed")
        # the agent does take commands: only the offline one was lost
        et.check(req.call("ping")["status"] == "ok", "ping after the reconnect")
        et.check(a.stop() == 0, "exit code")


def heart_rate_times(state_dir, since_ms):
    """Tick timestamps of the heart_rate readings waiting in the outbox."""
    con = sqlite3.connect(os.path.join(state_dir, "outbox.db"), timeout=5)
    try:
        rows = con.execute("SELECT payload FROM outbox WHERE topic = ?",
                           (f"sensors/{cl.DEVICE}/heart_rate",)).fetchall()
    finally:
        con.close()
    return sorted(t for t in (json.loads(r[0])["timestamp"] for r in rows) if t >= since_ms)


def check_sampling(h, phase, seconds):
    """Over `seconds` the outbox grows at the sim board's rate (7 readings every
    100 ms plus a record a second) and no tick comes more than 1 s after the
    previous one (a blocking connect would stall the loop for 2 s or minutes)."""
    t0_ms, rows0 = cl.now_ms(), h.outbox_rows()
    time.sleep(seconds)
    grown = h.outbox_rows() - rows0
    expected = 71 * seconds
    et.check(grown >= 0.85 * expected,
             f"{phase}: outbox grew by {grown} in {seconds} s, expected about {expected}")
    ts = heart_rate_times(h.path("state"), t0_ms)
    gaps = [y - x for x, y in zip(ts, ts[1:])]
    et.check(len(ts) >= 8 * seconds and max(gaps) < 1000,
             f"{phase}: {len(ts)} heart_rate ticks, largest gap {max(gaps, default=0)} ms: "
             f"the loop stalled")
    return grown


def bound_socket(port):
    """A TCP socket bound to 127.0.0.1:port (SO_REUSEADDR), not listening yet."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    return s


def test_unreachable_broker_does_not_stall():
    with et.Harness("session-down") as h:
        h.make_pki()
        port = et.free_port()
        # 1. SYNs go unanswered: a listener whose accept queue is full (backlog 0,
        # filled by connections never accepted) drops them, so a blocking
        # connect() would hang for minutes of SYN retries.
        hole = bound_socket(port)
        hole.listen(0)
        fillers = []
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        time.sleep(0.2)
        probe = socket.socket()
        probe.settimeout(1.5)
        try:
            probe.connect(("127.0.0.1", port))
            et.check(False, "the full accept queue did not drop a new SYN: no black hole")
        except socket.timeout:
            pass
        finally:
            probe.close()

        cfg = session_config(h, et.FakeBroker(port), 300)
        cfg["mqtt"]["connect_timeout_s"] = 2
        a = h.start_agent(cfg)
        time.sleep(1)  # sampling is under way, the first probe waits for a SYN-ACK
        check_sampling(h, "SYNs dropped", 6)
        et.check("probing 127.0.0.1:%d" % port in a.log_text(), "no probe")
        a.wait_log("(no TCP connection within 2 s)", timeout=5)
        et.check(a.alive(), "agent died")
        et.check("blocking connect with session" not in a.log_text(),
                 "the blocking connect was made although the probe never connected")

        # 2. Nothing listens: refused at once, retried with backoff.
        for s in (hole, *fillers):
            s.close()
        time.sleep(0.5)
        attempts0 = a.log_text().count("next connection attempt in")
        check_sampling(h, "refused", 4)
        log = a.log_text()
        attempts = log.count("next connection attempt in") - attempts0
        et.check("(Connection refused)" in log, "refusal not reported")
        # backoff base 100 ms, cap 2000 ms, full jitter: about 4 s / ~1 s each
        et.check(2 <= attempts <= 40, f"{attempts} attempts in 4 s with a 100..2000 ms backoff")

        # 3. The broker appears: the agent connects with a new session and
        # delivers the backlog (frozen until the test subscriber is ready).
        backlog = h.outbox_rows()
        et.check(backlog > 500, f"backlog only {backlog}")
        a.proc.send_signal(signal.SIGSTOP)
        try:
            b = h.start_broker(port=port)
            sub = h.subscribe(b, ["sensors/#", "health/device_data"])
        finally:
            a.proc.send_signal(signal.SIGCONT)
        a.wait_log("connected to 127.0.0.1:%d (MQTT 5, TLS, new session, expiry 300 s)" % port,
                   timeout=15)
        sub.wait("#", backlog, timeout=30)
        end = time.time() + 15
        while time.time() < end and h.outbox_rows() > 200:
            time.sleep(0.1)
        et.check(h.outbox_rows() <= 200, f"backlog not drained: {h.outbox_rows()} rows left")
        et.check(a.stop() == 0, "exit code")


def test_blocking_connect_is_bounded():
    """The probe connects but the blocking connect that follows gets no answer:
    the timer signal cuts it after 2 s, once, and the agent carries on."""
    with et.Harness("session-bounded") as h:
        h.make_pki()
        port = et.free_port()
        # Bound but not listening yet: refused until sampling is under way. Then
        # listen with backlog 0 and never accept: the probe's connection takes
        # the only place in the accept queue (and stays there after the probe
        # closes it), so the SYN of the blocking connect that follows is dropped.
        hole = bound_socket(port)

        cfg = session_config(h, et.FakeBroker(port), 300)
        cfg["mqtt"]["connect_timeout_s"] = 2
        a = h.start_agent(cfg)
        a.wait_log("(Connection refused)")
        t0_ms = cl.now_ms()
        time.sleep(1)
        hole.listen(0)
        # (the warnings are rate-limited; the debug line names every reason)
        a.wait_log("(TCP connect took longer than 2000 ms)", timeout=10)
        a.wait_log("(no TCP connection within 2 s)", timeout=10)
        time.sleep(1)
        log = a.log_text()
        hole.close()
        et.check(a.alive(), "agent died")
        et.check(log.count("(TCP connect took longer than") == 1,
                 "the blocking connect ran again although the probe never connected again")
        ts = heart_rate_times(h.path("state"), t0_ms)
        gaps = sorted(y - x for x, y in zip(ts, ts[1:]))
        # one stall of the bound (2 s, plus up to a tick), nothing else late
        et.check(len(gaps) > 20 and 1900 <= gaps[-1] <= 3000 and gaps[-2] < 1000,
                 f"tick gaps (largest last): {gaps[-3:]} of {len(gaps)}")
        et.check(a.stop() == 0, "exit code")


if __name__ == "__main__":
    et.main([test_command_sent_offline_is_delivered, test_default_keeps_session,
             test_no_session_drops_offline_command, test_unreachable_broker_does_not_stall,
             test_blocking_connect_is_bounded])
