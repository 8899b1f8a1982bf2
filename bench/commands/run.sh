#!/usr/bin/env bash
# Command round trip (issue 6): the real edge-agent answering `ping` over
# loopback mutual TLS, beside a raw MQTT v5 request/response between two plain
# libmosquitto clients (a tiny echo responder), against ONE local mosquitto, in
# the same run, interleaved rounds. Prints one Markdown table (docs/commands.md
# shows the latest). Not a test.
#
#   bash bench/commands/run.sh
#
# Environment: BENCH_REPEAT (3 rounds), BENCH_COUNT (2000 requests per round),
# BENCH_BUILD_DIR (build-bench).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/scripts/lib/pki.sh"
build=${BENCH_BUILD_DIR:-$here/build-bench}
repeat=${BENCH_REPEAT:-3}
count=${BENCH_COUNT:-2000}
py=/usr/bin/python3

log() { echo "bench: $*" >&2; }

log "building (Release) in $build"
mkdir -p "$build"
if ! { cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DEDGE_TESTS=OFF &&
  cmake --build "$build" -j2 --target edge-agent bench-cmd-rtt; } >"$build/cmd-build.log" 2>&1; then
  cat "$build/cmd-build.log" >&2
  exit 1
fi
R=$build/bench/bench-cmd-rtt

# On the build's file system, not /tmp: the agent's state lives there.
work=$(mktemp -d "$build/bench-cmd.XXXXXX")
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

edge_pki_broker "$work" edge-bench-ca
edge_pki_cert "$work" device sim-0001 "extendedKeyUsage=clientAuth"
edge_pki_cert "$work" echo bench-echo "extendedKeyUsage=clientAuth"
edge_pki_cert "$work" req bench-requester "extendedKeyUsage=clientAuth"
port=$(edge_free_port)
# Latency, not throughput: without set_tcp_nodelay the broker's segments wait
# for delayed ACKs (~40 ms).
edge_broker_conf "$work" "$port" "per_listener_settings false" "log_dest none" \
  "persistence false" "set_tcp_nodelay true"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
pids+=($!)
edge_wait_port "$port"

mkdir -p "$work/state"
cat >"$work/agent.json" <<JSON
{
  "device_id": "sim-0001", "board": "sim", "state_dir": "$work/state", "log_level": "notice",
  "mqtt": {"host": "127.0.0.1", "port": $port,
           "tls": {"ca_file": "$work/ca.crt", "cert_file": "$work/device.crt",
                   "key_file": "$work/device.key"}}
}
JSON
"$build/bin/edge-agent" --config "$work/agent.json" --foreground 2>"$work/agent.log" &
pids+=($!)
$R --port "$port" --ca "$work/ca.crt" --cert "$work/echo.crt" --key "$work/echo.key" \
  --topic bench/echo --echo 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "connected to" "$work/agent.log" && break; sleep 0.05; done
sleep 0.5

req=(--port "$port" --ca "$work/ca.crt" --cert "$work/req.crt" --key "$work/req.key"
  --count "$count" --warmup 100)
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
E50=() E99=() A50=() A99=() EMX=() AMX=()
for r in $(seq "$repeat"); do
  out=$($R "${req[@]}" --topic bench/echo --label echo)
  log "round $r baseline: $out"
  E50+=("$(kv p50_ms "$out")") E99+=("$(kv p99_ms "$out")") EMX+=("$(kv max_ms "$out")")
  out=$($R "${req[@]}" --topic commands/sim-0001/ping --label agent-ping)
  log "round $r agent:    $out"
  A50+=("$(kv p50_ms "$out")") A99+=("$(kv p99_ms "$out")") AMX+=("$(kv max_ms "$out")")
done
e50=$(median "${E50[@]}") e99=$(median "${E99[@]}") a50=$(median "${A50[@]}") a99=$(median "${A99[@]}")
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
echo "Command round trip, loopback mutual TLS, MQTT v5, QoS 1 both ways; $count requests x $repeat rounds (medians of the per-round percentiles); $(nproc) CPU(s): $cpu"
echo
echo "| path | p50 ms | p99 ms | max ms (worst round) |"
echo "|---|---|---|---|"
echo "| raw MQTT request/response (libmosquitto echo client) | $e50 | $e99 | $(printf '%s\n' "${EMX[@]}" | sort -g | tail -1) |"
echo "| edge-agent \`ping\` (parse, dedup, answer) | $a50 | $a99 | $(printf '%s\n' "${AMX[@]}" | sort -g | tail -1) |"
echo "| ratio agent / raw | $(awk "BEGIN{printf \"%.2f\", $a50/$e50}") | $(awk "BEGIN{printf \"%.2f\", $a99/$e99}") | |"
