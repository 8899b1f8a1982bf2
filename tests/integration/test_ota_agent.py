"""OTA end to end in service mode (docs/ota.md): the agent updates its own
program files from a signed manifest, restarts on the new build, commits
after the health window; a broken build is rolled back by edge-ota-boot and
reported `rolled_back` by the old one, and never retried by itself; a kill -9
in every state converges to exactly one install.

Real peers: mosquitto (mutual TLS), nginx (HTTPS with the test CA), the
project's edge-ota-sign, edge-ota-fetch, edge-ota-install and edge-ota-boot.
"""
# ctest-timeout: 420
import json
import os
import time

import cmdlib
import edgetest as et
import otatest as ot

DEV = cmdlib.DEVICE
OTA_TOPIC = f"devices/{DEV}/ota"
PAD = os.urandom(6 << 20)  # makes the image big enough for a checkpoint mid-way


reports = ot.reports
wait_report = ot.wait_report


def image_with_pad(version, crash=False):
    import io
    import tarfile
    base = ot.app_tarball(version, crash=crash)
    # re-open and add the pad (tarfile cannot append to bytes in place)
    src = tarfile.open(fileobj=io.BytesIO(base))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for ti in src.getmembers():
            t.addfile(ti, src.extractfile(ti) if ti.isfile() else None)
        ti = tarfile.TarInfo("share/pad.bin")
        ti.size = len(PAD)
        t.addfile(ti, io.BytesIO(PAD))
    return buf.getvalue()


class Rig:
    def __init__(self, h, server_extra="", **ota_over):
        self.h = h
        h.make_pki()
        self.broker = h.start_broker()
        self.sub = h.subscribe(self.broker, [OTA_TOPIC, f"devices/{DEV}/status"])
        self.req = cmdlib.Requester(h, self.broker)
        self.server = ot.ImageServer(h, extra=server_extra)
        self.vendor = ot.Vendor(h)
        cfg = ot.ota_config(h, self.broker, self.vendor, self.server, **ota_over)
        self.sa = ot.ServiceAgent(h, cfg)
        self.agent = None

    def start(self, env=None):
        self.agent = self.sa.start(env=env)
        self.agent.wait_log("subscribed commands/", timeout=20)
        return self.agent

    def publish_image(self, name, version, crash=False):
        data = image_with_pad(version, crash=crash)
        path = self.server.publish(name, data)
        return self.vendor.manifest(version, self.server.url(name), path)

    def install(self, manifest, cid=None, **extra):
        params = {"op": "install", "manifest": manifest, **extra}
        return self.req.call("ota", params, cid=cid, timeout=20)


def status_of(sub):
    st = [json.loads(m[1]) for m in sub.snapshot(f"devices/{DEV}/status")]
    return st[-1] if st else {}


def test_update_commits():
    with et.Harness("ota_commit") as h:
        rig = Rig(h)
        rig.start()
        m = rig.publish_image("app-0.2.0.tar", "0.2.0")
        ans = rig.install(m, cid="ota-1")
        et.check(ans["status"] == "ok", f"install refused: {ans}")
        et.check(ans["data"]["otaId"] == "ota-1", f"otaId: {ans}")
        # service mode: the agent asks systemd for a restart (exit 75)
        code = rig.sa.wait_exit(60)
        et.check(code == 75, f"exit status {code}, wanted 75 (EX_TEMPFAIL: restart)\n"
                 f"{rig.sa.log_text()[-3000:]}")
        st = rig.sa.state()
        et.check(st["state"] == "rebooting", f"state.json before the restart: {st}")
        et.check(os.readlink(os.path.join(rig.sa.app, "current")) == "B",
                 "current does not point at the new slot B")
        seen = [r["state"] for r in reports(rig.sub)]
        for s in ("downloading", "verifying", "installing", "rebooting"):
            et.check(s in seen, f"no {s!r} report; saw {seen}")
        rig.start()
        r = wait_report(rig.sub, lambda r: r.get("state") == "committed", timeout=40,
                        what="commit")
        et.check(r["result"] == "success" and r["version"] == "0.2.0" and
                 r["fromVersion"] == "0.1.0", f"committed report: {r}")
        et.check(r["slot"]["booted"] == "B", f"booted slot: {r}")
        time.sleep(1.5)
        st = status_of(rig.sub)
        et.check(st.get("firmware") == "0.2.0", f"status firmware {st.get('firmware')}")
        et.check(not os.path.exists(os.path.join(rig.sa.app, "trial.json")),
                 "trial.json left after the commit")
        hist = rig.sa.history()
        et.check(hist["last"][0]["result"] == "success", f"history: {hist}")
        # edgectl on the gateway says the same
        sock = os.path.join(rig.sa.cfg["state_dir"], "edgectl.sock")
        r = cmdlib.edgectl(h, sock, "-j", "ota", "status")
        et.check(r.returncode == 0, f"edgectl ota status: {r.returncode} {r.stderr}")
        out = json.loads(r.stdout)
        data = out.get("data", out)
        et.check(data["firmware"] == "0.2.0" and data["ota"]["state"] == "committed",
                 f"edgectl ota status: {r.stdout[:400]}")
        # the same version again: nothing to do
        ans = rig.install(m, cid="ota-2")
        et.check(ans["status"] == "ok" and "already installed" in ans["message"],
                 f"same version again: {ans}")
        # the files are gone from ota.dir (the image was consumed)
        left = [f for f in os.listdir(rig.sa.ota_dir) if f.endswith((".part", ".img"))]
        et.check(not left, f"download files left: {left}")


