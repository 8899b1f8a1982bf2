#!/usr/bin/env bash
# The edge-agent benchmark (issue 3): store-and-forward throughput and memory
# against the limit, all against ONE local mosquitto over the same mutual TLS,
# in the same run. Prints ONE Markdown table (docs/performance.md shows the
# latest). Not a test: it exits 0 even when a target is missed (marked MISS).
#
#   bash bench/run.sh
#
# Environment: BENCH_PAIRS (8 alternating (a)/(b) pairs), BENCH_REPEAT (3 runs
# of (a) FULL and (c)), BENCH_SECONDS (4 s measured per run), BENCH_WARMUP
# (1 s), BENCH_BACKLOG (1000000 rows for the drain),
# BENCH_BUILD_DIR (build-bench). Progress goes to stderr, the table to stdout.
#
#   (a)  bench-pipeline: the agent's record, store and uplink modules in its
#        loop; acknowledged readings/s; synchronous=NORMAL (default) and FULL
#   (b)  bench-raw-publish: minimal libmosquitto QoS 1 loop, same payloads,
#        same window, no persistence (the limit)
#   (c)  bench/peer/paho_saf.py: Python paho-mqtt + sqlite3 store-and-forward
#        (and (c'), the same with --naive: a transaction per insert and delete)
#   (d)  edge-agent draining a pre-filled outbox of BENCH_BACKLOG rows once the
#        broker is back, against (b) publishing as many
#   (e)  memory (PSS, anonymous, RSS from /proc/PID/smaps_rollup every 100 ms):
#        pipeline during (a), edge-agent during (d), edge-agent idle (broker
#        down) with an empty outbox, 100,000 rows and the full backlog
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib/pki.sh"
build=${BENCH_BUILD_DIR:-$here/build-bench}
pairs=${BENCH_PAIRS:-8}
repeat=${BENCH_REPEAT:-3}
secs=${BENCH_SECONDS:-4}
warm=${BENCH_WARMUP:-1}
backlog=${BENCH_BACKLOG:-1000000}
inflight=128
py=/usr/bin/python3 # Debian's interpreter: python3-paho-mqtt belongs to it

log() { echo "bench: $*" >&2; }

bash "$here/scripts/install-deps.sh" >&2
log "building (Release) in $build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DEDGE_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target edge-agent bench-pipeline bench-raw-publish bench-fill \
  >/dev/null
B=$build/bench

