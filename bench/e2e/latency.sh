#!/usr/bin/env bash
# Ping RTT server1 -> server2 through kernel forwarding and through two FastTun gateways (AF_XDP, IPIP), on the
# same topology, interleaved A B A B for ROUNDS rounds of COUNT pings each; prints each round and the medians.
# Usage: bench/e2e/latency.sh [ROUNDS=3] [COUNT=50] [FASTTUN=path] [FASTTUN_B=path of a second build to compare];
# root. CPU placement is left to the scheduler on purpose:
# this measures what a user of `make demo` sees.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3} COUNT=${COUNT:-50}
FASTTUN=${FASTTUN:-src/FastTun.Gateway/bin/Release/net10.0/fasttun}
P=lat-
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5; for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; PIDS=()
  bash bench/e2e/topology.sh down --prefix $P >/dev/null 2>&1
}
trap cleanup EXIT
rtt() { ip netns exec ${P}server1 ping -q -c "$COUNT" -i 0.05 -W 1 10.1.8.10 | awk -F'/' '/^rtt/ { print $5 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
fasttun_rtt() { # binary
  bash bench/e2e/topology.sh up --prefix $P --offload off >/dev/null
  for gw in gw1 gw2; do
    ip netns exec ${P}$gw "$1" run --config configs/$gw-ipip.conf --log-level warning >/dev/null 2>&1 &
    PIDS+=($!)
  done
  sleep 2; ip netns exec ${P}server1 ping -q -c 3 -i 0.1 10.1.8.10 >/dev/null  # ARP and JIT warm-up
  rtt; cleanup
}
k=() f=() b=()
for r in $(seq "$ROUNDS"); do
  bash bench/e2e/topology.sh up --prefix $P --mode kernel >/dev/null
  ip netns exec ${P}server1 ping -q -c 3 -i 0.1 10.1.8.10 >/dev/null  # ARP warm-up
  k+=("$(rtt)"); cleanup
  f+=("$(fasttun_rtt "$FASTTUN")")
  line="round $r: kernel ${k[-1]} ms, fasttun ${f[-1]} ms"
  if [ -n "${FASTTUN_B:-}" ]; then b+=("$(fasttun_rtt "$FASTTUN_B")"); line="$line, fasttun (B) ${b[-1]} ms"; fi
  echo "$line"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
km=$(printf '%s\n' "${k[@]}" | median); fm=$(printf '%s\n' "${f[@]}" | median)
echo "median avg RTT: kernel forwarding $km ms, FastTun AF_XDP IPIP $fm ms (ratio $(ratio "$fm" "$km"))"
if [ -n "${FASTTUN_B:-}" ]; then
  bm=$(printf '%s\n' "${b[@]}" | median)
  echo "                FastTun (B: $FASTTUN_B) $bm ms (ratio $(ratio "$bm" "$km"))"
fi
