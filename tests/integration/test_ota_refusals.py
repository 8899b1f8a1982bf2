"""Every check of shared/DESIGN.md 5.4 that comes before a byte is downloaded,
and the failures found while downloading: each answers `rejected` (or ends
`failed`) with a clear reason, writes nothing to the slots and leaves the
running version as it was.

Real peers: mosquitto (mutual TLS), nginx over HTTPS, edge-ota-sign,
edge-ota-fetch; a small tmpfs for the disk-full case.
"""
# ctest-timeout: 240
import base64
import json
import os
import subprocess
import time

import cmdlib
import edgetest as et
import otatest as ot

DEV = cmdlib.DEVICE


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Rig:
    def __init__(self, h, **ota_over):
        h.make_pki()
        self.h = h
        self.broker = h.start_broker()
        self.sub = h.subscribe(self.broker, [f"devices/{DEV}/ota", f"devices/{DEV}/status"])
        self.req = cmdlib.Requester(h, self.broker)
        self.server = ot.ImageServer(h, extra="limit_rate 2m;")
        self.vendor = ot.Vendor(h)
        self.cfg = ot.ota_config(h, self.broker, self.vendor, self.server, **ota_over)
        self.sa = ot.ServiceAgent(h, self.cfg)
        self.agent = self.sa.start()
        self.agent.wait_log("subscribed commands/", timeout=20)
        self.image = self.server.publish("app.tar", os.urandom(3 << 20))
        self.n = 0

    def manifest(self, version="0.2.0", url=None, **kw):
        return self.vendor.manifest(version, url or self.server.url("app.tar"), self.image, **kw)

    def install(self, manifest, **extra):
        self.n += 1
        return self.req.call("ota", {"op": "install", "manifest": manifest, **extra},
                             cid=f"r-{self.n}", timeout=20)

    def refused(self, manifest, want, **extra):
        before = len(self.server.requests())
        ans = self.install(manifest, **extra)
        et.check(ans["status"] == "rejected", f"{want}: not rejected: {ans}")
        et.check(want in ans["message"], f"reason {ans['message']!r} lacks {want!r}")
        time.sleep(0.3)
        et.check(len(self.server.requests()) == before, f"{want}: something was downloaded")
        et.check(self.sa.current() == "A", f"{want}: current moved")
        et.check(not os.path.exists(os.path.join(self.sa.app, "B")),
                 f"{want}: slot B was written")
        return ans


def test_refusals_before_download():
    with et.Harness("ota_refuse") as h:
        rig = Rig(h)
        good = rig.manifest()
        hdr, payload, sig = good.split(".")
        # another vendor's key
        other = ot.Vendor(h, "other")
        rig.refused(other.manifest("0.2.0", rig.server.url("app.tar"), rig.image),
                    "does not verify")
        # alg none (no signature at all)
        none = f"{b64u(json.dumps({'alg': 'none'}).encode())}.{payload}."
        rig.refused(none, "alg")
        # HS256 with the public key as the secret (the classic confusion)
        hs = f"{b64u(json.dumps({'alg': 'HS256'}).encode())}.{payload}.{sig}"
        rig.refused(hs, "alg")
        # a tampered payload under a valid signature
        p = json.loads(b64u_dec(payload))
        p["url"] = rig.server.url("evil.tar")
        rig.refused(f"{hdr}.{b64u(json.dumps(p).encode())}.{sig}", "does not verify")
        # wrong board
        rig.refused(rig.manifest(boards=("rpi4",)), "this board")
        # downgrade, and allowed downgrade still below nothing
        rig.refused(rig.manifest(version="0.0.9"), "downgrade")
        # running below minVersion
        rig.refused(rig.manifest(version="0.6.0", min_version="0.5.0"), "minVersion")
        # installer not enabled here
        rig.refused(rig.manifest(installer="rauc"), "not enabled")
        # http without ota.allow_http
        rig.refused(rig.manifest(url=rig.server.url("app.tar", http=True)), "https")
        # no manifest, bad op
        ans = rig.req.call("ota", {"op": "install"}, cid="r-nomanifest")
        et.check(ans["status"] == "rejected" and "manifest" in ans["message"], f"{ans}")
        ans = rig.req.call("ota", {"op": "explode"}, cid="r-badop")
        et.check(ans["status"] == "rejected" and "explode" in ans["message"], f"{ans}")
        # cancel with nothing running
        ans = rig.req.call("ota", {"op": "cancel"}, cid="r-cancel0")
        et.check(ans["status"] == "rejected" and "no update" in ans["message"], f"{ans}")
        # status says idle and the running version is unchanged
        ans = rig.req.call("ota", {"op": "status"}, cid="r-status")
        et.check(ans["status"] == "ok" and ans["data"]["firmware"] == "0.1.0", f"{ans}")
        et.check(rig.agent.alive(), "the agent died on a refusal")


