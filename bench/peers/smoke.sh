#!/usr/bin/env bash
# Smoke test of a Node peer of the side-by-side load test (ctest bench_peer_uws, bench_peer_ws):
# starts bench/peers/<peer>/server.js on a free port, drives it with one short flat-out load of
# switchboard-loadgen (the ws broadcast protocol, as bench/run-comparison.sh does) and checks that
# every published message reached every subscriber, no connection dropped and the server's memory
# and CPU were measured.
#
# Usage: bench/peers/smoke.sh --peer uws|ws --loadgen PATH [--connections N] [--window N]
# The peer's packages come from its node_modules or from NODE_PATH (ctest installs them in the
# build tree). The window defaults to 40 messages: above uWebSockets' 32 pending messages per
# subscriber, so its topic tree also drains from inside the publisher's message handler.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer="" loadgen="" connections=50 window=40
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) peer=$2; shift 2 ;;
    --loadgen) loadgen=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$peer" in
  uws) server="$here/uws/server.js" ;;
  ws) server="$here/node-ws/server.js" ;;
  *) echo "--peer uws|ws" >&2; exit 2 ;;
esac
[ -x "$loadgen" ] || { echo "no load generator at '$loadgen'" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-peer-smoke.XXXXXX")
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

# The server dies with this script even if it is killed (setpriv --pdeathsig). Its log exists
# before it starts: the redirection below happens in the background job, later.
: > "$work/server.out"
setpriv --pdeathsig KILL node "$server" --host 127.0.0.1 --port 0 > "$work/server.out" 2>&1 &
server_pid=$!
port=""
deadline=$((SECONDS + 30))
while [ -z "$port" ]; do
  port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\)$/\1/p' "$work/server.out")
  [ -n "$port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    echo "FAIL: the $peer peer did not report a port; its output:" >&2
    cat "$work/server.out" >&2
    exit 1
  fi
  sleep 0.1
done

timeout 60 "$loadgen" --protocol ws --port "$port" --connections "$connections" --payload 64 \
  --window "$window" --warmup 0.5 --duration 1 --stall-timeout 5 --setup-timeout 20 \
  --io-threads 1 --server-pid "$server_pid" --label "$peer" > "$work/load.out" 2>&1 || true
cat "$work/load.out"
result=$(grep '^RESULT' "$work/load.out" | tail -n1 || true)
[ -n "$result" ] || { echo "FAIL: no RESULT line from the load generator" >&2; exit 1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $result"; }

failures=0
check() { # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what ($result)" >&2; failures=$((failures + 1)); fi
}
check "messages published" test "$(field published)" -gt 0
check "deliveries measured" awk -v d="$(field deliveries_per_s)" 'BEGIN { exit !(d > 0) }'
check "no delivery missed" test "$(field missed)" = 0
check "no connection dropped" test "$(field disconnects)" = 0
check "server memory measured" awk -v k="$(field kb_per_conn_subscribed)" 'BEGIN { exit !(k ~ /^[0-9.]+$/) }'
check "server CPU measured" awk -v c="$(field server_cpu_pct)" 'BEGIN { exit !(c ~ /^[0-9.]+$/) }'
check "the server is still running" kill -0 "$server_pid"
[ "$failures" = 0 ]
