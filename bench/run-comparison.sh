#!/usr/bin/env bash
# Side-by-side load test: the same switchboard-loadgen load against switchboard-gateway, the Node
# `ws` broadcast server and nats-server (WebSocket listener), in one run, and a table of results.
# uws is the same broadcast as ws on uWebSockets' pub/sub (C++, bench/peers/uws).
# switchboard-binary is switchboard-gateway again, its clients speaking the binary encoding
# (subprotocol switchboard.v1.binary, docs/protocol.md) instead of JSON. switchboard-qt is the
# Qt gateway (QtWebSocketGateway with a Hub and ServerProtocol on one thread: bench_qt_gateway
# serve); the environment reaches it, so QT_NO_GLIB=1 before the script runs it on Qt's own
# event dispatcher instead of GLib's.
#
# Every server is started fresh for each configuration (so its memory per connection is measured
# from an idle process), bound to 127.0.0.1 on a free port, pinned to core 0, with one io thread
# where it has the setting; the load generator is pinned to core 1. For each number of
# subscribers and payload size two loads run:
#   flat out   publish as fast as the window allows (--window messages not yet received by every
#              subscriber): deliveries/s, handshakes/s, server memory per connection, CPU
#   fixed rate 50 000 deliveries/s (50 000 / subscribers messages/s): latency percentiles
# Each load runs --runs times (the servers take turns within a run); the table gives the median
# and the spread (min-max) over the runs, and every single load is a row of a CSV file (--csv),
# which bench/plot-charts.py turns into the charts of docs/benchmarks.md.
#
# Usage: bench/run-comparison.sh [options]
#   --build DIR          build tree with the two binaries (default: build/default)
#   --gateway PATH       switchboard-gateway (default: DIR/server/gateway/switchboard-gateway)
#   --loadgen PATH       switchboard-loadgen (default: DIR/bench/loadgen/switchboard-loadgen)
#   --qt-gateway PATH    bench_qt_gateway (default: DIR/bench/qt/bench_qt_gateway)
#   --servers LIST       any of "switchboard switchboard-binary switchboard-qt uws ws nats"
#                        (default: "switchboard uws ws nats")
#   --subscribers LIST   default "1000 10000"
#   --payloads LIST      default "64 1024"
#   --duration S         measured seconds per load (default 5), after 1 s of warm-up
#   --window LIST        messages in flight when flat out, each a number or auto (default auto:
#                        64 000 deliveries in flight, i.e. 64 messages for 1 000 subscribers, 7 for
#                        10 000); with several ("1 24 512") the flat-out load runs at each window,
#                        the fixed-rate load once, at the first
#   --latency-rate N     deliveries/s of the fixed-rate load (default 50000)
#   --runs N             runs of every load (default 3)
#   --csv FILE           one row per server, subscribers, payload, load and run, with the date,
#                        commit and machine in # comment lines (default: build/bench-comparison.csv)
#   --note TEXT          a sentence on the conditions (e.g. "one 2-vCPU VM shared with other
#                        work"), kept in the CSV and shown in the captions of the charts
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
. "$(dirname "$0")/common/measure.sh"
. "$(dirname "$0")/common/peer-servers.sh"
own_session "$0" "$@"

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/default"
gateway=""
loadgen=""
qt_gateway=""
servers="switchboard uws ws nats"
subscribers="1000 10000"
payloads="64 1024"
duration=5
windows=auto
latency_rate=50000
log=""
boost=1
runs=3
csv=""
note=""

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --qt-gateway) qt_gateway=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --payloads) payloads=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --window) windows=$2; shift 2 ;;
    --latency-rate) latency_rate=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --csv) csv=$2; shift 2 ;;
    --note) note=$2; shift 2 ;;
    --no-boost) boost=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
gateway=${gateway:-$build/server/gateway/switchboard-gateway}
loadgen=${loadgen:-$build/bench/loadgen/switchboard-loadgen}
qt_gateway=${qt_gateway:-$build/bench/qt/bench_qt_gateway}
log=${log:-$root/build/bench-comparison.log}
csv=${csv:-$root/build/bench-comparison.csv}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "--runs wants a number of runs, 1 or more" >&2; exit 2; }
[ -n "${windows// /}" ] || { echo "--window wants one or more windows (numbers or auto)" >&2; exit 2; }
for w in $windows; do
  [[ "$w" =~ ^[1-9][0-9]*$ || "$w" = auto ]] || { echo "--window wants numbers of 1 or more, or auto (got $w)" >&2; exit 2; }
