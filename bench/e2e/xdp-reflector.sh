#!/usr/bin/env bash
# AF_XDP reflector vs kernel IP forwarding on the same veth topology, interleaved A B A B.
#
#   ns ftx-gen-PID: gen0 ──veth── dut0 :ns ftx-dut-PID
#
# Generator + sink: `xdp-reflector generate` (FastTun.Benchmarks/XdpReflector.cs), an AF_XDP tx loop on gen0
# that also counts what comes back, pinned to CPU0. It sends 64 UDP flows from 10.9.1.2 to 10.9.2.1-64,
# Ethernet-addressed to dut0. trafgen was not used: it tops out near 0.47 Mpps here and aborts with
# "Flushing TX_RING failed" once the receiver runs on the other CPU.
# Device under test, everything on CPU1:
#   kernel: ip_forward=1 in the dut namespace, route 10.9.2.0/24 via 10.9.1.2 back out dut0 (hairpin, ICMP
#           redirects off, static neighbour). GRO on dut0 (and TSO off on gen0) puts veth's receive into
#           dut0's NAPI, made threaded and its kthread pinned to CPU1: the forwarding runs there.
#   xdp:    the same, plus `xdp-reflector reflect` on dut0 pinned to CPU1 (rx → swap MACs → tx, poll when
#           idle); the XDP program runs in the same NAPI kthread.
# gen0's NAPI (receiving reflected/forwarded frames into the sink) is threaded and pinned to CPU0.
# Figures: delivered pps = frames back at the sink per second of the measured window. CPU per packet = CPU
# time of the device under test / delivered frames, where that time is the napi/dut0-* kthreads (kernel
# forwarding, or the XDP program) + the reflector process, from /proc/PID/stat in USER_HZ ticks. CPU1's
# softirq and total busy time are printed too; on this shared machine they include neighbours' traffic.
# Medians over ROUNDS interleaved rounds.
#
# Offered load: RATES lists generator rates in pps; 0 = saturating (as fast as CPU0 sends, which also
# starves the sink's NAPI thread on CPU0, so delivered pps there is a floor for both configs alike).
#
# Usage: [ROUNDS=3] [RUN_SECONDS=4] [SIZES="64 1514"] [RATES="0 100000"] [MODE=native|generic] bench/e2e/xdp-reflector.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${RUN_SECONDS:-4}  # not $SECONDS: bash counts seconds since start in it
SIZES=${SIZES:-64 1514}
RATES=${RATES:-0 100000}
MODE=${MODE:-native}
WARMUP=1.5
GEN=ftx-gen-$$
DUT=ftx-dut-$$
OUT=${OUT:-bench/e2e/xdp-reflector-results.txt}
LOGS=/tmp/ftx-xdp-$$
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$GEN" 2>/dev/null || true
  ip netns del "$DUT" 2>/dev/null || true
  rm -f "$LOGS.gen" "$LOGS.reflect"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "xdp-reflector.sh: needs root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "xdp-reflector.sh: needs 2 CPUs" >&2; exit 1; }
make -C native -s
dotnet build bench/FastTun.Benchmarks -c Release -v q --nologo >/dev/null
BENCH_DIR=$PWD/bench/FastTun.Benchmarks/bin/Release/net10.0
RUN=(dotnet "$BENCH_DIR/FastTun.Benchmarks.dll" xdp-reflector)
export FASTTUN_NATIVE_DIR=$PWD/native/build DOTNET_gcServer=0

ip netns add "$GEN"
ip netns add "$DUT"
ip link add gen0 netns "$GEN" type veth peer name dut0 netns "$DUT"
ip -n "$GEN" addr add 10.9.1.2/24 dev gen0
ip -n "$DUT" addr add 10.9.1.1/24 dev dut0
for ns in "$GEN" "$DUT"; do
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip -n "$GEN" link set gen0 up
ip -n "$DUT" link set dut0 up
ip netns exec "$DUT" sh -c 'sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.dut0.send_redirects=0 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.dut0.rp_filter=0
  ethtool -K dut0 gro on >/dev/null'
# GRO gives dut0 a NAPI instance even without XDP; with TSO off on gen0 every frame is eligible for it, so
# kernel forwarding runs in the same threaded, pinned NAPI kthread as the XDP program does.
ip netns exec "$GEN" ethtool -K gen0 tso off >/dev/null
GEN_MAC=$(ip -n "$GEN" -br link show gen0 | awk '{print $3}')
DUT_MAC=$(ip -n "$DUT" -br link show dut0 | awk '{print $3}')
ip -n "$DUT" route add 10.9.2.0/24 via 10.9.1.2 dev dut0
ip -n "$DUT" neigh replace 10.9.1.2 lladdr "$GEN_MAC" dev dut0 nud permanent

