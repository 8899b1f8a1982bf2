"""OTA end to end with the real RAUC (DESIGN 5.4; installer `rauc`): the real
edge-agent on a fast sim board, mosquitto with mutual TLS, nginx serving a
RAUC bundle, the vendor key; the RAUC 1.8 service of test_ota_rauc.py on a
private D-Bus (the agent's environment carries DBUS_SYSTEM_BUS_ADDRESS, so
the `rauc` that edge-ota-install runs reaches it) with the test's custom boot
loader backend in files.

The sim board's reboot only advances $EDGE_SIM_STATE_DIR/boot-id. The test
then plays the boot loader: stop the agent, start the RAUC service again with
--override-boot-slot of the slot the backend boots (the primary when good,
else the other), start the agent.

Cases: install -> trial -> commit (mark-good) reported committed; a trial
that fails ota.health_cmd -> mark-bad -> the backend falls back ->
rolled_back, never retried; the boot loader falling back by itself ->
rolled_back and the new slot marked bad in RAUC; a bundle for another
compatible -> failed with RAUC's reason, nothing written.
"""
# ctest-timeout: 240
import hashlib
import json
import os
import shutil
import time

import cmdlib
import edgetest as et
import otatest as ot
import test_ota_rauc as tr

DEV = cmdlib.DEVICE
OTA_TOPIC = f"devices/{DEV}/ota"
IMAGE_SIZE = tr.IMAGE_SIZE


reports = ot.reports
wait_report = ot.wait_report


class Rig:
    def __init__(self, h, **ota_over):
        tr.preflight()
        self.h = h
        self.rauc = tr.Rig(h)  # slots, system.conf, backend, private bus
        h.make_pki()
        self.broker = h.start_broker()
        self.sub = h.subscribe(self.broker, [OTA_TOPIC, f"devices/{DEV}/status"])
        self.req = cmdlib.Requester(h, self.broker)
        self.server = ot.ImageServer(h)
        self.vendor = ot.Vendor(h, name="manifest-vendor")  # tr.Rig has vendor.* files
        self.sim_state = h.path("sim-state")
        os.makedirs(self.sim_state)
        cfg = ot.ota_config(h, self.broker, self.vendor, self.server,
                            rauc={"conf": self.rauc.conf}, **ota_over)
        del cfg["ota"]["bundle"]  # rauc alone: it tells the booted slot
        self.cfg = cfg
        self.ota_dir = os.path.join(cfg["state_dir"], "ota")
        self.env = {"EDGE_SIM_STATE_DIR": self.sim_state,
                    "DBUS_SYSTEM_BUS_ADDRESS": self.rauc.env["DBUS_SYSTEM_BUS_ADDRESS"]}
        self.agent = None
        self.starts = 0

    def boot_id(self):
        try:
            with open(os.path.join(self.sim_state, "boot-id")) as f:
                return int(f.read().strip() or 0)
        except FileNotFoundError:
            return 0

    def start_agent(self):
        self.starts += 1
        self.agent = self.h.start_agent(self.cfg, name=f"agent-{self.starts}", env=self.env)
        self.agent.wait_log("subscribed commands/", timeout=20)
        return self.agent

    def stop_agent(self):
        code = self.agent.stop()
        et.check(code == 0, f"the agent exited {code} on SIGTERM")

    def reboot(self):
        """Agent stopped; the boot loader starts the primary if good, else the
        other; RAUC's service comes up on that slot."""
        self.stop_agent()
        return self.rauc.reboot()

    def publish(self, name, version, compatible="edge-sim"):
        image = os.urandom(IMAGE_SIZE)
        bundle = self.rauc.bundle(name, image, compatible=compatible, version=version)
        path = os.path.join(self.server.root, f"{name}.raucb")
        shutil.copy(bundle, path)
        return image, self.vendor.manifest(version, self.server.url(f"{name}.raucb"), path,
                                           installer="rauc")

    def install(self, manifest, cid, **extra):
        return self.req.call("ota", {"op": "install", "manifest": manifest, **extra}, cid=cid,
                             timeout=20)

    def state(self):
        with open(os.path.join(self.ota_dir, "state.json")) as f:
            return json.load(f)

    def history(self):
        with open(os.path.join(self.ota_dir, "history.json")) as f:
            return json.load(f)

    def wait_reboot_request(self, before, timeout=60):
        end = time.time() + timeout
        st = {}
        while time.time() < end:
            try:
                st = self.state()
            except (OSError, ValueError):
                st = {}
            if st.get("state") == "rebooting" and self.boot_id() > before:
                return st
            et.check(self.agent.alive(), f"the agent died: {self.agent.log_text()[-2000:]}")
            time.sleep(0.1)
        raise et.TestFailure(f"no reboot request within {timeout}s: state {st}\n"
                             f"{self.agent.log_text()[-3000:]}")

    def boot_and_install(self, version, cid):
        """RAUC up on A, the agent installs `version` into B and asks for the
        reboot. Returns (image, manifest)."""
        self.rauc.start_service("A")
        self.start_agent()
        self.agent.wait_log("booted slot A", timeout=20)
        image, manifest = self.publish(f"v{version}", version)
        before = self.boot_id()
        ans = self.install(manifest, cid)
        et.check(ans["status"] == "ok", f"install refused: {ans}")
        st = self.wait_reboot_request(before)
        et.check(st.get("targetSlot") == "B" and st.get("bootedSlot") == "A",
                 f"state.json when rebooting: {st}")
        seen = [r["state"] for r in reports(self.sub) if r.get("otaId") == cid]
        for s in ("downloading", "verifying", "installing", "rebooting"):
            et.check(s in seen, f"no {s!r} report; saw {seen}")
        et.check(self.rauc.slot_bytes("B")[:IMAGE_SIZE] == image,
                 "rootfs.1 does not hold the image")
        et.check(self.rauc.slot_bytes("A") == b"A" * tr.SLOT_SIZE, "the running rootfs.0 changed")
        et.check(self.rauc.read("primary") == "B", f"primary {self.rauc.read('primary')}")
        return image, manifest

    def close(self):
        self.rauc.close()


