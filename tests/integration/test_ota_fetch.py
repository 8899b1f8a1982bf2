"""edge-ota-fetch (DESIGN 5.4 "Download") against a real nginx over TLS.

The test plays the agent: it starts edge-ota-fetch, parses its stdout lines
(edge/ota/progress.h), keeps the last "ckpt" and "validator" and starts it
again with --offset/--validator after a cut. nginx serves generated files of
random content over TLS with certificates made at test time; limit_rate
makes transfers slow enough to cut, max_ranges 0 takes Range support away.
nginx runs as the test's user when that is not root; as root its workers run
as nobody, so the folders it serves are made world-readable.

Nginx and Fetch below are also used by bench/ota/run.py."""
# ctest-timeout: 240
import contextlib
import hashlib
import http.server
import os
import signal
import subprocess
import threading
import time

import edgetest
from edgetest import BIN, PKI, Harness, TestFailure, check, free_port, wait_port

FETCH = os.path.join(BIN, "edge-ota-fetch")

# One location per behaviour the tests need, all over the same files.
LOCATIONS = {
    "/": "",
    "/slow/": "limit_rate {slow};",
    "/stall/": "limit_rate 1;",
    "/norange/": "max_ranges 0;",
}


def worker_pids(master):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


class Nginx:
    """nginx on free loopback ports: https on .port (the locations above),
    plain http on .http_port. The access log has one line per request:
    uri|status|Range|If-Range|body_bytes_sent ("" for an absent header)."""

    def __init__(self, h, name="www", slow="1m"):
        self.h = h
        self.dir = h.path(name)
        self.www = os.path.join(self.dir, "files")
        os.makedirs(self.www, exist_ok=True)
        for d in (h.dir, self.dir, self.www):
            os.chmod(d, 0o755)
        self.pki = PKI(h.dir, f"{name}-ca")
        self.crt, self.key = self.pki.issue("localhost", server=True)
        self.ca = self.pki.ca_crt
        self.port = free_port()
        self.http_port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.access = h.path(f"{name}-access.log")
        self.errlog = h.path(f"{name}.log")
        self.slow = slow
        self.proc = None
        self._write()

    def _write(self):
        locs = "".join(f"    location {p} {{ alias {self.www}/; {v.format(slow=self.slow)} }}\n"
                       for p, v in LOCATIONS.items())
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        temp = "".join(f"  {k}_temp_path {self.dir}/{k}_temp;\n"
                       for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(self.conf, "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
{user}
pid {self.dir}/nginx.pid;
error_log {self.errlog} notice;
events {{ worker_connections 256; }}
http {{
  log_format fetch escape=none '$uri|$status|$http_range|$http_if_range|$body_bytes_sent';
  access_log {self.access} fetch;
{temp}  default_type application/octet-stream;
  sendfile on;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {self.crt};
    ssl_certificate_key {self.key};
{locs}  }}
  server {{
    listen 127.0.0.1:{self.http_port};
    location / {{ alias {self.www}/; }}
  }}
}}
""")

    def start(self):
        # Not in h.procs: the harness ends those with SIGKILL, which would
        # orphan the worker; stop() ends master and worker (served() calls it).
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-e", self.errlog],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def stop(self):
        """Fast shutdown (SIGTERM): open transfers are cut; the master waits
        for its worker. A master that does not end is killed with its workers."""
        if self.proc and self.proc.poll() is None:
            workers = worker_pids(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for w in workers + worker_pids(self.proc.pid):
                    try:
                        os.kill(w, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self, name, loc="/"):
        return f"https://127.0.0.1:{self.port}{loc}{name}"

    def put(self, name, data, mtime=None):
        """A file to serve; returns its sha256. nginx's ETag is
        "mtime-size" in hex: a new mtime makes a new ETag."""
        p = os.path.join(self.www, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o644)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return hashlib.sha256(data).hexdigest()

    def requests(self, name=None):
        """[(uri, status, range, if_range, body_bytes)] from the access log."""
        out = []
        try:
            with open(self.access) as f:
                for line in f:
                    parts = line.rstrip("\n").split("|")
                    if len(parts) != 5:
                        continue
                    uri, status, rng, if_range, sent = parts
                    if name and not uri.endswith("/" + name):
                        continue
                    out.append((uri, int(status), rng, if_range, int(sent)))
        except FileNotFoundError:
            pass
        return out


class Fetch:
    """One edge-ota-fetch run; its stdout lines are collected as they come
    (each with its arrival time), stderr goes to a log file."""

    def __init__(self, h, url, out, size, sha256, *args, name="fetch", **opts):
        self.h = h
        cmd = [FETCH, "--url", url, "--out", out, "--size", str(size), "--sha256", sha256]
        for k, v in opts.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        cmd += list(args)
        self.cmd = cmd
        self.log = h.path(f"{name}-{time.monotonic_ns()}.log")
        self.lines = []
        self.lock = threading.Lock()
        self.started = time.monotonic()
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        h.procs.append(self.proc)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.lock:
                self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def words(self, word):
        """The lines starting with word, without it."""
        with self.lock:
            return [ln[len(word) + 1:] for _, ln in self.lines if ln.split(" ", 1)[0] == word]

    def text(self):
        with self.lock:
            return "\n".join(ln for _, ln in self.lines)

    def stderr(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def last_ckpt(self):
        c = self.words("ckpt")
        return int(c[-1]) if c else 0

    def validator(self):
        v = self.words("validator")
        return v[-1] if v else None

    def wait_for(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self):
                return
            if self.proc.poll() is not None:
                self.reader.join(2)
                if pred(self):
                    return
                break
            time.sleep(0.02)
        raise TestFailure(f"edge-ota-fetch: {what} not seen within {timeout}s (exit "
                          f"{self.proc.poll()}); stdout:\n{self.text()[-1500:]}\nstderr:\n"
                          f"{self.stderr()[-1500:]}")

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"edge-ota-fetch still running after {timeout}s; stdout:\n"
                              f"{self.text()[-1500:]}\nstderr:\n{self.stderr()[-1500:]}")
        self.reader.join(5)
        return rc

    def expect(self, rc, timeout):
        got = self.wait(timeout)
        check(got == rc, f"edge-ota-fetch exited {got}, expected {rc}; stdout:\n"
                         f"{self.text()[-1500:]}\nstderr:\n{self.stderr()[-1500:]}")


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- the tests -------------------------------------------------------------------------

SIZE = 4 * 1024 * 1024  # /slow/ serves it in about 4 s (limit_rate 1m)
CKPT = 256 * 1024  # finer checkpoints than the agent's 4 MiB, to cut in between
FAST_RETRY = {"backoff_base_ms": 200, "backoff_cap_ms": 800}


def preconditions():
    for what, path in (("edge-ota-fetch (build it)", FETCH), ("nginx", "/usr/sbin/nginx"),
                       ("openssl", "/usr/bin/openssl")):
        if not os.access(path, os.X_OK):
            raise TestFailure(f"CANNOT RUN: {what} missing at {path} (scripts/install-deps.sh)")


@contextlib.contextmanager
def served(h, name="img.bin", size=SIZE):
    """nginx serving name (size random bytes): (nginx, data, sha256), nginx
    stopped at the end whatever happens."""
    preconditions()
    ng = Nginx(h)
    try:
        ng.start()
        data = os.urandom(size)
        yield ng, data, ng.put(name, data)
    finally:
        ng.stop()


def part_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def nginx_etag(path):
    st = os.stat(path)
    return f'"{int(st.st_mtime):x}-{st.st_size:x}"'


def check_done(fx, part, data, sha):
    done = fx.words("done")
    check(done == [sha], f"done lines {done}, expected [{sha}]")
    check(fx.last_ckpt() == len(data), f"last ckpt {fx.last_ckpt()}, expected {len(data)}")
    got = part_bytes(part)
    check(got == data, f"part differs from the served file ({len(got)} of {len(data)} bytes)")


def test_full_download():
    with Harness("ota-fetch-full") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")
        fx = Fetch(h, ng.url("img.bin"), part, SIZE, sha, ca_file=ng.ca)
        fx.expect(0, 30)
        check_done(fx, part, data, sha)
        check(fx.validator() == nginx_etag(os.path.join(ng.www, "img.bin")),
              f"validator {fx.validator()!r}: nginx's strong ETag expected")
        check(os.stat(part).st_mode & 0o777 == 0o600, "the part is not 0600")
        reqs = ng.requests("img.bin")
        check(len(reqs) == 1 and reqs[0][1] == 200 and reqs[0][2] == "",
              f"one plain GET expected, access log: {reqs}")


def test_server_cut_and_back():
    """The worker killed at ~25 %, nginx stopped for 2 s at ~50 %: retries, then
    the rest is resumed with Range once nginx is back."""
    with Harness("ota-fetch-cut") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")
        fx = Fetch(h, ng.url("img.bin", "/slow/"), part, SIZE, sha, ca_file=ng.ca,
                   ckpt_bytes=CKPT, **FAST_RETRY)
        fx.wait_for(lambda f: f.last_ckpt() >= SIZE // 4, 15, "a ckpt at 25 %")
        workers = worker_pids(ng.proc.pid)
        check(workers, "no nginx worker found")
        for w in workers:
            os.kill(w, signal.SIGKILL)
        fx.wait_for(lambda f: f.words("retry"), 10, "a retry line after the worker was killed")
        fx.wait_for(lambda f: f.last_ckpt() >= SIZE // 2, 15, "a ckpt at 50 %")
        ng.stop()
        retries_before = len(fx.words("retry"))
        time.sleep(2)
        check(fx.proc.poll() is None, f"edge-ota-fetch gave up while nginx was down:\n{fx.text()}")
        check(len(fx.words("retry")) > retries_before, "no retry while nginx was down")
        ng.start()
        fx.expect(0, 30)
        check_done(fx, part, data, sha)
        # a killed worker logs nothing, a fast shutdown not always: the
        # request after nginx came back is the one that must be there
        reqs = ng.requests("img.bin")
        resumed = [r for r in reqs if r[1] == 206 and int(r[2][6:-1]) >= SIZE // 2]
        check(resumed, f"expected a 206 from beyond 50 %, access log: {reqs}")
        check(not fx.words("restart"), f"it started over: {fx.words('restart')}")
        print(f"cut run: {len(fx.words('retry'))} retry lines, {len(reqs)} requests "
              f"({len(resumed)} with Range), retries: {fx.words('retry')}", flush=True)


def test_kill9_resume():
    with Harness("ota-fetch-kill9") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")
        fx = Fetch(h, ng.url("img.bin", "/slow/"), part, SIZE, sha, ca_file=ng.ca,
                   ckpt_bytes=CKPT)
        fx.wait_for(lambda f: f.last_ckpt() >= SIZE * 2 // 5 and f.validator(), 15,
                    "a ckpt at 40 %")
        fx.proc.kill()
        fx.wait(5)
        ckpt, val = fx.last_ckpt(), fx.validator()
        check(os.path.getsize(part) >= ckpt, "the part is shorter than its last ckpt")
        fx2 = Fetch(h, ng.url("img.bin"), part, SIZE, sha, "--validator", val, ca_file=ng.ca,
                    offset=ckpt)
        fx2.expect(0, 30)
        check_done(fx2, part, data, sha)
        check(not fx2.words("restart"), f"it started over: {fx2.words('restart')}")
        time.sleep(0.3)  # the killed request is logged when nginx sees the close
        reqs = ng.requests("img.bin")
        ranged = [r for r in reqs if r[2]]
        check(len(ranged) == 1 and ranged[0][2] == f"bytes={ckpt}-" and ranged[0][3] == val
              and ranged[0][1] == 206,
              f"expected one 206 to Range bytes={ckpt}- with If-Range {val}, log: {reqs}")
        total = sum(r[4] for r in reqs)
        check(total < 2 * SIZE, f"{total} body bytes sent for a {SIZE}-byte file")
        print(f"resumed at {ckpt}; {total} body bytes in {len(reqs)} requests "
              f"({total / SIZE:.2f} x size)", flush=True)


def test_power_cut_garbage():
    """After a power cut the part is longer than the checkpoint and what lies
    beyond it is garbage: cut to the checkpoint, re-hashed, resumed. A part
    shorter than the checkpoint starts over ("restart rehash")."""
    with Harness("ota-fetch-power") as h, served(h) as (ng, data, sha):
        etag = nginx_etag(os.path.join(ng.www, "img.bin"))
        part = h.path("img.part")
        ckpt = 1024 * 1024 + 4096
        with open(part, "wb") as f:
            f.write(data[:ckpt] + os.urandom(1536 * 1024))
        fx = Fetch(h, ng.url("img.bin"), part, SIZE, sha, "--validator", etag, ca_file=ng.ca,
                   offset=ckpt)
        fx.expect(0, 30)
        check_done(fx, part, data, sha)
        check(not fx.words("restart"), f"it started over: {fx.words('restart')}")
        reqs = ng.requests("img.bin")
        check([r[2] for r in reqs] == [f"bytes={ckpt}-"], f"expected one Range from {ckpt}: {reqs}")

        with open(part, "wb") as f:  # lost data the agent thought durable
            f.write(data[:1000])
        fx = Fetch(h, ng.url("img.bin"), part, SIZE, sha, "--validator", etag, ca_file=ng.ca,
                   offset=ckpt)
        fx.expect(0, 30)
        check(fx.words("restart") == ["rehash"], f"restart lines {fx.words('restart')}")
        check_done(fx, part, data, sha)
        check(ng.requests("img.bin")[-1][2] == "", "a part shorter than ckpt asked for a Range")


def test_no_range_support():
    with Harness("ota-fetch-norange") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")
        ckpt = 1024 * 1024
        with open(part, "wb") as f:
            f.write(data[:ckpt])
        fx = Fetch(h, ng.url("img.bin", "/norange/"), part, SIZE, sha, ca_file=ng.ca,
                   offset=ckpt)
        fx.expect(0, 30)
        check(fx.words("restart") == ["200"], f"restart lines {fx.words('restart')}")
        check_done(fx, part, data, sha)
        reqs = ng.requests("img.bin")
        check(len(reqs) == 1 and reqs[0][1] == 200 and reqs[0][2] == f"bytes={ckpt}-",
              f"expected one ranged request answered 200: {reqs}")


def test_file_replaced():
    """A new file under the same URL between two runs: If-Range with the old
    ETag makes nginx answer 200 with the new file; started over, the new
    bytes do not match the old --sha256: error hash, part emptied. With the
    new hash the same run is done."""
    with Harness("ota-fetch-replaced") as h, served(h) as (ng, old, old_sha):
        path = os.path.join(ng.www, "img.bin")
        old_etag = nginx_etag(path)
        part = h.path("img.part")
        ckpt = 1024 * 1024
        with open(part, "wb") as f:
            f.write(old[:ckpt])
        new = os.urandom(SIZE)
        new_sha = ng.put("img.bin", new, mtime=os.stat(path).st_mtime + 100)
        new_etag = nginx_etag(path)
        check(new_etag != old_etag, "the replaced file kept its ETag")
        fx = Fetch(h, ng.url("img.bin"), part, SIZE, old_sha, "--validator", old_etag,
                   ca_file=ng.ca, offset=ckpt)
        fx.expect(1, 30)
        check(fx.words("restart") == ["validator"], f"restart lines {fx.words('restart')}")
        check(fx.validator() == new_etag, f"validator {fx.validator()}, expected {new_etag}")
        err = fx.words("error")
        check(err == [f"hash expected {old_sha} got {new_sha}"], f"error lines {err}")
        check(os.path.getsize(part) == 0, "a part with the wrong hash was kept")
        check(not fx.words("done"), "done after a hash mismatch")
        reqs = ng.requests("img.bin")
        check(reqs[-1][1] == 200 and reqs[-1][3] == old_etag,
              f"expected If-Range {old_etag} answered 200: {reqs}")

        fx = Fetch(h, ng.url("img.bin"), part, SIZE, new_sha, ca_file=ng.ca)
        fx.expect(0, 30)
        check_done(fx, part, new, new_sha)


class NoLengthServer(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0, no Content-Length: the body ends when the connection does,
    so only counting finds it too long."""
    body = b""

    def do_GET(self):  # noqa: N802 - the library's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


