"""edge-ota-install swupdate against the real SWUpdate (Debian's 2022.12).

Debian builds SWUpdate with CMS signatures (CONFIG_SIGALG_CMS): -k names a
CA certificate and sw-description.sig is a DER CMS signature of
sw-description by a certificate that CA issued. It is also built with
hardware compatibility, so sw-description carries hardware-compatibility
and the test passes -H (--hwrevision) instead of writing /etc/hwrevision.

The test makes its own CA (openssl), signs a sw-description with one `raw`
image whose device is a plain file of the test (the raw handler opens the
device O_RDWR without O_CREAT: a regular file that exists works), packs the
.swu as cpio newc (sw-description first, then its signature, then the
image) and checks:
  * a good .swu: the file holds the image, the rest of it is untouched,
    the lines are progress 1..3 / done, the work directory is gone;
  * refusals, each with the target unchanged: signed by another CA, a
    selection the .swu does not have, another hardware revision, an image
    changed after signing -> "error refused <SWUpdate's message>";
  * the device's own faults -> "error internal": a handler that cannot
    write (its device missing), no hardware revision known on the device
    (SWUpdate then calls every .swu incompatible).

Debian's SWUpdate binds its IPC sockets at the compiled-in /tmp/sockinstctrl
and /tmp/swupdateprog (unlinking what is there) even for `-i`; so that a
running SWUpdate daemon or a parallel test is not disturbed, the test runs
it through --swupdate = a wrapper that gives it a private /tmp (its own
mount namespace, unshare). The test's files therefore live in /var/tmp.
"""
# ctest-timeout: 90
import hashlib
import os
import shutil
import subprocess
import tempfile

import edgetest
from edgetest import Harness, check

INSTALL = os.path.join(edgetest.BIN, "edge-ota-install")
HW = "edge-sim:1.0"
TARGET_SIZE = 1 << 20
IMAGE_SIZE = 300_000


def cannot_run(why):
    raise edgetest.TestFailure("CANNOT RUN: " + why)


def preflight():
    if not os.access(INSTALL, os.X_OK):
        cannot_run(f"{INSTALL} is not built (cmake --build build --target edge-ota-install)")
    for tool in ("swupdate", "openssl", "unshare"):
        if not shutil.which(tool):
            cannot_run(f"{tool} is not installed (scripts/install-deps.sh)")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        cannot_run("unshare --mount failed (needs root / CAP_SYS_ADMIN): "
                   + r.stdout.decode(errors="replace").strip())


def openssl(*args):
    edgetest.run(["openssl", *args])


def make_ca(d, name):
    """A CA and a signer certificate it issued (EC P-256)."""
    cnf = os.path.join(d, "x509.cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n"
                "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
                "subjectKeyIdentifier=hash\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=emailProtection\n"
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


def cpio_newc(members):
    """cpio "newc" archive of [(name, bytes)] with its TRAILER!!!."""
    out = bytearray()

    def pad4():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, data) in enumerate(members + [("TRAILER!!!", b"")], start=1):
        nb = name.encode() + b"\0"
        mode = 0o100644 if name != "TRAILER!!!" else 0
        fields = [ino if mode else 0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out.extend(b"070701" + b"".join(b"%08X" % v for v in fields))
        out.extend(nb)
        pad4()
        out.extend(data)
        pad4()
    out.extend(b"\0" * (-len(out) % 512))
    return bytes(out)


def sw_description(device, image, hw_rev="1.0", sel=("stable", "main")):
    return f"""software =
{{
	version = "1.2.3";
	hardware-compatibility = [ "{hw_rev}" ];
	{sel[0]} = {{
		{sel[1]} = {{
			images: (
				{{
					filename = "rootfs.img";
					device = "{device}";
					type = "raw";
					sha256 = "{hashlib.sha256(image).hexdigest()}";
				}}
			);
		}};
	}};
}};
""".encode()


def make_swu(d, name, desc, image, signer, key):
    """Signs desc (CMS, DER, detached) and packs the .swu; returns its path."""
    desc_path = os.path.join(d, f"{name}.sw-description")
    sig_path = desc_path + ".sig"
    with open(desc_path, "wb") as f:
        f.write(desc)
    openssl("cms", "-sign", "-in", desc_path, "-out", sig_path, "-signer", signer,
            "-inkey", key, "-outform", "DER", "-nosmimecap", "-binary")
    with open(sig_path, "rb") as f:
        sig = f.read()
    swu = os.path.join(d, f"{name}.swu")
    with open(swu, "wb") as f:
        f.write(cpio_newc([("sw-description", desc), ("sw-description.sig", sig),
                           ("rootfs.img", image)]))
    return swu


class Setup:
    def __init__(self, h):
        self.d = h.dir
        self.ca, self.signer, self.key = make_ca(self.d, "vendor")
        _, self.other_signer, self.other_key = make_ca(self.d, "other")
        self.image = os.urandom(IMAGE_SIZE)
        self.target = os.path.join(self.d, "slot-b.img")
        self.wrapper = os.path.join(self.d, "swupdate-private-tmp")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\n# SWUpdate with a private /tmp for its compiled-in IPC sockets\n"
                    "exec unshare --mount --propagation private sh -c "
                    "'mount -t tmpfs edge-swu /tmp && "
                    # a device without a hardware revision, whatever this machine has
                    "{ [ -z \"$EDGE_TEST_NO_HWREV\" ] || [ ! -e /etc/hwrevision ] || "
                    "mount --bind /dev/null /etc/hwrevision; } && "
                    "exec swupdate \"$@\"' swupdate \"$@\"\n")
        os.chmod(self.wrapper, 0o755)
        self.reset_target()

    def reset_target(self):
        # a recognisable old slot: every byte 0x5a
        with open(self.target, "wb") as f:
            f.write(b"\x5a" * TARGET_SIZE)

    def target_bytes(self):
        with open(self.target, "rb") as f:
            return f.read()

    def swu(self, name, signer=None, key=None, image=None, desc=None, device=None):
        desc = desc or sw_description(device or self.target, self.image)
        return make_swu(self.d, name, desc, self.image if image is None else image,
                        signer or self.signer, key or self.key)

    def install(self, swu, selection="stable,main", hw=HW):
        cmd = [INSTALL, "swupdate", "--image", swu, "--key", self.ca, "--selection", selection,
               "--swupdate", self.wrapper]
        env = dict(os.environ)
        if hw:
            cmd += ["--hwrevision", hw]
        else:
            env["EDGE_TEST_NO_HWREV"] = "1"
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           env=env)
        lines = r.stdout.decode(errors="replace").splitlines()
        with open(os.path.join(self.d, "install.log"), "a") as f:
            f.write(f"$ {' '.join(cmd)}\n" + "\n".join(lines) + f"\n[exit {r.returncode}]\n"
                    + r.stderr.decode(errors="replace"))
        return r.returncode, lines


