#!/usr/bin/env bash
# The Qt gateway's and Qt client's self-contained benchmarks, --runs times each, with the median
# and spread (min-max) of every figure (docs/benchmarks.md, "Qt gateway and client"):
#   bench_qt_gateway SUBSCRIBERS PAYLOAD SECONDS IDLE   fan-out at 64 and 1 messages in flight,
#                                                       memory per idle connection, handshakes
#   bench_qt_client SECONDS PAYLOAD IN_FLIGHT           a Client and its MessageModel absorbing
#                                                       messages, for each --in-flight value
# Both programs run their peers on a second thread, so nothing is pinned; the run raises its own
# scheduling weight (bench/common/own-session.sh).
#
# Usage: bench/run-qt.sh [options]
#   --build DIR         build tree with bench/qt (default: build/default)
#   --runs N            default 3
#   --subscribers N     bench_qt_gateway's subscribers (default 1000)
#   --payload BYTES     default 64
#   --seconds S         per fan-out load and per client load (default 3)
#   --idle N            idle connections for the memory figure (default 2000)
#   --in-flight LIST    bench_qt_client's in-flight values (default "2000 200")
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
runs=3
subscribers=1000
payload=64
seconds=3
idle=2000
in_flight="2000 200"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
gateway_bin="$build/bench/qt/bench_qt_gateway"
client_bin="$build/bench/qt/bench_qt_client"
for b in "$gateway_bin" "$client_bin"; do
  [ -x "$b" ] || { echo "no $b: cmake --build $build --target bench_qt_gateway bench_qt_client" >&2; exit 1; }
done
raise_session_weight
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/switchboard-qt-bench.XXXXXX)
trap 'stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# first NUMBER after PATTERN in FILE's lines matching LINE_PATTERN
number_after() { grep -E -- "$2" "$1" | head -n1 | grep -o -E -- "$3 *[0-9.]+" | head -n1 | grep -o -E '[0-9.]+$' || true; }

declare -A values
add() { [ -n "$2" ] && values[$1]+="$2 "; return 0; }

for run in $(seq "$runs"); do
  out="$work/gateway-$run.out"
  timeout 600 "$gateway_bin" "$subscribers" "$payload" "$seconds" "$idle" > "$out" 2>&1 \
    || { echo "run $run: bench_qt_gateway failed:" >&2; cat "$out" >&2; exit 1; }
  add fan64_rate "$(number_after "$out" 'in-flight=64 ' ':')"
  add fan64_ns "$(number_after "$out" 'in-flight=64 ' '%,')"
  add fan64_frames "$(grep -A1 -E 'in-flight=64 ' "$out" | number_after /dev/stdin 'frames per flush' '\(')"
  add fan1_rate "$(number_after "$out" 'in-flight=1 ' ':')"
  add fan1_ns "$(number_after "$out" 'in-flight=1 ' '%,')"
  add idle_rss "$(number_after "$out" "^idle connections=$idle:" 'RSS')"
  add idle_heap "$(number_after "$out" "^idle connections=$idle:" 'heap')"
  add sub_rss "$(number_after "$out" '\(subscribed\)' 'RSS')"
  add handshakes "$(number_after "$out" '^handshakes' ':')"
  for f in $in_flight; do
    out="$work/client-$run-$f.out"
    timeout 300 "$client_bin" "$seconds" "$payload" "$f" > "$out" 2>&1 \
      || { echo "run $run: bench_qt_client failed:" >&2; cat "$out" >&2; exit 1; }
    add "client_rate_$f" "$(number_after "$out" 'absorbed' ':')"
    add "client_cpu_$f" "$(number_after "$out" 'CPU per message' 'run,')"
    add "client_p50_$f" "$(number_after "$out" 'lateness' 'p50')"
    add "client_p99_$f" "$(number_after "$out" 'lateness' 'p99')"
    add "client_max_$f" "$(number_after "$out" 'lateness' 'max')"
  done
  echo "run $run of $runs done" >&2
done

row() { # row LABEL KEY UNIT
  local med lo hi
  read -r med lo hi <<< "$(stats ${values[$2]:-})" || true
  if [ -z "${med:-}" ]; then printf '| %s | no value | |\n' "$1"; return; fi
  printf '| %s | **%s%s** | %s-%s |\n' "$1" "$med" "${3:+ $3}" "$lo" "$hi"
}

echo
echo "$(uname -m), $(nproc) cores, $(date -u '+%F %H:%M UTC'), $runs runs; median and spread (min-max):"
echo
echo "| bench_qt_gateway $subscribers subscribers, ${payload} B | median | spread |"
echo "|---|---:|---:|"
row "fan-out, 64 in flight: deliveries/s" fan64_rate ""
row "fan-out, 64 in flight: gateway CPU per delivery" fan64_ns "ns"
row "fan-out, 64 in flight: frames per socket write" fan64_frames ""
row "fan-out, 1 in flight: deliveries/s" fan1_rate ""
row "fan-out, 1 in flight: gateway CPU per delivery" fan1_ns "ns"
row "$idle idle connections: RSS per connection" idle_rss "KB"
row "$idle idle connections: heap per connection" idle_heap "KB"
row "$idle idle subscribed connections: RSS per connection" sub_rss "KB"
row "handshakes one at a time, per second" handshakes ""
echo
echo "| bench_qt_client, ${payload} B | median | spread |"
echo "|---|---:|---:|"
for f in $in_flight; do
  row "$f in flight: messages/s absorbed" "client_rate_$f" ""
  row "$f in flight: client thread CPU per message" "client_cpu_$f" "us"
  row "$f in flight: 10 ms timer lateness p50" "client_p50_$f" "ms"
  row "$f in flight: 10 ms timer lateness p99" "client_p99_$f" "ms"
  row "$f in flight: 10 ms timer lateness max" "client_max_$f" "ms"
done
