#!/usr/bin/env bash
# Shared by control-latency.sh and soak.sh (sourced, not run): the encap hop of run.sh as a lab.
#   fasttun gen in server1 --> gw1 (fasttun run, IPIP, af_xdp by default) --> fasttun sink on gw2's end of eth2
# gw1 is not pinned (its control threads may use either core) and runs at nice GW_NICE (-10: ahead of the
# neighbours compiling on this shared host; its control threads sit 10 steps higher); generator and sink run on
# CPU0 at nice -19.
# Provides: lab_up, lab_down, start_gw1 (sets GW_PID, SOCK), start_sink, start_gen RATE SECONDS (sets GEN_PID),
# stop PID (TERM, then KILL after 5 s), rss_kb PID. Environment: EDGE_PREFIX (edge-), DRIVER (af_xdp), SIZE (64).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
F=${FASTTUN_BIN:-$root/src/FastTun.Gateway/bin/Release/net10.0/fasttun}
P=${EDGE_PREFIX:-edge-$(basename "$0" .sh | cut -c1-4)-}
DRIVER=${DRIVER:-af_xdp}
SIZE=${SIZE:-64}
S1=${P}server1 G1=${P}gw1 G2=${P}gw2
[ "$(id -u)" = 0 ] || { echo "needs root (namespaces, XDP)" >&2; exit 1; }
[ -x "$F" ] || { echo "$F not built (make build)" >&2; exit 1; }
work=$(mktemp -d /tmp/fasttun-edge.XXXXXX)
pids=()
GW_PID="" GEN_PID="" SINK_PID="" SOCK=$work/gw1.sock

# Background jobs use `ip netns exec` directly (it execs, as do nice and taskset), so $! is the program itself.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
lab_down() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
  bash "$root/bench/e2e/topology.sh" down --prefix "$P" >/dev/null 2>&1 || true
}
lab_up() {
  bash "$root/bench/e2e/topology.sh" up --prefix "$P" --offload off >/dev/null
  for ns in $G1 $G2; do for dev in eth1 eth2; do nsx "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null 2>&1 || true; done; done
}
start_gw1() {
  local gw2_eth2; gw2_eth2=$(nsx "$G2" cat /sys/class/net/eth2/address)
  sed "s/driver 'af_xdp'/driver '$DRIVER'/" "$root/configs/gw1-ipip.conf" > "$work/gw1.conf"
  { echo "set fasttun workers 1"; echo "set fasttun neighbor 172.12.1.11 mac '$gw2_eth2'"; } >> "$work/gw1.conf"
  ip netns exec "$G1" nice -n "${GW_NICE:--10}" "$F" run --config "$work/gw1.conf" --control-socket "$SOCK" > "$work/gw1.log" 2>&1 &
  GW_PID=$!; pids+=("$GW_PID")
  for _ in $(seq 1 100); do grep -q "control socket" "$work/gw1.log" 2>/dev/null && return 0; sleep 0.1; done
  cat "$work/gw1.log" >&2; return 1
}
start_sink() { # seconds
  ip netns exec "$G2" nice -n -19 taskset -c 0 "$F" sink --iface eth2 --ip 172.12.1.11 --duration "$1" --json > "$work/sink.json" 2> "$work/sink.err" &
  SINK_PID=$!; pids+=("$SINK_PID")
  for _ in $(seq 1 200); do grep -q "sink: ready" "$work/sink.err" 2>/dev/null && return 0; sleep 0.05; done
  cat "$work/sink.err" >&2; return 1
}
start_gen() { # rate seconds
  local gw1_eth1; gw1_eth1=$(nsx "$G1" cat /sys/class/net/eth1/address)
  ip netns exec "$S1" nice -n -19 taskset -c 0 "$F" gen --iface net0 --size "$SIZE" --rate "$1" --flows 16 --duration "$2" --batch 64 \
      --dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac "$gw1_eth1" --json > "$work/gen.json" 2> "$work/gen.err" &
  GEN_PID=$!; pids+=("$GEN_PID")
  for _ in $(seq 1 400); do grep -q "gen: sending" "$work/gen.err" 2>/dev/null && return 0; sleep 0.01; done
}
stop() {
  [ -n "${1:-}" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
