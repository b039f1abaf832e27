#!/usr/bin/env bash
# Before and after: the same switchboard-loadgen load against two (or more) switchboard-gateway
# binaries, taking turns within each run, so that a change is measured against the binary it
# changes under the same machine conditions (on a shared VM, runs minutes apart differ by 20-30 %
# while alternating runs differ by much less). Each load starts a fresh gateway with the
# settings of run-comparison.sh (pinned to core 0, one io thread, the load generator on core 1).
#
# Usage: bench/run-ab.sh [options] GATEWAY GATEWAY...
#   --loadgen PATH     switchboard-loadgen (default: build/default/bench/loadgen/switchboard-loadgen)
#   --window N         messages in flight (default 24)
#   --subscribers N    default 1000
#   --payload BYTES    default 64
#   --runs N           default 4
#   --duration S       measured seconds per load (default 5), after 1 s of warm-up
#   --io-threads N     the gateways' --io-threads (default 1); with more than one, the gateways
#                      and the load generator share every core (no pinning)
#   --encoding E       json (default) or binary
# Prints one line per load: the binary, deliveries/s, server CPU % and CPU per delivery; then the
# median and spread (min-max) of the CPU per delivery of each binary.
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
loadgen="$root/build/default/bench/loadgen/switchboard-loadgen"
window=24
subscribers=1000
payload=64
runs=4
duration=5
io_threads=1
encoding=json
gateways=()
while [ $# -gt 0 ]; do
  case "$1" in
    --loadgen) loadgen=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --io-threads) io_threads=$2; shift 2 ;;
    --encoding) encoding=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) gateways+=("$1"); shift ;;
  esac
done
[ ${#gateways[@]} -ge 1 ] || { echo "give at least one gateway binary" >&2; exit 2; }
[ -x "$loadgen" ] || { echo "no load generator at $loadgen" >&2; exit 1; }
for g in "${gateways[@]}"; do [ -x "$g" ] || { echo "no gateway at $g" >&2; exit 1; }; done

server_cpus=0 loadgen_cpus=1
if [ "$io_threads" -gt 1 ]; then
  server_cpus=$(seq -s, 0 $(( $(nproc) - 1 ))) loadgen_cpus=$server_cpus
fi
raise_session_weight
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/switchboard-ab.XXXXXX)
server_pid=""
trap 'stop_server; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

results="$work/results"
: > "$results"
for run in $(seq "$runs"); do
  for i in "${!gateways[@]}"; do
    g=${gateways[$i]}
    out="$work/server.out"
    : > "$out"
    taskset -c "$server_cpus" "$g" --listen 127.0.0.1 --port 0 --io-threads "$io_threads" --api-key bench \
      --max-connections $(( subscribers + 1000 )) --rate 100000000 --rate-burst 100000000 --log-level warn > "$out" 2>&1 &
    server_pid=$!
    port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid") || exit 1
    line=$(timeout $(( duration + 90 )) taskset -c "$loadgen_cpus" "$loadgen" --protocol switchboard --port "$port" \
             --connections "$subscribers" --payload "$payload" --duration "$duration" --warmup 1 --window "$window" \
             --rate 0 --io-threads 1 --server-pid "$server_pid" --encoding "$encoding" 2>&1 | grep '^RESULT' | tail -n1 || true)
    stop_server
    rate=$(sed -n 's/.* deliveries_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
    cpu=$(sed -n 's/.* server_cpu_pct=\([0-9.]*\).*/\1/p' <<< "$line")
    if [ -z "$rate" ] || [ -z "$cpu" ]; then
      echo "run $run, $g: the load failed: ${line:-no RESULT line}"
      continue
    fi
    ns=$(awk -v c="$cpu" -v r="$rate" 'BEGIN { printf "%.0f", c / 100 * 1e9 / r }')
    echo "run $run  gateway $i ($g)  deliveries/s $rate  server CPU $cpu %  $ns ns per delivery"
    echo "$i $ns" >> "$results"
  done
done

echo
echo "window $window, $subscribers subscribers, $payload B, $encoding, io threads $io_threads; ns per delivery, median (min-max) over $runs runs:"
for i in "${!gateways[@]}"; do
  read -r med lo hi <<< "$(stats $(awk -v i="$i" '$1 == i { print $2 }' "$results"))" || true
  if [ -z "${med:-}" ]; then echo "  ${gateways[$i]}: no result"; continue; fi
  printf "  %s: %.0f (%d-%d)\n" "${gateways[$i]}" "$med" "$lo" "$hi"
done
