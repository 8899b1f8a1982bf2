#!/usr/bin/env bash
# Registrations/s for N devices against edge-provisiond on loopback, beside the
# raw mbedTLS signing rate measured in the same run.
# Usage: bench/provisioning/run.sh [BUILD_DIR] [DEVICES] [CLIENTS]
set -euo pipefail
build=${1:-build}
n=${2:-1000}
clients=${3:-8}
bin=$(cd "$build/bin" && pwd)
tmp=$(mktemp -d /tmp/prov-bench-XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/edge-provisiond" init-ca --state-dir "$tmp/state" >/dev/null
cat >"$tmp/provisiond.json" <<JSON
{"listen": "127.0.0.1", "port": $port, "state_dir": "$tmp/state",
 "limits": {"rate_per_s": 1000000, "burst": 1000000, "threads": 4, "max_connections": 512}}
JSON
"$bin/edge-provisiond" token create --config "$tmp/provisiond.json" --batch bench \
  --uses "$n" --expires 1h >"$tmp/token" 2>/dev/null
"$bin/edge-provisiond" serve --config "$tmp/provisiond.json" --log-level warning \
  2>"$tmp/provisiond.log" &
pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
"$bin/prov-bench" --state-dir "$tmp/state" --url "https://127.0.0.1:$port" \
  --token-file "$tmp/token" --devices "$n" --clients "$clients"
