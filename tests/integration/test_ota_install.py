"""edge-ota-install's verify, bundle, service, boot-service and boot-tryboot, and
edge-ota-boot, driven as the agent drives them: real binaries, real files, the
line protocol of ota/include/edge/ota/progress.h read from stdout.

- verify: a good image, a wrong hash, a file cut short.
- bundle: into a file slot (byte-identical, read back, longer old contents cut
  off), refused when the slot is the running path (also under a second name).
- service: a tarball made with Python's tarfile (USTAR) unpacked into the
  inactive slot with its modes and the .complete marker; tarballs holding
  ../x, an absolute name, a symlink, a hard link, a device, a GNU long name,
  a size beyond the archive or more than 4096 entries are refused, and then
  nothing outside D/S changed, D/S holds nothing, D/current did not move.
- boot-service trial/commit/mark-bad, edge-ota-boot counting starts and
  swapping back after max, boot-count, a missing app dir.
- boot-tryboot against a fake firmware partition (a directory) and a fake
  device-tree partition cell, autoboot.txt compared line by line."""
# ctest-timeout: 180
import hashlib
import io
import json
import os
import subprocess
import tarfile

import edgetest
from edgetest import BIN, Harness, TestFailure, check

INSTALL = os.path.join(BIN, "edge-ota-install")
BOOT = os.path.join(BIN, "edge-ota-boot")


def need_binaries():
    for b in (INSTALL, BOOT):
        if not os.access(b, os.X_OK):
            raise TestFailure(f"CANNOT RUN: {b} is missing (build the edge-ota-install and "
                              "edge-ota-boot targets)")


