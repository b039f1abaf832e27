#!/usr/bin/env bash
# Installs what is needed, builds, and runs switchboard-gateway with its embedded defaults
# (127.0.0.1:8080, in-memory engine). Extra arguments go to the gateway (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh runtime
cmake --preset default
cmake --build --preset default -j "$(nproc)" --target switchboard-gateway
exec build/default/server/switchboard-gateway "$@"
