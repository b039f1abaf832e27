#!/usr/bin/env bash
# Side-by-side load test: the same switchboard-loadgen load against switchboard-gateway, the Node
# `ws` broadcast server and nats-server (WebSocket listener), in one run, and a table of results.
# uws is the same broadcast as ws on uWebSockets' pub/sub (C++, bench/peers/uws).
#
# Every server is started fresh for each configuration (so its memory per connection is measured
# from an idle process), bound to 127.0.0.1 on a free port, pinned to core 0, with one io thread
# where it has the setting; the load generator is pinned to core 1. For each number of
# subscribers and payload size two loads run:
#   flat out   publish as fast as the window allows (--window messages not yet received by every
#              subscriber): deliveries/s, handshakes/s, server memory per connection, CPU
#   fixed rate 50 000 deliveries/s (50 000 / subscribers messages/s): latency percentiles
#
# Usage: bench/run-comparison.sh [options]
#   --build DIR          build tree with the two binaries (default: build/default)
#   --gateway PATH       switchboard-gateway (default: DIR/server/gateway/switchboard-gateway)
#   --loadgen PATH       switchboard-loadgen (default: DIR/bench/loadgen/switchboard-loadgen)
#   --servers LIST       any of "switchboard uws ws nats" (default: all four)
#   --subscribers LIST   default "1000 10000"
#   --payloads LIST      default "64 1024"
#   --duration S         measured seconds per load (default 5), after 1 s of warm-up
#   --window N|auto      messages in flight when flat out (default auto: 64 000 deliveries in
#                        flight, i.e. 64 messages for 1 000 subscribers, 7 for 10 000)
#   --latency-rate N     deliveries/s of the fixed-rate load (default 50000)
#   --log FILE           full output of every run (default: build/bench-comparison.log)
#   --no-boost           do not raise the CPU weight of this run (see below)
#
# On a machine shared with other work, the run lifts its own scheduling weight: it starts in a new
# session and sets that session's autogroup nice to -20 (Linux autogroups make plain `nice`
# ineffective between sessions), so the servers and the load generator get their cores while it
# lasts. The boost ends with the run. Each load is bounded by `timeout`.
set -euo pipefail

# The run in its own session (see above); Ctrl-C or TERM here stops it, and its traps stop
# everything it started.
. "$(dirname "$0")/common/own-session.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
gateway=""
loadgen=""
servers="switchboard uws ws nats"
subscribers="1000 10000"
payloads="64 1024"
duration=5
window=auto
latency_rate=50000
log=""
boost=1

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payloads) payloads=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --latency-rate) latency_rate=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --no-boost) boost=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
gateway=${gateway:-$build/server/gateway/switchboard-gateway}
loadgen=${loadgen:-$build/bench/loadgen/switchboard-loadgen}
log=${log:-$root/build/bench-comparison.log}
mkdir -p "$(dirname "$log")"
: > "$log"

[ -x "$loadgen" ] || { echo "no load generator at $loadgen (cmake --build ... --target switchboard-loadgen)" >&2; exit 1; }
for s in $servers; do
  case "$s" in
    switchboard) [ -x "$gateway" ] || { echo "no gateway at $gateway" >&2; exit 1; } ;;
    ws) [ -d "$root/bench/peers/node-ws/node_modules/ws" ] || { echo "run bench/peers/install.sh first" >&2; exit 1; } ;;
    uws) [ -d "$root/bench/peers/uws/node_modules/@trufflesuite/uws-js-unofficial" ] || { echo "run bench/peers/install.sh first" >&2; exit 1; } ;;
    nats) command -v nats-server >/dev/null || { echo "run bench/peers/install.sh first" >&2; exit 1; } ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
  esac
done

if [ "$boost" = 1 ]; then
  raise_session_weight
fi
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/switchboard-bench.XXXXXX)
server_pid=""
# Everything else this session started (the load generator runs under `timeout`, which has a
# process group of its own, inside a command substitution) is stopped too (stop_session).
trap 'stop_server; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Waits (at most 10 s) until the server's log shows its port; prints the port.
wait_port() {
  local file=$1 pattern=$2 port=""
  for _ in $(seq 100); do
    port=$(grep -o -E "$pattern" "$file" 2>/dev/null | head -n1 | grep -o -E '[0-9]+$' || true)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not report a port; its output:" >&2
  cat "$file" >&2
  return 1
}

