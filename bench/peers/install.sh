#!/usr/bin/env bash
# Installs the peer servers of the side-by-side gateway load test (bench/run-comparison.sh):
# nats-server from Debian, the Node `ws` package pinned by bench/peers/node-ws/package-lock.json, and
# uWebSockets.js (@trufflesuite/uws-js-unofficial, pinned by bench/peers/uws/package-lock.json; its
# optional dependencies serve only its JavaScript fallback, which the uws peer refuses to run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v nats-server >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends nats-server
fi
command -v node >/dev/null || { echo "node (20) is needed for the ws and uws peers: scripts/install-deps.sh" >&2; exit 1; }
(cd "$here/node-ws" && npm ci --no-audit --no-fund --silent)
(cd "$here/uws" && npm ci --no-audit --no-fund --silent --omit=optional)
