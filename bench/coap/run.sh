#!/usr/bin/env bash
# CoAP ingress benchmark (issue 12): builds Release, then bench/coap/run.py prints
# one Markdown table (ratios against coap-server-openssl measured in the same run).
#   bash bench/coap/run.sh            (BENCH_BUILD_DIR, default build-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$here/build-bench}
bash "$here/scripts/install-deps.sh" >&2
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
cmake --build "$build" -j2 --target edge-agent edge-coap-load edgectl >&2
EDGE_BUILD_DIR=$build exec /usr/bin/python3 "$here/bench/coap/run.py"
