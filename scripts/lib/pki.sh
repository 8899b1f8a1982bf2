# Shell helpers shared by scripts/demo.sh and the bench scripts (sourced).
# Throwaway EC P-256 PKI for a local broker, its mosquitto.conf, and loopback
# ports.

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

# edge_pki_broker DIR CA_CN: the CA (edge_pki_ca) and DIR/broker.{key,crt} for
# a broker on 127.0.0.1 / localhost
edge_pki_broker() {
  edge_pki_ca "$1" "$2"
  edge_pki_cert "$1" broker localhost "subjectAltName=IP:127.0.0.1,DNS:localhost"
}

# edge_broker_conf DIR PORT [LINE...]: DIR/mosquitto.conf, one mutual-TLS 1.2
# listener on 127.0.0.1:PORT with DIR/ca.crt and DIR/broker.{crt,key} (no
# anonymous clients; a client certificate's CN is its user name), then each
# LINE as it is
edge_broker_conf() {
  local d=$1 p=$2
  shift 2
  {
    printf '%s\n' "user root" "listener $p 127.0.0.1" "allow_anonymous false" \
      "cafile $d/ca.crt" "certfile $d/broker.crt" "keyfile $d/broker.key" \
      "require_certificate true" "use_identity_as_username true" "tls_version tlsv1.2"
    [ $# -eq 0 ] || printf '%s\n' "$@"
  } >"$d/mosquitto.conf"
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
