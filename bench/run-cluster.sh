#!/usr/bin/env bash
# Cluster load test: switchboard-gateway nodes on one Redis against one node with the memory
# engine, in the same run, repeated --runs times; prints the median and the spread (min-max).
#
# Configurations (each started fresh for each load, everything on free ports of 127.0.0.1):
#   single   one gateway, memory engine; the subscribers and the publisher on it
#   cross    gateways A and B on one Redis; the publisher on A, the subscribers on B: every
#            publication goes A -> Redis (script: offset, stream, PUBLISH) -> B -> subscribers
#   local    the same two nodes and Redis; publisher and subscribers on A: the engine's cost
#            without the hop to another node (B is idle)
# For each, two loads as in bench/run-comparison.sh:
#   flat out   as fast as the window allows: deliveries/s, CPU of every process, and Redis
#              commands per publication (INFO commandstats of a fresh Redis after the load,
#              divided by the publications the load generator sent)
#   fixed rate --latency-rate deliveries/s (50 000: 50 msg/s to 1 000 subscribers): latency
#
# Cores (2-core machine): the node that delivers to the subscribers (single's gateway, cross's B,
# local's A) alone on core 0, as in bench/run-comparison.sh; the load generator, the publishing
# node A (cross), the idle node B (local) and redis-server on core 1. Every gateway has one io
# thread.
#
# Usage: bench/run-cluster.sh [options]
#   --build DIR          build tree with the two binaries (default: build/default)
#   --gateway PATH       switchboard-gateway (default: DIR/server/gateway/switchboard-gateway)
#   --loadgen PATH       switchboard-loadgen (default: DIR/bench/loadgen/switchboard-loadgen)
#   --redis-server PATH  default: redis-server from PATH (Debian package redis-server)
#   --configs LIST       any of "single cross local" (default: all three)
#   --runs N             repetitions of every configuration (default 3)
#   --subscribers N      subscribers (default 1000)
#   --payload B          payload bytes (default 64)
#   --duration S         measured seconds per load (default 5), after 1 s of warm-up
#   --window N|auto      messages in flight when flat out (default auto: 64 000 deliveries)
#   --latency-rate N     deliveries/s of the fixed-rate load (default 50000)
#   --log FILE           full output of every run (default: build/bench-cluster.log)
#   --perf DIR           in run 1, record the flat-out window of the delivering node and of Redis
#                        with `perf record -g` into DIR/CONFIG-node.data and DIR/CONFIG-redis.data,
#                        with flat profiles beside them (.txt; needs perf)
#   --no-boost           do not raise the CPU weight of this run (see below)
#
# On a machine shared with other work the run lifts its own scheduling weight: it starts in a new
# session and sets that session's autogroup nice to -20 (plain `nice` does nothing between Linux
# autogroups). Each load and each redis-cli call is bounded by `timeout`; every process the script
# starts is stopped when it exits, also on Ctrl-C.
set -euo pipefail

# The run in its own session (see above); Ctrl-C or TERM here stops it, and its traps stop
# everything it started.
. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
gateway=""
loadgen=""
redis_server=redis-server
configs="single cross local"
runs=3
subscribers=1000
payload=64
duration=5
window=auto
latency_rate=50000
log=""
boost=1
perf_dir=""

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --redis-server) redis_server=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payload) payload=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --latency-rate) latency_rate=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --no-boost) boost=0; shift ;;
    --perf) perf_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
gateway=${gateway:-$build/server/gateway/switchboard-gateway}
loadgen=${loadgen:-$build/bench/loadgen/switchboard-loadgen}
log=${log:-$root/build/bench-cluster.log}
[ "$window" = auto ] && window=$(( (64000 + subscribers - 1) / subscribers ))
case "$runs" in ''|*[!0-9]*|0) echo "--runs wants a positive number" >&2; exit 2 ;; esac
for c in $configs; do
  case "$c" in single|cross|local) ;; *) echo "unknown configuration $c" >&2; exit 2 ;; esac
done
[ -x "$loadgen" ] || { echo "no load generator at $loadgen (cmake --build ... --target switchboard-loadgen)" >&2; exit 1; }
[ -x "$gateway" ] || { echo "no gateway at $gateway (cmake --build ... --target switchboard-gateway)" >&2; exit 1; }
command -v "$redis_server" >/dev/null || { echo "no $redis_server (apt-get install redis-server)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "no redis-cli (apt-get install redis-tools)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed to find a free port for Redis" >&2; exit 1; }
if [ -n "$perf_dir" ]; then
  command -v perf >/dev/null || { echo "--perf needs perf (apt-get install linux-perf)" >&2; exit 1; }
  mkdir -p "$perf_dir"; perf_dir=$(cd "$perf_dir" && pwd)
fi
mkdir -p "$(dirname "$log")"
: > "$log"

if [ "$boost" = 1 ]; then
  raise_session_weight
fi
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/switchboard-cluster.XXXXXX)
pids=()           # every process started for the current load
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

