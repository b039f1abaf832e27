#!/usr/bin/env bash
# Instructions per delivery: switchboard-gateway binaries compared by the instructions they
# execute (valgrind's callgrind), not by their CPU time, which on a shared VM moves by more than
# a small change does (docs/benchmarks.md: run-ab.sh's binaries measure 2-3 % lower when run
# first). Callgrind counts every instruction the gateway executes (all its threads), whatever the
# machine is doing meanwhile; it runs the gateway 20-50 times slower, so the counts say nothing of
# time spent waiting for memory or in the kernel: a change that moves cache misses or system calls
# needs run-ab.sh or perf too.
#
# For each binary and run: two loads of switchboard-loadgen (--window messages in flight, flat
# out), each against a fresh gateway under callgrind, one of --short seconds and one of --long;
# instructions per delivery = (instructions of the long one - of the short one) / (deliveries of
# the long one - of the short one). What both pay alike (start, connecting and subscribing the
# subscribers, stopping) cancels out.
#
# Usage: bench/run-instructions.sh [options] GATEWAY...
#   --loadgen PATH     switchboard-loadgen (default: build/default/bench/loadgen/switchboard-loadgen)
#   --window N         messages in flight (default 1)
#   --subscribers N    default 100
#   --payload BYTES    default 64
#   --runs N           default 3
#   --short S / --long S   seconds published in the two loads (default 2 and 6)
# Prints one line per binary and run, then per binary the median and spread (min-max) of the
# instructions per delivery.
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
loadgen="$root/build/default/bench/loadgen/switchboard-loadgen"
window=1
subscribers=100
payload=64
runs=3
short=2
long=6
gateways=()
while [ $# -gt 0 ]; do
  case "$1" in
    --loadgen) loadgen=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --short) short=$2; shift 2 ;;
    --long) long=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) gateways+=("$1"); shift ;;
  esac
done
[ ${#gateways[@]} -ge 1 ] || { echo "give at least one gateway binary" >&2; exit 2; }
[ -x "$loadgen" ] || { echo "no load generator at $loadgen" >&2; exit 1; }
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
for g in "${gateways[@]}"; do [ -x "$g" ] || { echo "no gateway at $g" >&2; exit 1; }; done

work=$(mktemp -d /tmp/switchboard-instructions.XXXXXX)
server_pid=""
trap 'stop_callgrind; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Callgrind writes its counts when the gateway exits: SIGTERM, and time for the slow shutdown.
stop_callgrind() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 600); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# load GATEWAY SECONDS: prints "instructions deliveries", or nothing when the load failed.
load() {
  local g=$1 seconds=$2 out="$work/server.out" line published missed collected
  : > "$out"
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    "$g" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
    --max-connections $(( subscribers + 1000 )) --rate 100000000 --rate-burst 100000000 --log-level warn \
    > "$out" 2>&1 &
  server_pid=$!
  local port
  port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid" 60) || return 0
  line=$(timeout $(( seconds + 120 )) "$loadgen" --protocol switchboard --port "$port" \
           --connections "$subscribers" --payload "$payload" --duration "$seconds" --warmup 0 \
           --window "$window" --rate 0 --io-threads 1 --setup-timeout 100 2>&1 | grep '^RESULT' | tail -n1 || true)
  stop_callgrind
  published=$(sed -n 's/.* published=\([0-9]*\).*/\1/p' <<< "$line")
  missed=$(sed -n 's/.* missed=\([0-9]*\).*/\1/p' <<< "$line")
  collected=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out" | tail -n1)
  [ -n "$published" ] && [ "${missed:-1}" = 0 ] && [ -n "$collected" ] || return 0
  echo "$collected $(( published * subscribers ))"
}

results="$work/results"
: > "$results"
for run in $(seq "$runs"); do
  for i in "${!gateways[@]}"; do
    g=${gateways[$i]}
    a=$(load "$g" "$short")
    b=$(load "$g" "$long")
    if [ -z "$a" ] || [ -z "$b" ]; then
      echo "run $run, $g: a load failed (or missed deliveries)"
      continue
    fi
    read -r ia da <<< "$a"
    read -r ib db <<< "$b"
    if [ "$db" -le "$da" ]; then
      echo "run $run, $g: the long load delivered no more than the short one ($db <= $da)"
      continue
    fi
    per=$(awk -v ia="$ia" -v ib="$ib" -v da="$da" -v db="$db" 'BEGIN { printf "%.0f", (ib - ia) / (db - da) }')
    echo "run $run  gateway $i ($g)  deliveries $da / $db  instructions $ia / $ib  $per per delivery"
    echo "$i $per" >> "$results"
  done
done

echo
echo "window $window, $subscribers subscribers, $payload B, json, io threads 1; instructions per delivery, median (min-max) over $runs runs:"
for i in "${!gateways[@]}"; do
  read -r med lo hi <<< "$(stats $(awk -v i="$i" '$1 == i { print $2 }' "$results"))" || true
  if [ -z "${med:-}" ]; then echo "  ${gateways[$i]}: no result"; continue; fi
  printf "  %s: %.0f (%d-%d)\n" "${gateways[$i]}" "$med" "$lo" "$hi"
done
