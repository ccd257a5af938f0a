#!/usr/bin/env bash
# Reflector benchmark for packet ports (issue 4): rx → swap MACs → tx on one core, against the kernel's own IP
# forwarding on the same veth topology, interleaved A B A B, medians.
#
# Topology (two namespaces, one veth pair):
#   ns ftr-gen: g0 ── veth ── r0 :ns ftr-dut
#   The generator (FastTun.Benchmarks "generate", an AF_PACKET tx-ring loop with qdisc bypass and no rx socket)
#   sends 64 UDP flows 10.8.0.1 → 10.9.0.1 from 02:00:00:00:00:99 to r0's MAC.
#   af_packet: the reflector (FastTun.Benchmarks "reflect --driver af_packet") owns r0: no IP address, ip_forward
#              off, and a tc ingress drop on r0 so the kernel stack does not also process the frames (AF_PACKET
#              taps run before tc ingress). It swaps MACs and sends each frame back out r0.
#   kernel:    r0 has 10.8.0.2/24, ip_forward on, route 10.9.0.0/24 via 10.8.0.1 whose neighbour entry is the
#              generator's 02:00:00:00:00:99; the kernel forwards each frame back out r0 (redirects off).
#   Either way the frame returns to g0 addressed to 02:..:99 and is dropped by a tc ingress drop on g0.
#   The tc drops are reflector_drop.bpf.c (cls_bpf direct action; this kernel has no matchall/gact modules).
#   "Delivered" = g0 rx_packets delta; "offered" = g0 tx_packets delta.
#
# CPU placement (fixed on purpose; the machine has 2 CPUs):
#   CPU0: the generator process (taskset -c 0) and its veth transmit.
#   CPU1: everything under test: r0 receive processing (RPS: r0 rps_cpus=2 moves it off the sender's CPU0), the
#         reflector process (taskset -c 1) or the kernel's forwarding softirq, and the g0 receive of returned frames
#         (runs on the CPU that transmits into the veth, i.e. CPU1).
#   Cost per packet = CPU1 busy time (/proc/stat, all of user+system+irq+softirq) / delivered packets, and for
#   the reflector also its own utime+stime (/proc/PID/stat) / delivered packets.
#
# Usage: bench/e2e/reflector.sh [ROUNDS=3] [SECONDS=4] ["SIZES=60 1514"] ["MODES=overload matched:60000"] [TX=sendmmsg|ring]
#   (frame sizes exclude the FCS: 60 = a 64-byte frame on the wire). Every process is time-bounded by its
#   --seconds; cleanup (trap) kills only the PIDs this script started and deletes the two namespaces.
set -euo pipefail

ROUNDS=${1:-3}
SECS=${2:-4}
SIZES=${3:-"60 1514"}
MODES=${4:-"overload matched:60000"}
TX=${5:-sendmmsg}    # reflector tx path for config "af_packet"
BATCH=${BATCH:-64}   # reflector burst size (env)
NICE=${NICE:-0}      # reflector nice level (env); the kernel's forwarding runs in softirq, which preempts any task
CONFIGS=${CONFIGS:-"kernel af_packet"}   # interleaved in this order each round; also af_packet_ring, af_packet_sendmmsg
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DLL=$ROOT/bench/FastTun.Benchmarks/bin/Release/net10.0/FastTun.Benchmarks.dll
GEN=ftr-gen
DUT=ftr-dut
PIDS=()
WORK=$(mktemp -d /tmp/ftr.XXXXXX)
DROP_OBJ=$WORK/reflector_drop.o

[ -f "$DLL" ] || { echo "build first: dotnet build bench/FastTun.Benchmarks -c Release" >&2; exit 1; }

cleanup() {
    # Only our own children that are still dotnet (a finished PID may have been reused).
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = dotnet ] && kill "$p" 2>/dev/null || true
    done
    ip netns del $GEN 2>/dev/null || true
    ip netns del $DUT 2>/dev/null || true
}
final_cleanup() { cleanup; rm -rf "$WORK"; }
trap final_cleanup EXIT INT TERM

setup() {
    cleanup
    clang -O2 -target bpf -I/usr/include/$(gcc -print-multiarch) -c "$ROOT/bench/e2e/reflector_drop.bpf.c" -o "$DROP_OBJ"
    ip netns add $GEN
    ip netns add $DUT
    ip -n $GEN link add g0 type veth peer name r0 netns $DUT
    for n in "$GEN g0" "$DUT r0"; do
        set -- $n
        ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip -n "$1" link set "$2" up
        ip netns exec "$1" tc qdisc add dev "$2" clsact
    done
    ip netns exec $GEN tc filter add dev g0 ingress bpf da obj "$DROP_OBJ" sec tc
    ip netns exec $DUT sh -c 'echo 2 > /sys/class/net/r0/queues/rx-0/rps_cpus'
    ip netns exec $DUT sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0 net.ipv4.conf.r0.send_redirects=0
    R0_MAC=$(ip netns exec $DUT cat /sys/class/net/r0/address)
}

dut_kernel() {
    ip -n $DUT addr add 10.8.0.2/24 dev r0
    ip -n $DUT neigh replace 10.8.0.1 lladdr 02:00:00:00:00:99 dev r0 nud permanent
    ip -n $DUT route add 10.9.0.0/24 via 10.8.0.1 dev r0
    ip netns exec $DUT sysctl -qw net.ipv4.ip_forward=1
}

