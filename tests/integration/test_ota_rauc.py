"""edge-ota-install rauc / boot-rauc against the real RAUC (Debian's 1.8).

Everything lives in the test's temp dir; no system state is touched:
  * a private D-Bus bus: dbus-daemon with a config of the test (one unix
    socket in the temp dir, everything allowed); RAUC's client and service
    find it through DBUS_SYSTEM_BUS_ADDRESS;
  * `rauc service --conf system.conf` in its own mount namespace (RAUC
    loop-mounts the bundle under the test's mount prefix), system.conf:
    compatible=edge-sim, bootloader=custom, two file-backed raw slots
    rootfs.0 / rootfs.1 with bootnames A / B, keyring = the test's CA,
    a central status file in the temp dir;
  * the custom boot loader backend is a script of the test that keeps the
    primary bootname and each slot's good/bad state in files. Like RAUC's
    U-Boot/Barebox backends, set-primary also makes that slot bootable.
    A "reboot" is the test playing boot loader: start the primary slot if
    it is good, else the other good one, then restart the service with
    --override-boot-slot=<that bootname> (RAUC 1.8 otherwise takes the
    booted slot from rauc.slot=/root= on /proc/cmdline).
  * plain-format bundles made by `rauc bundle`, each holding one raw image.

Cases: install -> the inactive slot file holds the image, the primary is the
new slot, "slot B"; trial checks the primary; after the reboot boot-rauc
booted says B with the bundle's version; commit marks B good; a second
install from B writes rootfs.0 and never the running slot; a trial that
fails (mark-bad) falls back to A. Refusals (a bundle signed by another CA,
one for another compatible, a truncated one) -> "error refused <RAUC's
message>", slot file and boot state untouched.
"""
# ctest-timeout: 90
import hashlib
import os
import shutil
import signal
import subprocess
import time

import edgetest
from edgetest import Harness, check

INSTALL = os.path.join(edgetest.BIN, "edge-ota-install")
SLOT_SIZE = 1 << 20
IMAGE_SIZE = 200_000


def cannot_run(why):
    raise edgetest.TestFailure("CANNOT RUN: " + why)


def preflight():
    if not os.access(INSTALL, os.X_OK):
        cannot_run(f"{INSTALL} is not built (cmake --build build --target edge-ota-install)")
    for tool in ("rauc", "dbus-daemon", "openssl", "unshare", "mksquashfs"):
        if not shutil.which(tool):
            cannot_run(f"{tool} is not installed (scripts/install-deps.sh)")
    if os.geteuid() != 0:
        cannot_run("rauc service loop-mounts bundles: the test must run as root")
    if not os.path.exists("/dev/loop-control"):
        cannot_run("no /dev/loop-control: RAUC cannot loop-mount a bundle here")


def openssl(*args):
    edgetest.run(["openssl", *args])


def make_ca(d, name):
    cnf = os.path.join(d, "x509.cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n"
                "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
                "subjectKeyIdentifier=hash\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    p = lambda s: os.path.join(d, f"{name}{s}")  # noqa: E731
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p(".key"), "-out", p(".crt"), "-days", "2", "-subj", f"/CN=edge-{name}-ca",
            "-config", cnf, "-extensions", "ca")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("-signer.key"), "-out", p("-signer.csr"), "-subj",
            f"/CN=edge-{name}-signer", "-config", cnf)
    openssl("x509", "-req", "-in", p("-signer.csr"), "-CA", p(".crt"), "-CAkey", p(".key"),
            "-CAcreateserial", "-out", p("-signer.crt"), "-days", "2", "-extfile", cnf,
            "-extensions", "leaf")
    return p(".crt"), p("-signer.crt"), p("-signer.key")