def last_error(lines):
    errs = [l for l in lines if l.startswith("error ")]
    return errs[-1] if errs else None


def harness(name):
    # /var/tmp, not /tmp: the wrapper covers /tmp with its own tmpfs
    tempfile.tempdir = "/var/tmp"
    return Harness(name)


def test_install_writes_the_image():
    preflight()
    with harness("ota-swu-ok") as h:
        s = Setup(h)
        rc, lines = s.install(s.swu("good"))
        check(rc == 0, f"good .swu: exit {rc}, lines {lines}")
        check(lines[-1] == "done", f"last line is not done: {lines}")
        progress = [l for l in lines if l.startswith("progress ")]
        check(progress == ["progress 1 3", "progress 2 3", "progress 3 3"],
              f"progress lines {progress}")
        data = s.target_bytes()
        check(data[:IMAGE_SIZE] == s.image, "the target file does not hold the image bytes")
        check(data[IMAGE_SIZE:] == b"\x5a" * (TARGET_SIZE - IMAGE_SIZE),
              "bytes past the image changed")
        left = [f for f in os.listdir(s.d) if f.startswith(".swupdate-")]
        check(not left, f"SWUpdate's work directory was left behind: {left}")


def refused(s, swu, expect, **kw):
    s.reset_target()
    before = s.target_bytes()
    rc, lines = s.install(swu, **kw)
    err = last_error(lines)
    check(rc == 1, f"{os.path.basename(swu)} {kw}: exit {rc}, expected 1; lines {lines}")
    check(err is not None and err.startswith("error refused ") and expect in err,
          f"{os.path.basename(swu)} {kw}: expected 'error refused ...{expect}...', got {err!r}")
    check("done" not in lines, f"done after a refusal: {lines}")
    check(s.target_bytes() == before, f"{os.path.basename(swu)} {kw}: the target changed")


def test_refusals_leave_the_target():
    preflight()
    with harness("ota-swu-refuse") as h:
        s = Setup(h)
        good = s.swu("good")
        refused(s, s.swu("other-ca", signer=s.other_signer, key=s.other_key),
                "Authentication of all signatures failed")
        refused(s, good, "Found nothing to install", selection="stable,other")
        refused(s, good, "SW not compatible with hardware", hw="edge-sim:2.0")
        # sw-description (and its hash of the image) signed, then the image changed
        tampered = bytearray(s.image)
        tampered[5000] ^= 0xFF
        refused(s, s.swu("tampered", image=bytes(tampered)), "HASH mismatch")


def test_device_faults_are_internal():
    """A .swu that passes every check but whose handler cannot open its device,
    or a device without a hardware revision: the device's problem, not a
    refusal of the image."""
    preflight()
    with harness("ota-swu-nodev") as h:
        s = Setup(h)
        missing = os.path.join(s.d, "no-such-dir", "slot-b.img")
        rc, lines = s.install(s.swu("nodev", device=missing))
        err = last_error(lines)
        check(rc == 1 and err is not None and err.startswith("error internal "),
              f"missing device: exit {rc}, last error {err!r}")
        check("cannot be opened" in err, f"the handler's reason is not in {err!r}")
        check("progress 2 3" in lines, f"no 'progress 2 3' (checks passed) in {lines}")

        # a device that knows no hardware revision fails every .swu: its fault
        s.reset_target()
        rc, lines = s.install(s.swu("good"), hw=None)
        err = last_error(lines)
        check(rc == 1 and err is not None and err.startswith("error internal ")
              and "hardware revision" in err, f"no hardware revision: exit {rc}, {err!r}")
        check(s.target_bytes() == b"\x5a" * TARGET_SIZE, "no hardware revision: target changed")


if __name__ == "__main__":
    edgetest.main([test_install_writes_the_image, test_refusals_leave_the_target,
                   test_device_faults_are_internal])