dut_owned() {
    ip netns exec $DUT sysctl -qw net.ipv4.ip_forward=0
    ip -n $DUT addr flush dev r0
    ip netns exec $DUT tc filter add dev r0 ingress bpf da obj "$DROP_OBJ" sec tc
}

stat_g0() { ip netns exec $GEN cat /sys/class/net/g0/statistics/"$1"; }
cpu1_busy() { awk '$1=="cpu1"{print $2+$3+$4+$7+$8+$9}' /proc/stat; }   # user nice system irq softirq steal (ticks)
proc_ticks() { [ -r /proc/$1/stat ] && awk '{print $14+$15}' /proc/$1/stat || echo 0; }
HZ=$(getconf CLK_TCK)

# run CONFIG SIZE PPS → prints "config size mode delivered_pps offered_pps cpu1_ns_per_pkt proc_ns_per_pkt"
run() {
    local config=$1 size=$2 pps=$3 rpid=0
    if [ "$config" = kernel ]; then
        dut_kernel
    else
        dut_owned
        local tx=$TX; case $config in af_packet_ring) tx=ring ;; af_packet_sendmmsg) tx=sendmmsg ;; esac
        ip netns exec $DUT nice -n "$NICE" taskset -c 1 dotnet "$DLL" reflect --driver af_packet --iface r0 --tx "$tx" --batch "$BATCH" \
            --seconds $((SECS + 6)) > $WORK/reflect.log 2>&1 &
        rpid=$!; PIDS+=("$rpid")
        for _ in $(seq 50); do grep -q '^reflect:' $WORK/reflect.log && break; sleep 0.1; done
    fi
    FT_GEN_DST_MAC=$R0_MAC ip netns exec $GEN taskset -c 0 dotnet "$DLL" generate --iface g0 --tx ring --size "$size" \
        --pps "$pps" --seconds $((SECS + 3)) > $WORK/gen.log 2>&1 &
    local gpid=$!; PIDS+=("$gpid")
    sleep 2   # generator and reflector JIT warm-up
    local rx0 tx0 c0 p0 rx1 tx1 c1 p1
    rx0=$(stat_g0 rx_packets); tx0=$(stat_g0 tx_packets); c0=$(cpu1_busy); p0=$(proc_ticks $rpid)
    sleep "$SECS"
    rx1=$(stat_g0 rx_packets); tx1=$(stat_g0 tx_packets); c1=$(cpu1_busy); p1=$(proc_ticks $rpid)
    wait "$gpid" || true
    [ "$rpid" != 0 ] && { wait "$rpid" || true; }
    local d=$((rx1 - rx0)) o=$((tx1 - tx0))
    awk -v cfg="$config" -v s="$size" -v m="$pps" -v d="$d" -v o="$o" -v secs="$SECS" -v c=$((c1 - c0)) -v p=$((p1 - p0)) -v hz="$HZ" \
        'BEGIN { printf "%-9s %5s %7s %10.0f %10.0f %8.0f %8.0f\n", cfg, s, (m == 0 ? "over" : m), d / secs, o / secs,
                 (d ? c / hz * 1e9 / d : 0), (d ? p / hz * 1e9 / d : 0) }'
    if [ "$config" != kernel ]; then grep reflect-result $WORK/reflect.log | sed 's/^/    # /' >&2; fi
    rm -f $WORK/reflect.log $WORK/gen.log
}

setup
echo "# reflector.sh rounds=$ROUNDS seconds=$SECS sizes='$SIZES' modes='$MODES' tx=$TX batch=$BATCH nice=$NICE configs='$CONFIGS'  $(date -u +%FT%TZ)"
echo "# config    size    rate  deliv_pps  offer_pps cpu1_ns/p proc_ns/p"
RESULTS=$(mktemp)
for mode in $MODES; do
    pps=0; [ "${mode%%:*}" = matched ] && pps=${mode#*:}
    for size in $SIZES; do
        for r in $(seq "$ROUNDS"); do
            for config in $CONFIGS; do
                ip -n $DUT addr flush dev r0; ip -n $DUT route flush 10.9.0.0/24 2>/dev/null || true
                ip netns exec $DUT tc filter del dev r0 ingress 2>/dev/null || true
                run "$config" "$size" "$pps" | tee -a "$RESULTS"
            done
        done
    done
done
echo "# medians"
awk '{ k = $1 " " $2 " " $3; n[k]++; d[k, n[k]] = $4; c[k, n[k]] = $6; p[k, n[k]] = $7 }
     function med(a, k, m,   i, j, t, v) { for (i = 1; i <= m; i++) v[i] = a[k, i];
         for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
         return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
     END { for (k in n) { split(k, f, " "); printf "%-9s %5s %7s deliv %9.0f pps  cpu1 %6.0f ns/pkt  proc %6.0f ns/pkt\n", f[1], f[2], f[3], med(d, k, n[k]), med(c, k, n[k]), med(p, k, n[k]);
             if (f[1] == "kernel") base[f[2] " " f[3]] = med(d, k, n[k]); else { ratio[f[1] " " f[2] " " f[3]] = med(d, k, n[k]); key[f[1] " " f[2] " " f[3]] = f[2] " " f[3] } }
           for (k in ratio) if (base[key[k]] > 0) printf "ratio %s / kernel: %.2f\n", k, ratio[k] / base[key[k]] }' "$RESULTS" | sort
rm -f "$RESULTS"
