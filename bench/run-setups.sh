#!/usr/bin/env bash
# Connection setup rate: N clients arriving at once at switchboard-gateway, each opening a TCP
# connection, upgrading to WebSocket, then `connect` and `subscribe` until `subscribed`
# (switchboard-loadgen's `setups_per_s`: the subscribers ready over the time from the first
# TCP connect to the last `subscribed`; and `handshakes_per_s`: TCP connect + upgrade alone).
# Load generator variants take turns within each run against a fresh gateway each time (the
# settings of run-comparison.sh: the gateway pinned to core 0 with one io thread, the load
# generator on core 1), so that they are compared under the same machine conditions.
#
# Usage: bench/run-setups.sh [options]
#   --gateway PATH       switchboard-gateway (default: build/default/server/gateway/switchboard-gateway)
#   --loadgen PATH       switchboard-loadgen (default: build/default/bench/loadgen/switchboard-loadgen)
#   --connections "N.."  default "1000 10000"
#   --runs N             default 5
#   --variant NAME=ARGS  a load generator variant: its extra arguments (repeatable). Default:
#                        pipelined= (subscribe right behind connect, as ClientSession sends it)
#                        and after-welcome=--subscribe-after-welcome (one round trip more)
# Prints one line per load, then per connection count and variant the median and spread
# (min-max) of setups/s and handshakes/s.
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
gateway="$root/build/default/server/gateway/switchboard-gateway"
loadgen="$root/build/default/bench/loadgen/switchboard-loadgen"
connections="1000 10000"
runs=5
names=() variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --gateway) gateway=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --variant) names+=("${2%%=*}"); variants+=("${2#*=}"); shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  names=(pipelined after-welcome) variants=("" "--subscribe-after-welcome")
fi
[ -x "$gateway" ] || { echo "no gateway at $gateway" >&2; exit 1; }
[ -x "$loadgen" ] || { echo "no load generator at $loadgen" >&2; exit 1; }

raise_session_weight
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/switchboard-setups.XXXXXX)
server_pid=""
trap 'stop_server; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

results="$work/results"
: > "$results"
echo "# bench/run-setups.sh, $(date -u '+%F %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"
for run in $(seq "$runs"); do
  for n in $connections; do
    for i in "${!names[@]}"; do
      out="$work/server.out"
      : > "$out"
      taskset -c 0 "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
        --max-connections $(( n + 1000 )) --rate 100000000 --rate-burst 100000000 --log-level warn > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid") || exit 1
      # shellcheck disable=SC2086 # a variant's arguments are words
      line=$(timeout 120 taskset -c 1 "$loadgen" --protocol switchboard --port "$port" --connections "$n" \
               --payload 64 --duration 0.5 --warmup 0 --window 1 --rate 0 --io-threads 1 ${variants[$i]} 2>&1 \
             | grep '^RESULT' | tail -n1 || true)
      stop_server
      setups=$(sed -n 's/.* setups_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
      handshakes=$(sed -n 's/.* handshakes_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
      if [ -z "$setups" ] || [ -z "$handshakes" ]; then
        echo "run $run, $n connections, ${names[$i]}: the load failed: ${line:-no RESULT line}"
        continue
      fi
      echo "run $run  $n connections  ${names[$i]}  setups/s $setups  handshakes/s $handshakes"
      echo "$n $i $setups $handshakes" >> "$results"
    done
  done
done

echo
echo "median (min-max) over $runs runs:"
for n in $connections; do
  for i in "${!names[@]}"; do
    read -r sm slo shi <<< "$(stats $(awk -v n="$n" -v i="$i" '$1 == n && $2 == i { print $3 }' "$results"))" || true
    read -r hm hlo hhi <<< "$(stats $(awk -v n="$n" -v i="$i" '$1 == n && $2 == i { print $4 }' "$results"))" || true
    [ -n "${sm:-}" ] || { echo "  $n connections, ${names[$i]}: no result"; continue; }
    printf "  %s connections, %-14s setups/s %.0f (%.0f-%.0f)  handshakes/s %.0f (%.0f-%.0f)\n" \
      "$n" "${names[$i]}" "$sm" "$slo" "$shi" "$hm" "$hlo" "$hhi"
  done
done
