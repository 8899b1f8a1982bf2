#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, then
#   1. builds with -Werror and runs unit + integration tests (real mosquitto,
#      real SQLite files, the real binaries),
#   2. builds with ASan+UBSan and runs the same suite again,
#   3. builds the libFuzzer targets with clang and runs each briefly.
# The cross builds under qemu and the package install check are the heavy
# stage, scripts/test-heavy.sh (CI runs it after this one).
# Set EDGE_TEST_QUICK=1 to run stage 1 only. Exits non-zero if any stage fails.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
# Tests run two per core: most of an integration test's time is spent waiting
# for its peers (brokers, servers, qemu, timers), not computing. On the 2-core
# CI machine -j4 halved both suites (stage 1: 468 -> 226 s, ASan: 446 -> 232 s)
# with every test passing in repeated runs. EDGE_CTEST_JOBS overrides it.
ctest_jobs=${EDGE_CTEST_JOBS:-$((2 * jobs))}
quick=${EDGE_TEST_QUICK:-0}
status=0
summary=()

bash "$here/scripts/install-deps.sh" || { echo "test: dependency install failed"; exit 1; }

stage() { # name build-dir ctest-args cmake-args...
  local name=$1 dir=$2 labels=$3; shift 3
  local t0=$SECONDS
  echo "=== stage: $name"
  if ! cmake -S "$here" -B "$dir" -DEDGE_WERROR=ON "$@" >"$dir.configure.log" 2>&1; then
    mkdir -p "$dir"; cat "$dir.configure.log"; summary+=("$name: configure FAILED"); status=1; return
  fi
  if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    grep -E "error|warning" "$dir.build.log" | head -50
    summary+=("$name: build FAILED"); status=1; return
  fi
  local out exclude=()
  if [ -n "${EDGE_CTEST_EXCLUDE:-}" ]; then
    exclude=(-E "$EDGE_CTEST_EXCLUDE")
    echo "NOT RUN in stage $name: tests matching $EDGE_CTEST_EXCLUDE (${EDGE_CTEST_EXCLUDE_WHY:-})"
  fi
  # the fuzz targets compute for a fixed time each: one per core
  local cj=$ctest_jobs
  [ "$labels" = fuzz ] && cj=$jobs
  out=$(ctest --test-dir "$dir" -L "$labels" "${exclude[@]}" --output-on-failure -j"$cj" 2>&1)
  local rc=$?
  echo "$out" | grep -vE "^\s*(Start|Test project|Internal ctest)" | tail -40
  # every failing check, wherever it sits in the output
  echo "$out" | grep -E "^FAIL |FAILED:|Assertion|ERROR: (Address|Undefined|Leak)" | head -30
  local line
  line=$(echo "$out" | grep -E "tests passed|tests failed" | tail -1)
  summary+=("$name: ${line:-no ctest summary} ($((SECONDS - t0)) s)")
  [ $rc -eq 0 ] || status=1
}

mkdir -p "$here/build-test"
stage "unit+integration" "$here/build-test/default" "unit|integration" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$quick" != 1 ]; then
  # ASan+UBSan: leaks are reported too; the halt makes any finding fail its test.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # The 60 s broker outage already ran in stage 1; under ASan a 15 s one suffices.
  export EDGE_OUTAGE_S=15
  stage "asan+ubsan" "$here/build-test/asan" "unit|integration" -DCMAKE_BUILD_TYPE=Debug -DEDGE_SANITIZE=ON
  unset ASAN_OPTIONS UBSAN_OPTIONS EDGE_OUTAGE_S EDGE_CTEST_EXCLUDE EDGE_CTEST_EXCLUDE_WHY
  stage "fuzz (libFuzzer smoke)" "$here/build-test/fuzz" "fuzz" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER=clang -DEDGE_FUZZ=ON -DEDGE_SANITIZE=ON
fi

echo
echo "=== summary"
for s in "${summary[@]}"; do echo "  $s"; done
[ $status -eq 0 ] && echo "test: ALL STAGES PASSED" || echo "test: SOME STAGES FAILED"
exit $status
