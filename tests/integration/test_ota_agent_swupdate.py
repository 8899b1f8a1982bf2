"""OTA end to end with the real SWUpdate (DESIGN 5.4; installer `swupdate`):
the real edge-agent on a fast sim board, mosquitto with mutual TLS, nginx
serving a CMS-signed .swu (made as test_ota_swupdate.py makes it), the
vendor key; boot selection through the U-Boot variables in a file-backed
fw_env.config (edge-ota-install boot-uboot, libubootenv).

No qemu: the test plays the boot loader the way deploy/uboot/boot.cmd does
(the first slot of BOOT_ORDER with tries left, spend one, boot it), reading
and writing the variables with fw_printenv/fw_setenv, and writes
edge.slot=X into the cmdline file (ota.bundle.cmdline).

Debian's SWUpdate binds its IPC sockets in /tmp: the agent finds `swupdate`
first in a PATH directory of the test whose wrapper gives it a private /tmp;
the test's files live in /var/tmp for that reason. Debian builds it with
hardware compatibility: ota.swupdate.hwrevision is passed as -H.

Cases: install -> trial -> commit (the .swu's selection for slot B wrote the
B file, A untouched); a .swu for another hardware revision -> failed with
SWUpdate's reason, nothing written, no reboot.
"""
# ctest-timeout: 120
import json
import os
import tempfile
import time

import cmdlib
import edgetest as et
import otatest as ot
import test_ota_swupdate as tsw
import test_ota_uboot as tu

DEV = cmdlib.DEVICE
OTA_TOPIC = f"devices/{DEV}/ota"
SLOT_SIZE = 1 << 20
IMAGE_SIZE = 300_000
HW = "edge-sim:1.0"
TRIES = 3


reports = ot.reports
wait_report = ot.wait_report


def description(slots, image, hw_rev="1.0"):
    """Two selections, one per slot (ota.swupdate.selection_a/_b defaults)."""
    sha = tsw.hashlib.sha256(image).hexdigest()
    sel = "".join(f"""
		copy{i} = {{
			images: (
				{{
					filename = "rootfs.img";
					device = "{slots[s]}";
					type = "raw";
					sha256 = "{sha}";
				}}
			);
		}};""" for i, s in ((1, "A"), (2, "B")))
    return f"""software =
{{
	version = "0.2.0";
	hardware-compatibility = [ "{hw_rev}" ];
	stable = {{{sel}
	}};
}};
""".encode()


