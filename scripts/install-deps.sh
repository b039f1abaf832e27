#!/usr/bin/env bash
# Installs every Debian 12 package Switchboard needs to build, test and run. Idempotent.
# Usage: scripts/install-deps.sh [runtime|all|arm64]   (default: all)
#   arm64: the ARM64 cross toolchain, qemu-user and the arm64 (multiarch) libraries the arm64
#          preset links (docs/embedded.md); adds the arm64 architecture to dpkg.
set -euo pipefail
what=${1:-all}

runtime=(cmake ninja-build g++ pkg-config libssl-dev zlib1g-dev libsystemd-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  qt6-base-dev qt6-websockets-dev qt6-declarative-dev
  emscripten node-acorn brotli
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-templates qml6-module-qtquick-window qml6-module-qtqml-workerscript)
testing=(qml6-module-qttest qml6-module-qtquick qml6-module-qtquick-controls
  qml6-module-qtquick-layouts qml6-module-qtquick-templates qml6-module-qtquick-window
  qml6-module-qtqml-workerscript qml6-module-qtquick-shapes
  emscripten node-acorn esbuild nodejs npm chromium redis-server libhiredis-dev
  clang-14 libclang-rt-14-dev llvm-14 util-linux python3 openssl dpkg-dev lintian curl node-ws ccache)
# clang-14 + libclang-rt-14-dev: the fuzz preset (libFuzzer, ASan, UBSan); llvm-14: the
# symbolizer for sanitizer reports; util-linux: setpriv, which ties the browser test's gateway
# to the test process. python3: the HTTP backends tests start (webhooks); openssl: the command
# that makes the certificates of TLS tests. dpkg-dev (dpkg-shlibdeps), lintian, curl: the package
# stage (scripts/check-packages.sh). node-ws: the README's WebSocket example (label docs).
# ccache: the compiler cache scripts/test-all.sh uses across runs.
# brotli: the .br variants of the web root (optional: without it the wasm-core build writes .gz
# only).

# The arm64 cross build: every library is the arm64 build of a Multi-Arch: same package, which
# installs beside the amd64 one (both must have the same version, so apt may update the amd64
# one with it). What runs at build time stays native: the compiler (crossbuild-essential-arm64),
# moc, rcc, uic, qmlcachegen, qmltyperegistrar (qt6-base-dev-tools and
# qt6-declarative-dev-tools, Multi-Arch: foreign, from the runtime list), cmake and ninja.
# qemu-user-static runs the arm64 tests (the emulator is given explicitly: no binfmt_misc needed).
arm64=(crossbuild-essential-arm64 qemu-user-static
  qt6-base-dev:arm64 qt6-websockets-dev:arm64 qt6-declarative-dev:arm64
  libboost1.81-dev:arm64 libboost-json1.81-dev:arm64 libboost-url1.81-dev:arm64
  libboost-program-options1.81-dev:arm64
  libssl-dev:arm64 zlib1g-dev:arm64 libhiredis-dev:arm64 libsystemd-dev:arm64
  qml6-module-qttest:arm64 qml6-module-qtquick:arm64 qml6-module-qtquick-controls:arm64
  qml6-module-qtquick-layouts:arm64 qml6-module-qtquick-templates:arm64
  qml6-module-qtquick-window:arm64 qml6-module-qtqml-workerscript:arm64
  qml6-module-qtquick-shapes:arm64)

case "$what" in
  runtime) pkgs=("${runtime[@]}") ;;
  all) pkgs=("${runtime[@]}" "${testing[@]}") ;;
  arm64)
    pkgs=("${runtime[@]}" "${arm64[@]}")
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      dpkg --add-architecture arm64
    fi ;;
  *) echo "usage: $0 [runtime|all|arm64]" >&2; exit 2 ;;
esac

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
