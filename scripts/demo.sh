#!/usr/bin/env bash
# The main job on the embedded default: installs dependencies, builds, makes a
# throwaway CA with broker and device certificates, starts a local mosquitto
# with mutual TLS on a free loopback port, runs edge-agent on the simulated
# board and shows HealthData records arriving until Ctrl-C (or for
# DEMO_SECONDS seconds), then stops everything it started.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib/pki.sh"
build=${BUILD_DIR:-$here/build}
seconds=${DEMO_SECONDS:-0}

bash "$here/scripts/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target edge-agent >/dev/null
echo "demo: built $build/bin/edge-agent"

work=$(mktemp -d /tmp/edge-demo.XXXXXX)
pids=()
cleanup() {
  trap - EXIT INT TERM
  # agent first (it publishes its offline status), then viewer and broker
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true; sleep 0.3
  done
  wait 2>/dev/null || true
  rm -rf "$work"
  echo "demo: stopped everything and removed $work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

edge_pki_broker "$work" edge-demo-ca
edge_pki_cert "$work" device sim-0001 "extendedKeyUsage=clientAuth"
edge_pki_cert "$work" viewer demo-viewer "extendedKeyUsage=clientAuth"

port=$(edge_free_port)
edge_broker_conf "$work" "$port" "log_dest file $work/mosquitto.log"
mosquitto -c "$work/mosquitto.conf" 2>/dev/null & pids+=($!)
edge_wait_port "$port"
echo "demo: mosquitto with mutual TLS on 127.0.0.1:$port"

cat > "$work/agent.json" <<JSON
{
  "device_id": "sim-0001",
  "board": "sim",
  "state_dir": "$work/state",
  "mqtt": {
    "host": "127.0.0.1", "port": $port,
    "tls": {"ca_file": "$work/ca.crt", "cert_file": "$work/device.crt",
            "key_file": "$work/device.key"}
  },
  "status": {"interval_s": 10}
}
JSON
"$build/bin/edge-agent" --config "$work/agent.json" --foreground 2> >(sed 's/^/agent: /' >&2) &
pids+=($!)
echo "demo: edge-agent running on the sim board; HealthData records on health/device_data:"
mosquitto_sub -h 127.0.0.1 -p "$port" --cafile "$work/ca.crt" --cert "$work/viewer.crt" \
  --key "$work/viewer.key" -V mqttv5 -q 1 -t health/device_data -t 'devices/+/status' \
  -F '%t %p' &
pids+=($!)
if [ "$seconds" -gt 0 ]; then sleep "$seconds"; else wait; fi
