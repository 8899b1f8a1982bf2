#!/usr/bin/env bash
# Installs edge-agent's build and test dependencies from Debian packages.
# Idempotent: one `apt-get update`, and only when something is missing.
# Usage: scripts/install-deps.sh [--cross]   (--cross adds arm64 multiarch + toolchain)
set -euo pipefail

want=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev llvm
  libmosquitto-dev libmbedtls-dev libcjson-dev libcoap3-dev libsqlite3-dev
  libcurl4-openssl-dev libsystemd-dev libmicrohttpd-dev libcmocka-dev libpq-dev
  mosquitto mosquitto-clients libcoap3-bin openssl sqlite3 nginx prometheus
  python3-paho-mqtt curl ca-certificates procps iproute2 util-linux dbus-daemon libssl-dev libgnutls28-dev
  postgresql libnginx-mod-stream
  libubootenv-dev libubootenv-tool u-boot-qemu qemu-system-arm u-boot-tools e2fsprogs
  rauc squashfs-tools swupdate
  # PKCS#11 device keys (docs/security.md): p11-kit's pkcs11.h to build; the
  # pkcs11 engine, p11-kit's proxy module, SoftHSM2 and OpenSC's pkcs11-tool
  # for the tests; swtpm + tpm2-pkcs11 (+ tpm2-abrmd: the TPM's resource
  # manager) for the TPM 2.0 chain.
  libp11-kit-dev p11-kit libengine-pkcs11-openssl softhsm2 opensc
  swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools libtss2-tcti-swtpm0
  tpm2-abrmd libtss2-tcti-tabrmd0
  # systemd-analyze security --offline (test_systemd_units)
  systemd
)
cross=0
[ "${1:-}" = "--cross" ] && cross=1
if [ "$cross" = 1 ]; then
  # aarch64: cross gcc + its libc (qemu's -L root) + arm64 multiarch -dev packages.
  # armhf: cross gcc + its libc only (armhf multiarch is broken on the mirror).
  # binutils-*: strip/objdump for package sizes and dpkg-shlibdeps; dpkg-dev and
  # file: dpkg-shlibdeps and CPack's DEB generator.
  want+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-arm64-cross qemu-user
         dpkg-dev file
         gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
  # The arm64 libraries mirror the native lib*-dev packages above, so a library
  # added there is available to the cross build too.
  for p in "${want[@]}"; do
    case "$p" in
      libclang*|*:*) ;;
      lib*-dev) want+=("$p:arm64") ;;
    esac
  done
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# armhf multiarch breaks apt-get update on the mirror: never leave it added.
if dpkg --print-foreign-architectures | grep -qx armhf; then
  $SUDO dpkg --remove-architecture armhf || true
fi
if [ "$cross" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  need_update=1
fi

missing=()
for p in "${want[@]}"; do
  name=${p%%:*}; arch=${p#*:}; [ "$arch" = "$p" ] && arch=""
  q=$name; [ -n "$arch" ] && q="$name:$arch"
  # libpq-dev is not co-installable across architectures: the arm64 one (cross
  # builds) replaces the native one, which must then come back.
  [ -z "$arch" ] && [ "$name" = libpq-dev ] && q="$name:$(dpkg --print-architecture)"
  if ! dpkg-query -W -f='${Status}' "$q" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ] && [ -z "${need_update:-}" ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts the packaged daemons on install; tests start their own.
for svc in mosquitto nginx prometheus rauc swupdate swupdate.socket; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