# On the build's file system, not /tmp (often a tmpfs, where fsync costs nothing).
work=$(mktemp -d "$build/bench-run.XXXXXX")
broker_pid=""
agent_pid=""
cleanup() {
  trap - EXIT INT TERM
  for p in $agent_pid $broker_pid; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- PKI and broker ---------------------------------------------------------
edge_pki_broker "$work" edge-bench-ca
edge_pki_cert "$work" device sim-0001 "extendedKeyUsage=clientAuth"
tls=(--ca "$work/ca.crt" --cert "$work/device.crt" --key "$work/device.key")

port=$(edge_free_port)
# No logging, no persistence; max_inflight_messages (also the Receive Maximum
# mosquitto announces to v5 clients) above the clients' window of 128 so the
# broker never narrows it; a queue limit far above anything in flight.
edge_broker_conf "$work" "$port" "per_listener_settings false" "log_dest none" \
  "persistence false" "max_inflight_messages 1024" "max_queued_messages 100000"
start_broker() {
  mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
  broker_pid=$!
}
wait_broker() {
  edge_wait_port "$port" && return 0
  log "mosquitto did not start"
  exit 1
}
stop_broker() {
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
}

agent_config() { # file state_dir synchronous
  mkdir -p "$2"
  cat >"$1" <<JSON
{
  "device_id": "sim-0001", "board": "sim", "state_dir": "$2", "log_level": "notice",
  "mqtt": {"host": "127.0.0.1", "port": $port, "inflight": $inflight,
           "tls": {"ca_file": "$work/ca.crt", "cert_file": "$work/device.crt",
                   "key_file": "$work/device.key"},
           "backoff": {"base_ms": 100, "cap_ms": 500}},
  "store": {"max_rows": $((backlog > 1000000 ? backlog + 100000 : 1100000)), "synchronous": "$3"}
}
JSON
}

kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

start_broker
wait_broker
fs=$(findmnt -no FSTYPE -T "$work" 2>/dev/null || stat -f -c %T "$work")
log "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/mosquitto version //p') on 127.0.0.1:$port; state on $fs"
$B/bench-raw-publish --dump "$work/payloads.txt"

# fsync latency of the outbox's file system: what synchronous=FULL adds per commit.
fsync_ms=$($py - "$work" <<'PY'
import os, sys, time
fd = os.open(os.path.join(sys.argv[1], "fsync-probe"), os.O_WRONLY | os.O_CREAT, 0o600)
lat = []
for i in range(50):
    os.pwrite(fd, os.urandom(4096), (i % 8) * 4096)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append((time.perf_counter() - t) * 1000)
os.close(fd)
os.unlink(os.path.join(sys.argv[1], "fsync-probe"))
print(f"{sorted(lat)[len(lat) // 2]:.2f}")
PY
)
log "fdatasync of 4 KiB on $fs: median $fsync_ms ms"

# ---- (a), (b), (c): alternating runs, medians ---------------------------------------
# (a) and (b) alternate in pairs (b a, a b, b a, ...) so that load from anything
# else on the machine hits both alike; a/b is the median of the pairs' ratios.
A=() AF=() Bv=() C=() CN=() R=() A_pss=() A_anon=() A_rss=() A_cpu=() B_cpu=()
run_b() {
  out=$($B/bench-raw-publish --port "$port" "${tls[@]}" --inflight $inflight \
    --seconds "$secs" --warmup "$warm")
  b_r=$(kv acked_per_s "$out")
  Bv+=("$b_r") B_cpu+=("$(kv cpu_us_per_msg "$out")")
  log "pair $r (b) raw libmosquitto: $out"
}
run_a() { # synchronous
  rm -rf "$work/a"
  agent_config "$work/a.json" "$work/a" "$1"
  a_out=$($B/bench-pipeline --config "$work/a.json" --seconds "$secs" --warmup "$warm" 2>/dev/null)
  a_r=$(kv acked_per_s "$a_out")
  log "run $r (a) pipeline $1: $a_out"
}
for r in $(seq "$pairs"); do
  if [ $((r % 2)) = 1 ]; then run_b; run_a normal; else run_a normal; run_b; fi
  A+=("$a_r") R+=("$(calc %.3f "$a_r / $b_r")")
  A_pss+=("$(kv pss_median_kib "$a_out")") A_anon+=("$(kv anon_kib "$a_out")")
  A_rss+=("$(kv rss_kib "$a_out")") A_cpu+=("$(kv cpu_us_per_msg "$a_out")")
done
for r in $(seq "$repeat"); do
  run_a full
  AF+=("$a_r")
  rm -rf "$work/c"
  out=$($py "$here/bench/peer/paho_saf.py" --port "$port" "${tls[@]}" --inflight $inflight \
    --payloads "$work/payloads.txt" --state-dir "$work/c" --seconds "$secs" --warmup "$warm")
  C+=("$(kv acked_per_s "$out")")
  log "run $r (c) paho + sqlite3: $out"
  rm -rf "$work/c"
  out=$($py "$here/bench/peer/paho_saf.py" --naive --port "$port" "${tls[@]}" --inflight $inflight \
    --payloads "$work/payloads.txt" --state-dir "$work/c" --seconds "$secs" --warmup "$warm")
  CN+=("$(kv acked_per_s "$out")")
  log "run $r (c') paho + sqlite3, a transaction per message: $out"
done
rm -rf "$work/a" "$work/af" "$work/c"

# (b) publishing as many messages as the drain delivers: once here, once after it
out=$($B/bench-raw-publish --port "$port" "${tls[@]}" --inflight $inflight --count "$backlog")
log "(d) raw libmosquitto, $backlog messages (before the drain): $out"
d_raw1=$(kv seconds "$out")

# ---- (e) idle, broker down: empty outbox, 100,000 rows, the full backlog ------------
stop_broker
idle() { # state_dir: the monitor's line in $work/idle.out (no subshell: cleanup sees agent_pid)
  agent_config "$work/idle.json" "$1" normal
  : >"$work/idle.log"
  "$build/bin/edge-agent" --config "$work/idle.json" --foreground 2>"$work/idle.log" &
  agent_pid=$!
  for _ in $(seq 600); do grep -q "next seq" "$work/idle.log" && break; sleep 0.1; done
  sleep 2
  $py "$here/bench/lib/monitor.py" --pid "$agent_pid" --seconds 4 >"$work/idle.out"
  kill "$agent_pid"
  wait "$agent_pid" || true
  agent_pid=""
}
idle "$work/idle0"
idle0=$(cat "$work/idle.out")
log "(e) edge-agent idle, empty outbox, broker down: $idle0"
$B/bench-fill --state-dir "$work/idle1" --count 100000 >/dev/null
idle "$work/idle1"
idle1=$(cat "$work/idle.out")
log "(e) edge-agent idle, 100000 rows, broker down: $idle1"
rm -rf "$work/idle0" "$work/idle1"

# ---- (d) drain + (e) idle with the backlog ------------------------------------------
log "(d) filling an outbox with $backlog rows"
agent_config "$work/drain.json" "$work/drain" normal
fill=$($B/bench-fill --state-dir "$work/drain" --count "$backlog")
log "(d) $fill"
last_seq=$($py -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT max(seq) FROM outbox").fetchone()[0])' "$work/drain/outbox.db")
: >"$work/drain.log"
"$build/bin/edge-agent" --config "$work/drain.json" --foreground 2>"$work/drain.log" &
agent_pid=$!
for _ in $(seq 600); do grep -q "next seq" "$work/drain.log" && break; sleep 0.1; done
sleep 2
idle2=$($py "$here/bench/lib/monitor.py" --pid "$agent_pid" --seconds 4)
log "(e) edge-agent idle, $backlog rows, broker down: $idle2"
start_broker # the broker is back: time until every backlog row is acknowledged and deleted
drain=$($py "$here/bench/lib/monitor.py" --pid "$agent_pid" --db "$work/drain/outbox.db" \
  --drained-at "$last_seq" --timeout 900)
log "(d) edge-agent drain: $drain"
wait_broker
kill "$agent_pid"
wait "$agent_pid" || true
agent_pid=""
rm -rf "$work/drain"
out=$($B/bench-raw-publish --port "$port" "${tls[@]}" --inflight $inflight --count "$backlog")
log "(d) raw libmosquitto, $backlog messages (after the drain): $out"
d_raw2=$(kv seconds "$out")
d_raw=$(calc %.2f "($d_raw1 + $d_raw2) / 2")
stop_broker

# ---- the table -------------------------------------------------------------------------
a=$(calc %.0f "$(median "${A[@]}")") af=$(calc %.0f "$(median "${AF[@]}")")
b=$(calc %.0f "$(median "${Bv[@]}")") c=$(calc %.0f "$(median "${C[@]}")")
cn=$(calc %.0f "$(median "${CN[@]}")")
ab=$(calc %.2f "$a / $b") abr=$(calc %.2f "$(median "${R[@]}")") afb=$(calc %.2f "$af / $b")
ac=$(calc %.1f "$a / $c") acn=$(calc %.1f "$a / $cn") full_cost=$(calc %.0f "100 * (1 - $af / $a)")
d_agent=$(kv drained_s "$drain")
mark() { awk "BEGIN {exit !($1)}" && echo "met" || echo "**MISS**"; }
mib() { calc %.1f "$1 / 1024"; }
memcell() { # pss_median pss_peak anon_peak rss_peak [uss_peak]
  echo "$(mib "$1") MiB PSS (peak $(mib "$2")), $(mib "$3") MiB anon,${5:+ $(mib "$5") MiB USS,} $(mib "$4") MiB RSS"
}
a_pss=$(median "${A_pss[@]}") a_anon=$(median "${A_anon[@]}") a_rss=$(median "${A_rss[@]}")
m() { kv "$1" "$2"; }
if [ "$d_agent" = timeout ]; then
  d_cell="did not finish in 900 s" d_ratio=n/a
else
  d_cell="$d_agent s ($(calc %.0f "$backlog / $d_agent") msg/s)"
  d_ratio=$(calc %.2f "$d_agent / $d_raw")
fi
grow=$(calc %.0f "$(m anon_peak_kib "$idle2") - $(m anon_peak_kib "$idle1")")
a_cpu=$(calc %.1f "$(median "${A_cpu[@]}")") b_cpu=$(calc %.1f "$(median "${B_cpu[@]}")")

echo
echo "edge-agent $(sed -n 's/^project(edge-agent VERSION \([^ ]*\).*/\1/p' "$here/CMakeLists.txt") ($(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/mosquitto version //p') on 127.0.0.1, mutual TLS 1.2 (EC P-256), MQTT v5, QoS 1, in-flight window $inflight, outbox on $fs. Throughput: medians of ${secs}-s runs after ${warm} s warm-up: $pairs alternating (a)/(b) pairs, $repeat runs of (a) FULL, (c) and (c')."
echo
echo "| | figure | measured | same-run baseline | ratio | target | |"
echo "|---|---|---|---|---|---|---|"
echo "| (a) | agent pipeline, synchronous=NORMAL (default) | $a msg/s | (b) $b msg/s | a/b = $abr (median of pair ratios; ratio of medians $ab) | ≥ 0.8 | $(mark "$abr >= 0.8") |"
echo "| (a) | agent pipeline, synchronous=FULL | $af msg/s | (b) $b msg/s; (a) NORMAL $a | a/b = $afb; FULL costs ${full_cost}% (fdatasync median $fsync_ms ms) | trade-off | |"
echo "| (b) | raw libmosquitto QoS 1 loop, no persistence | $b msg/s | | | the limit | |"
echo "| (a)/(b) | client CPU per acknowledged message (user + system) | (a) $a_cpu µs | (b) $b_cpu µs | $(calc %.2f "$b_cpu / $a_cpu") | | |"
echo "| (c) | Python paho-mqtt + sqlite3 store-and-forward, batched transactions (competent) | $c msg/s | (a) $a msg/s | a/c = $ac | a ≥ 10 × c | $(mark "$ac >= 10") |"
echo "| (c') | the same peer with a transaction per insert and per delete (straightforward) | $cn msg/s | (a) $a msg/s | a/c' = $acn | (not the target's peer) | |"
echo "| (d) | edge-agent drains $backlog rows after the broker is back | $d_cell | (b) publishes $backlog in $d_raw s (mean of $d_raw1 before and $d_raw2 after) | d/b = $d_ratio (time) | | |"
echo "| (e) | pipeline during (a) NORMAL | $(memcell "$a_pss" "$a_pss" "$a_anon" "$a_rss" | sed 's/ (peak [^)]*)//') | | | PSS ≤ 4 MiB | $(mark "$a_pss <= 4096") |"
echo "| (e) | edge-agent during (d) | $(memcell "$(m pss_median_kib "$drain")" "$(m pss_peak_kib "$drain")" "$(m anon_peak_kib "$drain")" "$(m rss_peak_kib "$drain")" "$(m uss_peak_kib "$drain")") | | | PSS ≤ 4 MiB | $(mark "$(m pss_median_kib "$drain") <= 4096") |"
echo "| (e) | edge-agent idle, empty outbox, broker down | $(memcell "$(m pss_median_kib "$idle0")" "$(m pss_peak_kib "$idle0")" "$(m anon_peak_kib "$idle0")" "$(m rss_peak_kib "$idle0")" "$(m uss_peak_kib "$idle0")") | | | PSS ≤ 4 MiB | $(mark "$(m pss_median_kib "$idle0") <= 4096") |"
echo "| (e) | edge-agent idle, 100000 rows, broker down | $(memcell "$(m pss_median_kib "$idle1")" "$(m pss_peak_kib "$idle1")" "$(m anon_peak_kib "$idle1")" "$(m rss_peak_kib "$idle1")" "$(m uss_peak_kib "$idle1")") | | | PSS ≤ 4 MiB | $(mark "$(m pss_median_kib "$idle1") <= 4096") |"
echo "| (e) | edge-agent idle, $backlog rows, broker down | $(memcell "$(m pss_median_kib "$idle2")" "$(m pss_peak_kib "$idle2")" "$(m anon_peak_kib "$idle2")" "$(m rss_peak_kib "$idle2")" "$(m uss_peak_kib "$idle2")") | 100000 rows: $(mib "$(m anon_peak_kib "$idle1")") MiB anon | ${grow} KiB anon | not growing with backlog | $(mark "$grow <= 256") |"
echo
echo "Runs, msg/s: (a) NORMAL ${A[*]}; (b) ${Bv[*]}; pair ratios a/b ${R[*]}; (a) FULL ${AF[*]}; (c) ${C[*]}; (c') ${CN[*]}. PSS marks use the median of the samples (steady state); anon = Anonymous (heap, stacks), independent of library sharing."