def inst(*args, rc=None):
    """Runs edge-ota-install; returns (exit status, stdout lines). Every line
    must be a protocol line (no stray output on the agent's pipe)."""
    p = subprocess.run([INSTALL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    lines = p.stdout.decode().splitlines()
    for line in lines:
        check(line.split(" ", 1)[0] in ("progress", "slot", "version", "done", "error", "log"),
              f"not a protocol line: {line!r} (args {args})")
        check(len(line) < 512, f"line over 512 bytes: {line[:80]!r}...")
    if rc is not None:
        check(p.returncode == rc, f"edge-ota-install {' '.join(args)}: exit {p.returncode}, "
              f"wanted {rc}; stdout {lines}, stderr {p.stderr.decode()[-500:]!r}")
    return p.returncode, lines


def boot(d, *extra):
    p = subprocess.run([BOOT, "--app-dir", d, *extra], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check(p.stdout == b"", f"edge-ota-boot wrote to stdout: {p.stdout!r}")
    return p.returncode, p.stderr.decode()


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def snapshot(root, skip=()):
    """{relative path: (kind, mode, content or link target)} of a tree, not
    following symlinks, leaving out the subtrees in skip."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames
                       if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.normpath(os.path.join(rel_dir, n))
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", 0, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode & 0o7777, None)
            else:
                out[rel] = ("file", st.st_mode & 0o7777, read(p))
    return out


def make_tar(path, entries, fmt=tarfile.USTAR_FORMAT):
    """entries: (name, data | None, type, mode, linkname)."""
    with tarfile.open(path, "w", format=fmt) as t:
        for name, data, typ, mode, link in entries:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.linkname = typ, mode, link
            if typ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                ti.devmajor, ti.devminor = 1, 3
            ti.size = len(data) if typ == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
    return sha(path)


F, D = tarfile.REGTYPE, tarfile.DIRTYPE
APP_FILES = {
    "bin/edge-agent": (b"#!/bin/sh\necho agent v2\n" + os.urandom(3000), 0o755),
    "bin/edge-ota-install": (os.urandom(70000), 0o750),  # any x bit -> 0755
    "bin/edge-ota-fetch": (b"fetch", 0o700),
    "share/edge/doc/readme.txt": (b"read me\n", 0o600),  # no x bit -> 0644
    "VERSION": (b"2.0.0\n", 0o644),
}


def app_tar(path, version=b"2.0.0\n"):
    entries = [("bin", None, D, 0o700, "")]  # directories come out 0755 whatever they say
    for name, (data, mode) in APP_FILES.items():
        entries.append((name, version if name == "VERSION" else data, F, mode, ""))
    return make_tar(path, entries)


def check_app_slot(slot_dir, version=b"2.0.0\n"):
    """slot_dir holds exactly the app tarball's tree, modes normalized."""
    want = {".complete", "bin", "share", "share/edge", "share/edge/doc"} | set(APP_FILES)
    got = snapshot(slot_dir)
    check(set(got) == want, f"{slot_dir} holds {sorted(got)}, wanted {sorted(want)}")
    for name, (data, mode) in APP_FILES.items():
        kind, m, content = got[name]
        if name == "VERSION":
            data = version
        check(kind == "file" and content == data, f"{name}: wrong content")
        check(m == (0o755 if mode & 0o111 else 0o644), f"{name}: mode {oct(m)}")
    for d in ("bin", "share", "share/edge", "share/edge/doc"):
        check(got[d][0] == "dir" and got[d][1] == 0o755, f"{d}: {got[d][:2]}")


def last(lines):
    check(lines, "no output")
    return lines[-1]


def no_temp_files(d):
    left = [n for n in os.listdir(d) if ".tmp." in n]
    check(not left, f"temporary files left in {d}: {left}")


# ---------------------------------------------------------------- verify

def test_verify():
    need_binaries()
    with Harness("ota-verify") as h:
        img = os.path.join(h.dir, "img")
        data = os.urandom(9 * 1024 * 1024 + 123)
        write(img, data)
        good = hashlib.sha256(data).hexdigest()
        _, lines = inst("verify", "--image", img, "--sha256", good.upper(), rc=0)
        check(last(lines) == f"done {good}", f"verify said {lines}")
        prog = [l for l in lines if l.startswith("progress ")]
        check(prog and all(l.split()[2] == str(len(data)) for l in prog),
              f"progress lines without the total: {prog}")

        bad = hashlib.sha256(b"other").hexdigest()
        _, lines = inst("verify", "--image", img, "--sha256", bad, rc=1)
        check(last(lines) == f"error hash expected {bad} got {good}", f"mismatch: {lines}")

        with open(img, "r+b") as f:
            f.truncate(len(data) - 1000)
        cut = hashlib.sha256(data[:-1000]).hexdigest()
        _, lines = inst("verify", "--image", img, "--sha256", good, rc=1)
        check(last(lines) == f"error hash expected {good} got {cut}", f"truncated: {lines}")

        _, lines = inst("verify", "--image", img + ".missing", "--sha256", good, rc=1)
        check(last(lines).startswith("error io "), f"missing file: {lines}")
        inst("verify", "--image", img, "--sha256", "abc", rc=2)


# ---------------------------------------------------------------- bundle

def test_bundle_file_slot():
    need_binaries()
    with Harness("ota-bundle") as h:
        img = os.path.join(h.dir, "img")
        slot = os.path.join(h.dir, "slot-b")
        data = os.urandom(6 * 1024 * 1024 + 777)
        write(img, data)
        write(slot, b"\xee" * (8 * 1024 * 1024))  # an older, longer image
        good = hashlib.sha256(data).hexdigest()
        _, lines = inst("bundle", "--image", img, "--sha256", good, "--slot-path", slot, rc=0)
        check(last(lines) == f"done {good}", f"bundle said {lines}")
        check(read(slot) == data, "the slot does not hold exactly the image")
        check(any(l.startswith("log read-back") for l in lines), f"no read-back: {lines}")
        prog = [l for l in lines if l.startswith("progress ")]
        check(prog and prog[0].split()[2] == str(len(data)), f"progress: {prog}")

        # A slot that does not exist yet is created.
        slot_a = os.path.join(h.dir, "slot-a")
        inst("bundle", "--image", img, "--sha256", good, "--slot-path", slot_a, rc=0)
        check(read(slot_a) == data, "new slot file differs")

        # Wrong hash: the copy is caught before it is called good.
        bad = hashlib.sha256(b"x").hexdigest()
        _, lines = inst("bundle", "--image", img, "--sha256", bad, "--slot-path", slot, rc=1)
        check(last(lines).startswith(f"error hash image expected {bad} got {good}"),
              f"bad hash: {lines}")


def test_bundle_refuses_running_path():
    need_binaries()
    with Harness("ota-bundle-running") as h:
        img = os.path.join(h.dir, "img")
        running = os.path.join(h.dir, "slot-a")
        alias = os.path.join(h.dir, "slot-a-alias")
        data = os.urandom(100000)
        write(img, data)
        before = os.urandom(50000)
        write(running, before)
        os.link(running, alias)  # the same file under another name
        good = hashlib.sha256(data).hexdigest()
        for target in (running, alias):
            _, lines = inst("bundle", "--image", img, "--sha256", good, "--slot-path", target,
                            "--running-path", running, rc=1)
            check(last(lines).startswith("error refused "), f"{target}: {lines}")
            check(read(running) == before, "the running slot was written")
        # A directory is neither a partition nor a file slot.
        _, lines = inst("bundle", "--image", img, "--sha256", good, "--slot-path", h.dir, rc=1)
        check(last(lines).startswith("error refused "), f"directory slot: {lines}")
        # The image itself as the slot.
        _, lines = inst("bundle", "--image", img, "--sha256", good, "--slot-path", img, rc=1)
        check(last(lines).startswith("error refused ") and read(img) == data,
              f"image as slot: {lines}")


# ---------------------------------------------------------------- service

def app_dir(h):
    """D with a running slot A (complete, v1) and current -> A."""
    d = os.path.join(h.dir, "ota", "app")
    write(os.path.join(d, "A", "bin", "edge-agent"), b"#!/bin/sh\necho v1\n", 0o755)
    write(os.path.join(d, "A", "VERSION"), b"1.0.0\n")
    write(os.path.join(d, "A", ".complete"), b"x")
    os.symlink("A", os.path.join(d, "current"))
    return d


def test_service_install():
    need_binaries()
    with Harness("ota-service") as h:
        d = app_dir(h)
        # Leftovers of an older attempt in B: all must go.
        write(os.path.join(d, "B", "old", "junk"), b"junk")
        write(os.path.join(d, "B", ".complete"), b"stale")
        os.symlink("/etc", os.path.join(d, "B", "old", "link"))
        tar = os.path.join(h.dir, "app.tar")
        good = app_tar(tar)
        a_before = snapshot(os.path.join(d, "A"))

        _, lines = inst("service", "--image", tar, "--sha256", good, "--app-dir", d,
                        "--slot", "B", rc=0)
        check(lines[-2:] == ["slot B", "done"], f"service said {lines}")
        check_app_slot(os.path.join(d, "B"))
        check(read(os.path.join(d, "B", ".complete")).decode() == good, ".complete content")
        check(os.readlink(os.path.join(d, "current")) == "A", "current moved")
        check(snapshot(os.path.join(d, "A")) == a_before, "slot A changed")

        # Never the slot current points at, whatever the archive.
        _, lines = inst("service", "--image", tar, "--sha256", good, "--app-dir", d,
                        "--slot", "A", rc=1)
        check(last(lines).startswith("error refused "), f"current slot: {lines}")
        check(snapshot(os.path.join(d, "A")) == a_before, "slot A changed on refusal")

        # A wrong hash changes nothing (B stays complete and intact).
        b_before = snapshot(os.path.join(d, "B"))
        bad = hashlib.sha256(b"y").hexdigest()
        _, lines = inst("service", "--image", tar, "--sha256", bad, "--app-dir", d,
                        "--slot", "B", rc=1)
        check(last(lines) == f"error hash expected {bad} got {good}", f"bad hash: {lines}")
        check(snapshot(os.path.join(d, "B")) == b_before, "B changed on a hash mismatch")
        inst("service", "--image", tar, "--sha256", good, "--app-dir", d, "--slot", "C", rc=2)
        no_temp_files(d)


def raw_tar_bad_size(path):
    """One file whose header claims far more bytes than the archive has
    (checksum fixed up, so only the size is wrong)."""
    make_tar(path, [("bin/a", b"abc", F, 0o644, "")])
    b = bytearray(read(path))
    b[124:136] = b"%011o\0" % (1 << 30)
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(b[:512])
    write(path, bytes(b))
    return sha(path)


def test_service_refusals():
    need_binaries()
    with Harness("ota-service-evil") as h:
        d = app_dir(h)
        outside = f"/tmp/edge-ota-evil-{os.getpid()}"
        ok = ("ok.txt", b"fine", F, 0o644, "")  # extracted before the bad entry
        cases = {
            "dotdot": [ok, ("../escaped", b"evil", F, 0o644, "")],
            "dotdot-deep": [ok, ("bin/../../escaped", b"evil", F, 0o644, "")],
            "absolute": [ok, (outside, b"evil", F, 0o644, "")],
            "symlink": [ok, ("bin", None, D, 0o755, ""), ("bin/sh", None, tarfile.SYMTYPE, 0o777,
                                                          "/bin/sh")],
            "symlink-then-file": [("l", None, tarfile.SYMTYPE, 0o777, ".."),
                                  ("l/escaped", b"evil", F, 0o644, "")],
            "hardlink": [ok, ("h", None, tarfile.LNKTYPE, 0o644, "ok.txt")],
            "chardev": [ok, ("dev/null", None, tarfile.CHRTYPE, 0o666, "")],
            "blockdev": [ok, ("sda", None, tarfile.BLKTYPE, 0o660, "")],
            "fifo": [ok, ("p", None, tarfile.FIFOTYPE, 0o644, "")],
            "marker": [ok, (".complete", b"x", F, 0o644, "")],
            "marker-dir": [ok, (".complete/x", b"x", F, 0o644, "")],
            "name-256": [ok, ("p" * 155 + "/" + "n" * 100, b"x", F, 0o644, "")],
        }
        tars = {}
        for name, entries in cases.items():
            p = os.path.join(h.dir, f"{name}.tar")
            tars[name] = (p, make_tar(p, entries))
        p = os.path.join(h.dir, "gnu-long.tar")
        tars["gnu-long"] = (p, make_tar(p, [ok, ("n" * 300, b"long", F, 0o644, "")],
                                        tarfile.GNU_FORMAT))
        p = os.path.join(h.dir, "pax.tar")
        tars["pax"] = (p, make_tar(p, [ok, ("x" * 200, b"pax", F, 0o644, "")],
                                   tarfile.PAX_FORMAT))
        p = os.path.join(h.dir, "size.tar")
        tars["size-beyond"] = (p, raw_tar_bad_size(p))
        p = os.path.join(h.dir, "many.tar")
        tars["4097-entries"] = (p, make_tar(p, [(f"d{i}", None, D, 0o755, "")
                                                for i in range(4097)]))
        p = os.path.join(h.dir, "cut.tar")
        app_tar(p)
        b = read(p)
        write(p, b[:1024 + 512 + 100])  # ends inside a file's data
        tars["truncated"] = (p, sha(p))
        p = os.path.join(h.dir, "junk.tar")
        write(p, os.urandom(4096))
        tars["not-tar"] = (p, sha(p))

        ota = os.path.dirname(d)
        for name, (tar, digest) in sorted(tars.items()):
            before = snapshot(h.dir, skip={os.path.relpath(os.path.join(d, "B"), h.dir)})
            _, lines = inst("service", "--image", tar, "--sha256", digest, "--app-dir", d,
                            "--slot", "B", rc=1)
            check(last(lines).startswith("error refused "), f"{name}: {lines}")
            print(f"  {name}: {last(lines)}", flush=True)
            after = snapshot(h.dir, skip={os.path.relpath(os.path.join(d, "B"), h.dir)})
            check(after == before, f"{name}: something outside D/B changed: "
                  f"{sorted(set(after) ^ set(before))}")
            check(not os.path.exists(outside), f"{name}: wrote {outside}")
            check(not os.path.exists(os.path.join(d, "escaped")) and
                  not os.path.exists(os.path.join(ota, "escaped")), f"{name}: escaped")
            check(os.listdir(os.path.join(d, "B")) == [], f"{name}: D/B not empty: "
                  f"{os.listdir(os.path.join(d, 'B'))}")
            check(os.readlink(os.path.join(d, "current")) == "A", f"{name}: current moved")
        # Exactly 4096 entries and a name of 255 bytes are still fine.
        p = os.path.join(h.dir, "4096.tar")
        long_name = "p" * 154 + "/" + "n" * 100
        digest = make_tar(p, [(f"d{i}", None, D, 0o755, "") for i in range(4094)] +
                          [("VERSION", b"3\n", F, 0o644, ""), (long_name, b"long", F, 0o644, "")])
        inst("service", "--image", p, "--sha256", digest, "--app-dir", d, "--slot", "B", rc=0)
        check(len(os.listdir(os.path.join(d, "B"))) == 4097, "4094 dirs, VERSION, p..., .complete")
        check(read(os.path.join(d, "B", long_name)) == b"long", "the 255-byte name")


# ---------------------------------------------------------------- boot-service

def test_boot_service():
    need_binaries()
    with Harness("ota-boot-service") as h:
        d = app_dir(h)
        cur = os.path.join(d, "current")
        _, lines = inst("boot-service", "booted", "--app-dir", d, rc=0)
        check(lines == ["slot A", "version 1.0.0", "done"], f"booted: {lines}")

        os.makedirs(os.path.join(d, "B"))
        _, lines = inst("boot-service", "trial", "B", "--app-dir", d, rc=1)
        check(last(lines).startswith("error refused "), f"trial of an empty slot: {lines}")
        check(os.readlink(cur) == "A" and not os.path.exists(os.path.join(d, "trial.json")),
              "a refused trial changed something")

        tar = os.path.join(h.dir, "app.tar")
        good = app_tar(tar)
        inst("service", "--image", tar, "--sha256", good, "--app-dir", d, "--slot", "B", rc=0)
        _, lines = inst("boot-service", "trial", "--slot", "B", "--app-dir", d,
                        "--max-starts", "2", rc=0)
        check(lines == ["slot B", "done"], f"trial: {lines}")
        check(json.loads(read(os.path.join(d, "trial.json"))) ==
              {"slot": "B", "from": "A", "starts": 0, "max": 2}, "trial.json")
        check(os.readlink(cur) == "B", "current did not move to B")
        _, lines = inst("boot-service", "booted", "--app-dir", d, rc=0)
        check(lines == ["slot B", "version 2.0.0", "done"], f"booted B: {lines}")

        _, lines = inst("boot-service", "commit", "A", "--app-dir", d, rc=1)
        check(last(lines).startswith("error refused "), f"commit of A: {lines}")
        check(os.path.exists(os.path.join(d, "trial.json")), "trial ended by a refused commit")
        _, lines = inst("boot-service", "commit", "B", "--app-dir", d, rc=0)
        check(not os.path.exists(os.path.join(d, "trial.json")) and os.readlink(cur) == "B",
              "commit of B")

        _, lines = inst("boot-service", "mark-bad", "B", "--app-dir", d, rc=1)
        check(last(lines).startswith("error refused ") and
              os.path.exists(os.path.join(d, "B", ".complete")), f"mark-bad committed: {lines}")
        inst("boot-service", "mark-bad", "A", "--app-dir", d, rc=0)
        check(not os.path.exists(os.path.join(d, "A", ".complete")), "A/.complete stayed")
        _, lines = inst("boot-service", "trial", "A", "--app-dir", d, rc=1)
        check(last(lines).startswith("error refused "), f"trial of a bad slot: {lines}")

        # A failed trial marked bad by the agent: current comes back first.
        inst("service", "--image", tar, "--sha256", good, "--app-dir", d, "--slot", "A", rc=0)
        inst("boot-service", "trial", "A", "--app-dir", d, rc=0)
        check(os.readlink(cur) == "A", "trial of A")
        inst("boot-service", "mark-bad", "A", "--app-dir", d, rc=0)
        check(os.readlink(cur) == "B", "mark-bad during the trial left current on A")
        check(not os.path.exists(os.path.join(d, "trial.json")), "trial.json stayed")
        check(not os.path.exists(os.path.join(d, "A", ".complete")), "A/.complete stayed")
        inst("boot-service", "frobnicate", "A", "--app-dir", d, rc=2)
        no_temp_files(d)


# ---------------------------------------------------------------- edge-ota-boot

def test_edge_ota_boot_rollback():
    need_binaries()
    with Harness("ota-boot") as h:
        d = app_dir(h)
        cur = os.path.join(d, "current")
        tar = os.path.join(h.dir, "app.tar")
        good = app_tar(tar)
        inst("service", "--image", tar, "--sha256", good, "--app-dir", d, "--slot", "B", rc=0)
        inst("boot-service", "trial", "B", "--app-dir", d, "--max-starts", "3", rc=0)
        for i in range(1, 4):
            rc, err = boot(d)
            check(rc == 0, f"start {i}: exit {rc}: {err}")
            check(read(os.path.join(d, "boot-count")) == b"%d\n" % i, f"boot-count at {i}")
            t = json.loads(read(os.path.join(d, "trial.json")))
            check(t["starts"] == i and t["slot"] == "B", f"start {i}: {t}")
            check(os.readlink(cur) == "B", f"start {i}: current moved early")
        rc, err = boot(d)
        check(rc == 0 and "current is A again" in err, f"4th start: {rc} {err}")
        check(os.readlink(cur) == "A", "not swapped back after max starts")
        check(not os.path.exists(os.path.join(d, "trial.json")), "trial.json stayed")
        check(json.loads(read(os.path.join(d, "rolled-back.json"))) ==
              {"slot": "B", "from": "A", "starts": 4}, "rolled-back.json")
        rc, _ = boot(d)
        check(rc == 0 and read(os.path.join(d, "boot-count")) == b"5\n" and
              os.readlink(cur) == "A", "a plain start after the rollback")

        # A commit ends the counting.
        inst("boot-service", "trial", "B", "--app-dir", d, "--max-starts", "1", rc=0)
        boot(d)
        inst("boot-service", "commit", "B", "--app-dir", d, rc=0)
        for _ in range(3):
            boot(d)
        check(os.readlink(cur) == "B", "committed slot swapped away")

        # A trial record whose swap never happened (crash inside `trial`).
        with open(os.path.join(d, "trial.json"), "w") as f:
            f.write('{"slot":"A","from":"B","starts":0,"max":3}\n')
        os.unlink(os.path.join(d, "rolled-back.json"))
        rc, err = boot(d)
        check(rc == 0 and not os.path.exists(os.path.join(d, "trial.json")) and
              not os.path.exists(os.path.join(d, "rolled-back.json")) and
              os.readlink(cur) == "B", f"stale trial: {err}")
        no_temp_files(d)


def test_edge_ota_boot_edges():
    need_binaries()
    with Harness("ota-boot-edges") as h:
        missing = os.path.join(h.dir, "nope")
        rc, err = boot(missing)
        check(rc == 0 and "nothing to do" in err and not os.path.exists(missing),
              f"missing app dir: {rc} {err}")
        f = os.path.join(h.dir, "file")
        write(f, b"x")
        rc, err = boot(f)
        check(rc == 0 and read(f) == b"x", f"a file as app dir: {rc} {err}")

        empty = os.path.join(h.dir, "empty")
        os.makedirs(empty)
        rc, err = boot(empty)
        check(rc == 0 and read(os.path.join(empty, "boot-count")) == b"1\n" and
              not os.path.lexists(os.path.join(empty, "current")), f"empty app dir: {err}")

        fresh = os.path.join(h.dir, "fresh")
        write(os.path.join(fresh, "A", "bin", "edge-agent"), b"x", 0o755)
        rc, err = boot(fresh)
        check(rc == 0 and os.readlink(os.path.join(fresh, "current")) == "A",
              f"current -> A not created: {err}")
        write(os.path.join(fresh, "trial.json"), b"garbage")
        rc, err = boot(fresh)
        check(rc == 0 and "unreadable" in err, f"garbage trial.json: {rc} {err}")
        check(read(os.path.join(fresh, "boot-count")) == b"2\n", "boot-count after garbage")

        for args in ([], ["--app-dir"], ["--app-dir", fresh, "--max-starts", "0"],
                     ["--bogus"]):
            p = subprocess.run([BOOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            check(p.returncode == 2, f"edge-ota-boot {args}: exit {p.returncode}")


# ---------------------------------------------------------------- boot-tryboot

def test_boot_tryboot():
    need_binaries()
    with Harness("ota-tryboot") as h:
        fw = os.path.join(h.dir, "firmware")
        os.makedirs(fw)
        dt = os.path.join(h.dir, "partition")
        ab = os.path.join(fw, "autoboot.txt")

        def booted_on(n):
            write(dt, n.to_bytes(4, "big"))

        def tb(*args, rc=None):
            return inst("boot-tryboot", *args, "--boot-dir", fw, "--dt-partition", dt, rc=rc)

        def lines_of():
            return read(ab).decode().splitlines()

        booted_on(2)
        check(tb("booted", rc=0)[1] == ["slot A", "done"], "booted on 2")
        booted_on(3)
        check(tb("booted", rc=0)[1] == ["slot B", "done"], "booted on 3")
        booted_on(7)
        check(last(tb("booted", rc=1)[1]).startswith("error io "), "booted on 7")
        write(dt, b"\x00\x02")
        check(last(tb("booted", rc=1)[1]).startswith("error io "), "a short cell")
        os.unlink(dt)
        check(last(tb("booted", rc=1)[1]).startswith("error io "), "no device tree")

        booted_on(2)
        _, lines = tb("trial", "A", rc=1)
        check(last(lines).startswith("error refused ") and not os.path.exists(ab),
              f"trial of the running slot: {lines}")
        _, lines = tb("trial", "B", rc=0)
        check(lines == ["slot B", "done"], f"trial B: {lines}")
        check(lines_of() == ["[all]", "tryboot_a_b=1", "boot_partition=2", "[tryboot]",
                             "boot_partition=3"], f"after trial B: {lines_of()}")
        _, lines = tb("commit", "B", rc=1)  # still running A: B never booted
        check(last(lines).startswith("error refused ") and lines_of()[2] == "boot_partition=2",
              f"commit before booting B: {lines}")

        booted_on(3)  # reboot "0 tryboot": the firmware took [tryboot]
        tb("commit", "B", rc=0)
        check(lines_of() == ["[all]", "tryboot_a_b=1", "boot_partition=3"],
              f"after commit B: {lines_of()}")
        _, lines = tb("mark-bad", "B", rc=1)
        check(last(lines).startswith("error refused "), f"mark-bad of the default: {lines}")

        tb("trial", "A", rc=0)
        check(lines_of() == ["[all]", "tryboot_a_b=1", "boot_partition=3", "[tryboot]",
                             "boot_partition=2"], f"after trial A: {lines_of()}")
        tb("mark-bad", "A", rc=0)
        check(lines_of() == ["[all]", "tryboot_a_b=1", "boot_partition=3"],
              f"after mark-bad A: {lines_of()}")

        # A hand-written file with comments, blank lines and another filter.
        write(ab, b"# gateway\n[all]\r\ntryboot_a_b=1\n\nboot_partition=2\n[pi5]\n"
                  b"boot_partition=9\n[tryboot]\n  boot_partition = 3\nboot_partition=3\n")
        booted_on(2)
        tb("mark-bad", "B", rc=0)
        check(lines_of() == ["[all]", "tryboot_a_b=1", "boot_partition=2"],
              f"hand-written, mark-bad B: {lines_of()}")
        _, lines = tb("mark-bad", "A", rc=1)
        check(last(lines).startswith("error refused "), f"mark-bad A (default): {lines}")

        # Other partition numbers.
        booted_on(5)
        _, lines = inst("boot-tryboot", "trial", "B", "--boot-dir", fw, "--dt-partition", dt,
                        "--part-a", "5", "--part-b", "6", rc=0)
        check(lines_of() == ["[all]", "tryboot_a_b=1", "boot_partition=5", "[tryboot]",
                             "boot_partition=6"], f"parts 5/6: {lines_of()}")
        check(len(read(ab)) <= 512, "autoboot.txt over 512 bytes")
        inst("boot-tryboot", "trial", "B", "--boot-dir", fw, "--part-a", "4", "--part-b", "4",
             rc=2)
        no_temp_files(fw)


if __name__ == "__main__":
    edgetest.main([test_verify, test_bundle_file_slot, test_bundle_refuses_running_path,
                   test_service_install, test_service_refusals, test_boot_service,
                   test_edge_ota_boot_rollback, test_edge_ota_boot_edges, test_boot_tryboot])
