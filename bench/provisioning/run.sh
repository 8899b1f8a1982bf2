#!/usr/bin/env bash
# Registrations/s for N devices against edge-provisiond on loopback, beside the
# raw mbedTLS signing rate measured in the same run.
# Usage: bench/provisioning/run.sh [BUILD_DIR] [DEVICES] [CLIENTS]
set -euo pipefail
. "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib/pki.sh"
build=${1:-build}
n=${2:-1000}
clients=${3:-8}
bin=$(cd "$build/bin" && pwd)
tmp=$(mktemp -d /tmp/prov-bench-XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(edge_free_port)
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
edge_wait_port "$port" || true
"$bin/prov-bench" --state-dir "$tmp/state" --url "https://127.0.0.1:$port" \
  --token-file "$tmp/token" --devices "$n" --clients "$clients"
