#!/usr/bin/env bash
# Checks the README's two commands on a fresh Debian 12: builds a minimal root
# (`mmdebstrap --variant=minbase bookworm`), copies this checkout into it and runs there, as
# root in a chroot, what a new user runs:
#   1. scripts/run-gateway.sh --port 0   until it prints `listening on`, then /healthz, then stop;
#   2. scripts/test-all.sh               every stage (or SWITCHBOARD_STAGES), as .ci/run does.
# Each installs what it needs, so a package missing from scripts/install-deps.sh fails here even
# when the developer's machine happens to have it. Run it before resolving an issue that changes
# what is installed (docs/testing.md).
#
# Usage: scripts/fresh-check.sh [--root DIR] [--reuse] [--gateway-only]
#   --root DIR      where the root is built (default: /var/tmp/switchboard-fresh-root); it is
#                   removed first unless --reuse is given
#   --reuse         keep an existing root (packages installed by an earlier run stay: faster,
#                   but no longer fresh for the install step)
#   --gateway-only  run only the first command
# Environment: SWITCHBOARD_STAGES is passed to scripts/test-all.sh.
#
# The host's extra trusted CA certificates (/usr/local/share/ca-certificates/*.crt) are copied
# into the root: a network with its own TLS proxy needs them for npm; a normal one does not. apt
# inside the root uses the host's /etc/apt sources when they are bookworm's, else deb.debian.org.
# Needs root, mmdebstrap (installed when missing) and about 8 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root=/var/tmp/switchboard-fresh-root
reuse=0
gatewayOnly=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --gateway-only) gatewayOnly=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-check.sh needs root (chroot, mounts)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends mmdebstrap; }

mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[$i]}
    umount -l "$m" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stamp() { echo "== fresh-check $(date -u +%H:%M:%S): $*"; }

if [ "$reuse" -eq 0 ] || [ ! -x "$root/bin/bash" ]; then
  stamp "building a minimal Debian 12 root in $root"
  rm -rf "$root"
  mmdebstrap --variant=minbase bookworm "$root"
fi

for d in proc sys dev dev/pts; do
  mkdir -p "$root/$d"
  case $d in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sys "$root/sys" ;;
    *) mount --bind "/$d" "$root/$d" ;;
  esac
  mounted+=("$root/$d")
done
mkdir -p "$root/dev/shm" && mount -t tmpfs shm "$root/dev/shm" && mounted+=("$root/dev/shm")
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true

stamp "copying the checkout ($(git rev-parse --short HEAD)) to $root/src"
rm -rf "$root/src"
git clone -q "$repo" "$root/src"

# In the root: the CA bundle (ca-certificates comes with the first install) is what node and
# npm are told to trust as well.
inRoot() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    SWITCHBOARD_STAGES="${SWITCHBOARD_STAGES:-}" /bin/bash -c "cd /src && $1"
}

stamp "1. scripts/run-gateway.sh --port 0"
start=$(date +%s)
inRoot '
  set -euo pipefail
  log=$(mktemp)
  setsid scripts/run-gateway.sh --port 0 > "$log" 2>&1 &
  pid=$!
  for _ in $(seq 1800); do
    grep -q "listening on" "$log" && break
    kill -0 $pid 2>/dev/null || { cat "$log"; echo "run-gateway.sh exited before listening" >&2; exit 1; }
    sleep 1
  done
  port=$(grep -o "listening on [^ ]*" "$log" | sed "s/.*://")
  [ -n "$port" ] || { tail -40 "$log"; exit 1; }
  exec 3<>/dev/tcp/127.0.0.1/$port
  printf "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
  answer=$(cat <&3)
  kill -TERM -- -$pid 2>/dev/null || kill -TERM $pid
  wait $pid 2>/dev/null || true
  case "$answer" in
    "HTTP/1.1 200"*) echo "gateway answered /healthz on port $port" ;;
    *) echo "unexpected /healthz answer: $answer" >&2; exit 1 ;;
  esac
'
stamp "1. ok ($(( $(date +%s) - start ))s)"
[ "$gatewayOnly" -eq 1 ] && exit 0

stamp "2. scripts/test-all.sh ${SWITCHBOARD_STAGES:+(stages: $SWITCHBOARD_STAGES)}"
start=$(date +%s)
inRoot 'scripts/test-all.sh'
stamp "2. ok ($(( $(date +%s) - start ))s)"
