#!/usr/bin/env bash
# What one WebSocket connection costs switchboard-gateway from accept to close: its server CPU
# time and, with --strace, its system calls by name. For each gateway binary given (taking turns
# within each run, each load against a fresh gateway with the settings of run-comparison.sh: one
# io thread pinned to core 0, the load generator on core 1), switchboard-loadgen opens N
# connections (TCP connect, upgrade, `connect` and `subscribe` in one write), publishes for
# 0.1 s and closes them; 500 connections come and go first, unmeasured (the process's first-use
# costs). The CPU per connection is the gateway's user + system time (/proc/PID/stat) over the
# measured load, setup, the short load and the teardown together, divided by N.
#
# Usage: bench/run-connection-cost.sh [options] GATEWAY...
#   GATEWAY            a switchboard-gateway binary, or `uws`: the uWebSockets peer (bench/peers,
#                      after bench/peers/install.sh), which the load generator only upgrades (no
#                      protocol: one read and one write less per connection than a gateway's
#                      connect + subscribe and welcome + subscribed)
#   --loadgen PATH     switchboard-loadgen (default: build/default/bench/loadgen/switchboard-loadgen)
#   --connections N    default 10000
#   --runs N           default 5
#   --strace           instead of the CPU time: one load per gateway (N connections) under
#                      `strace -c -f`, and its system calls per connection by name (strace slows
#                      the gateway: its CPU time is not measured then)
# Prints one line per load, then per gateway the median and spread (min-max) of the CPU time
# per connection and of the load generator's setups/s (connect + upgrade + subscribe).
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
. "$(dirname "$0")/common/peer-servers.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
loadgen="$root/build/default/bench/loadgen/switchboard-loadgen"
connections=10000
runs=5
use_strace=0
gateways=()
while [ $# -gt 0 ]; do
  case "$1" in
    --loadgen) loadgen=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --strace) use_strace=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) gateways+=("$1"); shift ;;
  esac
done
[ ${#gateways[@]} -ge 1 ] || { echo "give at least one gateway binary" >&2; exit 2; }
[ "$connections" -le 19000 ] || { echo "at most 19 000 connections (the gateway is started with 20 000)" >&2; exit 2; }
[ -x "$loadgen" ] || { echo "no load generator at $loadgen" >&2; exit 1; }
for g in "${gateways[@]}"; do [ "$g" = uws ] || [ -x "$g" ] || { echo "no gateway at $g" >&2; exit 1; }; done
if [ "$use_strace" = 1 ]; then
  command -v strace > /dev/null || { echo "--strace needs strace (apt-get install strace)" >&2; exit 1; }
  runs=1
fi

raise_session_weight
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/switchboard-connection-cost.XXXXXX)
server_pid=""
tracer_pid=""
stop_tracer() {
  if [ -n "$tracer_pid" ]; then
    kill -INT "$tracer_pid" 2> /dev/null || true
    wait "$tracer_pid" 2> /dev/null || true
    tracer_pid=""
  fi
}
trap 'stop_tracer; stop_server; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# load N: N connections set up, 0.1 s of publishing, closed; prints the RESULT line.
load() {
  timeout 120 taskset -c 1 "$loadgen" --protocol "$protocol" --port "$port" --connections "$1" --payload 64 \
    --duration 0.1 --warmup 0 --window 1 --rate 0 --io-threads 1 --memory-warmup 0 2>&1 | grep '^RESULT' | tail -n1 || true
}
# settle: waits until the server has closed every WebSocket connection of the last load (the
# gateway's /metrics, read over bash's /dev/tcp; at most 10 s). The uWebSockets peer counts
# none: a fixed second there.
settle() {
  if [ "$protocol" = ws ]; then sleep 1; return 0; fi
  local open=""
  for _ in $(seq 100); do
    open=$( (exec 3<> "/dev/tcp/127.0.0.1/$port" && printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3) 2> /dev/null \
              | awk '$1 == "switchboard_websocket_connections" { print $2 }')
    [ "$open" = 0 ] && return 0
    sleep 0.1
  done
  echo "the gateway still had ${open:-?} WebSocket connections open 10 s after the load" >&2
  return 1
}
# cpu_ticks PID: user + system time of the process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

results="$work/results"
: > "$results"
ticks_per_second=$(getconf CLK_TCK)
echo "# bench/run-connection-cost.sh, $(date -u '+%F %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, $connections connections"
for run in $(seq "$runs"); do
  for i in "${!gateways[@]}"; do
    g=${gateways[$i]}
    if [ "$g" = uws ]; then
      protocol=ws
      start_server uws || exit 1
    else
      protocol=switchboard
      gateway=$g # what start_server runs
      start_server switchboard || exit 1
    fi
    load 500 > /dev/null
    settle || exit 1
    if [ "$use_strace" = 1 ]; then
      strace -c -f -p "$server_pid" -o "$work/strace.out" 2> "$work/strace.err" &
      tracer_pid=$!
      await_line "$work/strace.err" 'Process [0-9]+ attached' "$tracer_pid" > /dev/null || exit 1
      line=$(load "$connections")
      settle || exit 1
      stop_tracer
      stop_server
      echo "gateway $i ($g): system calls per connection ($connections connections, one delivery each):"
      awk -v n="$connections" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
          errors = (NF == 6) ? $5 : 0
          printf "  %-16s %6.2f", $NF, $4 / n; if (errors > 0) printf "  (%.2f failed)", errors / n; printf "\n"
          total += $4 }
        END { printf "  %-16s %6.2f\n", "total", total / n }' "$work/strace.out"
      continue
    fi
    before=$(cpu_ticks "$server_pid")
    line=$(load "$connections")
    settle || exit 1
    after=$(cpu_ticks "$server_pid")
    stop_server
    setups=$(sed -n 's/.* setups_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
    if [ -z "$setups" ]; then
      echo "run $run, $g: the load failed: ${line:-no RESULT line}"
      continue
    fi
    us=$(awk -v t=$(( after - before )) -v hz="$ticks_per_second" -v n="$connections" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
    echo "run $run  gateway $i ($g)  server CPU ${us} us per connection  setups/s $setups"
    echo "$i $us $setups" >> "$results"
  done
done
[ "$use_strace" = 1 ] && exit 0

echo
echo "median (min-max) over $runs runs, $connections connections:"
for i in "${!gateways[@]}"; do
  read -r med lo hi <<< "$(stats $(awk -v i="$i" '$1 == i { print $2 }' "$results"))" || true
  if [ -z "${med:-}" ]; then echo "  ${gateways[$i]}: no result"; continue; fi
  read -r smed slo shi <<< "$(stats $(awk -v i="$i" '$1 == i { print $3 }' "$results"))"
  printf "  %s: %.0f us (%d-%d) of server CPU per connection, %.0f setups/s (%.0f-%.0f)\n" \
    "${gateways[$i]}" "$med" "$lo" "$hi" "$smed" "$slo" "$shi"
done
