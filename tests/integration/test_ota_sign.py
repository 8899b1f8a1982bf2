"""edge-ota-sign against itself and against OpenSSL (DESIGN 5.4).

keygen makes a P-256 pair (private key 0600, never replaced without
--force); sign --image streams the file for size and sha256 and writes a
compact ES256 JWS; verify accepts it and prints the payload, refuses a
tampered payload or signature. Interop with a real peer: the raw r||s
signature, converted to DER, verifies with `openssl dgst -sha256 -verify`
over the JWS signing input, and a signature made by openssl (converted to
r||s) verifies with edge-ota-sign; keys made by openssl (SEC1 and PKCS#8)
sign; P-384, RSA and encrypted keys are refused with a clear error."""
# ctest-timeout: 120
import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess

import edgetest
from edgetest import BIN, Harness, TestFailure, check

SIGN = os.path.join(BIN, "edge-ota-sign")


def need_tools():
    if not os.access(SIGN, os.X_OK):
        raise TestFailure(f"CANNOT RUN: {SIGN} is not built (cmake --build build --target "
                          "edge-ota-sign)")
    if not shutil.which("openssl"):
        raise TestFailure("CANNOT RUN: openssl is not installed (the interop peer)")


def tool(*args, stdin=None):
    """Runs edge-ota-sign; returns (exit status, stdout, stderr)."""
    p = subprocess.run([SIGN, *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ok(*args, stdin=None):
    rc, out, err = tool(*args, stdin=stdin)
    check(rc == 0, f"edge-ota-sign {' '.join(args)} exited {rc}: {err.strip()}")
    return out


def refused(args, rc_want, *needles, stdin=None):
    rc, out, err = tool(*args, stdin=stdin)
    check(rc == rc_want, f"edge-ota-sign {' '.join(args)}: exit {rc}, want {rc_want} "
          f"(stderr: {err.strip()!r})")
    for n in needles:
        check(n in err, f"edge-ota-sign {' '.join(args)}: {n!r} not in stderr {err.strip()!r}")
    check(len(err.strip().splitlines()) == 1, f"expected one line of reason, got {err!r}")
    return err


def openssl(*args, stdin=None, check_rc=True):
    p = subprocess.run(["openssl", *args], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if check_rc and p.returncode != 0:
        raise TestFailure(f"openssl {' '.join(args)} exited {p.returncode}: "
                          f"{p.stderr.decode().strip()}")
    return p


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b


def raw_to_der(sig):
    """JWS r||s (64 bytes) -> the DER ECDSA-Sig-Value openssl expects."""
    check(len(sig) == 64, f"signature is {len(sig)} bytes, not 64")
    body = der_int(sig[:32]) + der_int(sig[32:])
    return b"\x30" + bytes([len(body)]) + body


def der_to_raw(der):
    """DER SEQUENCE { INTEGER r, INTEGER s } -> 32-byte r || 32-byte s."""
    check(der[0] == 0x30, "openssl's signature is not a DER SEQUENCE")
    i = 2
    out = b""
    for _ in range(2):
        check(der[i] == 0x02, "openssl's signature holds no INTEGER")
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


def keygen(h, name):
    key, pub = h.path(f"{name}.key"), h.path(f"{name}.pub")
    ok("keygen", "--out-key", key, "--out-pub", pub)
    return key, pub


def make_image(h, size=3 * 1024 * 1024 + 17):
    path = h.path("image.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    with open(path, "rb") as f:
        return path, size, hashlib.sha256(f.read()).hexdigest()


def sign_args(key, image, out=None, url="https://updates.example.com/fw/1.4.0.img"):
    a = ["sign", "--key", key, "--version", "1.4.0-rc.1", "--url", url, "--image", image,
         "--board", "rpi4", "--board", "sim", "--installer", "bundle", "--min-version", "1.0.0"]
    if out:
        a += ["--out", out]
    return a


def test_keygen_sign_verify():
    need_tools()
    with Harness("ota-sign") as h:
        key, pub = keygen(h, "vendor")
        mode = stat.S_IMODE(os.stat(key).st_mode)
        check(mode == 0o600, f"private key mode {oct(mode)}, want 0600")
        with open(key) as f:
            check("PRIVATE KEY" in f.read(), "the private key is not PEM")
        with open(pub) as f:
            check(f.read().startswith("-----BEGIN PUBLIC KEY-----"), "the public key is not PEM")
        # never replaced without --force; with it, a new pair
        before = open(key).read()
        refused(["keygen", "--out-key", key, "--out-pub", h.path("other.pub")], 1, "exists",
                "--force")
        check(not os.path.exists(h.path("other.pub")), "half a key pair was written")
        ok("keygen", "--out-key", key, "--out-pub", pub, "--force")
        check(open(key).read() != before, "--force did not make a new key")

        image, size, sha = make_image(h)
        jws_path = h.path("m.jws")
        ok(*sign_args(key, image, out=jws_path))
        jws = open(jws_path).read().strip()
        parts = jws.split(".")
        check(len(parts) == 3, f"not a compact JWS: {jws[:80]}")
        header = json.loads(b64url_decode(parts[0]))
        check(header.get("alg") == "ES256", f"header {header}")
        check(len(b64url_decode(parts[2])) == 64, "the signature is not raw r||s (64 bytes)")
        payload = json.loads(b64url_decode(parts[1]))
        check(payload["size"] == size, f"size {payload['size']}, image is {size} bytes")
        check(payload["sha256"] == sha, f"sha256 {payload['sha256']}, image is {sha}")
        check(payload["boards"] == ["rpi4", "sim"], f"boards {payload['boards']}")
        check(payload["minVersion"] == "1.0.0" and "allowDowngrade" not in payload,
              f"payload {payload}")

        # verify from a file and from stdin print the payload as signed
        out = ok("verify", "--pub", pub, "--in", jws_path)
        check(out.strip().encode() == b64url_decode(parts[1]), f"verify printed {out!r}")
        out = ok("verify", "--pub", pub, stdin=(jws + "\n").encode())
        check(json.loads(out) == payload, "verify from stdin printed another payload")

        # without --out the JWS goes to stdout; the same manifest in a file
        # signs to a JWS that verifies (RFC 6979: the same signature too)
        out = ok(*sign_args(key, image)).strip()
        check(out == jws, "signing the same manifest twice gave different JWSs")
        pfile = h.path("payload.json")
        with open(pfile, "w") as f:
            json.dump(payload, f, indent=2)
        out = ok("sign", "--key", key, "--payload", pfile).strip()
        check(out == jws, "--payload of the same manifest signed something else")

        # --size/--sha256 alongside --image must match it
        refused(sign_args(key, image) + ["--sha256", "0" * 64], 1, "--sha256 does not match")
        refused(sign_args(key, image) + ["--size", "5"], 1, "--size 5 does not match")
        # without an image: --size and --sha256
        out = ok("sign", "--key", key, "--version", "2.0.0", "--url", "http://10.0.0.1/x",
                 "--size", str(size), "--sha256", sha.upper(), "--board", "sim", "--installer",
                 "rauc", "--allow-downgrade")
        p2 = json.loads(ok("verify", "--pub", pub, stdin=out.encode()))
        check(p2["sha256"] == sha and p2["allowDowngrade"] is True, f"payload {p2}")
        # the largest size is signed exactly as given (not as a 15-digit double)
        out = ok("sign", "--key", key, "--version", "2.0.0", "--url", "https://h/x",
                 "--size", str(2**53), "--sha256", sha, "--board", "sim", "--installer", "rauc")
        text = ok("verify", "--pub", pub, stdin=out.encode())
        check(f'"size":{2**53},' in text, f"size not signed as {2**53}: {text}")
        refused(["sign", "--key", key, "--version", "2.0.0", "--url", "https://h/x", "--size",
                 str(2**53 + 1), "--sha256", sha, "--board", "sim", "--installer", "rauc"], 1,
                "size: must be an integer in [1, 2^53]")


def test_tampering_refused():
    need_tools()
    with Harness("ota-tamper") as h:
        key, pub = keygen(h, "vendor")
        _, other_pub = keygen(h, "other")
        image, _, _ = make_image(h, 4096)
        jws = ok(*sign_args(key, image)).strip()
        head, body, sig = jws.split(".")

        # another URL under the old signature
        p = json.loads(b64url_decode(body))
        p["url"] = "https://evil.example.com/x.img"
        forged = f"{head}.{b64url(json.dumps(p, separators=(',', ':')).encode())}.{sig}"
        refused(["verify", "--pub", pub], 1, "signature does not verify", stdin=forged.encode())
        # one bit of the signature
        raw = bytearray(b64url_decode(sig))
        raw[5] ^= 1
        refused(["verify", "--pub", pub], 1, "signature does not verify",
                stdin=f"{head}.{body}.{b64url(bytes(raw))}".encode())
        # the right JWS, the wrong key
        refused(["verify", "--pub", other_pub], 1, "signature does not verify",
                stdin=jws.encode())
        # alg none
        none_head = b64url(b'{"alg":"none"}')
        none = f"{none_head}.{body}."
        refused(["verify", "--pub", pub], 1, "alg none refused", stdin=none.encode())
        # garbage, and a public key that is not one
        refused(["verify", "--pub", pub], 1, "not a compact JWS", stdin=b"hello")
        refused(["verify", "--pub", key], 1, "not a PEM or DER public key", stdin=jws.encode())
        refused(["verify", "--pub", h.path("missing.pub")], 1, "cannot read", stdin=jws.encode())


def test_refuses_bad_manifests_and_usage():
    need_tools()
    with Harness("ota-bad") as h:
        key, _ = keygen(h, "vendor")
        image, _, sha = make_image(h, 1000)
        out = h.path("never.jws")
        # the agent's own schema decides; nothing is written
        refused(sign_args(key, image, out=out, url="ftp://h/x"), 1,
                "url: must start with http:// or https://")
        refused(sign_args(key, image, out=out, url="https://h/a b"), 1, "url: whitespace")
        bad = sign_args(key, image, out=out)
        bad[bad.index("--version") + 1] = "1.04.0"
        refused(bad, 1, "version: \"1.04.0\" is not a semantic version")
        bad = sign_args(key, image, out=out)
        bad[bad.index("--installer") + 1] = "docker"
        refused(bad, 1, "installer: must be")
        empty = h.path("empty.bin")
        open(empty, "wb").close()
        refused(sign_args(key, empty, out=out), 1, "size: must be an integer in [1, 2^53]")
        pfile = h.path("p.json")
        with open(pfile, "w") as f:
            json.dump({"version": "1.0.0", "url": "https://h/x", "size": 5, "sha256": sha,
                       "boards": ["sim"], "installer": "bundle", "reboot": "now"}, f)
        refused(["sign", "--key", key, "--payload", pfile, "--out", out], 1,
                "reboot: unknown key")
        with open(pfile, "w") as f:
            f.write(" " * 9000)
        refused(["sign", "--key", key, "--payload", pfile], 1, "larger than 8192 bytes")
        check(not os.path.exists(out), "a refused manifest was written")

        # usage errors: exit 2
        refused(["sign", "--key", key, "--bogus"], 2, "unknown option --bogus")
        refused(["sign", "--version", "1.0.0"], 2, "--key is required")
        refused(["sign", "--key", key, "--version", "1.0.0", "--url", "https://h/",
                 "--board", "sim", "--installer", "rauc"], 2, "--image, or both --size")
        refused(["sign", "--key", key, "--payload", pfile, "--version", "1.0.0"], 2,
                "exclude each other")
        refused(["sign", "--key", key, "--size", "12x", "--version", "1.0.0", "--url",
                 "https://h/", "--sha256", sha, "--board", "sim", "--installer", "rauc"], 2,
                "--size: \"12x\" is not a decimal integer")
        refused(["keygen", "--out-key", key], 2, "--out-key and --out-pub are required")
        refused(["verify"], 2, "--pub is required")
        refused(["frobnicate"], 2, "unknown command")
        for cmd in (["--help"], ["keygen", "--help"], ["sign", "--help"], ["verify", "--help"]):
            out = ok(*cmd)
            check(out.startswith("usage: edge-ota-sign"), f"{cmd}: {out[:60]!r}")


def test_openssl_interop():
    need_tools()
    with Harness("ota-openssl") as h:
        key, pub = keygen(h, "vendor")
        image, _, _ = make_image(h, 65536 + 3)
        jws = ok(*sign_args(key, image)).strip()
        head, body, sig = jws.split(".")
        signing_input = h.path("input.txt")
        with open(signing_input, "wb") as f:
            f.write(f"{head}.{body}".encode())
        der = h.path("sig.der")
        with open(der, "wb") as f:
            f.write(raw_to_der(b64url_decode(sig)))
        # our signature, openssl's verification (with our public key file)
        p = openssl("dgst", "-sha256", "-verify", pub, "-signature", der, signing_input,
                    check_rc=False)
        check(p.returncode == 0 and b"Verified OK" in p.stdout,
              f"openssl does not verify edge-ota-sign's signature: {p.stdout!r} {p.stderr!r}")
        # the check can fail: one byte of the input changed
        with open(signing_input, "ab") as f:
            f.write(b"x")
        p = openssl("dgst", "-sha256", "-verify", pub, "-signature", der, signing_input,
                    check_rc=False)
        check(p.returncode != 0, "openssl verified a changed input")

        # keys made by openssl: SEC1 and PKCS#8, unencrypted
        sec1, pk8, opub = h.path("o.sec1.pem"), h.path("o.pk8.pem"), h.path("o.pub")
        openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", sec1)
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", sec1, "-out", pk8)
        openssl("ec", "-in", sec1, "-pubout", "-out", opub)
        check("BEGIN PRIVATE KEY" in open(pk8).read(), "openssl did not write PKCS#8")
        for k in (pk8, sec1):
            out = ok(*sign_args(k, image))
            ok("verify", "--pub", opub, stdin=out.encode())
        # openssl signs, edge-ota-sign verifies (DER -> r||s)
        with open(signing_input, "wb") as f:
            f.write(f"{head}.{body}".encode())
        osig = h.path("o.sig")
        openssl("dgst", "-sha256", "-sign", pk8, "-out", osig, signing_input)
        with open(osig, "rb") as f:
            raw = der_to_raw(f.read())
        theirs = f"{head}.{body}.{b64url(raw)}"
        out = ok("verify", "--pub", opub, stdin=theirs.encode())
        check(json.loads(out) == json.loads(b64url_decode(body)), "payload differs")
        refused(["verify", "--pub", pub], 1, "signature does not verify", stdin=theirs.encode())

        # keys ES256 cannot use
        p384, p384pub = h.path("p384.pem"), h.path("p384.pub")
        openssl("ecparam", "-genkey", "-name", "secp384r1", "-noout", "-out", p384)
        openssl("ec", "-in", p384, "-pubout", "-out", p384pub)
        out = h.path("never.jws")
        refused(sign_args(p384, image, out=out), 1, "secp384r1", "P-256")
        refused(["verify", "--pub", p384pub], 1, "not an EC P-256 public key", stdin=jws.encode())
        rsa = h.path("rsa.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", rsa)
        refused(sign_args(rsa, image, out=out), 1, "RSA", "EC P-256")
        enc = h.path("enc.pem")
        openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:secret", "-in", sec1,
                "-out", enc)
        refused(sign_args(enc, image, out=out), 1, "encrypted")
        refused(sign_args(h.path("nokey.pem"), image, out=out), 1, "cannot read")
        check(not os.path.exists(out), "a JWS was written with an unusable key")


if __name__ == "__main__":
    edgetest.main([test_keygen_sign_verify, test_tampering_refused,
                   test_refuses_bad_manifests_and_usage, test_openssl_interop])
