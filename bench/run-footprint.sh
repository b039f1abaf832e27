#!/usr/bin/env bash
# Memory footprint on a panel: resident memory (VmRSS from /proc/PID/status) of
#   - an idle switchboard-gateway, just started,
#   - the same with N idle subscribed connections (per connection: the growth / N),
#   - switchboard-dashboard hosting its gateway in-process (offscreen platform, idle window),
#     alone and with N idle subscribed connections to its embedded gateway,
# and the CPU time each idle process takes (user + system over --idle-cpu seconds, no client).
# The connections come from switchboard-loadgen (one channel, one subscription each); it holds
# them idle for --hold seconds before publishing anything, and the sample is taken while they are
# held. Per connection, the growth is counted from the process after a warm-up (--warm-up
# connections opened, subscribed, sent a second of publications and closed): what a first
# connection pays once (the pages of code it runs, the io thread's read and write buffers) is
# not spread over the connections. Every measurement starts a fresh process and runs --runs
# times; the table shows the median and the spread (min-max), with the date, the commit and the
# machine.
#
# Usage: bench/run-footprint.sh [options]
#   --build DIR          build tree with the three binaries (default: build/default)
#   --runs N             runs of each measurement (default 3)
#   --connections LIST   subscriber counts for switchboard-gateway (default "1000 5000")
#   --dashboard-connections LIST   subscriber counts for the dashboard (default "1000")
#   --hold S             seconds the connections are held idle (default 3; sampled after 1)
#   --warm-up N          connections of the warm-up before the per-connection baseline
#                        (default 16; 0: none, the baseline is the process just started)
#   --idle-cpu S         seconds over which the CPU use of an idle process is measured (default 5)
#   --log FILE           full output of every run (default: build/bench-footprint.log)
#   --emulator CMD       run the gateway and the dashboard under CMD, e.g. qemu-aarch64-static
#                        for an ARM64 build tree (--build build/arm64); the load generator stays
#                        native (--loadgen). Under qemu-user the measured process is qemu itself,
#                        so its RSS includes the emulator and its translated code: compare
#                        differences (per connection), not absolute figures, with a device.
#   --heap               also the heap in use per connection of switchboard-gateway: glibc's
#                        malloc_stats() called through gdb (Debian: gdb) before and while the
#                        connections are held; what the allocator holds for live blocks, without
#                        the free space RSS may include
#   --after-burst        with --heap: also the heap in use per connection after a burst (one more
#                        client publishes 2 s flat out, 64 messages in flight, to the subscribers'
#                        channel) and again after a ping interval (the gateway runs with
#                        --ws-ping-interval 2000 and no rate limit then): what sessions keep once
#                        the traffic stops
#   --loadgen PATH       switchboard-loadgen (default: DIR/bench/loadgen/switchboard-loadgen; with
#                        --emulator, build/default's)
#
# Servers are pinned to core 0, the load generator to core 1 (as bench/run-comparison.sh does);
# switchboard-gateway runs with one io thread. The run lives in its own session
# (common/own-session.sh), so everything it started stops with it.
set -euo pipefail

. "$(dirname "$0")/common/own-session.sh"
. "$(dirname "$0")/common/measure.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
runs=3
connections="1000 5000"
dashboard_connections="1000"
hold=3
warm_up=16
idle_cpu=5
log=""
emulator=""
loadgen=""
heap=0
after_burst=0
burst_ping_ms=2000

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --dashboard-connections) dashboard_connections=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --warm-up) warm_up=$2; shift 2 ;;
    --idle-cpu) idle_cpu=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --emulator) emulator=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --heap) heap=1; shift ;;
    --after-burst) after_burst=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
gateway=$build/server/gateway/switchboard-gateway
dashboard=$build/apps/dashboard/switchboard-dashboard
if [ -z "$loadgen" ]; then
  if [ -n "$emulator" ]; then loadgen=$root/build/default/bench/loadgen/switchboard-loadgen
  else loadgen=$build/bench/loadgen/switchboard-loadgen; fi
fi
if [ -n "$emulator" ]; then
  command -v "$emulator" > /dev/null || { echo "no emulator $emulator" >&2; exit 1; }
  emulator=$(command -v "$emulator")
