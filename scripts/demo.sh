#!/usr/bin/env bash
# The main job on the embedded default: installs dependencies, builds, makes a
# throwaway CA with broker and device certificates, starts a local mosquitto
# with mutual TLS on a free loopback port, runs edge-agent on the simulated
# board and shows HealthData records arriving until Ctrl-C (or for
# DEMO_SECONDS seconds), then stops everything it started.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
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

cert() { # name cn extension
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" \
    -out "$work/$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$3" > "$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -out "$work/$1.crt" -days 2 -extfile "$work/$1.ext" 2>/dev/null
  chmod 600 "$work/$1.key"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.crt" -days 2 -subj "/CN=edge-demo-ca" 2>/dev/null
cert broker localhost "subjectAltName=IP:127.0.0.1,DNS:localhost"
cert device sim-0001 "extendedKeyUsage=clientAuth"
cert viewer demo-viewer "extendedKeyUsage=clientAuth"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
user root
listener $port 127.0.0.1
allow_anonymous false
cafile $work/ca.crt
certfile $work/broker.crt
keyfile $work/broker.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
log_dest file $work/mosquitto.log
CONF
mosquitto -c "$work/mosquitto.conf" 2>/dev/null & pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
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