def test_install_trial_commit():
    with et.Harness("ota_agent_rauc_commit") as h:
        rig = Rig(h)
        try:
            rig.boot_and_install("0.2.0", "ota-r1")
            et.check(rig.reboot() == "B", "the boot loader did not start B")
            # as a counting boot loader would say until the mark-good
            rig.rauc.write("state.B", "bad")
            calls_before = len(rig.rauc.read("calls").splitlines())
            rig.start_agent()
            r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-r1" and
                            r.get("state") == "committed", what="commit")
            et.check(r["result"] == "success" and r["version"] == "0.2.0" and
                     r["installer"] == "rauc" and r["slot"] == {"booted": "B", "target": "B"},
                     f"committed report: {r}")
            calls = rig.rauc.read("calls").splitlines()[calls_before:]
            et.check("set-state B good" in calls and rig.rauc.read("state.B") == "good",
                     f"no mark-good reached the backend: {calls}")
            et.check(rig.state()["state"] == "committed", f"state.json {rig.state()}")
            et.check(rig.history()["last"][0]["result"] == "success", f"{rig.history()}")
            rig.agent.wait_log("booted slot B, version 0.2.0", timeout=5)
            time.sleep(5.5)
            st = [json.loads(m[1]) for m in rig.sub.snapshot(f"devices/{DEV}/status")]
            et.check(st and st[-1].get("firmware") == "0.2.0", f"firmware: {st[-1:]}")
        finally:
            rig.close()


def test_bad_trial_rolls_back():
    with et.Harness("ota_agent_rauc_bad") as h:
        rig = Rig(h, health_cmd="exit 1")
        try:
            _, manifest = rig.boot_and_install("0.3.0", "ota-r2")
            et.check(rig.reboot() == "B", "the boot loader did not start B")
            rig.start_agent()
            before = rig.boot_id()
            r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-r2" and
                            r.get("state") == "failed", what="failed trial")
            et.check("ota.health_cmd exited 1" in (r.get("reason") or ""), f"report {r}")
            end = time.time() + 20
            while rig.boot_id() == before and time.time() < end:
                time.sleep(0.1)
            et.check(rig.boot_id() > before, "no reboot after the failed trial")
            et.check(rig.rauc.read("state.B") == "bad", "mark-bad did not reach the backend")
            et.check(rig.reboot() == "A", "the boot loader did not fall back to A")
            rig.start_agent()
            r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-r2" and
                            r.get("state") == "rolled_back", what="rolled_back")
            et.check(r["result"] == "rolled_back" and r["slot"]["booted"] == "A", f"{r}")
            ans = rig.install(manifest, "ota-r2-again")
            et.check(ans["status"] == "rejected" and "rolled back before" in ans["message"],
                     f"replay: {ans}")
        finally:
            rig.close()


def test_boot_loader_falls_back():
    """B never reaches the agent: the boot loader gives up on it by itself
    (here: the backend says bad, as a spent counter would). The agent on A
    reports rolled_back and marks B bad in RAUC too."""
    with et.Harness("ota_agent_rauc_fallback") as h:
        rig = Rig(h)
        try:
            rig.boot_and_install("0.4.0", "ota-r3")
            rig.rauc.write("state.B", "bad")
            et.check(rig.reboot() == "A", "the boot loader did not fall back to A")
            calls_before = len(rig.rauc.read("calls").splitlines())
            rig.start_agent()
            r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-r3" and
                            r.get("state") == "rolled_back", what="rolled_back")
            et.check(r["result"] == "rolled_back" and "did not boot" in r["reason"], f"{r}")
            calls = rig.rauc.read("calls").splitlines()[calls_before:]
            et.check("set-state B bad" in calls, f"B was not marked bad through RAUC: {calls}")
        finally:
            rig.close()


def test_refusal_is_failed_with_rauc_reason():
    with et.Harness("ota_agent_rauc_refuse") as h:
        rig = Rig(h)
        try:
            rig.rauc.start_service("A")
            rig.start_agent()
            before = hashlib.sha256(rig.rauc.slot_bytes("B")).hexdigest()
            _, manifest = rig.publish("other", "0.5.0", compatible="another-board")
            ans = rig.install(manifest, "ota-r4")
            et.check(ans["status"] == "ok", f"install refused before the download: {ans}")
            r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-r4" and
                            r.get("state") == "failed", what="failed")
            et.check(r["result"] == "failure" and "Compatible mismatch" in (r.get("reason") or ""),
                     f"failed report: {r}")
            et.check(hashlib.sha256(rig.rauc.slot_bytes("B")).hexdigest() == before,
                     "rootfs.1 was written")
            et.check(rig.rauc.read("primary") == "A" and rig.rauc.read("state.B") == "good",
                     "the boot state changed")
            time.sleep(2)
            et.check(rig.boot_id() == 0, "the agent asked for a reboot after a refusal")
            et.check(rig.agent.alive(), "the agent died")
        finally:
            rig.close()


if __name__ == "__main__":
    et.main([test_install_trial_commit, test_bad_trial_rolls_back, test_boot_loader_falls_back,
             test_refusal_is_failed_with_rauc_reason])
