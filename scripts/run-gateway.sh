#!/usr/bin/env bash
# Installs what is needed, builds, and runs switchboard-gateway with its embedded defaults
# (127.0.0.1:8080, in-memory engine), serving the browser client's live page at /.
# Extra arguments go to the gateway (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh runtime
jobs=$(nproc)
cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs" --target switchboard-gateway

# The page at / is the browser client (wasm/), built with Emscripten.
web=()
export NODE_PATH=/usr/share/nodejs
if cmake --preset wasm-core >/dev/null && cmake --build --preset wasm-core -j "$jobs" --target switchboard-web; then
  web=(--static "$PWD/build/wasm-core/web")
else
  echo "warning: the browser client did not build; the gateway runs without its page" >&2
fi
exec build/default/server/gateway/switchboard-gateway "${web[@]}" "$@"
