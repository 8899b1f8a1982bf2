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