done
mkdir -p "$(dirname "$log")" "$(dirname "$csv")"
: > "$log"

[ -x "$loadgen" ] || { echo "no load generator at $loadgen (cmake --build ... --target switchboard-loadgen)" >&2; exit 1; }
for s in $servers; do
  case "$s" in
    switchboard|switchboard-binary) [ -x "$gateway" ] || { echo "no gateway at $gateway" >&2; exit 1; } ;;
    switchboard-qt) [ -x "$qt_gateway" ] || { echo "no Qt gateway at $qt_gateway (--target bench_qt_gateway)" >&2; exit 1; } ;;
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

# resolve_window WINDOW SUBSCRIBERS: the number of messages in flight (auto: 64 000 deliveries).
resolve_window() {
  if [ "$1" = auto ]; then echo $(( (64000 + $2 - 1) / $2 )); else echo "$1"; fi
}

# Runs one load with window $5 (messages); appends its output to the log and echoes the RESULT
# line (or a failure line).
run_load() {
  local server=$1 n=$2 payload=$3 rate=$4 w=$5 bound
  bound=$(( $(printf '%.0f' "$duration") + 90 ))
  local protocol=$server encoding=()
  [ "$server" = uws ] && protocol=ws # the same broadcast as the ws peer
  [ "$server" = switchboard-binary ] && { protocol=switchboard; encoding=(--encoding binary); }
  [ "$server" = switchboard-qt ] && protocol=switchboard
  local args=(--protocol "$protocol" --port "$port" --connections "$n" --payload "$payload"
              --duration "$duration" --warmup 1 --window "$w" --rate "$rate"
              --io-threads 1 --server-pid "$server_pid" --label "$server" "${encoding[@]}")
  {
    echo "=== $server subscribers=$n payload=$payload rate=$rate window=$w ($(date -u +%FT%TZ))"
    timeout "$bound" taskset -c 1 "$loadgen" "${args[@]}" 2>&1 || echo "RESULT label=$server failed=1"
  } | tee -a "$log" | grep '^RESULT' | tail -n1
}

field() { # field NAME LINE
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"
}

# The CSV: its columns, then one row per load (csv_row); the table is computed from these rows.
csv_columns=server,subscribers,payload,load,run,rate_msg_per_s,window,deliveries_per_s,server_cpu_ns_per_delivery,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,handshakes_per_s,mem_per_conn_bytes,missed,disconnects,wire_bytes_per_delivery,setups_per_s
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- 2>/dev/null || commit="$commit (with local changes)"
machine="$(uname -m), $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
started=$(date -u '+%F %H:%M UTC')
{
  echo "# switchboard bench/run-comparison.sh"
  echo "# date: $started"
  echo "# commit: $commit"
  echo "# machine: $machine"
  [ -n "$note" ] && echo "# note: $note"
  echo "# settings: servers pinned to core 0 (one io thread), switchboard-loadgen to core 1; ${duration} s measured after 1 s warm-up; window $windows; fixed rate $latency_rate deliveries/s; $runs runs"
  echo "$csv_columns"
} > "$csv"

# csv_row SERVER SUBSCRIBERS PAYLOAD LOAD RUN WINDOW RESULT-LINE: appends one row (empty fields
# for what the load generator did not report, or when the load failed; the window is the one
# asked for when the load generator did not report it, so a failed load keeps its row's window).
csv_row() {
  local r=$7 w
  [ -n "$(field failed "$r")" ] && r=""
  w=$(field window "$r"); w=${w:-$6}
  awk -v OFS=, -v server="$1" -v n="$2" -v payload="$3" -v load="$4" -v run="$5" \
      -v rate="$(field rate "$r")" -v window="$w" \
      -v d="$(field deliveries_per_s "$r")" -v cpu="$(field server_cpu_pct "$r")" \
      -v p50="$(field p50_us "$r")" -v p90="$(field p90_us "$r")" -v p99="$(field p99_us "$r")" \
      -v p999="$(field p999_us "$r")" -v max="$(field max_us "$r")" -v hs="$(field handshakes_per_s "$r")" \
      -v kb="$(field kb_per_conn_subscribed "$r")" -v missed="$(field missed "$r")" \
      -v disc="$(field disconnects "$r")" -v wire="$(field wire_bytes_per_delivery "$r")" \
      -v setups="$(field setups_per_s "$r")" '
    function ms(us) { return us == "" ? "" : sprintf("%.3f", us / 1e3) }
    BEGIN {
      ns = (d > 0 && cpu != "" && cpu != "na") ? sprintf("%.0f", cpu * 1e7 / d) : ""
      bytes = (kb != "" && kb != "na") ? sprintf("%.0f", kb * 1000) : ""
      print server, n, payload, load, run, rate, window, d, ns, ms(p50), ms(p90), ms(p99), ms(p999),
            ms(max), hs, bytes, missed, disc, (wire == "na" ? "" : wire), setups
    }' >> "$csv"
}

