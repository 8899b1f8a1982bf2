"""Helpers for the provisioning integration tests (test_prov*.py).

Starts a real edge-provisiond on a free loopback port with a fresh fleet CA
(init-ca), creates claim tokens through its admin commands, talks HTTPS to
it with Python's ssl, and runs a fake Kubernetes API server that records
claim POSTs.

The registry backend comes from EDGE_PROV_REGISTRY: "sqlite" (default) or
"postgresql", which starts a throwaway PostgreSQL cluster (Debian's initdb
and postgres, as user nobody when run as root, on a free loopback port,
removed with the harness) and gives each Provisiond its own database. The
replica tests put several edge-provisiond processes on one database behind
nginx (StreamBalancer).
"""
import glob
import http.client
import http.server
import json
import os
import pwd
import re
import secrets
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import types

from edgetest import BIN, TestFailure, check, free_port, run, wait_port

PROVISIOND = os.path.join(BIN, "edge-provisiond")
FACTORY = os.path.join(BIN, "edge-factory")
CLIENT = os.path.join(BIN, "edge-prov-client")


def registry_backend():
    b = os.environ.get("EDGE_PROV_REGISTRY", "sqlite")
    check(b in ("sqlite", "postgresql"), f"EDGE_PROV_REGISTRY={b}: sqlite or postgresql")
    return b


def pg_bindir():
    """Debian's PostgreSQL server binaries; a loud failure when absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise TestFailure("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                          "install the postgresql package (scripts/install-deps.sh)")
    return os.path.dirname(found[-1])


class _Postmaster(subprocess.Popen):
    """The postmaster in the harness's process list: its kill() is
    PostgreSQL's immediate shutdown (SIGQUIT), which also ends the backends
    and releases the shared memory, where SIGKILL would orphan them."""

    def kill(self):
        self.send_signal(signal.SIGQUIT)


class PgCluster:
    """A throwaway PostgreSQL cluster in the harness directory: initdb (SCRAM
    password for user edge), postgres on a free 127.0.0.1 port, its unix
    socket in the same directory. As root, both run as `nobody` (PostgreSQL
    refuses root), which owns the data directory."""

    def __init__(self, h, name="pg"):
        self.h = h
        self.bin = pg_bindir()
        self.dir = h.path(name)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.user = "edge"
        self.password = secrets.token_hex(12)
        self.log = h.path(f"{name}.log")
        self.proc = None
        os.makedirs(self.dir)
        self.as_user = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
            os.chmod(h.dir, 0o711)  # nobody passes through to its own directory
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self.as_user:
            os.chown(pwfile, self.as_user["user"], self.as_user["group"])
        r = subprocess.run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user,
                            "--pwfile", pwfile, "--auth=scram-sha-256", "--no-sync", "-E", "UTF8",
                            "--locale=C"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=self.dir, timeout=120, **self.as_user)
        os.unlink(pwfile)
        check(r.returncode == 0, f"initdb failed: {r.stdout.decode(errors='replace')[-2000:]}")
        self.start()

    def start(self, wait=True):
        lf = open(self.log, "a")
        # fsync off: a test cluster, on a machine shared with other builds.
        self.proc = _Postmaster(
            [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port),
             "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=80", "-c", "shared_buffers=16MB"],
            stdout=lf, stderr=subprocess.STDOUT, cwd=self.dir, **self.as_user)
        lf.close()
        self.h.procs.append(self.proc)
        end = time.time() + 30
        while time.time() < end:
            r = subprocess.run([os.path.join(self.bin, "pg_isready"), "-h", "127.0.0.1",
                                "-p", str(self.port), "-t", "1"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return self
            check(self.proc.poll() is None, f"postgres exited {self.proc.returncode}: see {self.log}")
            time.sleep(0.1)
        raise TestFailure(f"postgres not ready on 127.0.0.1:{self.port} after 30 s")

    def stop(self, mode="fast"):
        """fast: SIGINT (transactions aborted, clients disconnected, clean
        shutdown); immediate: SIGQUIT."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if mode == "fast" else signal.SIGQUIT)
            self.proc.wait(30)
        self.proc = None

    def url(self, db="edge"):
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"

    def psql(self, query, db="edge"):
        """Rows of a query as lists of strings (unaligned, fields split on
        US and rows on NUL: values may hold newlines)."""
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="5")
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-At", "-F", "\x1f", "-0", "-v",
                            "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                            self.user, "-d", db, "-c", query], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=30)
        check(r.returncode == 0, f"psql {query!r}: {r.stderr.decode(errors='replace')}")
        return [rec.split("\x1f") for rec in r.stdout.decode().split("\0") if rec]

    def create_db(self, name):
        self.psql(f'CREATE DATABASE "{name}"', db="postgres")
        return self.url(name)


