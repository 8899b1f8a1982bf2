"""Helpers for the PKCS#11 tests (test_pkcs11*.py): a real SoftHSM2 token
initialised by the test in its own directory (SOFTHSM2_CONF), keys made
inside it, CSRs signed by it through OpenSSL's pkcs11 engine, and the
token's own view of a key's attributes through pkcs11-tool (OpenSC).

Nothing here skips: a missing tool raises a failure starting with
"CANNOT RUN:" that names the Debian package to install."""
import os
import shutil
import subprocess

from edgetest import check

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
ENGINE = "/usr/lib/%s/engines-3/pkcs11.so"


def cannot_run(why):
    raise AssertionError("CANNOT RUN: " + why)


def need_tools():
    if not os.path.exists(SOFTHSM_MODULE) or not shutil.which("softhsm2-util"):
        cannot_run("SoftHSM2 is not installed (Debian package softhsm2; "
                   "scripts/install-deps.sh installs it)")
    if not shutil.which("pkcs11-tool"):
        cannot_run("pkcs11-tool is not installed (Debian package opensc)")
    arch = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True).stdout.strip()
    if not os.path.exists(ENGINE % arch):
        cannot_run("OpenSSL's pkcs11 engine is not installed (Debian package "
                   "libengine-pkcs11-openssl)")


class SoftHSM:
    """One SoftHSM2 token store in the test's directory."""

    def __init__(self, h, label="edge", pin="4321", so_pin="87654321", name="softhsm"):
        need_tools()
        self.h = h
        self.dir = h.path(name)
        self.tokens = os.path.join(self.dir, "tokens")
        os.makedirs(self.tokens, exist_ok=True)
        self.conf = os.path.join(self.dir, "softhsm2.conf")
        with open(self.conf, "w") as f:
            f.write(f"directories.tokendir = {self.tokens}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n"
                    "slots.removable = false\n")
        self.env = {"SOFTHSM2_CONF": self.conf}
        self.label, self.pin, self.so_pin = label, pin, so_pin
        self.module = SOFTHSM_MODULE
        self.pin_file = os.path.join(self.dir, "token.pin")
        fd = os.open(self.pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (pin + "\n").encode())
        os.close(fd)
        self.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                  "--so-pin", so_pin])

    def environ(self):
        e = dict(os.environ)
        e.update(self.env)
        return e

    def run(self, cmd, check_rc=True, **kw):
        r = subprocess.run(cmd, env=self.environ(), capture_output=True, text=True, **kw)
        if check_rc and r.returncode != 0:
            raise AssertionError(f"{cmd[0]} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
        return r

    def uri(self, obj="device", pin_source=False):
        u = f"pkcs11:token={self.label};object={obj};type=private"
        return u + (f"?pin-source=file:{self.pin_file}" if pin_source else "")

    def keygen(self, obj="device", key_id="01"):
        """An EC P-256 key made inside the token by pkcs11-tool."""
        self.run(["pkcs11-tool", "--module", self.module, "--token-label", self.label, "--login",
                  "--pin", self.pin, "--keypairgen", "--key-type", "EC:prime256v1",
                  "--label", obj, "--id", key_id])

    def csr(self, out, cn, obj="device"):
        """A CSR signed inside the token (OpenSSL's pkcs11 engine)."""
        cnf = os.path.join(self.dir, "openssl-engine.cnf")
        with open(cnf, "w") as f:
            f.write("openssl_conf = conf\n[conf]\nengines = engines\n[engines]\n"
                    "pkcs11 = pkcs11\n[pkcs11]\n"
                    f"MODULE_PATH = {self.module}\nPIN = {self.pin}\ninit = 0\n")
        env = self.environ()
        env["OPENSSL_CONF"] = cnf
        r = subprocess.run(["openssl", "req", "-new", "-engine", "pkcs11", "-keyform", "engine",
                            "-key", f"pkcs11:token={self.label};object={obj};type=private",
                            "-subj", f"/CN={cn}", "-out", out], env=env, capture_output=True,
                           text=True)
        check(r.returncode == 0, f"openssl req with the token key: {r.stderr[-600:]}")
        return out

    def key_access(self, obj="device"):
        """The token's own view of the private key: pkcs11-tool's Access line
        (e.g. 'sensitive, always sensitive, never extractable, local')."""
        r = self.run(["pkcs11-tool", "--module", self.module, "--token-label", self.label,
                      "--login", "--pin", self.pin, "--list-objects", "--type", "privkey"])
        blocks = r.stdout.split("Private Key Object")
        for b in blocks[1:]:
            fields = {}
            for line in b.splitlines():
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields.setdefault(k.strip(), v.strip())
            if fields.get("label") == obj and "Access" in fields:
                return fields["Access"]
        raise AssertionError(f"no private key {obj!r} in the token: {r.stdout[-800:]}")

    def hide(self):
        """The token disappears (as an unplugged secure element would)."""
        os.rename(self.tokens, self.tokens + ".away")
        os.makedirs(self.tokens)

    def restore(self):
        os.rmdir(self.tokens)
        os.rename(self.tokens + ".away", self.tokens)


def sign_csr(ca, csr, out, days=2):
    ext = out + ".ext"
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca.ca_crt, "-CAkey", ca.ca_key,
                    "-CAcreateserial", "-out", out, "-days", str(days), "-extfile", ext],
                   check=True, capture_output=True)
    return out


