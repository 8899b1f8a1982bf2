#!/usr/bin/env bash
# The device key in a SoftHSM2 token against the same kind of key in a file,
# in one run against one mosquitto with require_certificate on loopback: TLS
# handshake time and CPU, then QoS 1 publish throughput after the handshake.
# Usage: bench/pkcs11/run.sh [BUILD_DIR] [HANDSHAKES_PER_ROUND] [ROUNDS] [MESSAGES]
set -euo pipefail
. "$(cd "$(dirname "$0")/../.." && pwd)/scripts/lib/pki.sh"
build=${1:-build}
hs=${2:-50}
rounds=${3:-4}
msgs=${4:-20000}
bench=$(cd "$build/bench" && pwd)
module=/usr/lib/softhsm/libsofthsm2.so
[ -e "$module" ] || { echo "CANNOT RUN: SoftHSM2 missing (Debian package softhsm2)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/p11-bench-XXXXXX)
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

edge_pki_broker "$tmp" p11-bench-ca
edge_pki_cert "$tmp" device bench-file "extendedKeyUsage=clientAuth"
# the token: initialised here, the key made inside it, the CSR signed there
mkdir -p "$tmp/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$tmp/tokens" >"$tmp/softhsm2.conf"
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label bench --pin 4321 --so-pin 87654321 >/dev/null
printf '4321\n' >"$tmp/pin" && chmod 600 "$tmp/pin"
pkcs11-tool --module "$module" --token-label bench --login --pin 4321 --keypairgen \
  --key-type EC:prime256v1 --label device --id 01 >/dev/null
printf 'openssl_conf = c\n[c]\nengines = e\n[e]\npkcs11 = p\n[p]\nMODULE_PATH = %s\nPIN = 4321\ninit = 0\n' \
  "$module" >"$tmp/engine.cnf"
OPENSSL_CONF=$tmp/engine.cnf openssl req -new -engine pkcs11 -keyform engine \
  -key 'pkcs11:token=bench;object=device;type=private' -subj /CN=bench-token \
  -out "$tmp/token.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$tmp/token.ext"
openssl x509 -req -in "$tmp/token.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
  -CAcreateserial -out "$tmp/token.crt" -days 2 -extfile "$tmp/token.ext" 2>/dev/null

port=$(edge_free_port)
edge_broker_conf "$tmp" "$port" "log_dest none" "persistence false" "set_tcp_nodelay true" \
  "max_inflight_messages 0" "max_queued_messages 0"
mosquitto -c "$tmp/mosquitto.conf" >/dev/null 2>&1 &
pid=$!
edge_wait_port "$port"
echo "p11-bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null), $hs handshakes x $rounds rounds per key, $msgs messages"
"$bench/p11-bench" --port "$port" --ca "$tmp/ca.crt" \
  --file-cert "$tmp/device.crt" --file-key "$tmp/device.key" \
  --token-cert "$tmp/token.crt" --token-uri 'pkcs11:token=bench;object=device;type=private' \
  --module "$module" --pin-file "$tmp/pin" --handshakes "$hs" --rounds "$rounds" --messages "$msgs"
