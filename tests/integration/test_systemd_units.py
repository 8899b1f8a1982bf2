"""The shipped systemd units (deploy/systemd/): valid for systemd-analyze
verify, an exposure of 2.0 or lower in `systemd-analyze security
--offline=yes` each, and the hardening does not take away what the agent
must do: reboot for OTA and the reboot command, the watchdog device, I2C,
GPIO and UART devices, the PKCS#11 token's device and store."""
# ctest-timeout: 60
import os
import re
import shutil
import subprocess
import tempfile

import edgetest as et
from edgetest import BIN, check

UNITS = os.path.join(os.environ.get("EDGE_SOURCE_DIR", os.path.join(os.path.dirname(__file__),
                                                                     "..", "..")),
                     "deploy", "systemd")
MAX_EXPOSURE = 2.0


def analyze():
    tool = shutil.which("systemd-analyze")
    if not tool:
        raise AssertionError("CANNOT RUN: systemd-analyze is missing (Debian package systemd)")
    return tool


def unit_files():
    files = sorted(f for f in os.listdir(UNITS) if f.endswith(".service"))
    check(len(files) == 3, f"expected the three units, found {files}")
    return files


def test_exposure_at_most_2():
    tool = analyze()
    for f in unit_files():
        r = subprocess.run([tool, "security", "--offline=yes", os.path.join(UNITS, f)],
                           capture_output=True, text=True, timeout=30)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
        check(m, f"{f}: no exposure figure in: {r.stdout[-400:]} {r.stderr[-400:]}")
        level = float(m.group(1))
        print(f"  {f}: exposure {level}")
        check(level <= MAX_EXPOSURE, f"{f}: exposure {level} > {MAX_EXPOSURE}")


def test_units_verify():
    tool = analyze()
    with tempfile.TemporaryDirectory() as d:
        # the binaries as built, so verify can check ExecStart
        for f in unit_files():
            text = open(os.path.join(UNITS, f)).read().replace("/usr/bin/", BIN + "/")
            with open(os.path.join(d, f), "w") as out:
                out.write(text)
        r = subprocess.run([tool, "verify"] + [os.path.join(d, f) for f in unit_files()],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and not r.stderr.strip(), f"verify: {r.stdout}{r.stderr}")


def test_agent_keeps_what_it_needs():
    text = open(os.path.join(UNITS, "edge-agent.service")).read()
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]

    def values(key):
        return [line.split("=", 1)[1] for line in lines if line.startswith(key + "=")]

    check("CAP_SYS_BOOT" in values("CapabilityBoundingSet")[-1], "reboot capability gone")
    check("CAP_SYS_BOOT" in values("AmbientCapabilities")[-1], "ambient reboot capability gone")
    allowed = [v for v in values("SystemCallFilter") if not v.startswith("~")]
    denied = " ".join(v[1:] for v in values("SystemCallFilter") if v.startswith("~"))
    check(any("@reboot" in v for v in allowed), f"@reboot not allowed: {allowed}")
    check("@reboot" not in denied and "@privileged" not in denied,
          f"reboot() denied again by {denied}")
    devices = " ".join(values("DeviceAllow"))
    for dev in ("char-i2c", "char-gpiochip", "char-ttyS", "char-ttyAMA", "/dev/watchdog",
                "char-watchdog", "/dev/tpmrm0"):
        check(dev in devices, f"DeviceAllow lacks {dev}: {devices}")
    check(not values("PrivateDevices") or values("PrivateDevices")[-1] == "no",
          "PrivateDevices hides the board's devices")
    check(any("/var/lib/softhsm" in v for v in values("ReadWritePaths")),
          "SoftHSM2's token store is read-only for the agent")
    fams = values("RestrictAddressFamilies")[-1].split()
    check("AF_UNIX" in fams and "AF_INET" in fams, f"address families: {fams}")


if __name__ == "__main__":
    et.main([test_exposure_at_most_2, test_units_verify, test_agent_keeps_what_it_needs])