# table_rows SUBSCRIBERS PAYLOAD WINDOW: a row per server, the median and spread (min-max) over
# the runs of that window, from the CSV (latency: the fixed-rate load, which runs at the first
# window only). On switchboard's row, the best peer: the other server with the lowest median
# server CPU per delivery, and the one with the highest median deliveries/s, each with its figure
# and whether switchboard's is at or below (at or above) it.
table_rows() {
  awk -F, -v servers="$servers" -v n="$1" -v payload="$2" -v w="$3" '
    function add(key, v) { if (v != "") { c[key]++; x[key, c[key]] = v } }
    function sorted(key,   i, j, t) {
      for (i = 2; i <= c[key]; i++)
        for (j = i; j > 1 && x[key, j - 1] > x[key, j]; j--) { t = x[key, j]; x[key, j] = x[key, j - 1]; x[key, j - 1] = t }
    }
    function median(key) {
      sorted(key)
      return c[key] % 2 ? x[key, (c[key] + 1) / 2] : (x[key, c[key] / 2] + x[key, c[key] / 2 + 1]) / 2
    }
    # median (min-max), the values scaled by s and printed with format f
    function cell(key, s, f,   m, lo, hi) {
      if (!c[key]) return "-"
      m = median(key)
      lo = sprintf(f, x[key, 1] * s); hi = sprintf(f, x[key, c[key]] * s)
      return sprintf(f, m * s) (c[key] > 1 ? " (" lo (lo == hi ? "" : "-" hi) ")" : "")
    }
    /^#/ || /^server,/ { next }
    $2 == n && $3 == payload && $7 == w {
      s = $1
      if ($4 == "flat") { add(s SUBSEP "d", $8); add(s SUBSEP "ns", $9); add(s SUBSEP "hs", $15); add(s SUBSEP "setup", $20); runs[s]++; if ($8 == "") failed[s]++ }
      else { add(s SUBSEP "p50", $10); add(s SUBSEP "p90", $11); add(s SUBSEP "p99", $12) }
      add(s SUBSEP "mem", $16)
      if ($4 == "flat") add(s SUBSEP "wire", $19)
      missed[s] += $17; disc[s] += $18
    }
    END {
      k = split(servers, list, " ")
      best_ns = ""; best_d = ""
      for (i = 1; i <= k; i++) {
        s = list[i]
        if (s ~ /^switchboard/) continue
        if (c[s SUBSEP "ns"] && (best_ns == "" || median(s SUBSEP "ns") < median(best_ns SUBSEP "ns"))) best_ns = s
        if (c[s SUBSEP "d"] && (best_d == "" || median(s SUBSEP "d") > median(best_d SUBSEP "d"))) best_d = s
      }
      for (i = 1; i <= k; i++) {
        s = list[i]; peer = ""
        if (s ~ /^switchboard/) {
          if (best_ns != "") {
            b = median(best_ns SUBSEP "ns")
            peer = sprintf("%s %.0f ns", best_ns, b)
            if (c[s SUBSEP "ns"]) peer = peer (median(s SUBSEP "ns") <= b ? " (at or below)" : " (above)")
          }
          if (best_d != "") {
            b = median(best_d SUBSEP "d")
            peer = peer (peer == "" ? "" : "; ") sprintf("%s %.2f M/s", best_d, b / 1e6)
            if (c[s SUBSEP "d"]) peer = peer (median(s SUBSEP "d") >= b ? " (at or above)" : " (below)")
          }
        }
        printf "| %-18s | %6s | %7s | %6s | %-19s | %-42s | %-19s | %-19s | %-17s | %-15s | %-9s | %-22s | %s |\n", s, n, payload " B", w,
          cell(s SUBSEP "d", 1e-6, "%.2f"),
          cell(s SUBSEP "p50", 1, "%.2f") " / " cell(s SUBSEP "p90", 1, "%.2f") " / " cell(s SUBSEP "p99", 1, "%.2f"),
          cell(s SUBSEP "hs", 1e-3, "%.1f"), cell(s SUBSEP "setup", 1e-3, "%.1f"),
          cell(s SUBSEP "mem", 1e-3, "%.2f"), cell(s SUBSEP "ns", 1, "%.0f"),
          cell(s SUBSEP "wire", 1, "%.0f"),
          (missed[s] + 0) " / " (disc[s] + 0) (failed[s] ? ", " failed[s] " of " runs[s] " runs failed (see the log)" : ""),
          peer
    }
  }' "$csv"
}

