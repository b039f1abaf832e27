#!/usr/bin/env bash
# Installs the peer servers of the side-by-side gateway load test (bench/run-comparison.sh):
# nats-server from Debian, and the Node `ws` package pinned by bench/peers/node-ws/package-lock.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v nats-server >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends nats-server
fi
command -v node >/dev/null || { echo "node (20) is needed for the ws peer: scripts/install-deps.sh" >&2; exit 1; }
(cd "$here/node-ws" && npm ci --no-audit --no-fund --silent)