def pg_cluster(h):
    """One cluster per harness, made on first use."""
    if getattr(h, "pg", None) is None:
        h.pg = PgCluster(h)
    return h.pg


def sql_quote(v):
    return "'" + str(v).replace("'", "''") + "'" if isinstance(v, str) else str(int(v))


class Provisiond:
    """One edge-provisiond. registry: "sqlite" or "postgresql" (default:
    EDGE_PROV_REGISTRY). replica_of: another Provisiond whose CA, TLS
    certificate, admin token, GitOps directory and registry this one shares
    (a replica; its CA key is only read). registry_url: another way to the
    same database (a relay)."""

    def __init__(self, h, name="provisiond", registry=None, replica_of=None, registry_url=None,
                 **over):
        self.h = h
        self.name = name
        self.dir = h.path(name)
        self.port = free_port()
        self.proc = None
        self.registry = replica_of.registry if replica_of else (registry or registry_backend())
        self.pg = None
        if replica_of:
            os.makedirs(self.dir, exist_ok=True)
            self.admin = replica_of.admin
            self.db_url = replica_of.db_url
            self.pg = replica_of.pg
        else:
            run([PROVISIOND, "init-ca", "--state-dir", self.dir])
            self.admin = run([PROVISIOND, "admin-token", "--state-dir", self.dir]).stdout.decode().strip()
            self.db_url = None
            if self.registry == "postgresql":
                self.pg = pg_cluster(h)
                self.db_url = self.pg.create_db(re.sub(r"[^a-z0-9_]", "_", name.lower()))
        cfg = {
            "listen": "127.0.0.1",
            "port": self.port,
            "state_dir": self.dir,
            "cert_validity": "1d",
            "broker": {"host": "127.0.0.1", "port": 8883},
            "limits": {"rate_per_s": 10000, "burst": 10000, "threads": 4},
        }
        if replica_of:
            src = replica_of.dir
            cfg["ca"] = {"cert_file": os.path.join(src, "ca.crt"),
                         "key_file": os.path.join(src, "ca.key")}
            cfg["tls"] = {"cert_file": os.path.join(src, "server.crt"),
                          "key_file": os.path.join(src, "server.key")}
            cfg["admin_token_file"] = os.path.join(src, "admin.token")
            cfg["claims"] = {"gitops_dir": replica_of.cfg.get("claims", {}).get(
                "gitops_dir", os.path.join(src, "gitops"))}
            if replica_of.registry == "sqlite":
                cfg["db_file"] = os.path.join(src, "registry.db")
            for k in ("kubernetes",):
                if k in replica_of.cfg:
                    cfg[k] = replica_of.cfg[k]
        if self.db_url:
            cfg["registry"] = {"url": registry_url or self.db_url}
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        self.cfg = cfg
        self.config = h.path(f"{name}.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=1)
        src = replica_of.dir if replica_of else self.dir
        self.ca = os.path.join(src, "ca.crt")
        self.ca_key = os.path.join(src, "ca.key")
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = h.path(f"{name}.log")
        if self.registry == "postgresql" and not replica_of:
            out = self.admin_cmd("admin", "migrate")
            check("registry schema: version 0 -> " in out, f"admin migrate: {out}")

    def start(self, wait=True, log_level="debug"):
        lf = open(self.log, "a")
        self.proc = subprocess.Popen([PROVISIOND, "serve", "--config", self.config,
                                      "--log-level", log_level], stdout=lf, stderr=subprocess.STDOUT)
        lf.close()
        self.h.procs.append(self.proc)
        if wait:
            wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            check(self.proc.returncode == 0, f"provisiond exited {self.proc.returncode}")
        self.proc = None

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def admin_cmd(self, *args):
        return run([PROVISIOND, *args, "--config", self.config]).stdout.decode()

    def token(self, batch="b1", uses=10, expires="1d"):
        return self.admin_cmd("token", "create", "--batch", batch, "--uses", str(uses),
                              "--expires", expires).strip()

    def token_file(self, token, name=None):
        p = self.h.path(name or f"token-{time.time_ns()}")
        with open(p, "w") as f:
            f.write(token + "\n")
        return p

    def sql(self, query, *params):
        """Runs query on this registry's database ('?' placeholders):
        rows as lists of strings."""
        if self.registry == "postgresql":
            parts = query.split("?")
            check(len(parts) == len(params) + 1, f"{query}: {len(params)} parameters")
            text = parts[0] + "".join(sql_quote(p) + rest for p, rest in zip(params, parts[1:]))
            return self.pg.psql(text, db=self.db_url.rsplit("/", 1)[1])
        con = sqlite3.connect(self.cfg.get("db_file", os.path.join(self.dir, "registry.db")),
                              timeout=10)
        try:
            with con:
                rows = con.execute(query, params).fetchall()
        finally:
            con.close()
        return [["" if v is None else str(v) for v in row] for row in rows]

    def expire_tokens(self, batch):
        self.sql("UPDATE tokens SET expires_at = 1 WHERE batch = ?", batch)

    def health(self):
        """(status, document, Retry-After header) of GET /healthz."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                           context=self.ssl_ctx())
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            doc = json.loads(r.read() or b"null")
            return r.status, doc, r.getheader("Retry-After")
        finally:
            conn.close()

    def ssl_ctx(self, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def request(self, method, path, body=None, token=None, cert=None, key=None, headers=None,
                port=None, with_headers=False):
        """(status, JSON document) of one request on a new connection; port:
        another port (a balancer) with the same TLS identity; with_headers:
        (status, document, headers)."""
        conn = http.client.HTTPSConnection("127.0.0.1", port or self.port, timeout=30,
                                           context=self.ssl_ctx(cert, key))
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        if with_headers:
            return r.status, doc, dict(r.getheaders())
        return r.status, doc

    def register(self, token, serial, csr, platform="health-data", port=None, with_headers=False,
                 **extra):
        body = {"serial": serial, "board": "sim", "model": "edge-gateway", "firmware": "0.1.0",
                "csr": csr, "sensors": ["max30102", "sim-vitals"]}
        if platform:
            body["realtimePlatform"] = platform
        body.update(extra)
        return self.request("POST", "/v1/devices/register", body, token=token, port=port,
                            with_headers=with_headers)


NGINX_STREAM = "/usr/lib/nginx/modules/ngx_stream_module.so"


class StreamBalancer:
    """nginx as the replicas' load balancer, as a platform's ingress would
    run it for a mutual-TLS API: TCP with TLS passed through (stream
    module), round robin, the next replica on a refused connection.
    set_ready() takes a replica out of the pool or back (a reload), as a
    readiness probe does; access lines name the replica of each connection."""

    def __init__(self, h, replicas, name="lb"):
        if not os.path.exists(NGINX_STREAM):
            raise TestFailure(f"{NGINX_STREAM} missing: install libnginx-mod-stream "
                              "(scripts/install-deps.sh)")
        self.h = h
        self.replicas = list(replicas)
        self.ready = [True] * len(self.replicas)
        self.port = free_port()
        self.dir = h.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.access = h.path(f"{name}-access.log")
        self.errlog = h.path(f"{name}.log")
        self.url = f"https://127.0.0.1:{self.port}"
        self._write()
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-e", self.errlog],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        h.procs.append(self.proc)
        wait_port(self.port)

    def _write(self):
        servers = "".join(
            f"    server 127.0.0.1:{p.port} max_fails=1 fail_timeout=1s{'' if ok else ' down'};\n"
            for p, ok in zip(self.replicas, self.ready))
        with open(self.conf, "w") as f:
            f.write(f"""load_module {NGINX_STREAM};
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.errlog} notice;
events {{ worker_connections 2048; }}
stream {{
  log_format lb '$upstream_addr $status $session_time';
  access_log {self.access} lb;
  upstream provisiond {{
{servers}  }}
  server {{
    listen 127.0.0.1:{self.port} backlog=1024;
    proxy_pass provisiond;
    proxy_connect_timeout 1s;
    proxy_next_upstream on;
    proxy_next_upstream_tries 3;
  }}
}}
""")

    def set_ready(self, i, ready):
        if self.ready[i] == ready:
            return
        self.ready[i] = ready
        self._write()
        self.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)  # the new worker takes over

    def connections(self):
        """Connections per replica port so far (closed ones, from the log)."""
        counts = {}
        try:
            with open(self.access) as f:
                for line in f:
                    addr = line.split(" ", 1)[0]
                    counts[addr] = counts.get(addr, 0) + 1
        except FileNotFoundError:
            pass
        return counts


class ReadinessProber:
    """Polls each replica's /healthz and takes a replica whose registry is
    down out of the balancer (and back in), like a Kubernetes readiness
    probe in front of an ingress."""

    def __init__(self, lb, period=0.3):
        self.lb = lb
        self.period = period
        self.history = []  # (time, replica index, status)
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.is_set():
            for i, p in enumerate(self.lb.replicas):
                try:
                    st = p.health()[0] if p.proc and p.proc.poll() is None else 0
                except (OSError, ValueError, http.client.HTTPException):
                    st = 0
                self.history.append((time.time(), i, st))
                self.lb.set_ready(i, st == 200)
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)


class TcpRelay:
    """A TCP relay between a replica and PostgreSQL: cut() drops every
    connection and refuses new ones (a network partition of that replica
    only), heal() lets them through again."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.open = True
        self.socks = []
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            if not self.open:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.open = False
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def heal(self):
        self.open = True

    def close(self):
        self.cut()
        self.srv.close()


