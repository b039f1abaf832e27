#!/usr/bin/env bash
# Installs what is needed, builds every layer and runs every check, stage by stage:
#   default   native build (RelWithDebInfo) and the whole native suite
#   wasm      Emscripten build of core + browser client, its portable tests, then the browser tests
#   package   release build of what is packaged, cpack's Debian packages, scripts/check-packages.sh
#   asan      ASan + UBSan build and the whole native suite again (browser tests included)
#   tsan      ThreadSanitizer build of the Asio gateway and its tests (label server)
#   fuzz      libFuzzer targets (clang-14), each for SWITCHBOARD_FUZZ_SECONDS (default 30)
#   arm64     ARM64 cross build (aarch64-linux-gnu), its tests under qemu-user, the arm64 Debian
#             packages and scripts/check-packages.sh on them (docs/embedded.md)
# Each stage prints its wall time (`== stage <name> ... (<n>s)`). A failing stage makes the
# script fail, but later stages still run and report. Select stages with
# SWITCHBOARD_STAGES="default wasm package asan tsan fuzz arm64" (the default: all of them).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh all || exit 1
jobs=$(nproc)
# A compiler cache (ccache, installed by scripts/install-deps.sh; SWITCHBOARD_NO_CCACHE=1 turns
# it off): each stage builds the sources with its own flags, so a first run gains nothing and a
# next run most of its build time (docs/testing.md). Paths count relative to the checkout, so
# clones in other folders share the cache (default ~/.cache/ccache, at most 20 GB). The
# Emscripten build does without (emcc is not a compiler ccache knows).
if command -v ccache >/dev/null && [ -z "${SWITCHBOARD_NO_CCACHE:-}" ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
  export CMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER:-ccache}
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-20G}
fi
# The wasm-core preset, configured without the compiler cache.
configure_wasm_core() { env -u CMAKE_CXX_COMPILER_LAUNCHER -u CMAKE_C_COMPILER_LAUNCHER cmake --preset wasm-core "$@"; }
stages=${SWITCHBOARD_STAGES:-default wasm package asan tsan fuzz arm64}
fuzzSeconds=${SWITCHBOARD_FUZZ_SECONDS:-30}
export NODE_PATH=/usr/share/nodejs
mkdir -p "$root/test-artifacts"
export SWITCHBOARD_TEST_ARTIFACTS="$root/test-artifacts"
# A sanitizer report fails the process that has it (TSAN_OPTIONS: the tsan test preset).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
# stage <name> <function>: runs it, times it, records the result; never stops the script.
stage() {
  local name=$1 fn=$2 start rc
  echo "== stage $name: start"
  start=$(date +%s)
  ( set -e; "$fn" )
  rc=$?
  local took=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    echo "== stage $name ok (${took}s)"
    summary+=("$name ok ${took}s")
  else
    echo "== stage $name FAILED (exit $rc, ${took}s)"
    summary+=("$name FAILED ${took}s")
    failed+=("$name")
  fi
}

has_stage() { [[ " $stages " == *" $1 "* ]]; }

stage_default() {
  cmake --preset default
  cmake --build --preset default -j "$jobs"
  # The browser tests (label wasm) need the wasm-core build: they run in the wasm stage.
  (cd build/default && ctest --output-on-failure --timeout 600 -LE wasm)
}

stage_wasm() {
  configure_wasm_core
  cmake --build --preset wasm-core -j "$jobs"
  (cd build/wasm-core && ctest --output-on-failure --timeout 300)
  # Browser tests: the native gateway (default build) serving the wasm-core web folder.
  cmake --build --preset default -j "$jobs" --target switchboard-gateway
  (cd build/default && ctest --output-on-failure --timeout 600 -L wasm)
}

stage_package() {
  # The gateway package holds the browser client: the wasm-core build's web folder (a no-op
  # after the wasm stage).
  configure_wasm_core >/dev/null
  cmake --build --preset wasm-core -j "$jobs"
  cmake --preset release
  cmake --build --preset release -j "$jobs"
  rm -f build/release/*.deb
  (cd build/release && cpack)
  scripts/check-packages.sh build/release
}

stage_asan() {
  # The browser tests of this tree serve the wasm-core build's web folder: make sure it is there
  # (a no-op after the wasm stage).
  configure_wasm_core >/dev/null
  cmake --build --preset wasm-core -j "$jobs"
  cmake --preset asan -DSWITCHBOARD_WASM_WEB_DIR="$root/build/wasm-core/web"
  cmake --build --preset asan -j "$jobs"
  (cd build/asan && ctest --output-on-failure --timeout 900)
}

stage_tsan() {
  cmake --preset tsan
  cmake --build --preset tsan -j "$jobs" --target switchboard-server-tests
  # The test preset sets TSAN_OPTIONS: halt_on_error=1, so a race kills the gateway and fails
  # the test that saw it (a killed gateway's exit code would be lost); die_after_fork=0, since
  # QProcess forks the multi-threaded test process and the child only execs.
  ctest --preset tsan
}

stage_fuzz() {
  cmake --preset fuzz
  cmake --build --preset fuzz -j "$jobs"
  local dir=build/fuzz/fuzz status=0 t name
  mkdir -p build/fuzz/corpus build/fuzz/artifacts
  for t in "$dir"/fuzz_*; do
    name=${t##*/fuzz_}
    mkdir -p "build/fuzz/corpus/$name"
    # New inputs go to build/fuzz/corpus/<name>; the committed seeds are only read.
    if ! "$t" -max_total_time="$fuzzSeconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="build/fuzz/artifacts/$name-" "build/fuzz/corpus/$name" "fuzz/corpus/$name" \
         > "build/fuzz/$name.log" 2>&1; then
      echo "fuzz_$name FAILED; its log: build/fuzz/$name.log, the input: build/fuzz/artifacts/$name-*"
      tail -40 "build/fuzz/$name.log"
      status=1
    else
      echo "fuzz_$name: $(grep -a '^Done' "build/fuzz/$name.log")"
    fi
  done
  return $status
}

stage_arm64() {
  scripts/install-deps.sh arm64
  # The gateway package holds the browser client, the wasm-core build's web folder (a no-op
  # after the wasm stage); it must exist when the arm64 tree is configured.
  configure_wasm_core >/dev/null
  cmake --build --preset wasm-core -j "$jobs" --target switchboard-web-dist
  cmake --preset arm64
  # What the packages hold (switchboard-packaged) and the tests that run under qemu-user, not
  # every target: the CI budget, and tests that start a process cannot run there (label noemu;
  # docs/embedded.md says what is left out).
  cmake --build --preset arm64 -j "$jobs" --target switchboard-packaged \
    switchboard-core-tests switchboard-qt-tests switchboard-server-emu-tests qml_tst_switchboard
  # Each test runs under qemu-aarch64-static; TIMEOUTs are 5x the native ones (tests/CMakeLists.txt).
  (cd build/arm64 && ctest --output-on-failure -j "$jobs" -L '^(core|qt|qml|server)$' -LE noemu)
  # The arm64 packages: the preset sets CMAKE_SKIP_INSTALL_ALL_DEPENDENCY, so cpack installs what
  # was just built instead of building every target first.
  rm -f build/arm64/*.deb
  (cd build/arm64 && cpack)
  scripts/check-packages.sh build/arm64 arm64
}

total=$(date +%s)
for s in default wasm package asan tsan fuzz arm64; do
  has_stage "$s" && stage "$s" "stage_$s"
done
echo "== summary (total $(( $(date +%s) - total ))s)"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED stages: ${failed[*]}"
  exit 1
fi
