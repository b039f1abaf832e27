# own-session.sh: sourced by the bench scripts (run-ab.sh, run-cluster.sh, run-comparison.sh,
# run-connection-cost.sh, run-footprint.sh, run-pusher.sh, run-qt.sh, run-setups.sh,
# run-slow-reader.sh) so that a run lives in a session of its own:
# everything it starts can be found and stopped with it, and its CPU weight can be raised without
# touching the rest of the machine.
# Bash.
#
#   own_session "$0" "$@"   First thing in the script. Outside the session: re-runs the script in
#                           a new session (setsid), forwards Ctrl-C / TERM to that whole session
#                           (its process group) and exits with the run's status; the script's own
#                           traps then stop what it started. Inside (SB_BENCH_SESSION set): returns.
#   raise_session_weight    Sets this session's autogroup nice to -20 (plain `nice` does nothing
#                           between Linux autogroups), so the run gets its cores on a machine
#                           shared with other work; a note on stderr when it may not.
#   stop_session            TERM to every other process of this session, e.g. from an EXIT trap
#                           (what runs in its own process group, like `timeout`, is found too).
#   stop_server             Stops the server the script started, whose pid is in $server_pid:
#                           TERM, KILL after 5 s; clears server_pid. A no-op when none runs.

own_session() {
  if [ -n "${SB_BENCH_SESSION:-}" ]; then
    return 0
  fi
  export SB_BENCH_SESSION=1
  # A background job of a script is no process group leader, so setsid does not fork and $! is
  # the new session's (and process group's) id.
  setsid --wait "$@" &
  local inner=$!
  trap "kill -TERM -- -$inner 2>/dev/null || true" INT TERM
  local rc=0
  while kill -0 "$inner" 2>/dev/null; do wait "$inner" && rc=0 || rc=$?; done
  exit "$rc"
}

raise_session_weight() {
  echo -20 > /proc/self/autogroup 2>/dev/null || echo "note: could not raise the autogroup weight" >&2
}

stop_session() {
  local p
  for p in $(pgrep -s $$ || true); do
    [ "$p" != $$ ] && kill -TERM "$p" 2>/dev/null || true
  done
}

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