def make_key_csr(h, cn, name=None):
    """An EC P-256 key + CSR with openssl (independent of the code under test)."""
    name = name or cn
    key = h.path(f"{name}.key")
    csr = h.path(f"{name}.csr")
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", csr, "-subj", f"/CN={cn}"])
    with open(csr) as f:
        return key, f.read()


def factory(h, out, token, prov, count=None, serial=None, prefix="GW-", platform="health-data"):
    args = [FACTORY, "--out", out, "--url", prov.url, "--ca", prov.ca, "--token", token,
            "--platform", platform, "--board", "sim"]
    if serial:
        args += ["--agent-state-dir", h.path(f"state-{serial}")]
    if serial:
        args += ["--serial", serial]
    else:
        args += ["--count", str(count), "--prefix", prefix]
    return run(args).stdout.decode()


def openssl_verify(ca, cert):
    r = subprocess.run(["openssl", "verify", "-CAfile", ca, cert], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return r.returncode == 0, r.stdout.decode()


def cert_enddate(cert):
    return run(["openssl", "x509", "-in", cert, "-noout", "-enddate"]).stdout.decode().strip()


def cert_serial(cert):
    return run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.decode().strip()


def run_client(h, prov, serial, state_dir, token_file, key=None, csr=None, platform="health-data",
               seconds=20, extra=(), ca=None, url=None):
    args = [CLIENT, "--url", url or prov.url, "--ca", ca or prov.ca, "--token-file", token_file,
            "--device-id", serial, "--state-dir", state_dir, "--board", "sim",
            "--seconds", str(seconds), "--sensor", "max30102"]
    if key:
        args += ["--key", key]
    if csr:
        args += ["--csr", csr]
    if platform:
        args += ["--platform", platform]
    args += list(extra)
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=seconds + 30)
    out = r.stdout.decode()
    events = [dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
              for line in out.splitlines() if line.startswith("event=")]
    return r.returncode, events, out