def private_key_files(root):
    """Every file under root whose content is a PEM private key."""
    found = []
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            try:
                with open(p, "rb") as f:
                    if b"PRIVATE KEY-----" in f.read(1 << 20):
                        found.append(p)
            except OSError:
                pass
    return found


TPM2_MODULE = "/usr/lib/%s/pkcs11/libtpm2_pkcs11.so"


class SwTPM:
    """A TPM 2.0 simulator (swtpm) behind the tpm2-abrmd resource manager on a
    private D-Bus, with a tpm2-pkcs11 store and token made by tpm2_ptool. Same
    interface as SoftHSM. The resource manager is needed: straight on swtpm,
    tpm2-pkcs11 runs out of TPM object slots ("out of memory for object
    contexts", TPM_RC 0x902) while making a key."""

    def __init__(self, h, label="edge", pin="4321", so_pin="87654321", name="swtpm"):
        import socket
        import time

        need_tools()
        arch = subprocess.run(["gcc", "-dumpmachine"], capture_output=True,
                              text=True).stdout.strip()
        self.module = TPM2_MODULE % arch
        for tool, pkg in (("swtpm", "swtpm"), ("tpm2-abrmd", "tpm2-abrmd"),
                          ("tpm2_ptool", "libtpm2-pkcs11-tools"), ("dbus-daemon", "dbus-daemon"),
                          ("tpm2_getrandom", "tpm2-tools")):
            if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
                cannot_run(f"{tool} is not installed (Debian package {pkg})")
        if not os.path.exists(self.module):
            cannot_run(f"{self.module} is missing (Debian package libtpm2-pkcs11-1)")
        self.h = h
        self.dir = h.path(name)
        state, store = os.path.join(self.dir, "state"), os.path.join(self.dir, "store")
        os.makedirs(state)
        os.makedirs(store)
        # the swtpm TCTI finds the control channel at port + 1
        port = ctrl = None
        for _ in range(50):
            cand = [socket.socket() for _ in range(2)]
            try:
                cand[0].bind(("127.0.0.1", 0))
                p0 = cand[0].getsockname()[1]
                cand[1].bind(("127.0.0.1", p0 + 1))
                port, ctrl = p0, p0 + 1
                break
            except OSError:
                continue
            finally:
                for c in cand:
                    c.close()
        check(port, "no two adjacent free loopback ports")
        log = open(os.path.join(self.dir, "swtpm.log"), "w")
        p = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
                              "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                              "--ctrl", f"type=tcp,port={ctrl},bindaddr=127.0.0.1",
                              "--flags", "not-need-init,startup-clear"],
                             stdout=log, stderr=subprocess.STDOUT)
        h.procs.append(p)
        bus = os.path.join(self.dir, "bus")
        d = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                              f"--address=unix:path={bus}"], stdout=log, stderr=subprocess.STDOUT)
        h.procs.append(d)
        end = time.time() + 10
        while time.time() < end:
            if os.path.exists(bus):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        else:
            cannot_run(f"swtpm or dbus-daemon did not start: {open(log.name).read()[-600:]}")
        self.env = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={bus}",
                    "TPM2_PKCS11_STORE": store,
                    "TPM2_PKCS11_TCTI": "tabrmd:bus_type=session",
                    "TPM2TOOLS_TCTI": "tabrmd:bus_type=session",
                    "TPM2_PKCS11_LOG_LEVEL": "0",
                    # ASan builds: tpm2-pkcs11's own leak, not ours (see the file)
                    "LSAN_OPTIONS": "suppressions=" + os.path.join(
                        os.path.dirname(os.path.abspath(__file__)), "lsan-tpm2-pkcs11.supp")}
        abrmd = shutil.which("tpm2-abrmd") or "/usr/sbin/tpm2-abrmd"
        args = [abrmd, "--session", f"--tcti=swtpm:host=127.0.0.1,port={port}", "--flush-all"]
        if os.geteuid() == 0:
            args.insert(1, "--allow-root")
        a = subprocess.Popen(args, env=self.environ(), stdout=log, stderr=subprocess.STDOUT)
        h.procs.append(a)
        end = time.time() + 15
        while time.time() < end:
            r = subprocess.run(["tpm2_getrandom", "4", "--hex"], env=self.environ(),
                               capture_output=True, text=True)
            if r.returncode == 0:
                break
            if a.poll() is not None:
                break
            time.sleep(0.1)
        else:
            r = None
        if r is None or r.returncode != 0:
            cannot_run("tpm2-abrmd did not come up on the private D-Bus: "
                       f"{open(log.name).read()[-600:]}")
        self.label, self.pin, self.so_pin = label, pin, so_pin
        self.pin_file = os.path.join(self.dir, "token.pin")
        fd = os.open(self.pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (pin + "\n").encode())
        os.close(fd)
        self.run(["tpm2_ptool", "init", "--path", store])
        self.run(["tpm2_ptool", "addtoken", "--pid=1", f"--label={label}", f"--sopin={so_pin}",
                  f"--userpin={pin}", "--path", store])

    environ = SoftHSM.environ
    run = SoftHSM.run
    uri = SoftHSM.uri
    keygen = SoftHSM.keygen
    csr = SoftHSM.csr
    key_access = SoftHSM.key_access
