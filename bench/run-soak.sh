#!/usr/bin/env bash
# Soak run: builds switchboard-gateway and switchboard-soak, starts the gateway on 127.0.0.1
# (port 0) and keeps 10 000 WebSocket subscribers churning against it with live publishing for
# the duration, printing one row per report interval (connections, connects/s, deliveries/s,
# lost deliveries, the gateway's fds, RSS and CPU) and a summary. Exits with the soak's status:
# non-zero when a connected subscriber lost a message or the gateway's fds / RSS grew beyond the
# bounds. See docs/benchmarks.md, "Soak".
#
# Usage: bench/run-soak.sh [options] [-- extra switchboard-soak flags]
#   --duration S         seconds of churn and publishing (default 600)
#   --connections N      subscriber connections (default 10000)
#   --interval S         seconds between report rows (default 60)
#   --build DIR          build tree (default: build/default, configured with the default preset)
#   --no-build           use the binaries already in the build tree
#   --log FILE           copy of the output (default: DIR/soak.log)
# Everything else is a switchboard-soak flag after `--` (see switchboard-soak --help), e.g.
#   bench/run-soak.sh --duration 60 -- --churn 200 --publish-rate 50 --gateway-arg=--io-threads=1
# The run is bounded by `timeout` (duration + 120 s).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
duration=600
connections=10000
interval=60
do_build=1
log=""
extra=()

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --log) log=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
log=${log:-$build/soak.log}

if [ "$do_build" = 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    (cd "$root" && cmake --preset default)
  fi
  cmake --build "$build" -j"$(nproc)" --target switchboard-gateway switchboard-soak
fi
gateway="$build/server/gateway/switchboard-gateway"
soak="$build/bench/soak/switchboard-soak"
[ -x "$gateway" ] && [ -x "$soak" ] || { echo "no $gateway or $soak (build them or drop --no-build)" >&2; exit 1; }

# 10 000 connections need about 10 000 descriptors in each process; the soak raises its soft
# limit to the hard one and the gateway inherits it.
echo "hard open-file limit: $(ulimit -Hn); commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" | tee "$log"
set +e
timeout --kill-after=10 $((duration + 120)) "$soak" --spawn "$gateway" --connections "$connections" \
  --duration "$duration" --report-interval "$interval" "${extra[@]}" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
echo "soak exit status $status (log: $log)"
exit "$status"
