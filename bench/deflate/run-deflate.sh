#!/usr/bin/env bash
# permessage-deflate benchmark: bytes on the wire and switchboard-gateway CPU per delivery for
# 1 KiB JSON publications, plain and marked `compress`, to subscribers that negotiated the
# extension (Node `ws` clients, which offer it like browsers). Results: docs/benchmarks.md.
#
# Usage: bench/deflate/run-deflate.sh GATEWAY_BINARY [RUNS=3] [SUBSCRIBERS=200] [MESSAGES=1000]
# Needs node and bench/peers/node-ws (bench/peers/install.sh). The gateway runs one io thread,
# so its CPU per delivery compares like with like. CPU time (not throughput) is measured, so a
# busy machine changes the figures little.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../common/own-session.sh"
own_session "$0" "$@"
trap stop_session EXIT

gateway=${1:?usage: run-deflate.sh GATEWAY_BINARY [RUNS] [SUBSCRIBERS] [MESSAGES]}
runs=${2:-3}
subscribers=${3:-200}
messages=${4:-1000}
[ -d "$here/../peers/node-ws/node_modules/ws" ] || { echo "run bench/peers/install.sh first" >&2; exit 1; }

log=$(mktemp)
"$gateway" --port 0 --api-key bench --io-threads 1 --rate 1000000 --rate-burst 1000000 \
  --max-connections 100000 --log-level warn >"$log" 2>&1 &
gw=$!
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
[ -n "$port" ] || { echo "the gateway did not start" >&2; cat "$log" >&2; exit 1; }

for run in $(seq "$runs"); do
  for compress in 0 1; do
    node "$here/deflate-bench.js" --port "$port" --pid "$gw" --subscribers "$subscribers" \
      --messages "$messages" --compress "$compress"
  done
done
kill "$gw"
rm -f "$log"
