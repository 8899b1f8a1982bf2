#!/usr/bin/env bash
# Stripped sizes of every edge-agent executable for x86_64 and aarch64.
#
# Usage: scripts/sizes.sh [--write docs/sizes.md]
#
# Builds (or reuses) the same configurations the Debian packages are made from
# (build-pkg-amd64/ and build-pkg-arm64/: RelWithDebInfo, prefix /usr, no
# tests), strips a copy of every program in bin/ with strip /
# aarch64-linux-gnu-strip, and prints a Markdown table of the file sizes
# (stat -c %s) and the text/data/bss segments (size). With --write the table
# and how it was made go to the given file.
#
# Environment: JOBS=2, BUILD_ROOT=<src>, SKIP_BUILD=1 (measure what is built).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out_file=""
if [ "${1:-}" = "--write" ]; then
  out_file=${2:?usage: $0 [--write FILE]}
fi
JOBS=${JOBS:-2}
BUILD_ROOT=${BUILD_ROOT:-$here}
run() { printf '+ %s\n' "$*" >&2; "$@"; }

# arch  build dir  strip  size  cmake args
configure_build() {
  local bdir=$1; shift
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    run cmake -S "$here" -B "$bdir" "$@" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_INSTALL_PREFIX=/usr -DEDGE_TESTS=OFF -DEDGE_FUZZ=OFF \
      -DEDGE_SANITIZE=OFF -DEDGE_HAL_ONLY=OFF >&2
    run cmake --build "$bdir" -j "$JOBS" >&2
  fi
}
b64=$BUILD_ROOT/build-pkg-amd64
barm=$BUILD_ROOT/build-pkg-arm64
configure_build "$b64"
configure_build "$barm" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/toolchains/aarch64-linux-gnu.cmake"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# measure <binary> <strip> <size>  ->  "bytes text data bss"
measure() {
  local f=$1 strip=$2 sz=$3 c
  c=$tmp/$(basename "$f").$RANDOM
  cp "$f" "$c"
  "$strip" --strip-all "$c"
  read -r text data bss _ < <("$sz" -B "$c" | tail -n1)
  echo "$(stat -c %s "$c") $text $data $bss"
}
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

# Every program in either build, in a stable order.
mapfile -t progs < <(
  for d in "$b64/bin" "$barm/bin"; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do [ -f "$f" ] && [ -x "$f" ] && basename "$f"; done
  done | sort -u)
if [ ${#progs[@]} -eq 0 ]; then
  echo "sizes: no programs in $b64/bin or $barm/bin" >&2
  exit 1
fi

table=$(
  echo "| program | x86_64 stripped | aarch64 stripped | x86_64 text / data / bss | aarch64 text / data / bss |"
  echo "|---|---:|---:|---:|---:|"
  t64=0; tarm=0
  for p in "${progs[@]}"; do
    c64="–"; carm="–"; s64="–"; sarm="–"; name="\`$p\`"; packaged=1
    # Programs without an install rule (benchmarks) are not in the package.
    if ! grep -rqs --include=cmake_install.cmake "}/bin/$p\"" "$b64" "$barm"; then
      name="$name (not packaged)"; packaged=0
    fi
    if [ -x "$b64/bin/$p" ]; then
      read -r n t d b < <(measure "$b64/bin/$p" strip size)
      c64="$n ($(kib "$n"))"; s64="$t / $d / $b"; t64=$((t64 + n * packaged))
    fi
    if [ -x "$barm/bin/$p" ]; then
      read -r n t d b < <(measure "$barm/bin/$p" aarch64-linux-gnu-strip aarch64-linux-gnu-size)
      carm="$n ($(kib "$n"))"; sarm="$t / $d / $b"; tarm=$((tarm + n * packaged))
    fi
    echo "| $name | $c64 | $carm | $s64 | $sarm |"
  done
  echo "| **total of packaged programs** | $t64 ($(kib "$t64")) | $tarm ($(kib "$tarm")) | | |"
)

commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
cc64=$(gcc -dumpfullversion 2>/dev/null || echo "?")
ccarm=$(aarch64-linux-gnu-gcc -dumpfullversion 2>/dev/null || echo "?")
header="Measured $(date -u +%Y-%m-%d) at commit \`$commit\` by \`scripts/sizes.sh\`: RelWithDebInfo
(-O2 -g, hardening flags of cmake/EdgeWarnings.cmake, PIE), then \`strip --strip-all\`
(\`aarch64-linux-gnu-strip\` for aarch64); bytes from \`stat -c %s\`, segments from
\`size -B\`. gcc $cc64 (x86_64), aarch64-linux-gnu-gcc $ccarm; all libraries are
shared (Debian packages), so these are the programs alone."

echo "$table"
if [ -n "$out_file" ]; then
  cat >"$out_file" <<EOF
# Binary sizes

$header

$table

Why aarch64 files are larger than x86_64 for the same code: GNU ld for aarch64
aligns the loadable segments to 64 KiB (\`max-page-size\`, so one binary runs on
4 K, 16 K (Raspberry Pi 5) and 64 K page kernels), and the padding between the
code and data segments is part of the file. The text/data/bss columns show the
actual code and data; on the device the padding costs disk space, not RAM.
What the packages ship is exactly these stripped files (CPack strips with the
same tools), see \`dpkg-deb --contents out/edge-agent_*_<arch>.deb\`.

Regenerate with \`bash scripts/sizes.sh --write docs/sizes.md\`.
EOF
  echo "sizes: wrote $out_file" >&2
fi
