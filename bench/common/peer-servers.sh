# peer-servers.sh: starts the servers the side-by-side benchmarks compare (sourced by
# run-comparison.sh, run-setups.sh and run-connection-cost.sh, after common/measure.sh). Bash.
#
#   start_server NAME   Starts server NAME pinned to core 0, its output in $work/server.out;
#                       sets server_pid and port (returns 1 when it does not listen). NAME:
#                       switchboard or switchboard-binary (switchboard-gateway, one io thread,
#                       no rate limit, 20 000 connections), switchboard-qt (the Qt gateway,
#                       bench_qt_gateway serve: no rate limit, 20 000 connections), ws (the Node
#                       `ws` peer), uws (the uWebSockets peer) or nats (nats-server).
#
# Uses: $root (the checkout), $work (a scratch folder), $gateway and $qt_gateway (the binaries).

start_server() {
  local out="$work/server.out"
  : > "$out"
  case "$1" in
    switchboard|switchboard-binary)
      taskset -c 0 "$gateway" --listen 127.0.0.1 --port 0 --io-threads 1 --api-key bench \
        --max-connections 20000 --rate 100000000 --rate-burst 100000000 --log-level warn \
        > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid") ;;
    switchboard-qt)
      # no rate limit, 20 000 connections, outbox 65 536 frames / 64 MiB (bench/qt/bench_qt_gateway.cpp)
      taskset -c 0 "$qt_gateway" serve 0 > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'on ws://[^ /]*:[0-9]+' "$server_pid") ;;
    ws)
      taskset -c 0 node "$root/bench/peers/node-ws/server.js" --host 127.0.0.1 --port 0 > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid") ;;
    uws)
      taskset -c 0 node "$root/bench/peers/uws/server.js" --host 127.0.0.1 --port 0 > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'listening on [^ ]*:[0-9]+' "$server_pid") ;;
    nats)
      taskset -c 0 nats-server -c "$root/bench/peers/nats/nats-server.conf" > "$out" 2>&1 &
      server_pid=$!
      port=$(wait_port "$out" 'websocket clients on ws://[^ ]*:[0-9]+' "$server_pid") ;;
    *) echo "start_server: unknown server $1" >&2; return 2 ;;
  esac
}
