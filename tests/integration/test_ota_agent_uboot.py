"""OTA end to end with a real U-Boot (DESIGN 5.4; installer `bundle`, boot
`uboot`): the real edge-agent on a fast sim board, mosquitto with mutual TLS,
nginx serving the image, the vendor key, and Debian's U-Boot for qemu running
deploy/uboot/boot.cmd on the disk of test_ota_uboot.py, whose raw environment
range the agent's edge-ota-install writes through libubootenv.

The test plays the machine around the agent:
  * the slots are two files (ota.bundle.slots), the kernel command line a
    file (ota.bundle.cmdline) that the test fills with U-Boot's bootargs;
  * the sim board's reboot only advances $EDGE_SIM_STATE_DIR/boot-id: the
    test then stops the agent, powers qemu on (the real boot loader chooses
    the slot from the environment the agent wrote), writes what U-Boot put
    on the command line into the cmdline file and starts the agent again;
  * a power cut is a qemu killed at the script's "booting slot" line, with
    no agent started on that slot.

Cases: a good image is committed and U-Boot keeps booting it while the agent
marks it good at every start; a trial that fails ota.health_cmd is marked bad
and U-Boot boots the old slot (rolled_back, the manifest refused afterwards);
a slot that never comes up runs out of tries, U-Boot falls back, the agent
reports rolled_back and the failed slot stays out of BOOT_ORDER even when
power cuts spend every counter.
"""
# ctest-timeout: 300
import json
import os
import time

import cmdlib
import edgetest as et
import otatest as ot
import test_ota_uboot as tu

DEV = cmdlib.DEVICE
OTA_TOPIC = f"devices/{DEV}/ota"
SLOT_SIZE = 2 << 20
IMAGE_SIZE = 1 << 20
TRIES = 2  # ota.bundle.tries: a committed slot must outlive more boots than this


reports = ot.reports
wait_report = ot.wait_report


