# Helpers the benchmark scripts share (sourced, not run).

# await_line FILE PATTERN PID [SECONDS]: waits (at most SECONDS, default 10) until FILE, a
# process's output, matches PATTERN while process PID lives; prints the first match. On failure
# prints the output to stderr and returns 1.
await_line() {
  local file=$1 pattern=$2 pid=$3 bound=${4:-10} found=""
  for _ in $(seq $((bound * 10))); do
    found=$(grep -o -E "$pattern" "$file" 2>/dev/null | head -n1 || true)
    [ -n "$found" ] && { echo "$found"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "no \"$pattern\" within ${bound} s while process $pid ran; output:" >&2
  cat "$file" >&2
  return 1
}

# wait_port FILE PATTERN PID: await_line for a PATTERN that ends in a port; prints the port.
wait_port() {
  local found
  found=$(await_line "$1" "$2" "$3") || return 1
  grep -o -E '[0-9]+$' <<< "$found"
}

# stats NUMBERS...: prints "median min max" of the numbers (nothing when there are none).
stats() {
  tr ' ' '\n' <<< "$*" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