pin_napi() { # veth has NAPI only while XDP is attached: make it threaded then, and pin each side's kthread
  ip netns exec "$GEN" sh -c 'echo 1 > /sys/class/net/gen0/threaded' 2>/dev/null || true
  ip netns exec "$DUT" sh -c 'echo 1 > /sys/class/net/dut0/threaded' 2>/dev/null || true
  for p in $(pgrep '^napi/gen0-' || true); do taskset -pc 0 "$p" >/dev/null; done
  for p in $(pgrep '^napi/dut0-' || true); do taskset -pc 1 "$p" >/dev/null; done
}

run_one() { # config size rate → prints the generator's result line
  local cfg=$1 size=$2 rate=$3 rpid="" dpid=0
  local total
  total=$(awk -v s="$SECONDS_PER_RUN" -v w="$WARMUP" 'BEGIN{print int(s+w+10)}')
  if [ "$cfg" = xdp ]; then
    ip netns exec "$DUT" timeout "$total" taskset -c 1 "${RUN[@]}" reflect --if dut0 --mode "$MODE" \
      --seconds "$(awk -v s="$SECONDS_PER_RUN" -v w="$WARMUP" 'BEGIN{print s+w+4}')" > "$LOGS.reflect" 2>&1 &
    rpid=$!; pids+=("$rpid")
    for _ in $(seq 100); do ip -n "$DUT" -d link show dut0 2>/dev/null | grep -q 'prog/xdp' && break; sleep 0.1; done
    dpid=$(pgrep -P "$rpid" | head -1) # timeout's child: the reflector process itself
  fi
  ip netns exec "$GEN" timeout "$total" taskset -c 0 "${RUN[@]}" generate --if gen0 --mode "$MODE" --size "$size" --pps "$rate" --dut-pid "$dpid" --dut-napi napi/dut0- \
    --dst-mac "$DUT_MAC" --src-mac "$GEN_MAC" --src-ip 10.9.1.2 --dst-net 10.9.2.0 \
    --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" --cpu 1 > "$LOGS.gen" 2>&1 &
  local gpid=$!; pids+=("$gpid")
  sleep 1; pin_napi
  wait "$gpid" || { cat "$LOGS.gen" >&2; return 1; }
  if [ -n "$rpid" ]; then
    wait "$rpid" || { cat "$LOGS.reflect" >&2; return 1; }
    sed -n 's/^reflect/#   reflect/p' "$LOGS.reflect" | tee -a "$OUT" >&2
  fi
  grep "^generate" "$LOGS.gen"; grep "^generate" "$LOGS.gen" | sed "s/^/#   /" >> "$OUT"
}

{
  echo "# xdp-reflector.sh $(date -u +%FT%TZ) kernel $(uname -r) rounds=$ROUNDS seconds=$SECONDS_PER_RUN mode=$MODE load=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# generator+sink CPU0, device under test CPU1"
  echo "# round config size offered_rate(0=saturating) delivered_pps dut_cpu1_ns_per_packet offered_pps"
} | tee "$OUT"
declare -A pps ns
for size in $SIZES; do
  for rate in $RATES; do
    for r in $(seq "$ROUNDS"); do
      for cfg in kernel xdp; do
        line=$(run_one "$cfg" "$size" "$rate")
        d=$(sed -n 's/.*delivered_pps=\([0-9]*\).*/\1/p' <<<"$line")
        c=$(sed -n 's/.*dut_ns_per_packet=\([0-9]*\).*/\1/p' <<<"$line")
        o=$(sed -n 's/.*offered_pps=\([0-9]*\).*/\1/p' <<<"$line")
        echo "round $r $cfg $size $rate $d $c $o" | tee -a "$OUT"
        pps[$cfg-$size-$rate]+="$d "
        ns[$cfg-$size-$rate]+="$c "
      done
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for size in $SIZES; do
  for rate in $RATES; do
    k=$(median <<<"${pps[kernel-$size-$rate]}"); x=$(median <<<"${pps[xdp-$size-$rate]}")
    kc=$(median <<<"${ns[kernel-$size-$rate]}"); xc=$(median <<<"${ns[xdp-$size-$rate]}")
    printf 'median %s B offered %s: kernel %s pps (%s ns/pkt CPU1), af_xdp %s pps (%s ns/pkt CPU1), pps ratio %s\n' \
      "$size" "$([ "$rate" = 0 ] && echo saturating || echo "$rate pps")" "$k" "$kc" "$x" "$xc" \
      "$(awk -v a="$x" -v b="$k" 'BEGIN{printf "%.2f", (b>0? a/b : 0)}')" | tee -a "$OUT"
  done
done
