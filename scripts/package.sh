#!/usr/bin/env bash
# Builds the edge-agent Debian package into out/.
#
# Usage: scripts/package.sh [amd64|arm64]        (default: the build machine's)
#
#   amd64   native build (Release-like RelWithDebInfo, stripped by CPack)
#   arm64   cross build with cmake/toolchains/aarch64-linux-gnu.cmake against
#           Debian multiarch arm64 libraries (scripts/install-deps.sh --cross);
#           dependencies from dpkg-shlibdeps for arm64.
#
# Output: out/edge-agent_<version>_<arch>.deb; the package's control data and
# file list are printed. Exits non-zero on any failure.
#
# Environment: JOBS=2, BUILD_ROOT=<src>, SKIP_DEPS=1 (do not install packages),
#              OUT_DIR=<src>/out
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-$(dpkg --print-architecture)}
JOBS=${JOBS:-2}
BUILD_ROOT=${BUILD_ROOT:-$here}
OUT_DIR=${OUT_DIR:-$here/out}
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
run() { printf '+ %s\n' "$*"; "$@"; }

host=$(dpkg --print-architecture)
extra=()
case "$arch" in
  "$host")
    deps=()
    ;;
  arm64|aarch64)
    arch=arm64
    extra=(-DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchains/aarch64-linux-gnu.cmake")
    deps=(--cross)
    ;;
  *)
    echo "usage: $0 [amd64|arm64]  (no package for '$arch': armhf has no multiarch libraries here)" >&2
    exit 2
    ;;
esac

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  run bash "$here/scripts/install-deps.sh" "${deps[@]}"
  # CPack's DEB generator needs file(1); dpkg-shlibdeps is in dpkg-dev.
  missing=()
  for p in file dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ -n "${missing[*]:-}" ]; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" \
      || { $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q && $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"; }
  fi
fi

bdir=$BUILD_ROOT/build-pkg-$arch
echo "=== package: $arch in $bdir"
run cmake -S "$here" -B "$bdir" "${extra[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DEDGE_TESTS=OFF -DEDGE_FUZZ=OFF -DEDGE_SANITIZE=OFF -DEDGE_HAL_ONLY=OFF
run cmake --build "$bdir" -j "$JOBS"

missing_files=$(tr -d ';\n' <"$bdir/edge-package-missing.txt" 2>/dev/null || true)
if [ -n "$missing_files" ]; then
  echo "package: WARNING: not in the source tree yet, the package lacks: $(tr ';' ' ' <"$bdir/edge-package-missing.txt")" >&2
fi

rm -rf "$bdir/packages"
(cd "$bdir" && run cpack -G DEB)
deb=$(find "$bdir/packages" -maxdepth 1 -name "edge-agent_*_$arch.deb" | head -n1)
[ -n "$deb" ] || { echo "package: ERROR: cpack produced no edge-agent_*_$arch.deb" >&2; exit 1; }

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/edge-agent_*_"$arch".deb
cp "$deb" "$OUT_DIR/"
deb=$OUT_DIR/$(basename "$deb")

echo "=== package: $deb"
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb" | awk '{print "  " $1 " " $2 " " $6}'

# Sanity: right architecture in the control data and in every binary.
got=$(dpkg-deb --field "$deb" Architecture)
[ "$got" = "$arch" ] || { echo "package: ERROR: Architecture is $got, expected $arch" >&2; exit 1; }
case "$arch" in amd64) want="Advanced Micro Devices X86-64" ;; arm64) want=AArch64 ;; esac
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
nbin=0
for f in "$tmp"/usr/bin/*; do
  [ -f "$f" ] || continue
  m=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
  [ "$m" = "$want" ] || { echo "package: ERROR: $(basename "$f") is $m, expected $want" >&2; exit 1; }
  nbin=$((nbin + 1))
done
# The dependencies must be installable: for a foreign architecture this asks
# apt (simulation only) whether the :arm64 packages named by Depends exist.
if [ "$arch" != "$host" ] && dpkg --print-foreign-architectures | grep -qx "$arch"; then
  printf '+ apt-get install --simulate %s\n' "$deb"
  if ! sim=$(apt-get -o DPkg::Lock::Timeout=600 install --simulate "$deb" 2>&1); then
    printf '%s\n' "$sim" >&2
    echo "package: ERROR: the $arch package's dependencies do not resolve" >&2
    exit 1
  fi
  echo "  dependencies resolve for $arch"
fi
echo "package: OK $deb ($nbin programs, $(stat -c %s "$deb") bytes, Depends: $(dpkg-deb --field "$deb" Depends))"
