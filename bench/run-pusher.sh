#!/usr/bin/env bash
# The same load through switchboard-gateway's Pusher endpoint and its native one, in one run:
# N subscribers on one channel speak either Switchboard protocol v1 on /ws (native) or Pusher
# protocol 7 on /app/KEY (pusher); in both the publisher is a native Switchboard connection
# publishing on the channel's native name (pusher/APP_ID/bench for the Pusher run), so the only
# difference between the two is the subscribers' protocol. The load is open loop at a fixed rate
# (default 50 000 deliveries/s, i.e. 50 messages/s to each of 1 000 subscribers); the two kinds
# of run alternate (native, pusher, native, ...), each against a fresh gateway, and the table
# shows the median and the range (min-max) over the runs.
#
# As in run-comparison.sh, the gateway is bound to 127.0.0.1 on a free port and pinned to core 0
# with one io thread, the load generator to core 1, and the run raises its own scheduling weight
# (see bench/common/own-session.sh).
#
# Usage: bench/run-pusher.sh [options]
#   --build DIR          build tree with the two binaries (default: build/default)
#   --gateway PATH       switchboard-gateway (default: DIR/server/gateway/switchboard-gateway)
#   --loadgen PATH       switchboard-loadgen (default: DIR/bench/loadgen/switchboard-loadgen)
#   --subscribers N      default 1000
#   --payload B          default 64
#   --rate N             deliveries/s, open loop (default 50000)
#   --runs N             runs of each kind (default 3)
#   --duration S         measured seconds per run (default 5), after 1 s of warm-up
#   --log FILE           full output of every run (default: build/bench-pusher.log)
#   --no-boost           do not raise the CPU weight of this run
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
gateway=""
loadgen=""
subscribers=1000
payload=64
rate=50000
runs=3
duration=5
log=""
boost=1

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --no-boost) boost=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
gateway=${gateway:-$build/server/gateway/switchboard-gateway}
loadgen=${loadgen:-$build/bench/loadgen/switchboard-loadgen}
log=${log:-$root/build/bench-pusher.log}
mkdir -p "$(dirname "$log")"
: > "$log"
[ -x "$gateway" ] || { echo "no gateway at $gateway" >&2; exit 1; }
[ -x "$loadgen" ] || { echo "no load generator at $loadgen (cmake --build ... --target switchboard-loadgen)" >&2; exit 1; }

if [ "$boost" = 1 ]; then
  raise_session_weight
fi
ulimit -n "$(ulimit -Hn)"

app_id=1
app_key=bench-key
work=$(mktemp -d /tmp/switchboard-bench-pusher.XXXXXX)
server_pid=""
trap 'stop_server; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Starts the gateway pinned to core 0 with the bench's Pusher app; sets server_pid and port.
start_gateway() {
  local out="$work/gateway.out"
  : > "$out"
  taskset -c 0 "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
    --max-connections 20000 --rate 100000000 --rate-burst 100000000 --log-level warn \
    --pusher-app "$app_id:$app_key:bench-secret" > "$out" 2>&1 &
  server_pid=$!
  port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid")
}

# Runs one load of kind $1 (native or pusher) against a fresh gateway; prints its RESULT line.
run_one() {
  local kind=$1 protocol bound msg_rate
  [ "$kind" = native ] && protocol=switchboard || protocol=pusher
  msg_rate=$(awk -v r="$rate" -v n="$subscribers" 'BEGIN { printf "%.3f", r / n }')
  bound=$(( $(printf '%.0f' "$duration") + 90 ))
  start_gateway || { echo "RESULT label=$kind failed=1"; return; }
  {
    echo "=== $kind subscribers=$subscribers payload=$payload rate=$msg_rate msg/s ($(date -u +%FT%TZ))"
    timeout "$bound" taskset -c 1 "$loadgen" --protocol "$protocol" --port "$port" \
      --pusher-key "$app_key" --pusher-app-id "$app_id" --connections "$subscribers" \
      --payload "$payload" --rate "$msg_rate" --duration "$duration" --warmup 1 --io-threads 1 \
      --server-pid "$server_pid" --label "$kind" 2>&1 || echo "RESULT label=$kind failed=1"
  } | tee -a "$log" | grep '^RESULT' | tail -n1
  stop_server
}

field() { # field NAME LINE
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"
}

# "median (min-max)" of the numbers on stdin, scaled by $1 and printed with $2 decimals.
summary() {
  sort -g | awk -v s="$1" -v d="$2" '{ v[NR] = $1 * s }
    END { if (NR == 0) { print "failed"; exit }
          m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.*f (%.*f-%.*f)", d, m, d, v[1], d, v[NR] }'
}

echo "Pusher vs native subscribers, $(date -u '+%F %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "gateway pinned to core 0 (one io thread), switchboard-loadgen pinned to core 1; full log: $log"
echo "$subscribers subscribers, $payload B payloads, open loop at $rate deliveries/s, $runs runs of each, ${duration} s measured after 1 s of warm-up"
echo
for i in $(seq "$runs"); do
  for kind in native pusher; do
    line=$(run_one "$kind")
    echo "$line" >> "$work/$kind.results"
  done
done

printf '| %-11s | %-22s | %-22s | %-22s | %-18s | %s |\n' "subscribers" "deliveries/s" "p50 ms" "p99 ms" "gateway CPU %" "missed / disconnects"
printf '|%s|%s|%s|%s|%s|%s|\n' ------------- ------------------------: ------------------------: \
  ------------------------: --------------------: ----------------------
for kind in native pusher; do
  results=$(grep -v 'failed=1' "$work/$kind.results" || true)
  failed=$(grep -c 'failed=1' "$work/$kind.results" || true)
  col() { # col FIELD SCALE DECIMALS
    [ -n "$results" ] || { echo failed; return; }
    while read -r l; do field "$1" "$l"; done <<< "$results" | grep -v '^na$' | summary "$2" "$3"
  }
  missed=0; disconnects=0
  while read -r l; do
    [ -n "$l" ] || continue
    missed=$(( missed + $(field missed "$l") )); disconnects=$(( disconnects + $(field disconnects "$l") ))
  done <<< "$results"
  printf '| %-11s | %22s | %22s | %22s | %18s | %s |\n' "$kind" \
    "$(col deliveries_per_s 1 0)" "$(col p50_us 0.001 2)" "$(col p99_us 0.001 2)" \
    "$(col server_cpu_pct 1 0)" "$missed / $disconnects$([ "$failed" -gt 0 ] && echo ", $failed runs failed (see $log)")"
done
echo
echo "Each cell: median (min-max) over the runs. latency: publish -> receive, measured by the load generator."
echo "gateway CPU: the gateway's CPU time over the measured window / its length."
