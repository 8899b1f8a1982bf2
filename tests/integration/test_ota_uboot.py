"""A/B boot selection through U-Boot (DESIGN 5.4, bundle installer, uboot).

Real peers: Debian's U-Boot 2023.01 for qemu (u-boot-qemu) in
qemu-system-aarch64 -M virt, running deploy/uboot/boot.cmd (with the qemu
board settings, deploy/uboot/qemu-virt.cmd) from an ext2 boot partition, as
distro boot finds it; the environment on a raw range of the same virtio disk,
which the host side reads and writes with libubootenv (fw_printenv/fw_setenv
and edge-ota-install boot-uboot).

There is no kernel: the "OS" is this test. Each boot reads the serial console
until the script says which slot it boots ("edge-boot: booting slot X"); the
slots hold no file system, so the script then resets (qemu -no-reboot exits),
or the test kills qemu at that line (a power cut). Between boots the test acts
as the OS would: commit the booted slot, or do nothing (a failed trial).

The first test needs no qemu: boot-uboot against a file, read back with
fw_printenv, so a failure there is placed before any boot loader is involved.
"""
# ctest-timeout: 240
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import zlib

import edgetest as et
from edgetest import Harness, check

SRC = os.environ.get("EDGE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
UBOOT_DIR = os.path.join(SRC, "deploy", "uboot")
UBOOT_BIN = "/usr/lib/u-boot/qemu_arm64/u-boot.bin"
INSTALL = os.path.join(et.BIN, "edge-ota-install")
MIB = 1 << 20
# qemu-virt.cmd: block 0x200, 0x20 blocks; the second copy at block 0x220
ENV_OFFSET, ENV_SIZE = 0x40000, 0x4000
ENV_OFFSET2 = 0x44000
BOOT_TIMEOUT_S = 30
BOOT_TIMES = []


def need_tools():
    missing = [t for t in ("qemu-system-aarch64", "mkimage", "mke2fs", "fw_printenv", "fw_setenv")
               if not shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")]
    if missing:
        raise et.TestFailure("CANNOT RUN: not installed: " + " ".join(missing)
                             + " (scripts/install-deps.sh installs them)")
    for f in (UBOOT_BIN, INSTALL):
        if not os.path.exists(f):
            raise et.TestFailure(f"CANNOT RUN: {f} does not exist"
                                 + (" (build edge-ota-install)" if f == INSTALL else
                                    " (package u-boot-qemu)"))


def mke2fs():
    return shutil.which("mke2fs", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


class Env:
    """A raw environment range in a file, as libubootenv sees it: one copy, or
    two (offset2) in the redundant format."""

    def __init__(self, h, image, offset=ENV_OFFSET, size=ENV_SIZE, offset2=None):
        self.h, self.image, self.size = h, image, size
        self.offsets = [offset] + ([offset2] if offset2 is not None else [])
        self.config = h.path(os.path.basename(image) + ".fw_env.config")
        with open(self.config, "w") as f:
            for off in self.offsets:
                f.write(f"{image} {off:#x} {size:#x}\n")

    def raw(self, copy):
        """The bytes of copy 1 or 2."""
        with open(self.image, "rb") as f:
            f.seek(self.offsets[copy - 1])
            return f.read(self.size)

    def put_raw(self, copy, data):
        check(len(data) == self.size, "a copy of the wrong size")
        with open(self.image, "r+b") as f:
            f.seek(self.offsets[copy - 1])
            f.write(data)

    def flags(self, copy):
        """The flags byte of a redundant copy, None when its CRC is wrong."""
        d = self.raw(copy)
        ok = struct.unpack("<I", d[:4])[0] == zlib.crc32(d[5:])
        return d[4] if ok else None

    def craft(self, copy, variables, flags):
        """Writes a valid redundant copy holding these variables."""
        data = b"".join(f"{k}={v}".encode() + b"\0" for k, v in variables.items()) + b"\0"
        data = data.ljust(self.size - 5, b"\0")
        self.put_raw(copy, struct.pack("<IB", zlib.crc32(data), flags) + data)

    def read(self):
        """{name: value} through fw_printenv; {} when there is no valid one."""
        r = subprocess.run(["fw_printenv", "-c", self.config], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            return {}
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)

    def boot_vars(self):
        e = self.read()
        return (e.get("BOOT_ORDER"), e.get("BOOT_A_LEFT"), e.get("BOOT_B_LEFT"))

    def fw_setenv(self, *pairs):
        args = ["fw_setenv", "-c", self.config, "-f", "/dev/null"]
        r = subprocess.run(args + list(pairs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        check(r.returncode == 0, f"fw_setenv {pairs} failed: {r.stdout}")

    def tool(self, op, *args, expect_rc=0):
        """edge-ota-install boot-uboot OP ... --env-config; returns its stdout lines."""
        cmd = [INSTALL, "boot-uboot", op, *args, "--env-config", self.config]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=30)
        lines = r.stdout.splitlines()
        check(r.returncode == expect_rc,
              f"{' '.join(cmd[1:])}: exit {r.returncode}, expected {expect_rc}; "
              f"stdout {lines} stderr {r.stderr.strip()!r}")
        if expect_rc == 0:
            check(lines and lines[-1] == "done", f"{op}: no final 'done' line: {lines}")
        elif expect_rc == 1:
            check(lines and lines[-1].startswith("error "), f"{op}: no 'error' line: {lines}")
        return lines


def booted(cmdline_text, h, expect_rc=0):
    path = h.path("cmdline")
    with open(path, "w") as f:
        f.write(cmdline_text + "\n")
    r = subprocess.run([INSTALL, "boot-uboot", "booted", "--cmdline", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    check(r.returncode == expect_rc, f"booted {cmdline_text!r}: exit {r.returncode}: {r.stdout}")
    return r.stdout.splitlines()


def test_unit_boot_uboot():
    """boot-uboot against a plain file: every op's variables read back with
    fw_printenv, refusals leave the environment alone."""
    need_tools()
    with Harness("ota-uboot-unit") as h:
        img = h.path("env.img")
        with open(img, "wb") as f:
            f.truncate(MIB)
        env = Env(h, img)

        # No valid CRC: refused (U-Boot's built-in defaults must not be hidden
        # by a three-variable environment) unless --defenv says what it holds.
        out = env.tool("trial", "--slot", "B", expect_rc=1)
        check(out[-1].startswith("error refused "), f"fresh region: {out}")
        check(env.read() == {}, f"a refused trial wrote something: {env.read()}")
        env.tool("commit", "--slot", "A", "--defenv", "/dev/null")
        check(env.boot_vars() == ("A B", "3", "3"), f"factory commit A: {env.boot_vars()}")

        # Other variables survive; trial refills the fallback's counter.
        env.fw_setenv("board_var", "keep me", "BOOT_A_LEFT", "1")
        out = env.tool("trial", "--slot", "B", "--tries", "5")
        check("slot B" in out, f"trial: no 'slot B' line: {out}")
        e = env.read()
        check(e.get("board_var") == "keep me", f"trial lost another variable: {e}")
        check(env.boot_vars() == ("B A", "5", "5"), f"trial B --tries 5: {env.boot_vars()}")

        # Commit keeps the other slot's counter as it is.
        env.fw_setenv("BOOT_A_LEFT", "1", "BOOT_B_LEFT", "0")
        env.tool("commit", "--slot", "B")
        check(env.boot_vars() == ("B A", "1", "3"), f"commit B: {env.boot_vars()}")

        # mark-bad takes the slot out of BOOT_ORDER; the last slot is refused.
        env.tool("mark-bad", "--slot", "B")
        check(env.boot_vars() == ("A", "1", "0"), f"mark-bad B: {env.boot_vars()}")
        out = env.tool("mark-bad", "--slot", "A", expect_rc=1)
        check(out[-1].startswith("error refused "), f"mark-bad of the last slot: {out}")
        check(env.boot_vars() == ("A", "1", "0"), f"a refused mark-bad changed: {env.boot_vars()}")

        # Garbage reads as boot.cmd reads it: order "A B", counter 3.
        env.fw_setenv("BOOT_ORDER", "C D", "BOOT_A_LEFT", "x", "BOOT_B_LEFT", "12")
        env.tool("mark-bad", "--slot", "A")
        check(env.boot_vars() == ("B", "0", "3"), f"mark-bad A over garbage: {env.boot_vars()}")

        # Usage errors exit 2 and write nothing.
        before = env.read()
        env.tool("trial", "--slot", "A", "--tries", "10", expect_rc=2)
        env.tool("trial", "--slot", "C", expect_rc=2)
        env.tool("reboot", "--slot", "A", expect_rc=2)
        check(env.read() == before, "a usage error changed the environment")
        # An unreadable config is an io error that names the file.
        r = subprocess.run([INSTALL, "boot-uboot", "commit", "--slot", "A", "--env-config",
                            h.path("missing.config")], stdout=subprocess.PIPE, text=True)
        check(r.returncode == 1 and r.stdout.startswith("error io ")
              and "missing.config" in r.stdout, f"missing config: {r.returncode} {r.stdout!r}")

        # booted: edge.slot wins over rauc.slot, rauc.slot alone works.
        check(booted("root=/dev/vda2 rauc.slot=A edge.slot=B quiet", h) == ["slot B", "done"],
              "booted with edge.slot=B")
        check(booted("rauc.slot=A", h) == ["slot A", "done"], "booted with rauc.slot=A only")
        out = booted("root=/dev/vda2 quiet", h, expect_rc=1)
        check(out and out[-1].startswith("error refused"), f"booted without a slot: {out}")
        out = booted("edge.slot=C", h, expect_rc=1)
        check(out and out[-1].startswith("error refused"), f"booted with slot C: {out}")


class Machine:
    """A virt board: boot partition (ext2 with boot.scr) at 1 MiB, slots A and
    B as partitions 2 and 3 (empty), the environment at ENV_OFFSET and, as
    qemu-virt.cmd has it, its second copy at ENV_OFFSET2; redundant=False
    unsets edge_env_blk2 after qemu-virt.cmd: one copy."""

    def __init__(self, h, redundant=True):
        self.h = h
        bootfs = h.path("bootfs")
        os.makedirs(bootfs)
        script = h.path("boot.txt")
        with open(script, "w") as out:
            for part in ("qemu-virt.cmd", "boot.cmd"):
                with open(os.path.join(UBOOT_DIR, part)) as f:
                    out.write(f.read())
                if part == "qemu-virt.cmd" and not redundant:
                    out.write("setenv edge_env_blk2\n")
        et.run(["mkimage", "-A", "arm64", "-T", "script", "-C", "none", "-n", "edge-ab",
                "-d", script, os.path.join(bootfs, "boot.scr")])
        p1 = h.path("p1.img")
        et.run([mke2fs(), "-q", "-F", "-t", "ext2", "-d", bootfs, p1, "4M"])
        self.disk = h.path("disk.img")
        # (start sector, sectors, bootable)
        parts = [(2048, 8192, 0x80), (10240, 2048, 0), (12288, 2048, 0)]
        mbr = bytearray(512)
        for i, (start, n, boot) in enumerate(parts):
            mbr[446 + 16 * i:462 + 16 * i] = struct.pack("<B3sB3sII", boot, b"\xfe\xff\xff", 0x83,
                                                         b"\xfe\xff\xff", start, n)
        mbr[510:512] = b"\x55\xaa"
        check(ENV_OFFSET2 + ENV_SIZE <= parts[0][0] * 512, "environment overlaps partition 1")
        with open(self.disk, "wb") as f:
            f.truncate(8 * MIB)
            f.write(mbr)
            f.seek(parts[0][0] * 512)
            with open(p1, "rb") as p:
                f.write(p.read())
        self.env = Env(h, self.disk, offset2=ENV_OFFSET2 if redundant else None)
        self.boots = 0

    def boot(self, power_cut=False, cut_before_script=False):
        """One power-on. Returns (slot, bootargs, edge-boot lines). power_cut:
        kill qemu at the script's "booting slot" line; otherwise the script's
        reset ends qemu (-no-reboot). cut_before_script: kill at U-Boot's
        autoboot prompt, before the script runs (returns slot None)."""
        self.boots += 1
        log_path = self.h.path(f"serial-{self.boots:02d}.log")
        start = time.monotonic()
        p = subprocess.Popen(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-m", "256",
             "-nographic", "-nic", "none", "-no-reboot", "-bios", UBOOT_BIN,
             "-drive", f"if=none,id=d0,file={self.disk},format=raw",
             "-device", "virtio-blk-device,drive=d0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.h.procs.append(p)
        buf = b""
        slot = bootargs = None
        chosen = 0.0
        interrupted = False
        try:
            os.set_blocking(p.stdout.fileno(), False)
            while time.monotonic() - start < BOOT_TIMEOUT_S:
                try:
                    d = os.read(p.stdout.fileno(), 4096)
                except BlockingIOError:
                    d = None
                if d == b"":
                    break
                if d is None:
                    if p.poll() is not None:
                        break
                    time.sleep(0.01)
                    continue
                buf += d
                if not interrupted and b"Hit any key to stop autoboot" in buf:
                    if cut_before_script:
                        p.send_signal(signal.SIGKILL)
                        break
                    # Stop the 2 s countdown and run the same bootcmd at once.
                    p.stdin.write(b"\nboot\n")
                    p.stdin.flush()
                    interrupted = True
                m = re.search(rb"edge-boot: booting slot ([AB]) ", buf)
                if m and slot is None:
                    slot = m.group(1).decode()
                    chosen = time.monotonic() - start
                    ba = re.search(rb"edge-boot: bootargs ([^\r\n]*)\r?\n", buf)
                    bootargs = ba.group(1).decode() if ba else None
                    if power_cut:
                        p.send_signal(signal.SIGKILL)
                        break
                if interrupted and buf.count(b"=> ") >= 2:
                    break  # back at the prompt: the script did not end in a reset
            else:
                p.kill()
        finally:
            if p.poll() is None and (power_cut or cut_before_script or slot is None):
                p.kill()
            try:
                rc = p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            with open(log_path, "wb") as f:
                f.write(buf)
        elapsed = time.monotonic() - start
        text = buf.decode(errors="replace")
        lines = [ln.strip() for ln in text.splitlines() if "edge-boot:" in ln]
        if cut_before_script:
            check("edge-boot:" not in text, "the script ran before the cut")
            return None, None, lines
        check(slot is not None, f"boot {self.boots}: no 'booting slot' line within "
              f"{BOOT_TIMEOUT_S}s; serial tail:\n{text[-2500:]}")
        BOOT_TIMES.append((chosen, elapsed))
        if not power_cut:
            check("edge-boot: slot " in text and "resetting" in text and rc == 0,
                  f"boot {self.boots}: the script did not end in a reset (qemu exit {rc}); "
                  f"serial tail:\n{text[-1500:]}")
        return slot, bootargs, lines

    def os_booted(self, bootargs):
        """What the OS learns from its kernel command line (U-Boot's bootargs)."""
        out = booted(bootargs, self.h)
        return out[0].split()[1]


def factory(m):
    """A device as it leaves the factory: slot A installed and committed."""
    m.env.tool("commit", "--slot", "A", "--defenv", "/dev/null")
    check(m.env.boot_vars() == ("A B", "3", "3"), f"factory env: {m.env.boot_vars()}")


def test_trial_falls_back():
    """A new slot that never commits gets N boots, then U-Boot is back on the
    old slot, which stays there once the OS marks it good."""
    need_tools()
    with Harness("ota-uboot-fallback") as h:
        m = Machine(h)
        factory(m)
        slot, bootargs, _ = m.boot()
        check(slot == "A", f"first boot: slot {slot}")
        check(m.os_booted(bootargs) == "A", f"OS sees {bootargs!r}")
        check("rauc.slot=A" in bootargs and "root=/dev/vda2" in bootargs, f"bootargs {bootargs!r}")
        m.env.tool("commit", "--slot", "A")  # the OS's mark-good on every healthy start
        # The agent's update: B marked bad before it is written, then trial.
        m.env.tool("mark-bad", "--slot", "B")
        check(m.env.boot_vars() == ("A", "3", "0"), f"after mark-bad B: {m.env.boot_vars()}")
        m.env.tool("trial", "--slot", "B", "--tries", "3")
        seen = [m.boot()[0] for _ in range(4)]  # the OS on B never commits
        check(seen == ["B", "B", "B", "A"], f"trial of B with 3 tries booted {seen}")
        check(m.env.boot_vars() == ("B A", "2", "0"), f"after the fallback: {m.env.boot_vars()}")
        # The agent on A sees the rollback, marks B bad, commits A.
        m.env.tool("mark-bad", "--slot", "B")
        m.env.tool("commit", "--slot", "A")
        seen = [m.boot()[0] for _ in range(2)]
        check(seen == ["A", "A"], f"after the rollback: {seen}")


def test_commit_sticks():
    """A committed slot keeps booting while the OS marks it good each start;
    without that mark it falls back after N boots (RAUC's semantics)."""
    need_tools()
    with Harness("ota-uboot-commit") as h:
        m = Machine(h)
        factory(m)
        m.env.tool("trial", "--slot", "B")
        slot, bootargs, _ = m.boot()
        check(slot == "B" and m.os_booted(bootargs) == "B", f"trial boot: {slot} {bootargs!r}")
        m.env.tool("commit", "--slot", "B")
        for i in range(5):  # more boots than tries
            slot, bootargs, _ = m.boot()
            check(slot == "B", f"committed B, boot {i + 1}: slot {slot}")
            check(m.os_booted(bootargs) == "B", f"OS sees {bootargs!r}")
            m.env.tool("commit", "--slot", "B")
        check(m.env.boot_vars() == ("B A", "3", "3"), f"after commits: {m.env.boot_vars()}")
        seen = [m.boot()[0] for _ in range(4)]  # the OS stops marking good
        check(seen == ["B", "B", "B", "A"], f"without mark-good: {seen}")


def test_power_cuts_reset_counters():
    """Power cuts right after each slot's start use every counter up (rauc
    #683): U-Boot must still boot, refilling the counters, not halt."""
    need_tools()
    with Harness("ota-uboot-cuts") as h:
        m = Machine(h)
        factory(m)
        m.env.tool("trial", "--slot", "B")
        # A cut before the script runs spends nothing.
        m.boot(cut_before_script=True)
        check(m.env.boot_vars() == ("B A", "3", "3"), f"cut before the script: {m.env.boot_vars()}")
        seen = [m.boot(power_cut=True)[0] for _ in range(6)]
        check(seen == ["B", "B", "B", "A", "A", "A"], f"six cut boots: {seen}")
        check(m.env.boot_vars() == ("B A", "0", "0"), f"every counter spent: {m.env.boot_vars()}")
        slot, bootargs, lines = m.boot()
        check(slot == "B", f"with no tries left U-Boot booted {slot}, not BOOT_ORDER's first")
        check(any("has tries left; every counter back to 3" in ln for ln in lines),
              f"no reset message: {lines}")
        check(m.env.boot_vars() == ("B A", "3", "2"), f"after the reset: {m.env.boot_vars()}")
        check(m.os_booted(bootargs) == "B", f"OS sees {bootargs!r}")


def test_mark_bad_keeps_away():
    """A slot marked bad is never booted, not even when every counter is
    spent and refilled."""
    need_tools()
    with Harness("ota-uboot-markbad") as h:
        m = Machine(h)
        factory(m)
        m.env.tool("mark-bad", "--slot", "B")
        seen = [m.boot(power_cut=True)[0] for _ in range(5)]
        check(seen == ["A"] * 5, f"with B marked bad: {seen}")
        check(m.env.boot_vars() == ("A", "1", "3"), f"after the refill: {m.env.boot_vars()}")


def test_garbage_environment():
    """No environment at all, then garbage in every variable: U-Boot boots
    with safe defaults, and libubootenv reads what U-Boot wrote; with two
    copies and with one. With one copy a save torn by a power cut loses the
    environment: the next boot is on the defaults (slot A, though B was
    committed), which is why qemu-virt.cmd keeps two (test_redundant_copies)."""
    need_tools()
    for redundant in (True, False):
        with Harness("ota-uboot-garbage" + ("" if redundant else "-1copy")) as h:
            m = Machine(h, redundant=redundant)
            check(m.env.read() == {}, "the fresh disk already has an environment")
            slot, _, lines = m.boot()
            check(slot == "A", f"no environment: slot {slot}")
            check(any("no valid environment" in ln for ln in lines), f"lines: {lines}")
            check(m.env.boot_vars() == ("A B", "2", "3"),
                  f"U-Boot's first save: {m.env.boot_vars()}")
            m.env.fw_setenv("BOOT_ORDER", "C D", "BOOT_A_LEFT", "x", "BOOT_B_LEFT", "12")
            slot, _, lines = m.boot()
            check(slot == "A", f"garbage: slot {slot}")
            for var in ("BOOT_ORDER", "BOOT_A_LEFT", "BOOT_B_LEFT"):
                check(any(var in ln and ("not a" in ln) for ln in lines),
                      f"no {var} message: {lines}")
            check(m.env.boot_vars() == ("A B", "2", "3"), f"after garbage: {m.env.boot_vars()}")
            if redundant:
                continue
            m.env.tool("commit", "--slot", "B")
            new = m.env.raw(1)
            m.env.tool("commit", "--slot", "A")  # what the torn write replaces
            m.env.put_raw(1, tear(new, m.env.raw(1)))
            check(m.env.read() == {}, "one copy: the torn save still reads as valid")
            slot, _, lines = m.boot()
            check(slot == "A" and any("no valid environment" in ln for ln in lines),
                  f"one copy, torn save of B's commit: slot {slot}, {lines}")


def tear(new, old):
    """A save cut by a power loss: the new header (CRC, flags), the old data
    behind it (which must differ, or the torn copy would be the new one)."""
    check(new[5:] != old[5:], "tear(): the save did not change the data")
    return new[:5] + old[5:]


def test_redundant_copies():
    """Two copies (qemu-virt.cmd; fw_env.config with two lines): U-Boot's
    script and libubootenv agree which copy is current (the higher flags
    byte, 0 after ff, copy 1 when equal), every save goes to the other copy
    with the flags one up, and a save torn by a power cut, the OS's or U-Boot's
    own, leaves the state before it in force for both."""
    need_tools()
    with Harness("ota-uboot-redundant") as h:
        m = Machine(h)
        e = m.env
        a_only = {"BOOT_ORDER": "A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"}
        b_only = {"BOOT_ORDER": "B", "BOOT_A_LEFT": "0", "BOOT_B_LEFT": "3"}
        for f1, f2, cur in ((4, 5, 2), (5, 4, 1), (0xFF, 0, 2), (0, 0xFF, 1), (7, 7, 1)):
            e.craft(1, a_only, f1)
            e.craft(2, b_only, f2)
            want = "A" if cur == 1 else "B"
            check(e.boot_vars()[0] == want,
                  f"libubootenv, flags {f1:#x}/{f2:#x}: {e.boot_vars()}, expected {want}")
            slot, _, lines = m.boot(power_cut=True)
            check(slot == want and any(f"(copy {cur})" in ln for ln in lines),
                  f"U-Boot, flags {f1:#x}/{f2:#x}: slot {slot}, expected {want}: {lines}")
            flags = ((f1 if cur == 1 else f2) + 1) % 256
            check(e.flags(3 - cur) == flags and e.flags(cur) == (f1 if cur == 1 else f2),
                  f"U-Boot's save after {f1:#x}/{f2:#x}: flags {e.flags(1)}/{e.flags(2)}, "
                  f"expected {flags} in copy {3 - cur}")
            left = ("2", "0") if want == "A" else ("0", "2")
            check(e.boot_vars() == (want,) + left, f"read back: {e.boot_vars()}")

        # From the factory: A committed, B on trial, booted twice.
        e.put_raw(1, bytes(ENV_SIZE))
        e.put_raw(2, bytes(ENV_SIZE))
        factory(m)
        e.tool("trial", "--slot", "B")
        check([m.boot()[0] for _ in range(2)] == ["B", "B"], "trial boots")
        check(e.boot_vars() == ("B A", "3", "1"), f"after the trial boots: {e.boot_vars()}")

        def current():
            f1, f2 = e.flags(1), e.flags(2)
            check(f1 is not None and f2 is not None, f"a copy is not valid: {f1} {f2}")
            return 2 if (f2 > f1 and not (f1 == 0 and f2 == 0xFF)) or (f1, f2) == (0xFF, 0) else 1

        # The OS commits B and the power fails in the middle of that save.
        target = 3 - current()
        old = e.raw(target)
        e.tool("commit", "--slot", "B")
        check(e.boot_vars() == ("B A", "3", "3"), f"commit B: {e.boot_vars()}")
        e.put_raw(target, tear(e.raw(target), old))
        check(e.flags(target) is None, "the torn copy still reads as valid")
        check(e.boot_vars() == ("B A", "3", "1"),
              f"libubootenv after the torn commit: {e.boot_vars()}")
        slot, bootargs, lines = m.boot()
        check(slot == "B" and any(f"(copy {3 - target})" in ln for ln in lines),
              f"U-Boot after the torn commit: slot {slot}: {lines}")
        check(e.boot_vars() == ("B A", "3", "0"), f"the trial goes on: {e.boot_vars()}")
        check(m.os_booted(bootargs) == "B", f"OS sees {bootargs!r}")
        e.tool("commit", "--slot", "B")  # the agent's next healthy window
        check(e.boot_vars() == ("B A", "3", "3"), f"commit B again: {e.boot_vars()}")

        # U-Boot's own save cut by a power failure: that boot's try is not
        # spent, nothing else changes.
        target = 3 - current()
        old = e.raw(target)
        check(m.boot(power_cut=True)[0] == "B", "boot before U-Boot's torn save")
        check(e.boot_vars() == ("B A", "3", "2"), f"U-Boot's save: {e.boot_vars()}")
        e.put_raw(target, tear(e.raw(target), old))
        check(e.boot_vars() == ("B A", "3", "3"),
              f"libubootenv after U-Boot's torn save: {e.boot_vars()}")
        seen = [m.boot()[0] for _ in range(2)]
        check(seen == ["B", "B"], f"after U-Boot's torn save: {seen}")
        check(e.boot_vars() == ("B A", "3", "1"), f"two more boots: {e.boot_vars()}")


def report_times():
    if BOOT_TIMES:
        chosen = [c for c, _ in BOOT_TIMES]
        whole = [e for _, e in BOOT_TIMES]
        print(f"boots: {len(BOOT_TIMES)}; power-on to slot chosen: mean "
              f"{sum(chosen) / len(chosen):.2f} s, max {max(chosen):.2f} s; whole boot "
              f"(to qemu's exit): mean {sum(whole) / len(whole):.2f} s, max {max(whole):.2f} s",
              flush=True)


if __name__ == "__main__":
    import atexit
    atexit.register(report_times)
    et.main([test_unit_boot_uboot, test_trial_falls_back, test_commit_sticks,
             test_power_cuts_reset_counters, test_mark_bad_keeps_away, test_garbage_environment,
             test_redundant_copies])
