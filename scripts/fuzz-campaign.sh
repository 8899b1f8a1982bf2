#!/usr/bin/env bash
# A fuzzing campaign beside the CI smoke run (docs/reliability.md, "Fuzzing").
#
#   scripts/fuzz-campaign.sh [SECONDS]
#
# Builds every libFuzzer target (tests/fuzz/*) with clang + ASan + UBSan in
# a build directory of its own, runs each for SECONDS, one after another in
# a single process (one core), with memory limits, and prints one table:
# target, execs, exec/s, coverage (cov: of libFuzzer's last status line),
# result (and the coverage the seeds alone gave, to see that it grows).
# Crashes, logs and the grown corpora stay in a results directory
# outside the source tree; the seed corpora are never written.
#
# SECONDS defaults to 180: under ASan+UBSan on one core of a shared 2-core
# machine the fast targets (fuzz_bp, prov_response_fuzz, fuzz_senml_cbor,
# fuzz_prov_answer) run 67,000-243,000 inputs per second
# (docs/reliability.md), so 180 s gives each of them at least 10 M
# executions; the others (1,000-45,000/s: JSON through cJSON, a socket
# connection, a whole command with its files, a PPG window per input) get
# what the same time gives. 22 targets take 66 minutes. A target's own
# edge_fuzz_target(... ARGS) come after the defaults and win.
#
# Environment:
#   EDGE_FUZZ_WORK    work root (default ${TMPDIR:-/tmp}/edge-fuzz-campaign);
#                     build/ and results/<date>/ live there
#   EDGE_FUZZ_JOBS    build parallelism (default 2)
#   EDGE_FUZZ_RSS_MB  -rss_limit_mb (default 2048)
#   EDGE_FUZZ_MALLOC_MB  -malloc_limit_mb (default 512)
#   EDGE_FUZZ_CPU     pin the fuzzers to this CPU with taskset (default: none)
#   EDGE_FUZZ_ONLY    space-separated target names to run (default: all)
# Exit status: 0 when every target ran clean, 1 when one found something,
# 2 when the tools or the build are missing.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-180}
work=${EDGE_FUZZ_WORK:-${TMPDIR:-/tmp}/edge-fuzz-campaign}
jobs=${EDGE_FUZZ_JOBS:-2}
rss_mb=${EDGE_FUZZ_RSS_MB:-2048}
malloc_mb=${EDGE_FUZZ_MALLOC_MB:-512}

loud() { # the message, framed so that it is not missed in a long log
	echo >&2
	echo "######################################################################" >&2
	echo "fuzz-campaign: $*" >&2
	echo "######################################################################" >&2
}

