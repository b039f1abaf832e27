#!/usr/bin/env bash
# Installs what is needed, builds every layer (native and wasm-core) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh all
jobs=$(nproc)

echo "== native build (preset default)"
cmake --preset default
cmake --build --preset default -j "$jobs"

echo "== wasm-core build (Emscripten)"
export NODE_PATH=/usr/share/nodejs
cmake --preset wasm-core
cmake --build --preset wasm-core -j "$jobs"

echo "== tests"
mkdir -p "$root/test-artifacts"
export SWITCHBOARD_TEST_ARTIFACTS="$root/test-artifacts"
status=0
(cd build/wasm-core && ctest --output-on-failure --timeout 300) || status=1
(cd build/default && ctest --output-on-failure --timeout 600) || status=1
exit $status
