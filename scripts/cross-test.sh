#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called indirectly ("do_$t", trap)
# Cross-builds edge-agent for ARM and runs its unit tests under qemu-user.
#
# Usage: scripts/cross-test.sh [aarch64|armhf|all]      (default: all)
#
#   aarch64  the whole project against Debian multiarch arm64 libraries
#            (scripts/install-deps.sh --cross), unit tests (ctest label "unit",
#            which in a cross build also carry the label "cross") under
#            qemu-aarch64.
#            Then builds the arm64 Debian package (scripts/package.sh arm64;
#            CROSS_PACKAGE=0 skips it).
#   armhf    -DEDGE_HAL_ONLY=ON (hal, drivers and their tests) with the cross
#            compiler's own libc only, tests under qemu-arm. The armhf
#            architecture is never added to dpkg (it breaks apt-get update on
#            our mirror, DESIGN section 4) and is removed if found.
#
# Integration tests (native mosquitto, nginx, ...) are not part of cross runs.
# Unattended: no prompts, installs what is missing, exits non-zero on any failure.
#
# Environment:
#   JOBS=2                  parallel build/test jobs
#   BUILD_ROOT=<src>        where build-cross-<arch>/ directories go
#   EDGE_WERROR=ON          -DEDGE_WERROR (as scripts/test.sh); OFF to let warnings pass
#   CMAKE_BUILD_TYPE=RelWithDebInfo
#   SKIP_DEPS=1             do not install packages (they are known to be present)
#   CTEST_ARGS=             extra arguments for ctest (e.g. "-R hal")
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-all}
case "$target" in
  aarch64|arm64) targets=(aarch64) ;;
  armhf|arm) targets=(armhf) ;;
  all) targets=(aarch64 armhf) ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  *) echo "usage: $0 [aarch64|armhf|all]" >&2; exit 2 ;;
esac

JOBS=${JOBS:-2}
BUILD_ROOT=${BUILD_ROOT:-$here}
EDGE_WERROR=${EDGE_WERROR:-ON}
BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo}
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

