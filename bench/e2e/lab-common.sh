# Sourced by hop-profile.sh and path-latency.sh after they set root and P (the namespace prefix): the list of started
# processes (append PIDs to pids), cleanup on exit (processes by PID, TERM then KILL, then the prefixed topology),
# nsx NS CMD... (run in a namespace) and stop PID (TERM, then KILL after 5 s).
pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
  bash "$root/bench/e2e/topology.sh" down --prefix "$P" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
stop() { [ -n "${1:-}" ] || return 0; kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
