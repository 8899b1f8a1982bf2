"""CoAP ingress endpoints that cannot be bound (issue 12, part 3): a reload that moves
ingress.coap.port onto a port another program holds must not lose the endpoint. The
running endpoint keeps serving (its DTLS sessions stay open), the wanted one is retried
with backoff and reported (status ingress.bind, edgectl nodes); once the port is free the
ingress moves there by itself. The same at start: a busy port is retried, not given up.

Real peers: coap-client-openssl and edge-coap-load (DTLS-PSK) against the real agent; the
"other program" is a plain UDP socket bound without SO_REUSEADDR, as most programs do."""
# ctest-timeout: 240
import json
import os
import signal
import socket
import subprocess
import time

import edgetest as et
from test_ingress import (KEY1, LOAD, coap, coaps_uri, edgectl, free_udp_port, ingress_status,
                          start_ingress_agent, write_keys)


def occupy(port):
    """Holds UDP port on every address (IPv6 dual-stack), like another server would."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    return s


def wait_status(h, a, cond, what, timeout=30):
    end = time.time() + timeout
    st = {}
    while time.time() < end:
        st = ingress_status(h, a)
        if cond(st):
            return st
        time.sleep(0.3)
    raise et.TestFailure(f"{what}: status never showed it; last ingress status: "
                         f"{json.dumps({k: st.get(k) for k in ('port', 'endpoint', 'bind', 'sessions')})}")


def test_reload_onto_busy_port():
    """Reload to a busy port: the old endpoint keeps serving and keeps its sessions, the
    failure is reported and retried; when the port frees up the ingress moves there."""
    for tool in ("coap-client-openssl",):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            raise et.TestFailure(f"CANNOT RUN: {tool} missing (apt-get install libcoap3-bin)")
    if not os.access(LOAD, os.X_OK):
        raise et.TestFailure(f"CANNOT RUN: {LOAD} not built")
    with et.Harness("ingress-rebind") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1), ("node-02", "node02-secret-key-0123456789abcd")])
        p1 = free_udp_port()
        a = start_ingress_agent(h, b, keys, port=p1)
        sock = h.path("state", "edgectl.sock")
        et.check(coap(h, coaps_uri(a), [{"n": "heartRate", "v": 61}]).code == "2.04",
                 "first POST on the original port")
        # a DTLS session held open across the failed reload
        hold = subprocess.Popen([LOAD, "--port", str(p1), "--id", "node-02", "--key-text",
                                 "node02-secret-key-0123456789abcd", "--seconds", "200", "hold"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        h.procs.append(hold)
        line = hold.stdout.readline().strip()
        et.check(line == "held 1 of 1", f"held session: {line!r}")
        sessions_before = ingress_status(h, a)["sessions"]
        et.check(sessions_before >= 1, f"no session held: {sessions_before}")

        p2 = free_udp_port()
        while p2 == p1:
            p2 = free_udp_port()
        blocker = occupy(p2)
        cfg = dict(a.cfg)
        cfg["ingress"] = {"coap": dict(a.cfg["ingress"]["coap"], port=p2)}
        with open(a.config_path, "w") as f:
            json.dump(cfg, f)
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log(f"cannot listen on coaps://[::]:{p2}")
        a.wait_log("configuration reloaded")
        st = ingress_status(h, a)
        et.check(st.get("endpoint") == f"coaps://[::]:{p1}" and st.get("port") == p1,
                 f"running endpoint after the failed reload: {st.get('endpoint')} {st.get('port')}")
        bind = st.get("bind") or {}
        et.check(bind.get("want") == f"coaps://[::]:{p2}" and "in use" in bind.get("error", "")
                 and bind.get("attempts", 0) >= 1, f"bind failure not reported: {bind}")
        et.check(st["sessions"] == sessions_before,
                 f"sessions dropped by a reload that changed nothing: {st['sessions']} "
                 f"(was {sessions_before})")
        r = edgectl(h, sock, "nodes")
        et.check(r.returncode == 0 and f"Endpoint: coaps://[::]:{p1}" in r.stdout and
                 f"Rebind: coaps://[::]:{p2} wanted, failing:" in r.stdout,
                 f"edgectl nodes does not say it: {r.stdout}{r.stderr}")
        # the old endpoint serves, new readings are stored and published
        et.check(coap(h, coaps_uri(a), [{"n": "heartRate", "v": 62}]).code == "2.04",
                 "old endpoint stopped answering after the failed reload")
        sub.wait("sensors/node-01/heart_rate", 2, timeout=10)
        time.sleep(2.5)  # a few retries against the busy port
        st = ingress_status(h, a)
        et.check(st.get("bind", {}).get("attempts", 0) >= 2,
                 f"no retry with the port still busy: {st.get('bind')}")
        et.check(a.log_text().count(f"cannot listen on coaps://[::]:{p2}") <= 4,
                 "retries flood the log")

        # the port frees up: the ingress moves by itself
        t_free = time.time()
        blocker.close()
        st = wait_status(h, a, lambda s: "bind" not in s and
                         s.get("endpoint") == f"coaps://[::]:{p2}", "move after the port freed",
                         timeout=40)
        moved_s = time.time() - t_free
        et.check(st["port"] == p2, f"status port {st['port']}")
        a.port_before, a.coap_port = p1, p2
        et.check(coap(h, coaps_uri(a), [{"n": "heartRate", "v": 63}]).code == "2.04",
                 "new endpoint after the retry")
        sub.wait("sensors/node-01/heart_rate", 3, timeout=10)
        a.coap_port = p1
        r = coap(h, coaps_uri(a), [{"n": "heartRate", "v": 64}], timeout=3)
        et.check(r.code is None, f"the old port still answers after the move: {r}")
        r = edgectl(h, sock, "nodes")
        et.check("Rebind:" not in r.stdout and f"Endpoint: coaps://[::]:{p2}" in r.stdout,
                 f"edgectl nodes after the move: {r.stdout}")
        hold.stdin.close()
        hold.wait(30)
        print(f"    busy port: old endpoint kept ({sessions_before} session(s) open), "
              f"retried; moved {moved_s:.1f} s after the port was freed")


def test_start_on_busy_port():
    """At start a busy port is retried and reported; the agent runs meanwhile."""
    with et.Harness("ingress-rebind-start") as h:
        b, sub = et.broker_and_subscriber(h, ["sensors/#"])
        keys = write_keys(h, [("node-01", KEY1)])
        port = free_udp_port()
        blocker = occupy(port)
        cfg = h.agent_config(b, log_level="info", ingress={"coap": {"port": port,
                                                                    "keys_file": keys}})
        a = h.start_agent(cfg)
        a.coap_port = port
        a.wait_log(f"coaps://[::]:{port}: cannot listen")
        st = wait_status(h, a, lambda s: "bind" in s, "bind pending at start", timeout=20)
        et.check(st.get("endpoint") == "" and st["bind"]["want"] == f"coaps://[::]:{port}",
                 f"start on a busy port: {st.get('endpoint')!r} {st.get('bind')}")
        r = edgectl(h, h.path("state", "edgectl.sock"), "nodes")
        et.check("Endpoint: none" in r.stdout and "Rebind:" in r.stdout, f"edgectl: {r.stdout}")
        blocker.close()
        wait_status(h, a, lambda s: "bind" not in s and s.get("endpoint"), "bind after start",
                    timeout=40)
        et.check(coap(h, coaps_uri(a), [{"n": "heartRate", "v": 70}]).code == "2.04",
                 "endpoint bound late")
        sub.wait("sensors/node-01/heart_rate", 1, timeout=10)
        print("    busy at start: reported, retried, serving once the port was freed")


if __name__ == "__main__":
    et.main([test_reload_onto_busy_port, test_start_on_busy_port])
