"""edgectl over the agent's UNIX socket (issue 6): status in the manner of
systemctl status, cmd with the same handlers as MQTT, flush, tail; socket mode
0660 with ctl.group; clear errors when the agent is not running or the caller
lacks permission; bounded clients; a stale socket left by a killed agent is
replaced."""
# ctest-timeout: 180
import json
import os
import select
import signal
import socket
import stat
import subprocess
import time

import cmdlib as cl
import edgetest as et


def raw(sock_path, line, timeout=5):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(line)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the agent answers an oversized line and closes before reading it all
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def test_status_cmd_flush_tail():
    with et.Harness("edgectl") as h:
        h.make_pki()
        b = h.start_broker()
        a = cl.start_agent(h, cl.config(h, b, alerts=[{"name": "hr-any", "metric": "heart_rate",
                                                      "comparison": ">=", "threshold": 0}]))
        sock = h.path("state", "edgectl.sock")
        mode = stat.S_IMODE(os.stat(sock).st_mode)
        et.check(mode == 0o660, f"socket mode {oct(mode)}")
        time.sleep(0.5)

        r = cl.edgectl(h, sock, "status")
        et.check(r.returncode == 0, f"status: {r.stderr}")
        for frag in ("edge-agent 0.1.0", "device sim-0001", "Active: online", "Backlog:",
                     "Alerts: 1 active, 1 total", "hr-any", "firing", "Certificate:", "vitals",
                     "healthy", "Memory:", "Last publish:"):
            et.check(frag in r.stdout, f"status lacks {frag!r}:\n{r.stdout}")
        r = cl.edgectl(h, sock, "--json", "status")
        st = json.loads(r.stdout)
        et.check(st["ok"] and st["status"]["deviceId"] == "sim-0001", "status --json")

        r = cl.edgectl(h, sock, "cmd", "ping")
        et.check(r.returncode == 0 and r.stdout.startswith("ok: pong"), f"ping: {r.stdout}")
        # the socket found through the agent's configuration
        r = subprocess.run([os.path.join(et.BIN, "edgectl"), "-c", a.config_path, "cmd", "ping"],
                           capture_output=True, text=True)
        et.check(r.returncode == 0, f"edgectl -c: {r.stderr}")
        r = cl.edgectl(h, sock, "-j", "cmd", "sensor.disable", '{"name":"vitals"}')
        res = json.loads(r.stdout)
        et.check(r.returncode == 0 and res["status"] == "ok" and res["id"].startswith("local-"),
                 f"sensor.disable {r.stdout}")
        r = cl.edgectl(h, sock, "cmd", "sensor.enable", '{"name":"vitals"}')
        et.check(r.returncode == 0, f"enable {r.stdout}")
        r = cl.edgectl(h, sock, "cmd", "reboot")
        et.check(r.returncode == 1 and "confirm" in r.stdout, f"reboot: {r.stdout}")
        r = cl.edgectl(h, sock, "cmd", "nope")
        et.check(r.returncode == 1 and "unknown_action" in r.stdout, f"nope: {r.stdout}")
        r = cl.edgectl(h, sock, "cmd", "config.set", "[1]")
        et.check(r.returncode == 2 and "JSON object" in r.stderr, f"bad params: {r.stderr}")
        r = cl.edgectl(h, sock, "cmd", "config.set", '{"status": {"interval_s": 7}}')
        et.check(r.returncode == 0 and '"interval_s":\t7' in r.stdout, f"config.set {r.stdout}")

        r = cl.edgectl(h, sock, "flush")
        et.check(r.returncode == 0 and "backlog" in r.stdout, f"flush: {r.stdout}")

        r = cl.edgectl(h, sock, "tail", "-n", "8")
        lines = r.stdout.strip().splitlines()
        et.check(r.returncode == 0 and len(lines) == 8, f"tail: {r.stdout} {r.stderr}")
        et.check(any("heart_rate" in l and "bpm" in l for l in lines), f"tail: {lines}")
        r = cl.edgectl(h, sock, "--json", "tail", "-n", "3")
        for l in r.stdout.strip().splitlines():
            d = json.loads(l)
            et.check(set(d) == {"sensor", "metric", "value", "unit", "timestamp"}, f"{d}")
        # Ctrl-C ends a tail at once
        p = subprocess.Popen([os.path.join(et.BIN, "edgectl"), "-s", sock, "tail"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got, until = b"", time.time() + 20  # a loaded machine may start edgectl late
        while got.count(b"\n") < 3 and time.time() < until:
            if select.select([p.stdout], [], [], 0.5)[0]:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                got += chunk
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=5)
        et.check((got + out).count(b"\n") >= 3, f"tail printed {got + out!r}")

        # bad requests and too many clients never hurt the agent
        et.check(b'"ok":false' in raw(sock, b"garbage\n"), "garbage line")
        et.check(b"64 KiB" in raw(sock, b"x" * 70000), "oversized line")
        conns = []
        for _ in range(8):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            conns.append(s)
        time.sleep(0.2)
        et.check(b"too many" in raw(sock, b'{"op":"status"}\n'), "9th client not refused")
        for s in conns:
            s.close()
        # the agent may see the new connection before the 8 hang-ups in one poll round
        ok, until = False, time.time() + 10
        while not ok and time.time() < until:
            time.sleep(0.2)
            ok = b'"ok":true' in raw(sock, b'{"op":"status"}\n')
        et.check(ok, "status refused after the clients left")
        et.check(a.alive(), "agent died")

        # a killed agent leaves a stale socket; the next start replaces it
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        r = cl.edgectl(h, sock, "status")
        et.check(r.returncode == 3 and "not running" in r.stderr, f"not running: {r.stderr}")
        a = h.start_agent(a.config_path, name="agent2")
        a.wait_log("edgectl socket")
        r = cl.edgectl(h, sock, "cmd", "ping")
        et.check(r.returncode == 0, f"ping after restart: {r.stderr}")
        et.check(a.stop() == 0, "exit code")
        et.check(not os.path.exists(sock), "socket left behind after a clean stop")
        r = cl.edgectl(h, sock, "status")
        et.check(r.returncode == 3, "exit code 3 when not running")


def test_permissions_and_group():
    with et.Harness("edgectl-perm") as h:
        h.make_pki()
        b = h.start_broker()
        os.chmod(h.dir, 0o711)  # mkdtemp makes it 0700
        d = h.path("run")
        os.makedirs(d)
        os.chmod(d, 0o755)
        sock = os.path.join(d, "ctl.sock")
        a = h.start_agent(cl.config(h, b, ctl={"socket": sock, "group": "nogroup"}))
        a.wait_log("edgectl socket")
        st = os.stat(sock)
        et.check(stat.S_IMODE(st.st_mode) == 0o660, f"mode {oct(st.st_mode)}")
        et.check(st.st_gid == 65534, f"group {st.st_gid}")
        ctl = os.path.join(et.BIN, "edgectl")
        # another user outside the group: permission denied, exit 4
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65533", "--clear-groups",
                            ctl, "-s", sock, "status"], capture_output=True, text=True)
        et.check(r.returncode == 4 and "permission denied" in r.stderr, f"{r.returncode} {r.stderr}")
        # the same user in the socket's group: allowed
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            ctl, "-s", sock, "cmd", "ping"], capture_output=True, text=True)
        et.check(r.returncode == 0, f"group member refused: {r.stderr}")
        r = subprocess.run([ctl, "--help"], capture_output=True, text=True)
        et.check(r.returncode == 0 and "tail" in r.stdout and "Exit status" in r.stdout, "help")
        r = subprocess.run([ctl, "frobnicate"], capture_output=True, text=True)
        et.check(r.returncode == 2, "unknown verb exit code")
        et.check(a.stop() == 0, "exit code")


if __name__ == "__main__":
    et.main([test_status_cmd_flush_tail, test_permissions_and_group])
