#!/usr/bin/env bash
# A subscriber reading 10x slower than the publish rate, per slow-consumer policy of its channel
# (--channel-policy): how stale the values it reads are, how many frames it reads after the last
# publication before it has that value, and the gateway's peak RSS. One publisher posts sequence
# numbers to the HTTP API at --rate per second for --seconds; the reader (a raw WebSocket client
# with a small receive buffer) reads one message every slowdown/rate seconds
# (bench/slow-reader/slow_reader.py). Each policy runs --runs times on a fresh gateway; the table
# shows the median and the spread (min-max), with the date, the commit and the machine.
#
# Usage: bench/run-slow-reader.sh [options]
#   --build DIR        build tree with switchboard-gateway (default: build/default)
#   --runs N           runs per policy (default 3)
#   --rate N           publications per second, one per HTTP request (default 1000)
#   --slowdown N       the reader reads rate/N per second (default 10)
#   --seconds S        publishing time per run (default 10)
#   --payload BYTES    padding per publication (default 1024)
#   --policies LIST    (default "latest-only drop-newest")
#   --outbox-frames N  the gateway's --outbox-frames (default 256)
#   --send-buffer B    the gateway's --socket-send-buffer (default 65536; 0: the OS default,
#                      which Linux grows to several MiB on loopback: the reader then reads that
#                      much, written before any conflation, after the last publication)
#   --log FILE         every run's output (default: build/bench-slow-reader.log)
#
# The gateway is pinned to core 0 with one io thread, the clients to core 1. The run lives in
# its own session (common/own-session.sh), so everything it started stops with it.
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
runs=3
rate=1000
slowdown=10
seconds=10
payload=1024
policies="latest-only drop-newest"
outbox_frames=256
send_buffer=65536
log=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --slowdown) slowdown=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --policies) policies=$2; shift 2 ;;
    --outbox-frames) outbox_frames=$2; shift 2 ;;
    --send-buffer) send_buffer=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
log=${log:-$build/bench-slow-reader.log}
gateway=$build/server/gateway/switchboard-gateway
[ -x "$gateway" ] || { echo "no $gateway: build first" >&2; exit 1; }
raise_session_weight
: > "$log"
server_pid=""
trap 'stop_server; stop_session' EXIT
out=$(mktemp)

# field NAME LINE: the value of NAME=VALUE in LINE.
field() { grep -o -E "(^| )$1=[^ ]+" <<< "$2" | cut -d= -f2; }

commit=$(git -C "$root" rev-parse --short HEAD)
echo "Slow reader, $(date -u '+%F %H:%M UTC'), commit $commit, $(nproc) cores, $(uname -m)"
echo "rate $rate/s for $seconds s, reader at $((rate / slowdown))/s, $payload-byte payloads, outbox $outbox_frames frames,"
echo "gateway send buffer $send_buffer bytes (0: OS default), $runs runs per policy"
echo
echo "| policy | lag p50 (publications) | lag p99 | frames read after the last publication until it arrived | last value arrived | gateway peak RSS (MiB) | conflated | drops |"
echo "|---|---|---|---|---|---|---|---|"
for policy in $policies; do
  declare -a p50=() p99=() catch=() seen=() rss=() conflated=() drops=()
  for run in $(seq "$runs"); do
    taskset -c 0 "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
      --channel-policy "prices/=$policy" --history =0 --outbox-frames "$outbox_frames" \
      --socket-send-buffer "$send_buffer" > "$out" 2>&1 &
    server_pid=$!
    port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid")
    line=$(timeout $((seconds + 120)) taskset -c 1 python3 "$root/bench/slow-reader/slow_reader.py" \
      --port "$port" --api-key bench --pid "$server_pid" --rate "$rate" --slowdown "$slowdown" \
      --seconds "$seconds" --payload "$payload")
    echo "$policy run $run: $line" >> "$log"
    stop_server
    p50+=("$(field lag_p50 "$line")"); p99+=("$(field lag_p99 "$line")")
    catch+=("$(field catch_up_frames "$line")"); seen+=("$(field final_seen "$line")")
    rss+=("$(awk -v k="$(field peak_rss_kib "$line")" 'BEGIN { printf "%.1f", k / 1024 }')")
    conflated+=("$(field conflated "$line")"); drops+=("$(field drops "$line")")
  done
  cell() { read -r m lo hi <<< "$(stats "$@")"; echo "$m ($lo-$hi)"; }
  echo "| $policy | $(cell "${p50[@]}") | $(cell "${p99[@]}") | $(cell "${catch[@]}") | ${seen[*]} | $(cell "${rss[@]}") | $(cell "${conflated[@]}") | $(cell "${drops[@]}") |"
  unset p50 p99 catch seen rss conflated drops
done
echo
echo "Every run: $log"
