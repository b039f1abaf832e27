#!/usr/bin/env bash
# Connection setup rate and memory: N clients arriving at once at a server, each opening a TCP connection,
# upgrading to WebSocket, then (Switchboard) `connect` and `subscribe` until `subscribed`
# (switchboard-loadgen's `setups_per_s`: the subscribers ready over the time from the first TCP
# connect to the last `subscribed`; and `handshakes_per_s`: TCP connect + upgrade alone), and
# the server's RSS growth per subscribed connection (`kb_per_conn_subscribed`, after the load
# generator's --memory-warmup clients; a variant may pass --memory-warmup 0). The
# variants take turns within each run, each against a freshly started server (the settings of
# run-comparison.sh: the server pinned to core 0 with one io thread, the load generator on
# core 1), so that they are compared under the same machine conditions.
#
# Usage: bench/run-setups.sh [options]
#   --build DIR          build tree with the gateways and the load generator (default: build/default)
#   --connections "N.."  default "1000 10000"
#   --runs N             default 5
#   --variant "NAME=SERVER [LOADGEN ARGS]"
#                        one variant (repeatable): SERVER is switchboard (switchboard-gateway),
#                        switchboard-qt (the Qt gateway, bench_qt_gateway serve) or uws (the
#                        uWebSockets peer, bench/peers/install.sh; no protocol, so its ready/s is
#                        its upgrade rate). Default: pipelined=switchboard (subscribe right behind
#                        connect, as ClientSession sends it) and after-welcome=switchboard
#                        --subscribe-after-welcome (one round trip more)
# Prints one line per load, then per connection count and variant the median and spread
# (min-max) of setups/s, handshakes/s and KB per subscribed connection.
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
. "$(dirname "$0")/common/peer-servers.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
connections="1000 10000"
runs=5
names=() variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --variant) names+=("${2%%=*}"); variants+=("${2#*=}"); shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  names=(pipelined after-welcome) variants=("switchboard" "switchboard --subscribe-after-welcome")
fi
gateway="$build/server/gateway/switchboard-gateway"
qt_gateway="$build/bench/qt/bench_qt_gateway"
loadgen="$build/bench/loadgen/switchboard-loadgen"
[ -x "$loadgen" ] || { echo "no load generator at $loadgen" >&2; exit 1; }
for v in "${variants[@]}"; do
  case "${v%% *}" in
    switchboard) [ -x "$gateway" ] || { echo "no gateway at $gateway" >&2; exit 1; } ;;
    switchboard-qt) [ -x "$qt_gateway" ] || { echo "no Qt gateway at $qt_gateway" >&2; exit 1; } ;;
    uws) [ -d "$root/bench/peers/uws/node_modules" ] || { echo "the uws peer is not installed: bench/peers/install.sh" >&2; exit 1; } ;;
    *) echo "unknown server in variant: $v" >&2; exit 2 ;;
  esac
done

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
      read -r server args <<< "${variants[$i]}"
      protocol=switchboard
      [ "$server" = uws ] && protocol=ws
      start_server "$server" || exit 1
      # shellcheck disable=SC2086 # a variant's arguments are words
      line=$(timeout 120 taskset -c 1 "$loadgen" --protocol "$protocol" --port "$port" --connections "$n" \
               --payload 64 --duration 0.5 --warmup 0 --window 1 --rate 0 --io-threads 1 --server-pid "$server_pid" ${args:-} 2>&1 \
             | grep '^RESULT' | tail -n1 || true)
      stop_server
      setups=$(sed -n 's/.* setups_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
      handshakes=$(sed -n 's/.* handshakes_per_s=\([0-9.]*\).*/\1/p' <<< "$line")
      kb=$(sed -n 's/.* kb_per_conn_subscribed=\([0-9.]*\).*/\1/p' <<< "$line")
      if [ -z "$setups" ] || [ -z "$handshakes" ] || [ -z "$kb" ]; then
        echo "run $run, $n connections, ${names[$i]}: the load failed: ${line:-no RESULT line}"
        continue
      fi
      echo "run $run  $n connections  ${names[$i]}  setups/s $setups  handshakes/s $handshakes  KB per connection $kb"
      echo "$n $i $setups $handshakes $kb" >> "$results"
    done
  done
done

echo
echo "median (min-max) over $runs runs:"
for n in $connections; do
  for i in "${!names[@]}"; do
    read -r sm slo shi <<< "$(stats $(awk -v n="$n" -v i="$i" '$1 == n && $2 == i { print $3 }' "$results"))" || true
    read -r hm hlo hhi <<< "$(stats $(awk -v n="$n" -v i="$i" '$1 == n && $2 == i { print $4 }' "$results"))" || true
    read -r km klo khi <<< "$(stats $(awk -v n="$n" -v i="$i" '$1 == n && $2 == i { print $5 }' "$results"))" || true
    [ -n "${sm:-}" ] || { echo "  $n connections, ${names[$i]}: no result"; continue; }
    printf "  %s connections, %-14s setups/s %.0f (%.0f-%.0f)  handshakes/s %.0f (%.0f-%.0f)  KB per connection %.2f (%.2f-%.2f)\n" \
      "$n" "${names[$i]}" "$sm" "$slo" "$shi" "$hm" "$hlo" "$hhi" "$km" "$klo" "$khi"
  done
done