redis_port=""
redis_pid=""
# Starts a fresh redis-server pinned to core 1 on a free port (redis cannot pick its own: port 0
# disables TCP, so a port is taken from the OS and handed over; a lost race is retried).
start_redis() {
  local out="$work/redis.out" attempt
  for attempt in 1 2 3; do
    redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    : > "$out"
    taskset -c 1 "$redis_server" --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
      --dir "$work" --daemonize no --logfile '' > "$out" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 50); do
      [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$redis_port" PING 2>/dev/null)" = PONG ] && return 0
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    echo "redis-server on port $redis_port did not start (attempt $attempt):" >&2
    cat "$out" >&2
  done
  return 1
}

# Starts a gateway named $1 pinned to core $2 with engine $3; sets gw_pid_$1 and gw_port_$1.
start_gateway() {
  local name=$1 core=$2 engine=$3 out="$work/gateway-$1.out" pid port
  : > "$out"
  taskset -c "$core" "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
    --max-connections 20000 --rate 100000000 --rate-burst 100000000 --log-level warn \
    --engine "$engine" --engine-prefix sbbench: > "$out" 2>&1 &
  pid=$!
  pids+=("$pid")
  port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$pid") || return 1
  printf -v "gw_pid_$name" '%s' "$pid"
  printf -v "gw_port_$name" '%s' "$port"
}

# Starts configuration $1; sets sub_port, pub_port, deliver_pid and the --sample-pid arguments.
start_config() {
  local redis_url
  sample=()
  case "$1" in
    single)
      start_gateway A 0 memory || return 1
      sub_port=$gw_port_A; pub_port=$gw_port_A; deliver_pid=$gw_pid_A ;;
    cross|local)
      start_redis || return 1
      redis_url="redis://127.0.0.1:$redis_port"
      if [ "$1" = cross ]; then
        start_gateway B 0 "$redis_url" || return 1
        start_gateway A 1 "$redis_url" || return 1
        sub_port=$gw_port_B; pub_port=$gw_port_A; deliver_pid=$gw_pid_B
        sample=(--sample-pid "pubnode=$gw_pid_A")
      else
        start_gateway A 0 "$redis_url" || return 1
        start_gateway B 1 "$redis_url" || return 1
        sub_port=$gw_port_A; pub_port=$gw_port_A; deliver_pid=$gw_pid_A
        sample=(--sample-pid "idlenode=$gw_pid_B")
      fi
      sample+=(--sample-pid "redis=$redis_pid") ;;
  esac
}

# Prints Redis' command statistics as "redis: cmdstat_NAME:calls=..." and total_commands_processed.
redis_stats() {
  { timeout 5 redis-cli -h 127.0.0.1 -p "$redis_port" INFO commandstats
    timeout 5 redis-cli -h 127.0.0.1 -p "$redis_port" INFO stats; } 2>&1 |
    tr -d '\r' | grep -E '^(cmdstat_|total_commands_processed)' | sed "s/^/$1: /" || true
}
# " cmd_NAME=CALLS ... cmd_processed=N" from the redis_stats lines tagged $1 in file $2.
stat_fields() {
  sed -n "s/^$1: cmdstat_\([a-z|]*\):calls=\([0-9]*\).*/ cmd_\1=\2/p;
          s/^$1: total_commands_processed:\([0-9]*\)/ cmd_processed=\1/p" "$2" | tr '|' '_' | tr -d '\n'
}