class Rig:
    def __init__(self, h):
        tsw.preflight()
        tu.need_tools()
        self.h = h
        h.make_pki()
        self.broker = h.start_broker()
        self.sub = h.subscribe(self.broker, [OTA_TOPIC])
        self.req = cmdlib.Requester(h, self.broker)
        self.server = ot.ImageServer(h)
        self.vendor = ot.Vendor(h, name="manifest-vendor")
        self.ca, self.signer, self.key = tsw.make_ca(h.dir, "swu")
        self.slots = {s: h.path(f"slot-{s}.img") for s in "AB"}
        for s, p in self.slots.items():
            with open(p, "wb") as f:
                f.write(s.encode() * SLOT_SIZE)
        envimg = h.path("uboot-env.img")
        with open(envimg, "wb") as f:
            f.truncate(1 << 16)
        self.env = tu.Env(h, envimg, offset=0, size=0x4000)
        self.env.tool("commit", "--slot", "A", "--defenv", "/dev/null")  # the factory
        self.cmdline = h.path("proc-cmdline")
        self.sim_state = h.path("sim-state")
        os.makedirs(self.sim_state)
        bindir = h.path("bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "swupdate"), "w") as f:
            f.write("#!/bin/sh\n# SWUpdate with a private /tmp for its compiled-in IPC sockets\n"
                    "exec unshare --mount --propagation private sh -c "
                    "'mount -t tmpfs edge-swu /tmp && exec /usr/bin/swupdate \"$@\"' "
                    "swupdate \"$@\"\n")
        os.chmod(os.path.join(bindir, "swupdate"), 0o755)
        self.agent_env = {"EDGE_SIM_STATE_DIR": self.sim_state,
                          "PATH": bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin")}
        # swupdate's boot selection is configured under ota.bundle (see the report)
        ota = {"bundle": {"boot": "uboot", "slots": self.slots, "tries": TRIES,
                          "uboot_env_config": self.env.config, "cmdline": self.cmdline},
               "swupdate": {"key_file": self.ca, "hwrevision": HW}}
        self.cfg = ot.ota_config(h, self.broker, self.vendor, self.server, **ota)
        self.ota_dir = os.path.join(self.cfg["state_dir"], "ota")
        self.agent = None
        self.starts = 0

    def boot(self):
        """boot.cmd's choice: first slot of BOOT_ORDER with tries left, one
        spent, saved before the slot runs; edge.slot=X on the command line."""
        order, a, b = self.env.boot_vars()
        left = {"A": int(a), "B": int(b)}
        slot = next((s for s in order.split() if left[s] > 0), None)
        et.check(slot is not None, f"no slot with tries left: {order} {left}")
        left[slot] -= 1
        self.env.fw_setenv(f"BOOT_{slot}_LEFT", str(left[slot]))
        with open(self.cmdline, "w") as f:
            f.write(f"root=/dev/vda{2 if slot == 'A' else 3} edge.slot={slot}\n")
        return slot

    def boot_id(self):
        try:
            with open(os.path.join(self.sim_state, "boot-id")) as f:
                return int(f.read().strip() or 0)
        except FileNotFoundError:
            return 0

    def start_agent(self):
        self.starts += 1
        self.agent = self.h.start_agent(self.cfg, name=f"agent-{self.starts}", env=self.agent_env)
        self.agent.wait_log("subscribed commands/", timeout=20)

    def publish(self, name, version, hw_rev="1.0"):
        image = os.urandom(IMAGE_SIZE)
        swu = tsw.make_swu(self.h.dir, name, description(self.slots, image, hw_rev), image,
                           self.signer, self.key)
        path = self.server.publish(f"{name}.swu", open(swu, "rb").read())
        return image, self.vendor.manifest(version, self.server.url(f"{name}.swu"), path,
                                           installer="swupdate")

    def install(self, manifest, cid):
        return self.req.call("ota", {"op": "install", "manifest": manifest}, cid=cid, timeout=20)

    def state(self):
        with open(os.path.join(self.ota_dir, "state.json")) as f:
            return json.load(f)

    def slot_bytes(self, s):
        with open(self.slots[s], "rb") as f:
            return f.read()


def test_install_trial_commit():
    with et.Harness("ota_agent_swu_commit") as h:
        rig = Rig(h)
        et.check(rig.boot() == "A", "the factory device did not boot A")
        rig.start_agent()
        image, _ = rig.publish("v020", "0.2.0")
        ans = rig.install(_, "ota-s1")
        et.check(ans["status"] == "ok", f"install refused: {ans}")
        end = time.time() + 60
        while time.time() < end and not (rig.boot_id() > 0 and
                                         rig.state().get("state") == "rebooting"):
            et.check(rig.agent.alive(), "the agent died")
            et.check(rig.state().get("state") != "failed", f"failed: {rig.state()}")
            time.sleep(0.2)
        et.check(rig.state().get("state") == "rebooting", f"state.json {rig.state()}")
        et.check(rig.slot_bytes("B")[:IMAGE_SIZE] == image, "slot B does not hold the image")
        et.check(rig.slot_bytes("B")[IMAGE_SIZE:] == b"B" * (SLOT_SIZE - IMAGE_SIZE),
                 "SWUpdate wrote past the image")
        et.check(rig.slot_bytes("A") == b"A" * SLOT_SIZE, "the running slot A was written")
        et.check(rig.env.boot_vars() == ("B A", str(TRIES), str(TRIES)),
                 f"after the trial set-up: {rig.env.boot_vars()}")
        et.check(rig.agent.stop() == 0, "the agent did not stop cleanly")
        et.check(rig.boot() == "B", "the boot loader did not start B")
        rig.start_agent()
        r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-s1" and
                        r.get("state") == "committed", what="commit")
        et.check(r["result"] == "success" and r["installer"] == "swupdate" and
                 r["slot"] == {"booted": "B", "target": "B"}, f"committed report: {r}")
        et.check(rig.env.boot_vars() == ("B A", str(TRIES), str(TRIES)),
                 f"after the commit: {rig.env.boot_vars()}")


def test_other_hardware_refused():
    with et.Harness("ota_agent_swu_hw") as h:
        rig = Rig(h)
        rig.boot()
        rig.start_agent()
        _, manifest = rig.publish("hw2", "0.3.0", hw_rev="2.0")
        ans = rig.install(manifest, "ota-s2")
        et.check(ans["status"] == "ok", f"install refused before the download: {ans}")
        r = wait_report(rig.sub, lambda r: r.get("otaId") == "ota-s2" and
                        r.get("state") == "failed", what="failed")
        et.check(r["result"] == "failure" and "refused" in (r.get("reason") or ""),
                 f"failed report: {r}")
        et.check(rig.slot_bytes("B") == b"B" * SLOT_SIZE, "slot B was written")
        time.sleep(2)
        et.check(rig.boot_id() == 0, "a reboot was asked after a refusal")
        # mark-bad B before the install, nothing else: B stays out of BOOT_ORDER
        et.check(rig.env.boot_vars()[0] == "A", f"environment: {rig.env.boot_vars()}")


if __name__ == "__main__":
    # /var/tmp, not /tmp: the swupdate wrapper covers /tmp with its own tmpfs
    tempfile.tempdir = "/var/tmp"
    et.main([test_install_trial_commit, test_other_hardware_refused])