t0=$(date +%s)
notes=$(mktemp)
log() { printf '\n=== cross-test: %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }
note() { echo "$1" >>"$notes"; }

# --- armhf must never stay in dpkg's foreign architectures ------------------
drop_armhf() {
  if dpkg --print-foreign-architectures 2>/dev/null | grep -qx armhf; then
    echo "cross-test: removing the armhf dpkg architecture (breaks apt-get update here)"
    $SUDO dpkg --remove-architecture armhf || {
      echo "cross-test: ERROR: could not remove armhf architecture" >&2; return 1; }
  fi
}
trap 'drop_armhf || true; rm -f "$notes"' EXIT
drop_armhf

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# apt-get install of host-architecture packages; updates the lists only when
# the first attempt fails (fresh machine with empty lists).
apt_install() {
  local missing=() p
  for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "cross-test: installing ${missing[*]}"
  if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
  fi
}

deps_aarch64() {
  [ "${SKIP_DEPS:-0}" = 1 ] && return 0
  log "dependencies for aarch64 (scripts/install-deps.sh --cross)"
  run bash "$here/scripts/install-deps.sh" --cross
}

deps_armhf() {
  [ "${SKIP_DEPS:-0}" = 1 ] && return 0
  log "dependencies for armhf (cross compiler + qemu-user only, no armhf multiarch)"
  apt_install cmake make pkg-config gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user
}

# Every file in bin/ and tests/ must be an ELF for the target machine; a host
# binary sneaking in (wrong compiler, wrong library) would make the qemu run
# meaningless.
check_machine() {
  local dir=$1 want=$2 f m bad=0 n=0
  for f in "$dir"/bin/* "$dir"/tests/*; do
    if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
    head -c4 "$f" | grep -q $'\x7fELF' || continue
    m=$(readelf -h "$f" | sed -n 's/^ *Machine: *//p')
    n=$((n + 1))
    if [ "$m" != "$want" ]; then
      echo "cross-test: ERROR: $f is '$m', expected '$want'" >&2; bad=1
    fi
  done
  echo "cross-test: $n executables checked: all '$want'"
  return "$bad"
}

# Libraries the configure step resolved must come from the target's multiarch
# directory, never from the build machine's.
check_cache() {
  local cache=$1/CMakeCache.txt hits
  hits=$(grep -E ':(FILEPATH|PATH|INTERNAL)=.*x86_64-linux-gnu' "$cache" | grep -v '^CMAKE_' || true)
  if [ -n "$hits" ]; then
    echo "cross-test: ERROR: host libraries in the cross configuration:" >&2
    echo "$hits" >&2
    return 1
  fi
}

run_ctest() {
  local bdir=$1 what=$2 n ncross
  n=$(ctest --test-dir "$bdir" -N -L unit | sed -n 's/^Total Tests: *//p')
  ncross=$(ctest --test-dir "$bdir" -N -L cross | sed -n 's/^Total Tests: *//p')
  echo "cross-test: $what: $n unit tests, $ncross labelled cross"
  if [ "${n:-0}" -eq 0 ]; then
    echo "cross-test: ERROR: no unit tests registered in $bdir" >&2
    return 1
  fi
  if [ "$n" != "$ncross" ]; then
    echo "cross-test: ERROR: $n unit tests but $ncross carry the 'cross' label" >&2
    return 1
  fi
  # prov_registry_test runs concurrent registrations through thread pools;
  # under qemu-user it outlasts its time-out. It runs natively in the first
  # two stages (and on PostgreSQL in integration.test_prov_pg_registry).
  echo "cross-test: NOT RUN under qemu-user: prov_registry_test (runs natively)"
  # shellcheck disable=SC2086
  run ctest --test-dir "$bdir" -L unit -LE integration -E '^prov_registry_test$' \
    --output-on-failure --no-tests=error -j "$JOBS" --timeout 600 ${CTEST_ARGS:-}
  note "$what: $n unit tests passed under $3"
}

build() {
  local arch=$1 toolchain=$2 bdir=$3; shift 3
  local s
  s=$(date +%s)
  log "$arch: configure ($bdir)"
  run cmake -S "$here" -B "$bdir" \
    -DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchains/$toolchain" \
    -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DEDGE_WERROR="$EDGE_WERROR" \
    -DEDGE_TESTS=ON -DEDGE_FUZZ=OFF "$@"
  log "$arch: build (-j$JOBS)"
  run cmake --build "$bdir" -j "$JOBS" 2>&1 | tee "$bdir/build.log"
  local nwarn
  nwarn=$(grep -c 'warning:' "$bdir/build.log" || true)
  if [ "$nwarn" -gt 0 ]; then
    echo "cross-test: $arch: $nwarn compiler warnings (char is unsigned on ARM):"
    grep 'warning:' "$bdir/build.log" | sort -u | sed 's/^/  /'
  fi
  note "$arch: configure+build $(( $(date +%s) - s ))s, $nwarn warnings"
}

smoke_binaries() {
  # Each program must at least load on the target (all shared libraries
  # resolved by the arm64 loader) and answer --version; edge-agent must exit 0.
  local bdir=$1 f name ran=0 rc out
  local -a emu
  read -ra emu <<<"$2"
  for f in "$bdir"/bin/*; do
    if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
    name=$(basename "$f")
    printf '+ %s %s --version\n' "$2" "bin/$name"
    rc=0
    out=$(timeout 60 "${emu[@]}" "$f" --version </dev/null 2>&1) || rc=$?
    echo "  [exit $rc] ${out%%$'\n'*}"
    if [ "$rc" -eq 127 ] || [ "$rc" -eq 124 ] || grep -q 'error while loading shared libraries' <<<"$out" \
       || { [ "$name" = edge-agent ] && [ "$rc" -ne 0 ]; }; then
      echo "cross-test: ERROR: $name does not start under qemu:" >&2
      echo "$out" >&2
      return 1
    fi
    ran=$((ran + 1))
  done
  if [ -x "$bdir/bin/edge-agent" ] && [ -f "$here/deploy/edge-agent.json" ]; then
    # Informational: the shipped config may name paths that exist only on a
    # device; scripts/package-check.sh checks it on an installed package.
    printf '+ %s bin/edge-agent --check-config --config deploy/edge-agent.json\n' "$2"
    rc=0; out=$(timeout 60 "${emu[@]}" "$bdir/bin/edge-agent" --check-config \
                 --config "$here/deploy/edge-agent.json" </dev/null 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/  /'
    note "aarch64: edge-agent --check-config deploy/edge-agent.json under qemu: exit $rc"
  fi
  note "aarch64: $ran programs start under qemu (--version)"
}

do_aarch64() {
  deps_aarch64
  command -v qemu-aarch64 >/dev/null || { echo "cross-test: ERROR: qemu-aarch64 missing" >&2; return 1; }
  local bdir=$BUILD_ROOT/build-cross-aarch64
  build aarch64 aarch64-linux-gnu.cmake "$bdir"
  check_cache "$bdir"
  check_machine "$bdir" AArch64
  smoke_binaries "$bdir" "qemu-aarch64 -L /usr/aarch64-linux-gnu"
  log "aarch64: unit tests under qemu-aarch64"
  local s
  s=$(date +%s)
  run_ctest "$bdir" aarch64 "qemu-aarch64 -L /usr/aarch64-linux-gnu"
  note "aarch64: tests $(( $(date +%s) - s ))s"
  if [ "${CROSS_PACKAGE:-1}" = 1 ]; then
    log "aarch64: Debian package (scripts/package.sh arm64)"
    s=$(date +%s)
    run env SKIP_DEPS=1 JOBS="$JOBS" BUILD_ROOT="$BUILD_ROOT" bash "$here/scripts/package.sh" arm64
    note "aarch64: package out/$(cd "$here/out" && ls edge-agent_*_arm64.deb) $(( $(date +%s) - s ))s"
  fi
}

do_armhf() {
  deps_armhf
  command -v qemu-arm >/dev/null || { echo "cross-test: ERROR: qemu-arm missing" >&2; return 1; }
  local bdir=$BUILD_ROOT/build-cross-armhf
  build armhf arm-linux-gnueabihf.cmake "$bdir" -DEDGE_HAL_ONLY=ON
  check_machine "$bdir" ARM
  log "armhf: hal/drivers unit tests under qemu-arm"
  local s
  s=$(date +%s)
  run_ctest "$bdir" armhf "qemu-arm -L /usr/arm-linux-gnueabihf"
  note "armhf: tests $(( $(date +%s) - s ))s"
}

status=0
for t in "${targets[@]}"; do
  # A subshell outside any `if`, so that `set -e` stays in force inside it.
  set +e
  ( set -e; "do_$t" )
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "cross-test: FAILED: $t (exit $rc)" >&2
    note "$t: FAILED (exit $rc)"
    status=1
  else
    note "$t: OK"
  fi
done
drop_armhf || status=1

log "summary ($(( $(date +%s) - t0 ))s)"
sed 's/^/  /' "$notes"
echo "  foreign dpkg architectures: $(dpkg --print-foreign-architectures | tr '\n' ' ')"
if [ $status -ne 0 ]; then
  echo "cross-test: FAILED" >&2
else
  echo "cross-test: OK"
fi
exit $status