fi
log=${log:-$root/build/bench-footprint.log}
[ "$after_burst" = 0 ] || [ "$heap" = 1 ] || { echo "--after-burst needs --heap" >&2; exit 2; }
if [ "$heap" = 1 ]; then
  [ -z "$emulator" ] || { echo "--heap reads the native gateway's allocator: not with --emulator" >&2; exit 2; }
  command -v gdb > /dev/null || { echo "--heap needs gdb (apt-get install gdb)" >&2; exit 1; }
fi
for binary in "$gateway" "$dashboard" "$loadgen"; do
  [ -x "$binary" ] || { echo "no $binary (cmake --build $build --target $(basename "$binary"))" >&2; exit 1; }
done
mkdir -p "$(dirname "$log")"
: > "$log"
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/switchboard-footprint.XXXXXX)
server_pid=""
trap 'stop_server; stop_session; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# VmRSS of process $1 in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Heap bytes in use of the gateway (process $1, its output in $2): glibc's malloc_stats(), called
# through gdb, writes its figures to the process's standard error; the total's "in use" line.
heap_in_use() {
  local pid=$1 out=$2 before
  before=$(wc -l < "$out")
  timeout 60 gdb -p "$pid" -batch -nx -ex 'call (void) malloc_stats()' > /dev/null 2>&1 || true
  for _ in $(seq 50); do
    tail -n +"$((before + 1))" "$out" | grep -q '^max mmap bytes' && break
    sleep 0.1
  done
  tail -n +"$((before + 1))" "$out" | awk '/^Total/ { total = 1 } total && /^in use bytes/ { print $NF; exit }'
}

# CPU use of process $1 over the next $2 seconds, in percent of one core.
cpu_percent() {
  local ticks=$(getconf CLK_TCK) before after
  before=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
  sleep "$2"
  after=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
  bc -l <<< "($after - $before) * 100 / $ticks / $2"
}

# Starts a fresh switchboard-gateway; sets server_pid and port.
start_gateway() {
  local out="$work/server.out"
  local ping=()
  # After a burst: the gateway pings soon, and lets the burst's publisher publish flat out.
  [ "$after_burst" = 0 ] || ping=(--ws-ping-interval "$burst_ping_ms" --rate 100000000 --rate-burst 100000000)
  taskset -c 0 $emulator "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --max-connections 20000 \
    --log-level warn "${ping[@]}" > "$out" 2>&1 &
  server_pid=$!
  port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid")
  sleep 1 # settle: what a started gateway holds, not what it allocates while starting
}

# Starts a fresh switchboard-dashboard with its embedded gateway, offscreen; sets server_pid and
# port once its own client is connected and the window has rendered.
start_dashboard() {
  local out="$work/server.out"
  QT_QPA_PLATFORM=offscreen taskset -c 0 $emulator "$dashboard" --port 0 > "$out" 2>&1 &
  server_pid=$!
  port=$(await_line "$out" 'embedded gateway at ws://[^ ]*:[0-9]+' "$server_pid" 30 | grep -o -E '[0-9]+$')
  await_line "$out" 'connected to ws://' "$server_pid" 30 > /dev/null
  sleep 2 # a few frames and the first once-a-second refresh of the channel list and chart
}

# Runs the warm-up against the running server: --warm-up connections, subscribed, a second of
# publications, closed; returns once they are gone.
warm_up_server() {
  [ "$warm_up" -gt 0 ] || return 0
  local out="$work/warmup.out"
  if ! timeout 60 taskset -c 1 "$loadgen" --protocol switchboard --port "$port" --connections "$warm_up" \
      --publish-delay 0 --warmup 0 --duration 1 --rate 100 --label warmup > "$out" 2>&1; then
    echo "the warm-up failed; its output:" >&2
    cat "$out" >&2
    return 1
  fi
  sleep 1 # the closed connections are gone
}

