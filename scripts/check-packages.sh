#!/usr/bin/env bash
# Checks the Debian packages cpack made (packaging/, docs/embedded.md):
#   scripts/check-packages.sh <package-dir> [<debian-arch>]   (default arch: this machine's)
# Each package's Architecture, its Depends (computed by dpkg-shlibdeps), its files (program,
# units, conffile, web assets, library, QML module, headers, CMake package), the gateway's
# installed size (under 10 MB), lintian (errors and warnings fail; overrides live in
# packaging/debian/*.lintian-overrides, each with its reason). The gateway starts with the packaged
# gateway.json and serves the packaged web client: natively, or for another architecture under
# qemu-user (qemu-<cpu>-static, e.g. qemu-aarch64-static for arm64; skipped without it). For the
# build machine's own architecture also: a program outside the tree (examples/qml-app) builds
# against libswitchboard-dev + libswitchboard-qt and runs.
set -euo pipefail
dir=${1:?usage: check-packages.sh <package-dir> [<debian-arch>]}
arch=${2:-$(dpkg --print-architecture)}
root=$(cd "$(dirname "$0")/.." && pwd)
gatewayBudgetKiB=10240
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

deb_of() { # deb_of <package-name-glob>: the one .deb of that package
  local found=("$dir"/$1_*_"$arch".deb)
  [ -e "${found[0]}" ] || { echo "no $1 package for $arch in $dir" >&2; return 1; }
  [ ${#found[@]} -eq 1 ] || { echo "several $1 packages in $dir: ${found[*]}" >&2; return 1; }
  echo "${found[0]}"
}

gateway=$(deb_of switchboard-gateway)
dashboard=$(deb_of switchboard-dashboard)
qtlib=$(deb_of 'libswitchboard-qt[0-9]*')
dev=$(deb_of libswitchboard-dev)
triplet=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)

# expect_files <deb> <path regex>...: every regex matches a path in the package.
expect_files() {
  local deb=$1; shift
  local list; list=$(dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./|/|')
  local re
  for re in "$@"; do
    grep -Eq "^$re\$" <<< "$list" || fail "$(basename "$deb"): no file matching $re"
  done
}
# expect_depends <deb> <package regex>...: Depends names each.
expect_depends() {
  local deb=$1; shift
  local depends; depends=$(dpkg-deb --field "$deb" Depends)
  local re
  for re in "$@"; do
    grep -Eq "(^|, )($re)( |,|$)" <<< "$depends" || fail "$(basename "$deb"): Depends lacks $re (Depends: $depends)"
  done
}

for deb in "$gateway" "$dashboard" "$qtlib" "$dev"; do
  a=$(dpkg-deb --field "$deb" Architecture)
  [ "$a" = "$arch" ] || fail "$(basename "$deb"): Architecture $a, expected $arch"
done

expect_files "$gateway" /usr/bin/switchboard-gateway /etc/switchboard/gateway.json \
  /lib/systemd/system/switchboard-gateway.service /usr/share/switchboard/web/index.html \
  /usr/share/switchboard/web/switchboard.js /usr/share/switchboard/web/switchboard.wasm \
  /usr/share/doc/switchboard-gateway/copyright
dpkg-deb --info "$gateway" conffiles | grep -qx /etc/switchboard/gateway.json \
  || fail "switchboard-gateway: /etc/switchboard/gateway.json is not a conffile"
expect_depends "$gateway" libc6 'libssl3|libssl3t64' 'libboost-json1\.81\.0' 'libboost-url1\.81\.0' \
  'libboost-program-options1\.81\.0' 'libstdc\+\+6' libsystemd0
size=$(dpkg-deb --field "$gateway" Installed-Size)
if [ "$size" -lt "$gatewayBudgetKiB" ]; then ok "switchboard-gateway installs ${size} KiB (budget ${gatewayBudgetKiB})"
else fail "switchboard-gateway installs ${size} KiB, over its ${gatewayBudgetKiB} KiB budget"; fi

expect_files "$dashboard" /usr/bin/switchboard-dashboard /lib/systemd/system/switchboard-dashboard.service
grep -q -- '--kiosk' <(dpkg-deb --fsys-tarfile "$dashboard" | tar -xO ./lib/systemd/system/switchboard-dashboard.service) \
  || fail "switchboard-dashboard.service does not run --kiosk"
expect_depends "$dashboard" libc6 'libqt6quick6' 'libqt6qml6' 'libqt6gui6' 'libswitchboard-qt[0-9.]+' \
  'qml6-module-qtquick-controls' 'libqt6opengl6'

expect_files "$qtlib" "/usr/lib/$triplet/libswitchboard-qt\.so\.[0-9.]+" \
  "/usr/lib/$triplet/qt6/qml/Switchboard/qmldir" "/usr/lib/$triplet/qt6/qml/Switchboard/libSwitchboardQtplugin\.so"
expect_depends "$qtlib" libc6 'libqt6core6' 'libqt6websockets6' 'libqt6qml6'

expect_files "$dev" /usr/include/switchboard/Hub.h /usr/include/switchboard/qt/Client.h \
  /usr/include/switchboard/asio/Gateway.h "/usr/lib/$triplet/libswitchboard-core\.a" \
  "/usr/lib/$triplet/libswitchboard-qt\.so" "/usr/lib/$triplet/cmake/Switchboard/SwitchboardConfig\.cmake" \
  "/usr/lib/$triplet/cmake/Switchboard/SwitchboardTargets\.cmake"
expect_depends "$dev" 'libswitchboard-qt[0-9.]+' 'qt6-base-dev' 'libboost-json1\.81-dev'

for deb in "$gateway" "$dashboard" "$qtlib" "$dev"; do
  echo "== $(basename "$deb"): $(dpkg-deb --field "$deb" Installed-Size) KiB; Depends: $(dpkg-deb --field "$deb" Depends)"
done

if command -v lintian >/dev/null; then
  for deb in "$gateway" "$dashboard" "$qtlib" "$dev"; do
    if lintian --fail-on error,warning --tag-display-limit 0 "$deb"; then ok "lintian $(basename "$deb")"
    else fail "lintian $(basename "$deb")"; fi
  done
else
  fail "lintian is not installed (scripts/install-deps.sh all)"
fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
native=no; [ "$arch" = "$(dpkg --print-architecture)" ] && native=yes
# A foreign architecture's gateway runs under qemu-user, which finds that architecture's loader
# and libraries in / (the multiarch packages the cross build installs): no binfmt_misc needed.
emulator=()
if [ $native = no ]; then
  qemu=qemu-$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_CPU 2>/dev/null)-static
  if command -v "$qemu" >/dev/null; then emulator=("$qemu")
  else echo "skipped: running the $arch gateway ($qemu is not installed)"; fi
fi
if [ $native = yes ] || [ ${#emulator[@]} -gt 0 ]; then
  # The gateway starts with the packaged configuration (port and paths moved into the sandbox).
  dpkg-deb -x "$gateway" "$tmp/gateway"
  "${emulator[@]}" "$tmp/gateway/usr/bin/switchboard-gateway" --config "$tmp/gateway/etc/switchboard/gateway.json" --port 0 \
      --static "$tmp/gateway/usr/share/switchboard/web" --history-snapshot "$tmp/history.snapshot" \
      > "$tmp/gateway.out" 2> "$tmp/gateway.err" &
  pid=$!
  # Up to 10 s natively, 60 s under emulation (a loaded machine).
  tries=100; [ $native = no ] && tries=600
  for _ in $(seq $tries); do grep -q '^listening on' "$tmp/gateway.out" && break; sleep 0.1; done
  what="gateway${emulator:+ ($arch, under ${emulator[0]})}"
  if grep -q '^listening on' "$tmp/gateway.out"; then
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/gateway.out")
    if curl -sf --max-time 30 "http://127.0.0.1:$port/" | grep -qi '<html'; then ok "$what serves the packaged web client with the packaged gateway.json"
    else fail "$what with the packaged gateway.json does not serve index.html"; fi
    if curl -sf --max-time 30 "http://127.0.0.1:$port/healthz" > /dev/null; then ok "$what answers /healthz"
    else fail "$what: /healthz does not answer 200"; fi
    kill -TERM $pid; wait $pid && ok "$what stopped cleanly" || fail "$what exit code $? after SIGTERM"
  else
    kill -KILL $pid 2>/dev/null || true
    fail "$what did not start with the packaged gateway.json: $(cat "$tmp/gateway.err")"
  fi
fi

if [ $native = yes ]; then
  # examples/qml-app, a Qt Quick application outside the tree, with
  # find_package(Switchboard COMPONENTS Core Qt) from the unpacked development and run-time
  # packages: it builds, and runs (offscreen) until its in-process gateway's client is connected,
  # in the roster and receiving. The module's folder is Qt's QML directory inside the package.
  dpkg-deb -x "$dev" "$tmp/root"; dpkg-deb -x "$qtlib" "$tmp/root"
  if cmake -S "$root/examples/qml-app" -B "$tmp/qml-app" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$tmp/root/usr" > "$tmp/qml-app.log" 2>&1 \
     && cmake --build "$tmp/qml-app" >> "$tmp/qml-app.log" 2>&1 \
     && ! grep -qi 'program_options\|systemd' "$tmp/qml-app/CMakeCache.txt" \
     && LD_LIBRARY_PATH="$tmp/root/usr/lib/$triplet" QT_QPA_PLATFORM=offscreen \
        QML_IMPORT_PATH="$tmp/root/usr/lib/$triplet/qt6/qml" timeout 60 "$tmp/qml-app/switchboard-qml-app" --check \
        >> "$tmp/qml-app.log" 2>&1; then
    ok "examples/qml-app builds with find_package(Switchboard COMPONENTS Core Qt) against the packages (no program_options, no libsystemd looked up) and runs"
  else
    cat "$tmp/qml-app.log"; fail "examples/qml-app against the packages"
  fi
fi

if [ $failures -gt 0 ]; then echo "check-packages: $failures failure(s)"; exit 1; fi
echo "check-packages: all packages ok"
