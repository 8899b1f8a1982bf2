# Shell helpers shared by scripts/demo.sh and the bench scripts (sourced).
# Throwaway EC P-256 PKI for a local broker, and loopback ports.

# edge_pki_ca DIR CN: DIR/ca.key, DIR/ca.crt (valid 2 days)
edge_pki_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1/ca.key" -out "$1/ca.crt" -days 2 -subj "/CN=$2" 2>/dev/null
}

# edge_pki_cert DIR NAME CN EXTENSION: DIR/NAME.{key,crt} signed by DIR/ca
edge_pki_cert() {
  local d=$1 n=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$n.key" \
    -out "$d/$n.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "$4" >"$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
    -CAcreateserial -out "$d/$n.crt" -days 2 -extfile "$d/$n.ext" 2>/dev/null
  chmod 600 "$d/$n.key"
}

# edge_free_port: a free TCP port on 127.0.0.1
edge_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# edge_wait_port PORT: until something listens (5 s at most)
edge_wait_port() {
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