# Opens $1 idle subscribers to the running server, samples its RSS while they are held; prints
# the RSS in KiB, and with $2 = heap the heap bytes in use after it (with --after-burst, then
# the heap after a burst and after a ping interval more).
rss_with_connections() {
  local n=$1 out="$work/loadgen.out" held=$hold
  [ "$after_burst" = 0 ] || held=$((hold + 20))
  : > "$out"
  # --memory-warmup 0: this script warms the server up itself (warm_up_server)
  timeout $((held + 90)) taskset -c 1 "$loadgen" --protocol switchboard --port "$port" \
    --connections "$n" --publish-delay "$held" --warmup 0 --duration 1 --rate 1 \
    --server-pid "$server_pid" --memory-warmup 0 --label footprint > "$out" 2>&1 &
  local loadgen_pid=$!
  if ! await_line "$out" 'ready to publish' "$server_pid" 90 > /dev/null || ! grep -q "subscribed: $n of $n" "$out"; then
    echo "the load generator did not hold $n subscribers; its output:" >&2
    cat "$out" >&2
    wait "$loadgen_pid" || true
    return 1
  fi
  sleep 1 # the connections idle (nothing published until --hold ends)
  if [ "${2:-}" = heap ] && [ "$after_burst" = 1 ]; then
    local rss heap_idle heap_burst
    rss=$(rss_kib "$server_pid")
    heap_idle=$(heap_in_use "$server_pid" "$work/server.out")
    timeout 60 taskset -c 1 "$loadgen" --protocol switchboard --port "$port" --connections 1 \
      --warmup 0 --duration 2 --window 64 --rate 0 --memory-warmup 0 --label burst >> "$log" 2>&1 || true
    heap_burst=$(heap_in_use "$server_pid" "$work/server.out")
    sleep "$(bc -l <<< "$burst_ping_ms / 1000 + 1.5")"
    echo "$rss $heap_idle $heap_burst $(heap_in_use "$server_pid" "$work/server.out")"
  elif [ "${2:-}" = heap ]; then
    echo "$(rss_kib "$server_pid") $(heap_in_use "$server_pid" "$work/server.out")"
  else
    rss_kib "$server_pid"
  fi
  wait "$loadgen_pid" || true
  cat "$out" >> "$log"
}

# Table rows: mib LABEL VALUES_KIB... / per_conn LABEL N BASE_KIB... -- WITH_KIB...
row_mib() {
  local label=$1; shift
  read -r med lo hi <<< "$(stats "$@")"
  printf '| %-58s | %9.1f MiB | %7.1f-%.1f MiB |\n' "$label" "$(bc -l <<< "$med / 1024")" \
    "$(bc -l <<< "$lo / 1024")" "$(bc -l <<< "$hi / 1024")"
}
row_percent() {
  local label=$1; shift
  read -r med lo hi <<< "$(stats "$@")"
  printf '| %-58s | %11.1f %% | %9.1f-%.1f %% |\n' "$label" "$med" "$lo" "$hi"
}
row_per_conn() {
  local label=$1; shift
  read -r med lo hi <<< "$(stats "$@")"
  printf '| %-58s | %9.2f KiB | %7.2f-%.2f KiB |\n' "$label" "$med" "$lo" "$hi"
}