# Starts server $1 pinned to core 0; sets server_pid and port.
start_server() {
  local out="$work/server.out"
  : > "$out"
  case "$1" in
    switchboard)
      taskset -c 0 "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
        --max-connections 20000 --rate 100000000 --rate-burst 100000000 --log-level warn \
        > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+') ;;
    ws)
      taskset -c 0 node "$root/bench/peers/node-ws/server.js" --host 127.0.0.1 --port 0 > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+') ;;
    uws)
      taskset -c 0 node "$root/bench/peers/uws/server.js" --host 127.0.0.1 --port 0 > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+') ;;
    nats)
      taskset -c 0 nats-server -c "$root/bench/peers/nats/nats-server.conf" > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'websocket clients on ws://[^ ]*:[0-9]+') ;;
  esac
}

# Runs one load; appends its output to the log and echoes the RESULT line (or a failure line).
run_load() {
  local server=$1 n=$2 payload=$3 rate=$4 bound w=$window
  [ "$w" = auto ] && w=$(( (64000 + n - 1) / n ))
  bound=$(( $(printf '%.0f' "$duration") + 90 ))
  local protocol=$server
  [ "$server" = uws ] && protocol=ws # the same broadcast as the ws peer
  local args=(--protocol "$protocol" --port "$port" --connections "$n" --payload "$payload"
              --duration "$duration" --warmup 1 --window "$w" --rate "$rate"
              --io-threads 1 --server-pid "$server_pid" --label "$server")
  {
    echo "=== $server subscribers=$n payload=$payload rate=$rate ($(date -u +%FT%TZ))"
    timeout "$bound" taskset -c 1 "$loadgen" "${args[@]}" 2>&1 || echo "RESULT label=$server failed=1"
  } | tee -a "$log" | grep '^RESULT' | tail -n1
}

field() { # field NAME LINE
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"
}

echo "Side-by-side gateway load test, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "servers pinned to core 0 (one io thread), switchboard-loadgen pinned to core 1; full log: $log"
echo
printf '| %-11s | %11s | %7s | %14s | %29s | %12s | %11s | %9s | %s |\n' \
  server subscribers payload "deliveries/s" "latency p50/p99/p99.9/max ms" "handshakes/s" "KB per conn" "ns/deliv" "missed / disconnects"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------------  -------------: ---------: ----------------: \
  -------------------------------: --------------: -------------: -----------: ----------------------
for n in $subscribers; do
  for payload in $payloads; do
    for server in $servers; do
      start_server "$server" || { stop_server; continue; }
      flat=$(run_load "$server" "$n" "$payload" 0)
      stop_server
      start_server "$server" || { stop_server; continue; }
      rate=$(awk -v r="$latency_rate" -v n="$n" 'BEGIN { printf "%.3f", r / n }')
      timed=$(run_load "$server" "$n" "$payload" "$rate")
      stop_server
      if [ -n "$(field failed "$flat")" ] || [ -z "$flat" ]; then
        printf '| %-11s | %11s | %7s | %s |\n' "$server" "$n" "$payload B" "failed (see $log)"
        continue
      fi
      ns=$(awk -v c="$(field server_cpu_pct "$flat")" -v d="$(field deliveries_per_s "$flat")" \
        'BEGIN { if (d > 0 && c != "na") printf "%.0f", c * 1e7 / d; else print "na" }')
      lat=$(awk -v a="$(field p50_us "$timed")" -v b="$(field p99_us "$timed")" \
                -v c="$(field p999_us "$timed")" -v d="$(field max_us "$timed")" \
        'BEGIN { if (a == "") print "failed"; else printf "%.2f / %.2f / %.2f / %.2f", a/1e3, b/1e3, c/1e3, d/1e3 }')
      printf '| %-11s | %11s | %7s | %14s | %29s | %12s | %11s | %9s | %s |\n' \
        "$server" "$n" "$payload B" \
        "$(awk -v d="$(field deliveries_per_s "$flat")" 'BEGIN { printf "%.0f", d }')" "$lat" \
        "$(field handshakes_per_s "$flat")" "$(field kb_per_conn_subscribed "$flat")" "$ns" \
        "$(field missed "$flat")+$(field missed "$timed") / $(field disconnects "$flat")+$(field disconnects "$timed")"
    done
  done
done
echo
echo "deliveries/s: flat out with $window messages in flight (auto: 64 000 deliveries), measured over ${duration} s after 1 s of warm-up."
echo "latency: publish -> receive at a fixed $latency_rate deliveries/s. KB per conn: server RSS growth / subscribers."
echo "ns/deliv: server CPU time per delivery when flat out. missed: deliveries lost (flat + fixed-rate runs)."
