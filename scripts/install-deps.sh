#!/usr/bin/env bash
# Installs every Debian 12 package Switchboard needs to build, test and run. Idempotent.
# Usage: scripts/install-deps.sh [runtime|all]   (default: all)
set -euo pipefail
what=${1:-all}

runtime=(cmake ninja-build g++ pkg-config libssl-dev zlib1g-dev libsystemd-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  qt6-base-dev qt6-websockets-dev qt6-declarative-dev
  emscripten node-acorn
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-templates qml6-module-qtquick-window qml6-module-qtqml-workerscript)
testing=(qml6-module-qttest qml6-module-qtquick qml6-module-qtquick-controls
  qml6-module-qtquick-layouts qml6-module-qtquick-templates qml6-module-qtquick-window
  qml6-module-qtqml-workerscript qml6-module-qtquick-shapes
  emscripten node-acorn esbuild nodejs npm chromium redis-server libhiredis-dev
  clang-14 libclang-rt-14-dev llvm-14 util-linux python3 openssl dpkg-dev lintian curl node-ws)
# clang-14 + libclang-rt-14-dev: the fuzz preset (libFuzzer, ASan, UBSan); llvm-14: the
# symbolizer for sanitizer reports; util-linux: setpriv, which ties the browser test's gateway
# to the test process. python3: the HTTP backends tests start (webhooks); openssl: the command
# that makes the certificates of TLS tests. dpkg-dev (dpkg-shlibdeps), lintian, curl: the package
# stage (scripts/check-packages.sh). node-ws: the README's WebSocket example (label docs).

pkgs=("${runtime[@]}")
[ "$what" = all ] && pkgs+=("${testing[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# nodejs may come from another source that already provides node and npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