class Rig:
    def __init__(self, h, **ota_over):
        tu.need_tools()
        self.h = h
        h.make_pki()
        self.broker = h.start_broker()
        self.sub = h.subscribe(self.broker, [OTA_TOPIC, f"devices/{DEV}/status"])
        self.req = cmdlib.Requester(h, self.broker)
        self.server = ot.ImageServer(h)
        self.vendor = ot.Vendor(h)
        self.m = tu.Machine(h)
        tu.factory(self.m)  # slot A installed and committed, BOOT_ORDER "A B"
        self.slots = {s: h.path(f"slot-{s}.img") for s in "AB"}
        for s, p in self.slots.items():
            with open(p, "wb") as f:
                f.write(s.encode() * SLOT_SIZE)
        self.cmdline = h.path("proc-cmdline")
        self.sim_state = h.path("sim-state")
        os.makedirs(self.sim_state)
        ota = {"bundle": {"boot": "uboot", "slots": self.slots, "tries": TRIES,
                          "uboot_env_config": self.m.env.config, "cmdline": self.cmdline},
               "max_trial_starts": 3}
        ota.update(ota_over)
        self.cfg = ot.ota_config(h, self.broker, self.vendor, self.server, **ota)
        self.ota_dir = os.path.join(self.cfg["state_dir"], "ota")
        self.agent = None
        self.starts = 0
        self.last_boot_id = None

    # ---- the machine ----
    def boot_id(self):
        try:
            with open(os.path.join(self.sim_state, "boot-id")) as f:
                return int(f.read().strip() or 0)
        except FileNotFoundError:
            return 0

    def power_on(self, power_cut=False):
        """One power-on of the board: a new boot id (unless the agent's reboot
        request already advanced it: that was this same reboot), U-Boot picks
        a slot; without a cut, its bootargs become the kernel command line."""
        if self.agent is not None and self.agent.alive():
            raise et.TestFailure("power_on while the agent runs")
        n = self.boot_id()
        if n == self.last_boot_id:
            n += 1
            with open(os.path.join(self.sim_state, "boot-id"), "w") as f:
                f.write(f"{n}\n")
        self.last_boot_id = n
        slot, bootargs, _ = self.m.boot(power_cut=power_cut)
        if not power_cut:
            with open(self.cmdline, "w") as f:
                f.write(bootargs + "\n")
        return slot

    def start_agent(self):
        self.starts += 1
        self.agent = self.h.start_agent(self.cfg, name=f"agent-{self.starts}",
                                        env={"EDGE_SIM_STATE_DIR": self.sim_state})
        self.agent.wait_log("subscribed commands/", timeout=20)
        return self.agent

    def stop_agent(self):
        code = self.agent.stop()
        et.check(code == 0, f"the agent exited {code} on SIGTERM")

    def env(self):
        return self.m.env.boot_vars()

    # ---- the update ----
    def publish(self, name, version):
        image = os.urandom(IMAGE_SIZE)
        path = self.server.publish(name, image)
        return image, self.vendor.manifest(version, self.server.url(name), path)

    def install(self, manifest, cid, **extra):
        return self.req.call("ota", {"op": "install", "manifest": manifest, **extra}, cid=cid,
                             timeout=20)

    def state(self):
        with open(os.path.join(self.ota_dir, "state.json")) as f:
            return json.load(f)

    def history(self):
        with open(os.path.join(self.ota_dir, "history.json")) as f:
            return json.load(f)

    def slot_bytes(self, s):
        with open(self.slots[s], "rb") as f:
            return f.read()

    def wait_reboot_request(self, before, timeout=60):
        """state.json says rebooting and the sim board saw the reboot."""
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
        raise et.TestFailure(f"no reboot request within {timeout}s: state {st}, boot-id "
                             f"{self.boot_id()}\n{self.agent.log_text()[-3000:]}")

    def wait_marked_good(self, slot, timeout=30):
        self.agent.wait_log(f"slot {slot} marked good for the boot loader", timeout=timeout)

    def first_boot_and_install(self, version, cid):
        """Boot A, start the agent, install `version`: the agent writes B, sets
        up the trial and asks for a reboot. Returns the image."""
        et.check(self.power_on() == "A", "the factory device did not boot A")
        self.start_agent()
        image, manifest = self.publish(f"rootfs-{version}.img", version)
        before = self.boot_id()
        ans = self.install(manifest, cid)
        et.check(ans["status"] == "ok", f"install refused: {ans}")
        st = self.wait_reboot_request(before)
        et.check(st.get("targetSlot") == "B" and st.get("bootedSlot") == "A" and
                 st.get("bootId") == f"sim-boot-{before}", f"state.json when rebooting: {st}")
        seen = [r["state"] for r in reports(self.sub) if r.get("otaId") == cid]
        for s in ("downloading", "verifying", "installing", "rebooting"):
            et.check(s in seen, f"no {s!r} report; saw {seen}")
        et.check(self.slot_bytes("B")[:IMAGE_SIZE] == image, "slot B does not hold the image")
        et.check(self.slot_bytes("A") == b"A" * SLOT_SIZE, "the running slot A was written")
        et.check(self.env() == ("B A", str(TRIES), str(TRIES)),
                 f"environment after the trial set-up: {self.env()}")
        self.stop_agent()
        return image, manifest


def test_good_image_commits_and_sticks():
    with et.Harness("ota_agent_uboot_commit") as h:
        rig = Rig(h)
        image, manifest = rig.first_boot_and_install("0.2.0", "ota-u1")
        # the reboot: real U-Boot takes B, the agent starts on it
        et.check(rig.power_on() == "B", f"U-Boot did not boot the new slot: {rig.env()}")
        rig.start_agent()
        r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-u1" and
                        r.get("state") == "committed", what="commit")
        et.check(r["result"] == "success" and r["version"] == "0.2.0" and
                 r["slot"] == {"booted": "B", "target": "B"}, f"committed report: {r}")
        st = rig.state()
        et.check(st["state"] == "committed", f"state.json: {st}")
        et.check(rig.history()["last"][0]["result"] == "success", f"history {rig.history()}")
        et.check(rig.env() == ("B A", str(TRIES), str(TRIES)), f"after the commit: {rig.env()}")
        et.check(rig.slot_bytes("B")[:IMAGE_SIZE] == image, "slot B changed")
        left = [f for f in os.listdir(rig.ota_dir) if f.endswith((".part", ".img"))]
        et.check(not left, f"download files left: {left}")
        time.sleep(5.5)  # one status period
        st = [json.loads(m[1]) for m in rig.sub.snapshot(f"devices/{DEV}/status")]
        et.check(st and st[-1].get("firmware") == "0.2.0", f"status firmware: {st[-1:]}")
        # more boots than tries: each start marks B good again, U-Boot stays on it
        for i in range(TRIES + 1):
            rig.stop_agent()
            slot = rig.power_on()
            et.check(slot == "B", f"boot {i + 1} after the commit: U-Boot chose {slot}")
            rig.start_agent()
            rig.wait_marked_good("B")
            et.check(rig.env() == ("B A", str(TRIES), str(TRIES)),
                     f"after the good boot {i + 1}: {rig.env()}")
        # the same version again: nothing to do
        ans = rig.install(manifest, "ota-u1-again")
        et.check(ans["status"] == "ok" and "already installed" in ans["message"],
                 f"same version again: {ans}")


