"""sd_notify protocol as systemd sees it: the test plays systemd's side of
NOTIFY_SOCKET (a real AF_UNIX datagram socket) and WATCHDOG_USEC."""
# ctest-timeout: 90
import signal
import socket
import time

import edgetest as et


def test_notify_ready_watchdog_reload_stopping():
    with et.Harness("sdnotify") as h:
        h.make_pki()
        b = h.start_broker()
        path = h.path("notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(0.2)
        a = h.start_agent(h.agent_config(b), env={"NOTIFY_SOCKET": path,
                                                 "WATCHDOG_USEC": "1000000"})
        got = []

        def collect(seconds):
            end = time.time() + seconds
            while time.time() < end:
                try:
                    got.append(s.recv(4096).decode())
                except socket.timeout:
                    pass

        collect(2.5)
        et.check(any("READY=1" in m for m in got), f"no READY=1: {got}")
        wd = sum("WATCHDOG=1" in m for m in got)
        et.check(wd >= 3, f"{wd} WATCHDOG=1 pings in 2.5 s with WatchdogSec=1s")
        a.proc.send_signal(signal.SIGHUP)
        collect(1)
        et.check(any("RELOADING=1" in m for m in got), "no RELOADING=1 on SIGHUP")
        a.proc.send_signal(signal.SIGTERM)
        collect(1.5)
        et.check(any("STOPPING=1" in m for m in got), "no STOPPING=1 on SIGTERM")
        et.check(a.proc.wait(10) == 0, "exit code")
        s.close()


if __name__ == "__main__":
    et.main([test_notify_ready_watchdog_reload_stopping])