# The commit of the sources the build tree was made from (another worktree's, for a baseline).
source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
source_dir=${source_dir:-$root}
commit=$(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$source_dir" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with local changes)"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Footprint, $(date -u '+%F %H:%M UTC'), commit $commit"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
qt=$(dpkg-query -W -f '${Version}\n' libqt6gui6 2>/dev/null | head -n1 || true)
echo "$(uname -m), $(nproc) cores ($cpu), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "build: ${build_type:-unknown} ($build), Qt ${qt:-unknown}; $runs runs each; full log: $log"
[ -z "$emulator" ] || echo "servers run under $emulator ($(file -b "$gateway" | cut -d, -f1-2)): their RSS includes the emulator's"
echo

declare -A samples
for run in $(seq "$runs"); do
  for n in $connections; do
    start_gateway
    idle=$(rss_kib "$server_pid")
    samples[gateway_idle]+=" $idle"
    [ "$n" = "${connections%% *}" ] && samples[gateway_cpu]+=" $(cpu_percent "$server_pid" "$idle_cpu")"
    warm_up_server
    base=$(rss_kib "$server_pid")
    if [ "$heap" = 1 ]; then
      heap_base=$(heap_in_use "$server_pid" "$work/server.out")
      read -r with heap_with heap_burst heap_quiet <<< "$(rss_with_connections "$n" heap)"
      samples[heap_per_$n]+=" $(bc -l <<< "($heap_with - $heap_base) / $n")"
      if [ "$after_burst" = 1 ]; then
        samples[heap_burst_$n]+=" $(bc -l <<< "($heap_burst - $heap_base) / $n")"
        samples[heap_quiet_$n]+=" $(bc -l <<< "($heap_quiet - $heap_base) / $n")"
        echo "run $run: switchboard-gateway heap in use after a burst $heap_burst B, a ping interval later $heap_quiet B" >> "$log"
      fi
      echo "run $run: switchboard-gateway heap in use idle $heap_base B, with $n subscribers $heap_with B" >> "$log"
    else
      with=$(rss_with_connections "$n")
    fi
    samples[gateway_$n]+=" $with"
    samples[gateway_per_$n]+=" $(bc -l <<< "($with - $base) / $n")"
    stop_server
    echo "run $run: switchboard-gateway idle $idle KiB, after the warm-up $base KiB, with $n subscribers $with KiB" >> "$log"
  done
  start_dashboard
  base=$(rss_kib "$server_pid")
  samples[dashboard_idle]+=" $base"
  samples[dashboard_cpu]+=" $(cpu_percent "$server_pid" "$idle_cpu")"
  stop_server
  for n in $dashboard_connections; do
    start_dashboard
    idle=$(rss_kib "$server_pid")
    samples[dashboard_idle]+=" $idle"
    warm_up_server
    base=$(rss_kib "$server_pid")
    with=$(rss_with_connections "$n")
    samples[dashboard_$n]+=" $with"
    samples[dashboard_per_$n]+=" $(bc -l <<< "($with - $base) / $n")"
    stop_server
    echo "run $run: switchboard-dashboard idle $idle KiB, after the warm-up $base KiB, with $n subscribers $with KiB" >> "$log"
  done
done

printf '| %-58s | %13s | %19s |\n' "resident memory (VmRSS)" "median" "spread (min-max)"
printf '|%s|%s|%s|\n' ------------------------------------------------------------ ---------------: -------------------:
row_mib "switchboard-gateway, idle after start" ${samples[gateway_idle]}
for n in $connections; do
  row_mib "switchboard-gateway with $n idle subscribers" ${samples[gateway_$n]}
  row_per_conn "  per subscribed connection ($n)" ${samples[gateway_per_$n]}
done
if [ "$heap" = 1 ]; then
  for n in $connections; do
    read -r med lo hi <<< "$(stats ${samples[heap_per_$n]})"
    printf '| %-58s | %11.0f B | %9.0f-%.0f B |\n' "  heap in use per subscribed connection ($n)" "$med" "$lo" "$hi"
    if [ "$after_burst" = 1 ]; then
      read -r med lo hi <<< "$(stats ${samples[heap_burst_$n]})"
      printf '| %-58s | %11.0f B | %9.0f-%.0f B |\n' "    after a burst ($n)" "$med" "$lo" "$hi"
      read -r med lo hi <<< "$(stats ${samples[heap_quiet_$n]})"
      printf '| %-58s | %11.0f B | %9.0f-%.0f B |\n' "    after the burst and a ping interval ($n)" "$med" "$lo" "$hi"
    fi
  done
fi
row_mib "switchboard-dashboard + embedded gateway, idle (offscreen)" ${samples[dashboard_idle]}
for n in $dashboard_connections; do
  row_mib "switchboard-dashboard with $n idle subscribers" ${samples[dashboard_$n]}
  row_per_conn "  per subscribed connection ($n)" ${samples[dashboard_per_$n]}
done
row_percent "switchboard-gateway, idle: CPU" ${samples[gateway_cpu]}
row_percent "switchboard-dashboard, idle (offscreen): CPU" ${samples[dashboard_cpu]}
echo
echo "idle: every fresh process, sampled 1 s (gateway) / 2 s (dashboard) after start. Subscribers: switchboard-loadgen"
echo "connections, one subscription each to one channel, held idle; sampled 1 s after the last one"
echo "subscribed. Per connection: (RSS with them - RSS of the same process after a warm-up of $warm_up"
echo "connections) / N. CPU: user + system time over ${idle_cpu} s of an idle process (no client but the"
echo "dashboard's own), % of one core."
[ "$heap" = 0 ] || echo "Heap in use: glibc malloc_stats() of the gateway before and while they are held, / N."
[ "$after_burst" = 0 ] || echo "After a burst: one more client published 2 s flat out (64 in flight) to their channel; the gateway pings every ${burst_ping_ms} ms."