def test_busy_and_hash_mismatch():
    with et.Harness("ota_busy") as h:
        rig = Rig(h)
        m = rig.manifest()
        ans = rig.install(m)
        et.check(ans["status"] == "ok", f"{ans}")
        # the same manifest again: its progress, not a second download
        ans = rig.install(m)
        et.check(ans["status"] == "ok" and "already in progress" in ans["message"], f"{ans}")
        # another one while busy
        other = rig.manifest(version="0.2.1")
        ans = rig.install(other)
        et.check(ans["status"] == "rejected" and "another update" in ans["message"], f"{ans}")
        # cancel stops the download, removes the part file
        ans = rig.req.call("ota", {"op": "cancel"}, cid="c-1")
        et.check(ans["status"] == "ok", f"cancel: {ans}")
        st = rig.sa.state()
        et.check(st["state"] == "failed" and "cancel" in st["reason"], f"{st}")
        parts = [f for f in os.listdir(rig.sa.ota_dir) if f.endswith(".part")]
        et.check(not parts, f"part file left after cancel: {parts}")
        # an image that does not match the signed hash: failed after the download
        bad = rig.server.publish("tampered.tar", os.urandom(1 << 20))
        sha_other = ot.sha256_file(rig.image)
        cmd = [os.path.join(et.BIN, "edge-ota-sign"), "sign", "--key", rig.vendor.key,
               "--version", "0.2.2", "--url", rig.server.url("tampered.tar"),
               "--size", str(os.path.getsize(bad)), "--sha256", sha_other,
               "--installer", "bundle", "--board", "simfast"]
        m2 = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        ans = rig.install(m2)
        et.check(ans["status"] == "ok", f"{ans}")
        end = time.time() + 30
        st = {}
        while time.time() < end:
            st = rig.sa.state()
            if st.get("state") == "failed":
                break
            time.sleep(0.2)
        et.check(st.get("state") == "failed" and "hash" in st.get("reason", ""),
                 f"tampered image: {st}")
        et.check(rig.sa.current() == "A" and not os.path.exists(os.path.join(rig.sa.app, "B")),
                 "a tampered image reached a slot")
        # a truncated image on the server (shorter than the signed size)
        with open(rig.image, "rb") as f:
            whole = f.read()
        rig.server.publish("truncated.tar", whole[: len(whole) // 2])
        cmd = [os.path.join(et.BIN, "edge-ota-sign"), "sign", "--key", rig.vendor.key,
               "--version", "0.2.3", "--url", rig.server.url("truncated.tar"),
               "--size", str(len(whole)), "--sha256", sha_other,
               "--installer", "bundle", "--board", "simfast"]
        m3 = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        ans = rig.install(m3)
        et.check(ans["status"] == "ok", f"{ans}")
        end = time.time() + 30
        while time.time() < end:
            st = rig.sa.state()
            if st.get("state") == "failed" and st.get("otaId") == f"r-{rig.n}":
                break
            time.sleep(0.2)
        et.check(st.get("state") == "failed" and "size" in st.get("reason", ""),
                 f"truncated image: {st}")
        et.check(rig.sa.current() == "A" and not os.path.exists(os.path.join(rig.sa.app, "B")),
                 "a truncated image reached a slot")
        ans = rig.req.call("ota", {"op": "status"}, cid="r-st")
        et.check(ans["data"]["firmware"] == "0.1.0", f"running version changed: {ans}")


def test_disk_full_refused_before_download():
    with et.Harness("ota_diskfull") as h:
        mnt = h.path("small")
        os.makedirs(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise et.TestFailure(f"CANNOT RUN: mounting a tmpfs needs root: {r.stderr.strip()}")
        try:
            rig = Rig(h, dir=os.path.join(mnt, "ota"), reserve_bytes=0)
            ans = rig.install(rig.manifest())  # 3 MiB into 2 MiB
            et.check(ans["status"] == "rejected" and "disk full" in ans["message"], f"{ans}")
            et.check(not rig.server.requests(), "downloaded despite the full disk")
            rig.agent.stop()
        finally:
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    et.main([test_refusals_before_download, test_busy_and_hash_mismatch,
             test_disk_full_refused_before_download])