def test_broken_build_rolls_back_and_never_loops():
    with et.Harness("ota_rollback") as h:
        rig = Rig(h, max_trial_starts=2)
        rig.start()
        m = rig.publish_image("app-0.3.0.tar", "0.3.0", crash=True)
        ans = rig.install(m, cid="ota-bad")
        et.check(ans["status"] == "ok", f"install refused: {ans}")
        code = rig.sa.wait_exit(60)
        et.check(code == 75, f"exit {code}; log:\n{rig.sa.log_text()[-2000:]}")
        # systemd's Restart=: the broken build exits 1 until edge-ota-boot swaps back
        rig.agent = rig.sa.run_until_stable(timeout=60)
        et.check(rig.sa.current() == "A", f"current is {rig.sa.current()} after the rollback")
        et.check(rig.sa.boot_runs >= 4, f"edge-ota-boot ran {rig.sa.boot_runs} times")
        r = wait_report(rig.sub, lambda r: r.get("state") == "rolled_back", timeout=40,
                        what="rolled_back")
        et.check(r["result"] == "rolled_back" and r["version"] == "0.3.0", f"report: {r}")
        hist = rig.sa.history()
        failed = [(f["version"], f["sha256"]) for f in hist.get("failed", [])]
        et.check(("0.3.0", ot.sha256_file(os.path.join(rig.server.root, "app-0.3.0.tar")))
                 in failed, f"failed list: {failed}")
        # the same manifest replayed: refused, nothing downloaded
        before = len(rig.server.requests("app-0.3.0.tar"))
        ans = rig.install(m, cid="ota-bad-again")
        et.check(ans["status"] == "rejected" and "rolled back before" in ans["message"],
                 f"replay of a rolled-back update: {ans}")
        time.sleep(1)
        et.check(len(rig.server.requests("app-0.3.0.tar")) == before,
                 "the refused update was downloaded")
        # no loop: the agent stays up on A for a while
        time.sleep(4)
        et.check(rig.agent.alive(), "the agent did not stay up after the rollback")
        et.check(rig.sa.current() == "A", "current moved again")
        # an operator may retry on purpose
        ans = rig.install(m, cid="ota-bad-retry", retryFailed=True)
        et.check(ans["status"] == "ok", f"retryFailed refused: {ans}")


def converge_after_kill(stop_at):
    with et.Harness("ota_kill_" + stop_at.split(":")[0]) as h:
        rig = Rig(h, server_extra="limit_rate 3m;")
        rig.start(env={"EDGE_OTA_TEST_STOP_AT": stop_at})
        m = rig.publish_image("app-0.4.0.tar", "0.4.0")
        rig.req.send("ota", {"id": "ota-k", "params": {"op": "install", "manifest": m}})
        env = {"EDGE_OTA_TEST_STOP_AT": stop_at}
        for _ in range(3):  # states after the restart (trial) need the restarted agent
            try:
                rig.sa.proc.wait(90)
            except Exception:  # noqa: BLE001
                raise et.TestFailure(f"the agent was not killed at {stop_at}") from None
            if rig.sa.proc.returncode != 75:
                break
            rig.agent = rig.sa.start(env=env)
        et.check(rig.sa.proc.returncode == -9,
                 f"exit {rig.sa.proc.returncode} (wanted SIGKILL at {stop_at})\n"
                 f"{rig.sa.log_text()[-2000:]}")
        st = rig.sa.state()
        et.check(st["state"] == stop_at.split(":")[0], f"state.json after the kill: {st}")
        # start again (as systemd would after a crash), no hook: it converges
        deadline = time.time() + 120
        rig.agent = rig.sa.start()
        while time.time() < deadline:
            rc = rig.sa.proc.poll()
            if rc == 75:
                rig.agent = rig.sa.start()
            elif rc is not None:
                raise et.TestFailure(f"agent exited {rc}\n{rig.sa.log_text()[-3000:]}")
            try:
                if rig.sa.state().get("state") == "committed":
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        st = rig.sa.state()
        et.check(st["state"] == "committed", f"did not converge after a kill at {stop_at}: "
                 f"{st}\n{rig.sa.log_text()[-3000:]}")
        hist = rig.sa.history()
        et.check(len(hist["last"]) == 1 and hist["last"][0]["result"] == "success",
                 f"history (exactly one outcome): {hist}")
        with open(os.path.join(rig.sa.app, "B", "VERSION")) as f:
            et.check(f.read().strip() == "0.4.0", "slot B does not hold 0.4.0")
        # read before the harness removes its directory
        size = os.path.getsize(os.path.join(rig.server.root, "app-0.4.0.tar"))
        return st, rig.server.requests("app-0.4.0.tar"), size


def test_kill9_downloading_resumes():
    st, reqs, size = converge_after_kill("downloading:4194304")
    ranges = [ln for ln in reqs if '"bytes=' in ln]
    et.check(ranges and ranges[0].startswith("206 "),
             f"no 206 to a Range request after the kill: {reqs}")
    et.check(st["resumedFrom"] >= 4194304, f"resumedFrom {st['resumedFrom']}")
    sent = sum(int(ln.split('"')[-1].split()[0]) for ln in reqs)
    et.check(sent < 2 * size, f"{sent} bytes sent for {size}: the resume started over")


def test_kill9_verifying():
    converge_after_kill("verifying")


def test_kill9_installing():
    converge_after_kill("installing")


def test_kill9_rebooting():
    converge_after_kill("rebooting")


def test_kill9_trial():
    converge_after_kill("trial")


if __name__ == "__main__":
    et.main([test_update_commits, test_broken_build_rolls_back_and_never_loops,
             test_kill9_downloading_resumes, test_kill9_verifying, test_kill9_installing,
             test_kill9_rebooting, test_kill9_trial])
