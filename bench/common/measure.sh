# Helpers the benchmark scripts share (sourced, not run).

# wait_port FILE PATTERN PID: waits (at most 10 s) until FILE, a server's output, matches
# PATTERN (ending in the port) while process PID lives; prints the port. On failure prints the
# output to stderr and returns 1.
wait_port() {
  local file=$1 pattern=$2 pid=$3 port=""
  for _ in $(seq 100); do
    port=$(grep -o -E "$pattern" "$file" 2>/dev/null | head -n1 | grep -o -E '[0-9]+$' || true)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "process $pid did not report a port; its output:" >&2
  cat "$file" >&2
  return 1
}

# stats NUMBERS...: prints "median min max" of the numbers (nothing when there are none).
stats() {
  tr ' ' '\n' <<< "$*" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