# Runs one load (config $1, run $2, rate $3); appends its output to the log and sets load_result to
# the RESULT line (or a failure line). Not run in a subshell, so that `pids` lists the load
# generator for stop_all. The load generator waits 2 s once everything is subscribed ("ready to
# publish"): the script saves Redis' statistics of the setup (setup_* fields) and resets them, so
# that the cmd_* fields count the publishing phase only; with --perf it then profiles the window.
run_load() {
  local config=$1 run=$2 rate=$3 bound result lg out="$work/load.out"
  bound=$(( $(printf '%.0f' "$duration") + 90 ))
  local args=(--protocol switchboard --port "$sub_port" --publisher-port "$pub_port"
              --connections "$subscribers" --payload "$payload" --duration "$duration" --warmup 1
              --window "$window" --rate "$rate" --io-threads 1 --server-pid "$deliver_pid"
              "${sample[@]}" --label "$config")
  args+=(--publish-delay 2)
  echo "=== $config run $run rate=$rate ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))" > "$out"
  timeout "$bound" taskset -c 1 "$loadgen" "${args[@]}" > "$work/loadgen.out" 2>&1 &
  lg=$!
  pids+=("$lg")
  while kill -0 "$lg" 2>/dev/null && ! grep -q '^ready to publish' "$work/loadgen.out"; do sleep 0.05; done
  if [ -n "$redis_pid" ]; then
    redis_stats setup > "$work/setup.stats"
    timeout 5 redis-cli -h 127.0.0.1 -p "$redis_port" CONFIG RESETSTAT > /dev/null 2>&1 || true
  fi
  local perf_pids=() perf_names=() target name
  if [ -n "$perf_dir" ] && [ "$run" = 1 ] && [ "$rate" = 0 ] && kill -0 "$lg" 2>/dev/null; then
    sleep 3 # the 2 s delay and the 1 s warm-up
    for target in "node:$deliver_pid" ${redis_pid:+"redis:$redis_pid"}; do
      name="$config-${target%%:*}"
      timeout $(( $(printf '%.0f' "$duration") + 30 )) perf record -q -F 999 -g -p "${target#*:}" \
        -o "$perf_dir/$name.data" -- sleep "$duration" > "$perf_dir/$name.record.log" 2>&1 &
      perf_pids+=("$!"); perf_names+=("$name"); pids+=("$!")
    done
  fi
  wait "$lg" || echo "RESULT label=$config failed=1" >> "$work/loadgen.out"
  for i in "${!perf_pids[@]}"; do
    wait "${perf_pids[$i]}" || true
    timeout 120 perf report -i "$perf_dir/${perf_names[$i]}.data" --stdio --no-children --percent-limit 0.5 \
      -g none > "$perf_dir/${perf_names[$i]}.txt" 2>/dev/null || true
  done
  cat "$work/loadgen.out" >> "$out"
  if [ -n "$redis_pid" ]; then
    redis_stats redis > "$work/publish.stats"
    cat "$work/setup.stats" "$work/publish.stats" >> "$out"
  fi
  cat "$out" >> "$log"
  result=$(grep '^RESULT' "$out" | tail -n1)
  if [ -n "$redis_pid" ]; then
    result+=$(stat_fields redis "$work/publish.stats")
    result+=$(stat_fields setup "$work/setup.stats" | sed 's/ cmd_/ setup_/g')
  fi
  load_result=$result
}

field() { # field NAME LINE
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"
}