case "$seconds" in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac
mkdir -p "$work" || {
	loud "cannot create $work"
	exit 2
}
work=$(cd "$work" && pwd)
case "$work/" in
"$here"/*)
	loud "EDGE_FUZZ_WORK ($work) is inside the source tree: choose a directory outside it"
	exit 2
	;;
esac

# ---- tools: the same packages as the fuzz stage of scripts/test.sh ----------
if ! bash "$here/scripts/install-deps.sh"; then
	loud "scripts/install-deps.sh failed (above: root or sudo, the network, a dpkg lock); checking what is there"
fi
missing=()
command -v clang >/dev/null || missing+=("clang (Debian: clang)")
command -v cmake >/dev/null || missing+=("cmake (Debian: cmake)")
command -v llvm-symbolizer >/dev/null || missing+=("llvm-symbolizer (Debian: llvm; stack traces would lack lines)")
if command -v clang >/dev/null; then
	probe=$(mktemp -d)
	printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
	clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err" ||
		missing+=("the libFuzzer/ASan/UBSan runtime (Debian: libclang-rt-14-dev): $(head -1 "$probe/err")")
	rm -rf "$probe"
fi
if [ ${#missing[@]} -gt 0 ]; then
	loud "MISSING, no campaign run: ${missing[*]}"
	exit 2
fi

# ---- build ----------------------------------------------------------------
build=$work/build
echo "fuzz-campaign: building the targets in $build (clang, ASan+UBSan, -j$jobs)"
if ! cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	-DEDGE_FUZZ=ON -DEDGE_SANITIZE=ON -DEDGE_WERROR=ON >"$work/configure.log" 2>&1; then
	tail -30 "$work/configure.log"
	loud "configure FAILED (log: $work/configure.log)"
	exit 2
fi
manifests=()
names=()
for m in "$build"/fuzz/targets/*.txt; do
	[ -e "$m" ] || continue
	IFS='|' read -r name _ <"$m"
	if [ -n "${EDGE_FUZZ_ONLY:-}" ] && [[ " $EDGE_FUZZ_ONLY " != *" $name "* ]]; then
		continue
	fi
	manifests+=("$m")
	names+=("$name")
done
if [ ${#names[@]} -eq 0 ]; then
	loud "no fuzz targets to run in $build/fuzz/targets (EDGE_FUZZ off? EDGE_FUZZ_ONLY names?)"
	exit 2
fi
# only the fuzz targets (and what they link), not the whole tree
if ! cmake --build "$build" -j"$jobs" --target "${names[@]}" >"$work/build.log" 2>&1; then
	grep -E "error|warning|No rule" "$work/build.log" | head -30
	loud "build FAILED (log: $work/build.log)"
	exit 2
fi

# ---- run --------------------------------------------------------------------
run=$work/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$run/crashes" "$run/corpus" "$run/logs"
scratch=$(mktemp -d "${EDGE_FUZZ_SHM:-/dev/shm}/edge-fuzz-campaign.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pin=()
[ -n "${EDGE_FUZZ_CPU:-}" ] && pin=(taskset -c "$EDGE_FUZZ_CPU")
echo "fuzz-campaign: ${#manifests[@]} targets, ${seconds} s each, one at a time; results in $run"

rows=()
failed=0
for m in "${manifests[@]}"; do
	IFS='|' read -r name bin corpus dict max_len extra <"$m"
	log=$run/logs/$name.log
	mkdir -p "$run/corpus/$name"
	args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10
		-rss_limit_mb="$rss_mb" -malloc_limit_mb="$malloc_mb" -print_final_stats=1
		-artifact_prefix="$run/crashes/$name-")
	[ -n "$dict" ] && args+=(-dict="$dict")
	# the target's own ARGS (edge_fuzz_target) come last: they win
	# shellcheck disable=SC2206
	[ -n "$extra" ] && args+=($extra)
	echo "fuzz-campaign: $name ..."
	EDGE_FUZZ_TMPDIR=$scratch ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
		"${pin[@]}" "$bin" "${args[@]}" "$run/corpus/$name" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	[ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
	cov=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
	seed_cov=$(grep -m1 -E '^#[0-9]+.*INITED.*cov: [0-9]+' "$log" | sed -E 's/.*cov: ([0-9]+).*/\1/')
	artifact=$(ls "$run/crashes/$name-"{crash,leak,timeout,oom}-* 2>/dev/null | head -1)
	if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
		result=ok
	else
		failed=1
		kind=$(basename "${artifact:-none}" | sed -E "s/^$name-([a-z-]+)-.*/\1/")
		# "UndefinedBehaviorSanitizer: undefined-behavior", "libFuzzer: deadly signal", ...
		why=$(sed -n 's/^SUMMARY: \([A-Za-z]*: [a-z -]*[a-z]\).*/\1/p' "$log" | head -1)
		# where: the first frame (or UBSan's report line) in the project's sources
		where=$(grep -m1 -oE "$here/[^ :]+:[0-9]+" "$log" | sed "s|^$here/||")
		result="FOUND ${kind:-exit $rc}: ${why:-see log}${where:+ at $where} ($(basename "${artifact:-$log}"))"
	fi
	rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
		"${seed_cov:-?}" "$result")")
done

{
	echo "| target | execs | exec/s | cov | cov of the seeds | result |"
	echo "|---|---:|---:|---:|---:|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$run/table.md"
echo "fuzz-campaign: $(date -u +%Y-%m-%d), ${seconds} s per target; logs, crashes and corpora in $run"
if [ "$failed" -ne 0 ]; then
	loud "a target found something: see the table and $run/crashes"
	exit 1
fi
exit 0
