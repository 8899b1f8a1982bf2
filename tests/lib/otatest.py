"""Shared pieces of the OTA integration tests: an image server (real nginx
over TLS with the test CA), the vendor key and signed manifests (the
project's edge-ota-sign), and an agent installed in service mode (its own
program files in {ota.dir}/app/{A,B} behind a `current` symlink, started the
way the systemd unit starts it: edge-ota-boot first, then
app/current/bin/edge-agent).
"""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time

import edgetest as et

HELPERS = ("edge-agent", "edge-ota-fetch", "edge-ota-install", "edge-ota-boot")


def reports(sub, device="sim-0001"):
    """The OTA reports (devices/{device}/ota) a test subscriber has seen, parsed."""
    out = []
    for m in sub.snapshot(f"devices/{device}/ota"):
        try:
            out.append(json.loads(m[1]))
        except ValueError:
            pass
    return out


def wait_report(sub, pred, timeout=60, what="report", device="sim-0001"):
    """The first OTA report that satisfies pred, waiting up to timeout s."""
    end = time.time() + timeout
    while time.time() < end:
        for r in reports(sub, device):
            if pred(r):
                return r
        time.sleep(0.1)
    seen = [(r.get("state"), r.get("result"), r.get("reason")) for r in reports(sub, device)]
    raise et.TestFailure(f"no OTA {what} within {timeout}s; reports: {seen}")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ImageServer:
    """nginx serving a directory over HTTPS (the test CA's server
    certificate) and plain HTTP, with an access log of each request's
    status, Range header and bytes sent."""

    def __init__(self, h, name="images", extra=""):
        self.h = h
        self.root = h.path(name)
        os.makedirs(self.root, exist_ok=True)
        self.dir = h.path(f"{name}-nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.port = et.free_port()
        self.http_port = et.free_port()
        self.access = os.path.join(self.dir, "access.log")
        self.errlog = os.path.join(self.dir, "error.log")
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.extra = extra
        self.proc = None
        self.start()

    def _write(self):
        cert, key = self.h.server_cert
        with open(self.conf, "w") as f:
            f.write(f"""daemon off;
user root;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.errlog} notice;
events {{ worker_connections 256; }}
http {{
  log_format ota '$status "$http_range" "$http_if_range" $body_bytes_sent $request_uri';
  access_log {self.access} ota;
  default_type application/octet-stream;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    listen 127.0.0.1:{self.http_port};
    ssl_certificate {cert};
    ssl_certificate_key {key};
    root {self.root};
    {self.extra}
  }}
}}
""")

    def start(self):
        self._write()
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-e",
                                      self.errlog], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        self.h.procs.append(self.proc)
        et.wait_port(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def url(self, name, http=False):
        if http:
            return f"http://127.0.0.1:{self.http_port}/{name}"
        return f"https://localhost:{self.port}/{name}"

    def requests(self, name=None):
        try:
            with open(self.access) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [ln for ln in lines if name is None or ln.endswith("/" + name)]

    def publish(self, name, data):
        p = os.path.join(self.root, name)
        with open(p, "wb") as f:
            f.write(data)
        return p


class Vendor:
    """The vendor's signing key and manifests, through edge-ota-sign."""

    def __init__(self, h, name="vendor"):
        self.h = h
        self.key = h.path(f"{name}.key")
        self.pub = h.path(f"{name}.pub")
        et.run([os.path.join(et.BIN, "edge-ota-sign"), "keygen", "--out-key", self.key,
                "--out-pub", self.pub])

    def manifest(self, version, url, image, boards=("simfast",), installer="bundle", **extra):
        cmd = [os.path.join(et.BIN, "edge-ota-sign"), "sign", "--key", self.key,
               "--version", version, "--url", url, "--image", image, "--installer", installer]
        for b in boards:
            cmd += ["--board", b]
        if extra.get("min_version"):
            cmd += ["--min-version", extra["min_version"]]
        if extra.get("allow_downgrade"):
            cmd += ["--allow-downgrade"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise et.TestFailure(f"edge-ota-sign sign failed: {r.stderr.strip()}")
        return r.stdout.strip()


def app_tarball(version, crash=False):
    """The new build as the service installer takes it: an uncompressed
    ustar of bin/ (this build's binaries) and VERSION. crash=True makes a
    build whose edge-agent exits 1 at once (a broken release)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name in HELPERS:
            src = os.path.join(et.BIN, name)
            if crash and name == "edge-agent":
                data = b"#!/bin/sh\necho 'broken build: exiting' >&2\nexit 1\n"
                ti = tarfile.TarInfo("bin/edge-agent")
                ti.size = len(data)
                ti.mode = 0o755
                t.addfile(ti, io.BytesIO(data))
                continue
            t.add(src, arcname=f"bin/{name}")
        data = f"{version}\n".encode()
        ti = tarfile.TarInfo("VERSION")
        ti.size = len(data)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class ServiceAgent:
    """An agent installed in service mode under state_dir/ota/app."""

    def __init__(self, h, cfg, version="0.1.0", name="agent"):
        self.h = h
        self.cfg = cfg
        self.name = name
        self.ota_dir = os.path.join(cfg["state_dir"], "ota")
        self.app = os.path.join(self.ota_dir, "app")
        a = os.path.join(self.app, "A", "bin")
        os.makedirs(a, exist_ok=True)
        for n in HELPERS:
            shutil.copy2(os.path.join(et.BIN, n), os.path.join(a, n))
        with open(os.path.join(self.app, "A", "VERSION"), "w") as f:
            f.write(version + "\n")
        open(os.path.join(self.app, "A", ".complete"), "w").close()
        os.symlink("A", os.path.join(self.app, "current"))
        self.conf = h.write_config(cfg, f"{name}.json")
        self.log = h.path(f"{name}.log")
        self.proc = None
        self.boot_runs = 0

    def boot(self):
        """ExecStartPre: edge-ota-boot (from the installed package, i.e. the
        build's bin/, never from a slot: it is never updated by OTA)."""
        r = subprocess.run([os.path.join(et.BIN, "edge-ota-boot"), "--app-dir", self.app,
                            "--max-starts", str(self.cfg.get("ota", {}).get(
                                "max_trial_starts", 3))],
                           capture_output=True, text=True, timeout=10)
        self.boot_runs += 1
        with open(self.log, "a") as f:
            f.write(f"--- edge-ota-boot exit {r.returncode}: {r.stderr.strip()}\n")
        if r.returncode != 0:
            raise et.TestFailure(f"edge-ota-boot failed: {r.stderr.strip()}")

    def start(self, env=None):
        """As systemd would: edge-ota-boot, then the current slot's agent."""
        self.boot()
        lf = open(self.log, "a")
        e = dict(os.environ)
        if env:
            e.update(env)
        exe = os.path.join(self.app, "current", "bin", "edge-agent")
        self.proc = subprocess.Popen([exe, "--config", self.conf, "--foreground"], stdout=lf,
                                     stderr=subprocess.STDOUT, env=e)
        lf.close()
        self.h.procs.append(self.proc)
        return et.Agent(self.h, self.proc, self.conf, self.log)

    def current(self):
        return os.readlink(os.path.join(self.app, "current"))

    def state(self):
        with open(os.path.join(self.ota_dir, "state.json")) as f:
            return json.load(f)

    def history(self):
        try:
            with open(os.path.join(self.ota_dir, "history.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise et.TestFailure(f"the agent did not exit within {timeout} s") from None

    def run_until_stable(self, timeout=60, env=None):
        """Plays systemd's Restart=on-failure: starts the agent again each time
        it exits non-zero, until it keeps running for 3 s. Returns the agent."""
        end = time.time() + timeout
        agent = self.start(env=env)
        while time.time() < end:
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                return agent
            agent = self.start(env=env)
        raise et.TestFailure("the agent never stayed up")


def ota_config(h, broker, vendor, server, **ota_over):
    """A fast sim board, OTA in service mode, the image server's CA."""
    import cmdlib
    ota = {"manifest_key_file": vendor.pub, "ca_file": h.ca.ca_crt,
           "health_window_s": 6, "bundle": {"boot": "service"}}
    ota.update(ota_over)
    cfg = cmdlib.config(h, broker, status={"interval_s": 5})
    cfg["ota"] = ota
    return cfg