# stats "v1 v2 ..." SCALE DECIMALS: "median (min-max)" of the numbers, each divided by SCALE.
stats() {
  tr ' ' '\n' <<< "$1" | grep -E '^[0-9.]+$' | sort -g |
    awk -v s="$2" -v d="$3" '{ v[NR] = $1 / s }
      END { if (NR == 0) { print "na"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            if (NR == 1) printf "%.*f", d, m; else printf "%.*f (%.*f-%.*f)", d, m, d, v[1], d, v[NR] }'
}

started=$(date -u '+%F %H:%M UTC')
echo "Cluster load test, $started, $(nproc) cores, $(uname -r), $runs run(s), $subscribers subscribers, $payload B"
echo "redis: $("$redis_server" --version | cut -d' ' -f3); full log: $log"

declare -A flat timed load_before
for run in $(seq "$runs"); do
  for config in $configs; do
    load_before[$config]+=" $(cut -d' ' -f1 /proc/loadavg)"
    redis_pid=""
    if start_config "$config"; then run_load "$config" "$run" 0; flat[$config]+=$'\n'$load_result; fi
    stop_all; redis_pid=""
    rate=$(awk -v r="$latency_rate" -v n="$subscribers" 'BEGIN { printf "%.3f", r / n }')
    if start_config "$config"; then run_load "$config" "$run" "$rate"; timed[$config]+=$'\n'$load_result; fi
    stop_all; redis_pid=""
    echo "run $run $config done ($(date -u +%T), load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  done
done

# values KIND CONFIG FIELD: the field of every successful RESULT line, space-separated.
values() {
  local -n lines=$1
  local line out=""
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    [ -n "$(field failed "$line")" ] && continue
    out+=" $(field "$3" "$line")"
  done <<< "${lines[$2]:-}"
  echo "$out"
}
# per_pub CONFIG FIELD: FIELD / published of every successful flat-out line.
per_pub() {
  local line out="" calls pub
  while IFS= read -r line; do
    [ -z "$line" ] && continue
    [ -n "$(field failed "$line")" ] && continue
    calls=$(field "$2" "$line"); pub=$(field published "$line")
    [ -n "$pub" ] && [ "$pub" -gt 0 ] && out+=" $(awk -v c="${calls:-0}" -v p="$pub" 'BEGIN { printf "%.4f", c / p }')"
  done <<< "${flat[$1]:-}"
  echo "$out"
}
count_failed() {
  local -n lines=$1
  grep -c 'failed=1' <<< "${lines[$2]:-}" || true
}

echo
echo "Median (min-max) over $runs run(s). deliveries/s flat out with $window messages in flight; latency at $latency_rate deliveries/s."
printf '| %-6s | %-24s | %-8s | %-22s | %-22s | %-22s | %-14s | %-14s | %-14s | %-14s | %-18s | %-8s | %s |\n' \
  config "deliveries/s flat (M)" "vs single" "p50 ms" "p99 ms" "p99.9 ms" "deliver node %" "other node %" "redis %" "loadgen %" "missed / disconnects" failed "load avg"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------- --------------------------: ----------: \
  ------------------------: ------------------------: ------------------------: ----------------: \
  ----------------: ----------------: ----------------: -------------------- ---------- ----------
single_median=$(stats "$(values flat single deliveries_per_s)" 1 0 | cut -d' ' -f1)
for config in $configs; do
  d=$(values flat "$config" deliveries_per_s)
  ratio="-"
  if [ "$config" != single ] && [ -n "$single_median" ] && [ "$single_median" != na ]; then
    ratio=$(stats "$d" 1 0 | cut -d' ' -f1 | awk -v s="$single_median" '{ if ($1 + 0 > 0) printf "%.2f", $1 / s; else print "na" }')
  fi
  other="-"; redis="-"
  case "$config" in
    cross) other=$(stats "$(values flat cross cpu_pubnode_pct)" 1 0); redis=$(stats "$(values flat cross cpu_redis_pct)" 1 0) ;;
    local) other=$(stats "$(values flat local cpu_idlenode_pct)" 1 0); redis=$(stats "$(values flat local cpu_redis_pct)" 1 0) ;;
  esac
  missed=$(awk '{ s += $1 } END { print s + 0 }' <<< "$(tr ' ' '\n' <<< "$(values flat "$config" missed) $(values timed "$config" missed)")")
  disc=$(awk '{ s += $1 } END { print s + 0 }' <<< "$(tr ' ' '\n' <<< "$(values flat "$config" disconnects) $(values timed "$config" disconnects)")")
  printf '| %-6s | %24s | %8s | %22s | %22s | %22s | %14s | %14s | %14s | %14s | %-20s | %8s | %s |\n' \
    "$config" "$(stats "$d" 1e6 2)" "$ratio" \
    "$(stats "$(values timed "$config" p50_us)" 1e3 2)" "$(stats "$(values timed "$config" p99_us)" 1e3 2)" \
    "$(stats "$(values timed "$config" p999_us)" 1e3 2)" "$(stats "$(values flat "$config" server_cpu_pct)" 1 0)" \
    "$other" "$redis" "$(stats "$(values flat "$config" loadgen_cpu_pct)" 1 0)" "$missed / $disc" \
    "$(( $(count_failed flat "$config") + $(count_failed timed "$config") ))" "$(stats "${load_before[$config]}" 1 1)"
done

has_redis=0
for config in $configs; do [ "$config" != single ] && has_redis=1; done
if [ "$has_redis" = 1 ]; then
  echo
  echo "Redis commands per publication while publishing flat out (Redis' INFO commandstats, reset once every"
  echo "client was subscribed, read after the load, divided by the publications sent). Commands that the Lua"
  echo "script runs are counted under their own names as well as the evalsha that ran them; 'processed' is"
  echo "INFO stats total_commands_processed; info and config_resetstat are this script's own calls:"
  for config in $configs; do
    [ "$config" = single ] && continue
    names=$(grep -o ' cmd_[a-z_]*=' <<< "${flat[$config]:-}" | sed 's/ cmd_//; s/=//' | sort -u | tr '\n' ' ')
    line="  $config:"
    for name in $names; do line+=" $name $(stats "$(per_pub "$config" "cmd_$name")" 1 3);"; done
    echo "$line"
  done
  echo "Redis commands while $subscribers subscribers and the publisher subscribed (before publishing), per run:"
  for config in $configs; do
    [ "$config" = single ] && continue
    names=$(grep -o ' setup_[a-z_]*=' <<< "${flat[$config]:-}" | sed 's/ setup_//; s/=//' | sort -u | tr '\n' ' ')
    line="  $config:"
    for name in $names; do line+=" $name $(stats "$(values flat "$config" "setup_$name")" 1 0);"; done
    echo "$line"
  done
fi
echo
echo "deliver node: the gateway the subscribers are on (core 0); other node: cross's publishing node A, local's idle B."
echo "CPU columns are % of one core during the flat-out window. load avg: 1-minute load average before each configuration."