BACKEND = """#!/bin/sh
# RAUC custom boot loader backend of the test: state in files under $STATE.
STATE='{state}'
echo "$*" >> "$STATE/calls"
case "$1" in
get-primary) cat "$STATE/primary" ;;
set-primary) echo "$2" > "$STATE/primary" && echo good > "$STATE/state.$2" ;;
get-state) cat "$STATE/state.$2" ;;
set-state) echo "$3" > "$STATE/state.$2" ;;
*) echo "unknown backend call: $*" >&2; exit 1 ;;
esac
"""

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class Rig:
    def __init__(self, h):
        self.h = h
        d = self.d = h.dir
        self.state = os.path.join(d, "boot")
        os.mkdir(self.state)
        os.mkdir(os.path.join(d, "mnt"))
        self.ca, self.signer, self.key = make_ca(d, "vendor")
        _, self.other_signer, self.other_key = make_ca(d, "other")
        self.slots = {"A": os.path.join(d, "rootfs.0"), "B": os.path.join(d, "rootfs.1")}
        for bootname, path in self.slots.items():
            with open(path, "wb") as f:
                f.write(bytes([ord(bootname)]) * SLOT_SIZE)
        self.write("primary", "A")
        self.write("state.A", "good")
        self.write("state.B", "good")
        backend = os.path.join(d, "backend.sh")
        with open(backend, "w") as f:
            f.write(BACKEND.format(state=self.state))
        os.chmod(backend, 0o755)
        self.conf = os.path.join(d, "system.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[system]
compatible=edge-sim
bootloader=custom
statusfile={d}/status.raucs
mountprefix={d}/mnt

[handlers]
bootloader-custom-backend={backend}

[keyring]
path={self.ca}

[slot.rootfs.0]
device={self.slots['A']}
type=raw
bootname=A

[slot.rootfs.1]
device={self.slots['B']}
type=raw
bootname=B
""")
        self.env = dict(os.environ)
        self.env.pop("DBUS_STARTER_BUS_TYPE", None)
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = self.start_bus()
        self.service = None

    def write(self, name, value):
        with open(os.path.join(self.state, name), "w") as f:
            f.write(value + "\n")

    def read(self, name):
        with open(os.path.join(self.state, name)) as f:
            return f.read().strip()

    def start_bus(self):
        sock = os.path.join(self.d, "bus.sock")
        conf = os.path.join(self.d, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(sock=sock))
        log = open(os.path.join(self.d, "dbus.log"), "w")
        p = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--print-address=1"],
                             stdout=subprocess.PIPE, stderr=log)
        self.h.procs.append(p)
        addr = p.stdout.readline().decode().strip()
        if not addr.startswith("unix:"):
            cannot_run(f"dbus-daemon printed no address (exit {p.poll()}); see dbus.log")
        return addr

    def start_service(self, booted):
        """rauc service as if slot `booted` had been started."""
        self.stop_service()
        log = open(os.path.join(self.d, f"rauc-service-{booted}.log"), "w")
        self.service = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "rauc", "--conf", self.conf,
             "service", f"--override-boot-slot={booted}"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.h.procs.append(self.service)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.service.poll() is not None:
                raise edgetest.TestFailure(f"rauc service exited {self.service.returncode}; "
                                           f"see rauc-service-{booted}.log")
            r = subprocess.run(["rauc", "--conf", self.conf, "status"], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise edgetest.TestFailure("rauc service did not answer on the test's bus within 15 s")

    def stop_service(self):
        if self.service and self.service.poll() is None:
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(10)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait()
        self.service = None

    def reboot(self):
        """The boot loader's choice: the primary when good, else the other good slot."""
        primary = self.read("primary")
        other = "B" if primary == "A" else "A"
        booted = primary if self.read(f"state.{primary}") == "good" else other
        check(self.read(f"state.{booted}") == "good", "no good slot left to boot")
        self.start_service(booted)
        return booted

    def bundle(self, name, image, compatible="edge-sim", version="1.2.3", signer=None, key=None):
        src = os.path.join(self.d, f"{name}.src")
        os.mkdir(src)
        with open(os.path.join(src, "root.img"), "wb") as f:
            f.write(image)
        with open(os.path.join(src, "manifest.raucm"), "w") as f:
            f.write(f"[update]\ncompatible={compatible}\nversion={version}\n\n"
                    "[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=root.img\n")
        out = os.path.join(self.d, f"{name}.raucb")
        edgetest.run(["rauc", "bundle", "--cert", signer or self.signer, "--key", key or self.key,
                      src, out], env=self.env)
        return out

    def helper(self, *args):
        cmd = [INSTALL, *args, "--conf", self.conf]
        r = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        lines = r.stdout.decode(errors="replace").splitlines()
        with open(os.path.join(self.d, "helper.log"), "a") as f:
            f.write(f"$ {' '.join(cmd)}\n" + "\n".join(lines) + f"\n[exit {r.returncode}]\n"
                    + r.stderr.decode(errors="replace"))
        return r.returncode, lines

    def slot_bytes(self, bootname):
        with open(self.slots[bootname], "rb") as f:
            return f.read()

    def close(self):
        self.stop_service()


def ok(rc, lines, what):
    check(rc == 0 and lines and lines[-1] == "done", f"{what}: exit {rc}, lines {lines}")


def test_install_trial_commit_fallback():
    preflight()
    with Harness("ota-rauc") as h:
        rig = Rig(h)
        try:
            rig.start_service("A")
            rc, lines = rig.helper("boot-rauc", "booted")
            ok(rc, lines, "booted before any install")
            check("slot A" in lines, f"booted on A, the helper says {lines}")

            image = os.urandom(IMAGE_SIZE)
            rc, lines = rig.helper("rauc", "--image", rig.bundle("v2", image, version="2.0.0"))
            ok(rc, lines, "install")
            pcts = [int(l.split()[1]) for l in lines if l.startswith("progress ")]
            check(pcts and pcts == sorted(pcts) and pcts[-1] == 100 and len(pcts) >= 3,
                  f"progress lines {pcts}")
            check("slot B" in lines, f"install did not report slot B: {lines}")
            b = rig.slot_bytes("B")
            check(b[:IMAGE_SIZE] == image, "rootfs.1 does not hold the image")
            check(rig.slot_bytes("A") == b"A" * SLOT_SIZE, "the booted slot rootfs.0 changed")
            check(rig.read("primary") == "B", f"primary is {rig.read('primary')}, not B")

            ok(*rig.helper("boot-rauc", "trial", "--slot", "B"), "trial B")
            rc, lines = rig.helper("boot-rauc", "trial", "--slot", "A")
            check(rc == 1 and lines[-1].startswith("error internal ") and "primary" in lines[-1],
                  f"trial A while B is primary: exit {rc}, {lines}")

            check(rig.reboot() == "B", "the boot loader did not start B")
            rc, lines = rig.helper("boot-rauc", "booted")
            ok(rc, lines, "booted after reboot")
            check("slot B" in lines and "version 2.0.0" in lines,
                  f"booted B running 2.0.0 expected: {lines}")

            rig.write("state.B", "bad")  # as if the boot loader had counted tries down
            ok(*rig.helper("boot-rauc", "commit", "--slot", "B"), "commit B")
            check(rig.read("state.B") == "good", "commit did not mark B good")
            check("set-state B good" in rig.read("calls").splitlines(),
                  "RAUC never called the backend's set-state B good")
            rc, lines = rig.helper("boot-rauc", "commit", "--slot", "A")
            check(rc == 1 and lines[-1].startswith("error internal "),
                  f"commit A while B runs: exit {rc}, {lines}")

            # the next update goes to A, never to the running B
            image3 = os.urandom(IMAGE_SIZE)
            rc, lines = rig.helper("rauc", "--image", rig.bundle("v3", image3, version="3.0.0"))
            ok(rc, lines, "second install")
            check("slot A" in lines, f"second install did not report slot A: {lines}")
            check(rig.slot_bytes("A")[:IMAGE_SIZE] == image3, "rootfs.0 does not hold image 3")
            check(rig.slot_bytes("B")[:IMAGE_SIZE] == image, "the running slot rootfs.1 changed")
            check(rig.reboot() == "A", "the boot loader did not start A")

            # the trial of A fails: mark it bad, the boot loader falls back to B
            ok(*rig.helper("boot-rauc", "mark-bad", "--slot", "A"), "mark-bad A")
            check(rig.read("state.A") == "bad", "mark-bad did not reach the backend")
            check(rig.reboot() == "B", "no fallback to B after A was marked bad")
            rc, lines = rig.helper("boot-rauc", "booted")
            ok(rc, lines, "booted after fallback")
            check("slot B" in lines, f"fell back to B, helper says {lines}")
        finally:
            rig.close()


def test_refusals_leave_the_slots():
    preflight()
    with Harness("ota-rauc-refuse") as h:
        rig = Rig(h)
        try:
            rig.start_service("A")
            image = os.urandom(IMAGE_SIZE)
            good = rig.bundle("good", image)
            truncated = os.path.join(rig.d, "truncated.raucb")
            with open(good, "rb") as f, open(truncated, "wb") as g:
                g.write(f.read()[: os.path.getsize(good) // 2])
            cases = [
                (rig.bundle("other-ca", image, signer=rig.other_signer, key=rig.other_key),
                 "signature verification failed"),
                (rig.bundle("other-compat", image, compatible="another-board"),
                 "Compatible mismatch"),
                (truncated, "Invalid bundle format"),
            ]
            for bundle, expect in cases:
                before = (hashlib.sha256(rig.slot_bytes("B")).hexdigest(), rig.read("primary"),
                          rig.read("state.B"))
                rc, lines = rig.helper("rauc", "--image", bundle)
                name = os.path.basename(bundle)
                check(rc == 1, f"{name}: exit {rc}, expected 1; {lines}")
                check(lines and lines[-1].startswith("error refused ") and expect in lines[-1],
                      f"{name}: expected 'error refused ...{expect}...', got {lines[-1:]}")
                check("done" not in lines, f"{name}: done after a refusal")
                after = (hashlib.sha256(rig.slot_bytes("B")).hexdigest(), rig.read("primary"),
                         rig.read("state.B"))
                check(after == before, f"{name}: slot or boot state changed: {before} -> {after}")
            check(rig.slot_bytes("B") == b"B" * SLOT_SIZE, "rootfs.1 was written")
        finally:
            rig.close()


def test_service_down_is_internal():
    """No RAUC service on the bus: not a refusal of the bundle."""
    preflight()
    with Harness("ota-rauc-nosvc") as h:
        rig = Rig(h)
        bundle = rig.bundle("good", os.urandom(IMAGE_SIZE))
        rc, lines = rig.helper("rauc", "--image", bundle)
        check(rc == 1 and lines and lines[-1].startswith("error internal "),
              f"no service: exit {rc}, {lines}")
        rc, lines = rig.helper("boot-rauc", "booted")
        check(rc == 1 and lines and lines[-1].startswith("error internal "),
              f"booted without service: exit {rc}, {lines}")


if __name__ == "__main__":
    edgetest.main([test_install_trial_commit_fallback, test_refusals_leave_the_slots,
                   test_service_down_is_internal])
