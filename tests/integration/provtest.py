"""Helpers for the provisioning integration tests (test_prov*.py).

Starts a real edge-provisiond on a free loopback port with a fresh fleet CA
(init-ca), creates claim tokens through its admin commands, talks HTTPS to
it with Python's ssl, and runs a fake Kubernetes API server that records
claim POSTs.
"""
import http.client
import http.server
import json
import os
import signal
import sqlite3
import ssl
import subprocess
import threading
import time
import types

from edgetest import BIN, check, free_port, run, wait_port

PROVISIOND = os.path.join(BIN, "edge-provisiond")
FACTORY = os.path.join(BIN, "edge-factory")
CLIENT = os.path.join(BIN, "edge-prov-client")


class Provisiond:
    def __init__(self, h, name="provisiond", **over):
        self.h = h
        self.name = name
        self.dir = h.path(name)
        self.port = free_port()
        self.proc = None
        run([PROVISIOND, "init-ca", "--state-dir", self.dir])
        self.admin = run([PROVISIOND, "admin-token", "--state-dir", self.dir]).stdout.decode().strip()
        cfg = {
            "listen": "127.0.0.1",
            "port": self.port,
            "state_dir": self.dir,
            "cert_validity": "1d",
            "broker": {"host": "127.0.0.1", "port": 8883},
            "limits": {"rate_per_s": 10000, "burst": 10000, "threads": 4},
        }
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v
        self.cfg = cfg
        self.config = h.path(f"{name}.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=1)
        self.ca = os.path.join(self.dir, "ca.crt")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = h.path(f"{name}.log")

    def start(self):
        lf = open(self.log, "a")
        self.proc = subprocess.Popen([PROVISIOND, "serve", "--config", self.config,
                                      "--log-level", "debug"], stdout=lf, stderr=subprocess.STDOUT)
        lf.close()
        self.h.procs.append(self.proc)
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

    def expire_tokens(self, batch):
        con = sqlite3.connect(os.path.join(self.dir, "registry.db"), timeout=5)
        with con:
            con.execute("UPDATE tokens SET expires_at = 1 WHERE batch = ?", (batch,))
        con.close()

    def ssl_ctx(self, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def request(self, method, path, body=None, token=None, cert=None, key=None, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
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
        return r.status, doc

    def register(self, token, serial, csr, platform="health-data", **extra):
        body = {"serial": serial, "board": "sim", "model": "edge-gateway", "firmware": "0.1.0",
                "csr": csr, "sensors": ["max30102", "sim-vitals"]}
        if platform:
            body["realtimePlatform"] = platform
        body.update(extra)
        return self.request("POST", "/v1/devices/register", body, token=token)


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