echo "Side-by-side gateway load test, $started, commit $commit"
echo "$machine; $runs runs of each load"
echo "servers pinned to core 0 (one io thread), switchboard-loadgen pinned to core 1; full log: $log; CSV: $csv"
echo
printf '| %-18s | %6s | %7s | %6s | %-19s | %-42s | %-19s | %-19s | %-17s | %-15s | %-9s | %-22s | %s |\n' \
  server subscr. payload window "deliveries/s (M)" "latency p50 / p90 / p99 (ms)" "handshakes/s (k)" "ready/s (k)" \
  "KB per conn" "ns/deliv" "B/deliv" "missed / disconnects" "best peer: ns/deliv; deliveries/s"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' --------------------  -------: ---------: -------: --------------------- \
  -------------------------------------------- --------------------- --------------------- ------------------- ----------------- \
  ----------: ------------------------ -----------------------------------
for n in $subscribers; do
  # The windows of this subscriber count in messages, each once (auto may equal a number given).
  ws=$(for w in $windows; do resolve_window "$w" "$n"; done | awk '!seen[$0]++' | tr '\n' ' ')
  first_w=${ws%% *}
  for payload in $payloads; do
    # The servers take turns within each run, so a busy spell of the machine is shared out.
    for run in $(seq "$runs"); do
      for server in $servers; do
        for w in $ws; do
          start_server "$server" || { stop_server; csv_row "$server" "$n" "$payload" flat "$run" "$w" ""; continue; }
          flat=$(run_load "$server" "$n" "$payload" 0 "$w")
          stop_server
          csv_row "$server" "$n" "$payload" flat "$run" "$w" "$flat"
        done
        start_server "$server" || { stop_server; csv_row "$server" "$n" "$payload" fixed "$run" "$first_w" ""; continue; }
        rate=$(awk -v r="$latency_rate" -v n="$n" 'BEGIN { printf "%.3f", r / n }')
        timed=$(run_load "$server" "$n" "$payload" "$rate" "$first_w")
        stop_server
        csv_row "$server" "$n" "$payload" fixed "$run" "$first_w" "$timed"
      done
    done
    for w in $ws; do
      table_rows "$n" "$payload" "$w"
    done
  done
done
echo
echo "Each cell: the median over $runs runs (the spread min-max in brackets). deliveries/s: flat out with window messages in flight"
echo "(--window $windows; auto: 64 000 deliveries), measured over ${duration} s after 1 s of warm-up. latency: publish -> receive at a"
echo "fixed $latency_rate deliveries/s, at the first window only. handshakes/s: TCP connect + upgrade completions, 256 at a time."
echo "ready/s: connect + upgrade + subscribe completions (Switchboard: connect and subscribe in one write, welcome, subscribed;"
echo "nats: CONNECT, SUB, PONG; ws: the upgrade). KB per conn: server RSS growth / subscribers after 16 clients came and"
echo "went (the loads of the row)."
echo "ns/deliv: server CPU time per delivery when flat out. B/deliv: bytes on the wire per delivery (WebSocket header included). missed: deliveries lost, disconnects: connections dropped (all loads of"
echo "the row). best peer: the other server with the lowest ns/deliv and the one with the highest deliveries/s at that window, and"
echo "whether switchboard is at or below (at or above) it. Charts:"
echo "python3 bench/plot-charts.py $csv --out DIR"