def test_terminal_errors():
    with Harness("ota-fetch-errors") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")

        fx = Fetch(h, ng.url("missing.bin"), part, SIZE, sha, ca_file=ng.ca)
        fx.expect(1, 15)
        check(fx.words("error") == ["url HTTP 404"], f"404: error lines {fx.words('error')}")

        fx = Fetch(h, ng.url("img.bin"), part, SIZE - 1000, sha, ca_file=ng.ca)
        fx.expect(1, 15)
        err = fx.words("error")
        check(len(err) == 1 and err[0].startswith("size "), f"too large: error lines {err}")
        check(os.path.getsize(part) <= SIZE - 1000, "the part grew past --size")

        # counted: no Content-Length to tell in advance
        NoLengthServer.body = data[:2 * 1024 * 1024]
        srv = http.server.HTTPServer(("127.0.0.1", 0), NoLengthServer)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            limit = 1024 * 1024 + 5
            os.unlink(part)
            fx = Fetch(h, f"http://127.0.0.1:{srv.server_port}/x", part, limit,
                       hashlib.sha256(data[:limit]).hexdigest(), "--allow-http")
            fx.expect(1, 15)
            err = fx.words("error")
            check(len(err) == 1 and err[0].startswith("size "), f"counted: error lines {err}")
            check(os.path.getsize(part) <= limit, f"the part grew past --size {limit}: "
                  f"{os.path.getsize(part)}")
        finally:
            srv.shutdown()
            srv.server_close()

        fx = Fetch(h, ng.url("img.bin"), part, SIZE, "ab" * 32, ca_file=ng.ca)
        fx.expect(1, 15)
        check(fx.words("error") == [f"hash expected {'ab' * 32} got {sha}"],
              f"wrong sha256: error lines {fx.words('error')}")
        check(os.path.getsize(part) == 0, "a part with the wrong hash was kept")

        http_url = f"http://127.0.0.1:{ng.http_port}/img.bin"
        before = len(ng.requests())
        fx = Fetch(h, http_url, part, SIZE, sha)
        fx.expect(1, 5)
        err = fx.words("error")
        check(len(err) == 1 and err[0].startswith("refused "), f"http: error lines {err}")
        time.sleep(0.2)
        check(len(ng.requests()) == before, "a request went out for a refused http URL")
        fx = Fetch(h, http_url, part, SIZE, sha, "--allow-http")
        fx.expect(0, 15)
        check_done(fx, part, data, sha)

        t0 = time.monotonic()
        fx = Fetch(h, ng.url("img.bin"), part, SIZE, sha, ca_file=ng.ca,
                   deadline=int(time.time()) - 1)
        fx.expect(1, 5)
        took = time.monotonic() - t0
        err = fx.words("error")
        check(len(err) == 1 and err[0].startswith("deadline "), f"deadline: error lines {err}")
        check(took < 1.0, f"a past deadline took {took:.2f} s to report")

        # the agent cannot have asked for these: usage errors, exit 2, nothing on stdout
        for args in (["--url", ng.url("img.bin"), "--out", part, "--size", "10"],
                     ["--url", ng.url("img.bin"), "--out", part, "--size", "-1", "--sha256", sha],
                     ["--url", ng.url("img.bin"), "--out", part, "--size", "10", "--sha256", "xyz"],
                     ["--url", ng.url("img.bin"), "--out", part, "--size", "10", "--sha256", sha,
                      "--offset", "11"],
                     ["--bogus", "1"]):
            p = subprocess.run([FETCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=5)
            check(p.returncode == 2 and p.stdout == b"" and p.stderr.strip(),
                  f"{args}: exit {p.returncode}, stdout {p.stdout!r}, stderr {p.stderr!r}")


def test_stall_retries_until_deadline():
    with Harness("ota-fetch-stall") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")
        t0 = time.monotonic()
        fx = Fetch(h, ng.url("img.bin", "/stall/"), part, SIZE, sha, ca_file=ng.ca,
                   stall_s=2, deadline=int(time.time()) + 7, **FAST_RETRY)
        fx.expect(1, 20)
        took = time.monotonic() - t0
        retries = fx.words("retry")
        check(retries and all("stall" in r for r in retries),
              f"expected retry lines for the stall, got {retries}")
        err = fx.words("error")
        check(len(err) == 1 and err[0].startswith("deadline "), f"error lines {err}")
        check(took < 11, f"the deadline 7 s away ended it only after {took:.1f} s")
        print(f"stalled: {len(retries)} retries in {took:.1f} s: {retries}", flush=True)


def test_sigterm_is_prompt():
    with Harness("ota-fetch-term") as h, served(h) as (ng, data, sha):
        part = h.path("img.part")
        # mid-transfer
        fx = Fetch(h, ng.url("img.bin", "/slow/"), part, SIZE, sha, ca_file=ng.ca,
                   ckpt_bytes=CKPT)
        fx.wait_for(lambda f: f.last_ckpt() >= CKPT, 15, "a first ckpt")
        t0 = time.monotonic()
        fx.proc.send_signal(signal.SIGTERM)
        rc = fx.wait(5)
        took = time.monotonic() - t0
        check(rc == -signal.SIGTERM, f"exit {rc} after SIGTERM, expected death by SIGTERM")
        check(took < 0.5, f"SIGTERM took {took:.3f} s mid-transfer")
        check(os.path.getsize(part) >= fx.last_ckpt(), "the part is shorter than its last ckpt")
        print(f"SIGTERM mid-transfer: {took * 1000:.0f} ms", flush=True)
        # while waiting to retry (nothing listens on that port)
        fx = Fetch(h, f"https://127.0.0.1:{free_port()}/img.bin", part, SIZE, sha,
                   ca_file=ng.ca, backoff_base_ms=20000, backoff_cap_ms=20000)
        fx.wait_for(lambda f: f.words("retry"), 10, "a retry line")
        time.sleep(0.2)
        t0 = time.monotonic()
        fx.proc.send_signal(signal.SIGTERM)
        rc = fx.wait(5)
        took = time.monotonic() - t0
        check(rc == -signal.SIGTERM and took < 0.5, f"SIGTERM in backoff: exit {rc} after {took:.3f} s")
        print(f"SIGTERM in backoff: {took * 1000:.0f} ms", flush=True)


if __name__ == "__main__":
    edgetest.main([test_full_download, test_server_cut_and_back, test_kill9_resume,
                   test_power_cut_garbage, test_no_range_support, test_file_replaced,
                   test_terminal_errors, test_stall_retries_until_deadline,
                   test_sigterm_is_prompt])