class FakeKube:
    """A tiny HTTPS 'API server': records POSTs; 201 for the first claim of a
    name, 409 after that."""

    def __init__(self, h):
        self.posts = []
        self.seen = set()
        self.lock = threading.Lock()
        fake = self
        crt, key = h.ca.issue("localhost", server=True)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                with fake.lock:
                    fake.posts.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization"),
                                       "ctype": self.headers.get("Content-Type")})
                    name = None
                    for line in body.splitlines():
                        if line.startswith("  name:") and name is None:
                            name = line.split(":", 1)[1].strip()
                    status = 409 if name in fake.seen else 201
                    fake.seen.add(name)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"kind":"Status"}' if status == 409 else b"{}")

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"https://127.0.0.1:{self.port}"
        self.ca = h.ca.ca_crt
        self.token_file = h.path("kube.token")
        with open(self.token_file, "w") as f:
            f.write("kube-test-token\n")

    def config(self, namespace="health"):
        return {"url": self.url, "token_file": self.token_file, "ca_file": self.ca,
                "namespace": namespace}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def expected_claim(name, database="postgres", visualization="metabase", extra=""):
    return (f"apiVersion: platform.example.org/v1alpha1\n"
            f"kind: RealtimePlatformClaim\n"
            f"metadata:\n"
            f"  name: {name}-realtime\n"
            f"spec:\n"
            f"  name: {name}\n"
            f"  database: {database}\n"
            f"  visualization: {visualization}\n"
            f"  iot: true\n{extra}")


DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
DEPLOY = os.path.join(os.environ.get("EDGE_SOURCE_DIR",
                                     os.path.join(os.path.dirname(__file__), "../..")),
                      "deploy", "mosquitto")


def setup(h, name, dynsec=False, **prov_over):
    """Fleet CA + provisiond (not started) + a broker that trusts it; with
    dynsec, the broker runs the dynamic-security plugin with the shipped
    deploy/mosquitto/dynamic-security.json (+ the test subscriber)."""
    h.make_pki()
    broker_extra = ""
    if dynsec:
        admin = h.ca.issue("edge-provisiond")
        with open(os.path.join(DEPLOY, "dynamic-security.json")) as f:
            ds = json.load(f)
        ds["clients"].append({"username": "test-subscriber", "roles": [{"rolename": "platform-reader"}]})
        ds_path = h.path("dynamic-security.json")
        with open(ds_path, "w") as f:
            json.dump(ds, f, indent=1)
        broker_extra = f"plugin {DYNSEC_PLUGIN}\nplugin_opt_config_file {ds_path}\n"
    # The broker trusts the fleet CA (devices) and the harness CA (test
    # subscriber); its own certificate comes from the harness CA, which the
    # provisioning API hands to devices as part of caChain.
    prov = Provisiond(h, **prov_over)
    bundle = h.path("broker-cafile.pem")
    with open(bundle, "w") as f:
        f.write(open(prov.ca).read() + open(h.ca.ca_crt).read())
    orig = h.ca
    h.ca = types.SimpleNamespace(ca_crt=bundle)
    try:
        broker = h.start_broker(extra=broker_extra)
    finally:
        h.ca = orig
    cfg = json.load(open(prov.config))
    cfg["broker"] = {"host": "127.0.0.1", "port": broker.port, "ca_file": h.ca.ca_crt}
    cfg.update(prov_over)
    if dynsec:
        cfg["dynsec"] = {"host": "127.0.0.1", "port": broker.port, "ca_file": h.ca.ca_crt,
                         "cert_file": admin[0], "key_file": admin[1]}
    with open(prov.config, "w") as f:
        json.dump(cfg, f)
    return prov, broker


def agent_cfg(h, broker, prov, serial, bundle_dir, **prov_extra):
    """The harness's agent config merged with the factory's agent-config.json
    fragment (made with --agent-state-dir, see factory())."""
    frag = json.load(open(os.path.join(bundle_dir, "agent-config.json")))
    state = frag["state_dir"]
    cfg = h.agent_config(broker, device_id=serial, state_dir=state)
    # a wrong port on purpose: the broker named at registration must win
    cfg["mqtt"]["port"] = 1
    cfg["mqtt"]["tls"] = frag["mqtt"]["tls"]
    cfg["provisioning"] = dict(frag["provisioning"], **prov_extra)
    check(cfg["device_id"] == frag["device_id"] and cfg["board"] == frag["board"], frag)
    return cfg, state