def test_failed_health_rolls_back():
    with et.Harness("ota_agent_uboot_health") as h:
        rig = Rig(h, health_cmd="exit 1")
        image, manifest = rig.first_boot_and_install("0.3.0", "ota-u2")
        et.check(rig.power_on() == "B", f"U-Boot did not boot the new slot: {rig.env()}")
        rig.start_agent()
        before = rig.boot_id()
        r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-u2" and
                        r.get("state") == "failed", what="failed trial")
        et.check("ota.health_cmd exited 1" in (r.get("reason") or ""), f"failed report: {r}")
        # mark-bad B, then the reboot request
        end = time.time() + 20
        while rig.boot_id() == before and time.time() < end:
            time.sleep(0.1)
        et.check(rig.boot_id() > before, "no reboot after the failed trial")
        et.check(rig.env()[0] == "A", f"B is still in BOOT_ORDER after mark-bad: {rig.env()}")
        rig.stop_agent()
        et.check(rig.power_on() == "A", f"U-Boot did not fall back to A: {rig.env()}")
        rig.start_agent()
        r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-u2" and
                        r.get("state") == "rolled_back", what="rolled_back")
        et.check(r["result"] == "rolled_back" and r["slot"]["booted"] == "A",
                 f"rolled_back report: {r}")
        failed = [(f["version"], f["sha256"]) for f in rig.history().get("failed", [])]
        et.check(("0.3.0", ot.sha256_file(os.path.join(rig.server.root, "rootfs-0.3.0.img")))
                 in failed, f"failed list: {failed}")
        n = len(rig.server.requests())
        ans = rig.install(manifest, "ota-u2-again")
        et.check(ans["status"] == "rejected" and "rolled back before" in ans["message"],
                 f"replay of a rolled-back update: {ans}")
        time.sleep(1)
        et.check(len(rig.server.requests()) == n, "the refused update was downloaded")
        et.check(rig.state()["state"] == "rolled_back", f"state.json {rig.state()}")
        # the old slot is marked good again once healthy; U-Boot stays on A
        rig.wait_marked_good("A")
        rig.stop_agent()
        et.check(rig.power_on() == "A", f"after the rollback U-Boot chose B: {rig.env()}")


def test_counters_run_out():
    with et.Harness("ota_agent_uboot_counters") as h:
        rig = Rig(h)
        rig.first_boot_and_install("0.4.0", "ota-u3")
        # B never comes up: every boot of it is cut before the OS runs
        seen = [rig.power_on(power_cut=True) for _ in range(TRIES)]
        et.check(seen == ["B"] * TRIES, f"{TRIES} cut boots chose {seen}")
        et.check(rig.power_on() == "A", f"U-Boot did not fall back: {rig.env()}")
        rig.start_agent()
        r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-u3" and
                        r.get("state") == "rolled_back", what="rolled_back")
        et.check(r["result"] == "rolled_back" and r["slot"]["booted"] == "A" and
                 "did not boot" in (r.get("reason") or ""), f"rolled_back report: {r}")
        failed = [f["version"] for f in rig.history().get("failed", [])]
        et.check("0.4.0" in failed, f"failed list: {failed}")
        # The slot that failed must leave BOOT_ORDER at once: before A's health
        # window has passed, power cuts may spend A's tries, and U-Boot's
        # refill would then boot BOOT_ORDER's first slot again (rauc #683).
        end = time.time() + 5
        while rig.env()[0] != "A" and time.time() < end:
            time.sleep(0.1)
        et.check(rig.env()[0] == "A", f"B still in BOOT_ORDER after the rollback: {rig.env()}")
        rig.agent.stop(sig=9)  # a power cut with the agent running
        seen = [rig.power_on(power_cut=True) for _ in range(TRIES + 2)]
        et.check(seen == ["A"] * (TRIES + 2), f"power cuts after the rollback chose {seen}")
        et.check(rig.power_on() == "A", f"after the cuts: {rig.env()}")
        rig.start_agent()
        rig.wait_marked_good("A")
        et.check(rig.state()["state"] == "rolled_back", f"state.json {rig.state()}")


if __name__ == "__main__":
    et.main([test_good_image_commits_and_sticks, test_failed_health_rolls_back,
             test_counters_run_out])
