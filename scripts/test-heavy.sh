#!/usr/bin/env bash
# The heavy stage, kept out of the README's test command so that one stays near
# 20 minutes on the 2-core CI machine; CI (.ci/run) runs both:
#   1. scripts/cross-test.sh: aarch64 and armhf builds, their tests under qemu-user,
#      the arm64 package;
#   2. scripts/package-check.sh: the amd64 package built, installed and started.
# Installs what it needs (each script calls install-deps.sh). Exits non-zero if any
# part fails.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
status=0
summary=()
for part in cross-test.sh package-check.sh; do
  echo "=== heavy stage: $part"
  t0=$SECONDS
  if bash "$here/scripts/$part"; then summary+=("$part: passed ($((SECONDS - t0)) s)")
  else summary+=("$part: FAILED ($((SECONDS - t0)) s)"); status=1; fi
done
echo
echo "=== heavy stage summary"
for s in "${summary[@]}"; do echo "  $s"; done
[ $status -eq 0 ] && echo "test-heavy: ALL PASSED" || echo "test-heavy: SOME FAILED"
exit $status
