#!/usr/bin/env bash
# End-to-end benchmark of FastTun against the kernel on the seed topology (bench/e2e/topology.sh), written to
# bench/RESULTS.md by bench/e2e/report.py.
#
# Configurations, interleaved A B C D E F per round (ROUNDS rounds), each measured the same way:
#   xdp-ipip xdp-gre   FastTun, AF_XDP ports, IPIP / GRE tunnel
#   pkt-ipip pkt-gre   FastTun, AF_PACKET ports
#   kernel             kernel IP forwarding, no tunnel (topology --mode kernel)
#   vxlan              kernel VXLAN, the only kernel tunnel on this machine (topology --mode vxlan)
#   l3fwd              DPDK l3fwd (LPM) with its AF_XDP PMD on the gateway's veths, plain IPv4 forwarding on both
#                      hops (no tunnel: the decap hop's generator sends plain packets); built by bench/e2e/l3fwd.sh
#
# Per hop (one gateway measured, not two processes sharing a core):
#   encap: fasttun gen in server1 -> gw1 -> sink on gw2's end of the underlay veth (gw2 itself not running)
#   decap: fasttun gen of tunnel packets on gw1's end of the underlay (gw1 not running) -> gw2 -> sink in server2
# at 64-byte frames and 1514-byte frames (1500-byte IP packets), generator at its maximum rate for TRIAL s.
# Full path server1 -> gw1 -> gw2 -> server2: ping RTT and one iperf3 TCP stream.
#
# Generator (GEN_DRIVER, default xdp_live): `fasttun gen --driver xdp_live` makes and sends the frames inside the
# kernel (BPF_PROG_RUN with live frames, native/fasttun_gen.c): several Mpps into a veth on one core, so every
# gateway is saturated and the hop measures the gateway, not the generator (the AF_XDP copy-mode generator,
# GEN_DRIVER=af_xdp, offered ~0.73 Mpps and FastTun and l3fwd both delivered 94-99 % of it). Its frames arrive
# through the receiver's ndo_xdp_xmit, which needs NAPI on the gateway's ingress veth: FastTun and l3fwd attach
# XDP programs; for the kernel and AF_PACKET configurations run.sh attaches xdp_pass.bpf.c (XDP_PASS).
#
# CPU placement (2 cores), one core each for "the wire" and for "the gateway":
#   CPU0: generator and sink user space (taskset -c 0), iperf3 client and server, ping. With xdp_live also the
#         gateway's ingress veth NAPI (veth rx runs on the sending CPU: the XDP program and the copy into an AF_XDP
#         rx ring, or the skb build and RPS hand-off for the kernel; what a NIC's DMA and rx interrupt do; it runs
#         after each of the generator's batches, so a generator at max starves it less than it starves a
#         process). ksoftirqd/0 gets real-time priority 10 like ksoftirqd/1, so NAPI work deferred there is not
#         starved by the generator (nice -19). The sink's receive stays where veth puts it, in the gateway's
#         transmit on CPU1, the same cost per delivered packet in every configuration (SINK_NAPI=off, default);
#         SINK_NAPI=cpu0 moves it to CPU0 (threaded NAPI, pinned, real-time 20), which then crowds CPU0 so that
#         the generator and the gateway's ingress offer less than 1 Mpps (bench/RESULTS.md gen6).
#   CPU1: the gateway: `fasttun run` pinned with taskset -c 1; for the kernel modes the forwarding runs in
#         softirq on CPU1 because RPS (rps_cpus=2) on the gateway's ingress veth moves it there. RPS is set in
#         every mode; it does not apply to AF_XDP frames, whose XDP redirect and copy into the gateway's rx ring
#         run in the veth NAPI of the sending CPU (CPU0, the generator's). The kernel work of the gateway's own
#         transmissions (veth xmit, the sink's XDP receive) runs on CPU1 in every mode.
# Gateway CPU per packet: CPU1's busy time (user+nice+system+irq+softirq from /proc/stat) over the generator's
# run divided by the packets the sink received; split into softirq and the fasttun process's utime+stime
# (/proc/PID/stat). Neighbours are static (FastTun config lines / ip neigh) so no trial waits for ARP.
#
# Full path: after the ping and iperf3, the gateways' CPU time over IDLE_SECONDS (2) with no traffic (an idle gateway
# must use none).
# Environment: ROUNDS (3), TRIAL seconds (3), SIZES ("64 1514"), CONFIGS (all seven), PINGS (50),
# IPERF_SECONDS (3), GEN_DRIVER (xdp_live | af_xdp | af_packet), GEN_RATES ("max": offered rates, each measured),
# SINK_NAPI (off | cpu0), E2E_PREFIX (ge-), PATH_CONFIGS (full-path configurations), GEN_CHECK (1: generator alone vs
# trafgen each round), DIAG_CONFIGS (configurations of the perf-stat diagnostics; default CONFIGS, "" for none). Needs root and a Release build (make bench-e2e builds first).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
F=${FASTTUN_BIN:-$root/src/FastTun.Gateway/bin/Release/net10.0/fasttun}
topo=$root/bench/e2e/topology.sh
P=${E2E_PREFIX:-ge-}
ROUNDS=${ROUNDS:-3}
TRIAL=${TRIAL:-3}
SIZES=${SIZES:-"64 1514"}
CONFIGS=${CONFIGS:-"xdp-ipip xdp-gre pkt-ipip pkt-gre kernel vxlan l3fwd"}
IDLE_SECONDS=${IDLE_SECONDS:-2}
PINGS=${PINGS:-50}
IPERF_SECONDS=${IPERF_SECONDS:-3}
GEN_CPU=0 SINK_CPU=0 GW_CPU=1
GEN_DRIVER=${GEN_DRIVER:-xdp_live}
# Offered rates: each hop and size is measured once per rate (xdp_live paces inside its program). Gateways behave
# differently past their peak (FastTun delivered 0.68 Mpps at 1.2 Mpps offered and 0.45 at 3.5), so a gateway's
# figure is its peak delivered rate over these (report: saturation-summary.py), with the rate at max alongside.
GEN_RATES=${GEN_RATES:-${GEN_RATE:-max}}
SINK_NAPI=${SINK_NAPI:-off}
# The sink sleeps SINK_COALESCE_US on a timer when its ring runs dry (`fasttun sink --rx-coalesce-us`, like a NIC's rx
# interrupt coalescing) instead of waiting in poll(2): on veth the sink's receive runs inside the sender's transmit
# (the gateway's sendto/sendmmsg, or the kernel's softirq), and a sink asleep on the socket's wait queue is woken from
# there, cross-CPU, about once per frame at medium load (bench/RESULTS.md, afpkt and e2e2). 0 = poll(2).
SINK_COALESCE_US=${SINK_COALESCE_US:-200}
# The host is shared with helpers compiling at nice 0 (one benchmark runs at nice -11): without a priority of
# its own the generator gets a fraction of CPU0 and the benchmark measures the neighbours (nice -19: weight
# 68k against 1k per neighbour).
NICE=${NICE:-"nice -n -19"}
# The gateway gets CPU1 the way the kernel's softirq has it, ahead of the neighbours' compilers: round-robin
# real-time priority (time-sliced, so gw1 and gw2 share CPU1 on the full path). Bounded by the trial; RT
# throttling (sched_rt_runtime_us) leaves 5 % of CPU1 to everything else.
GW_PRIO=${GW_PRIO:-"chrt -r 10"}
UNDERLAY_MTU=1600
HZ=$(getconf CLK_TCK)
S1=${P}server1 G1=${P}gw1 G2=${P}gw2 S2=${P}server2

[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (namespaces, XDP)" >&2; exit 1; }
[ -x "$F" ] || { echo "run.sh: $F not built (make build)" >&2; exit 1; }
work=$(mktemp -d /tmp/fasttun-e2e.XXXXXX)
results=$work/results.jsonl
: > "$results"
pids=()

# The kernel's forwarding runs in softirq on CPU1; under load the softirq work moves to ksoftirqd/1, a nice-0
# thread that the neighbours' compilers would time-share. It gets the gateway's real-time priority for the run,
# so every mode's packet processing on CPU1 is treated alike; restored on exit.
ksoftirqd=$(pgrep -x "ksoftirqd/$GW_CPU" || true)
ksoftirqd_policy=""
if [ -n "$ksoftirqd" ]; then
  ksoftirqd_policy=$(chrt -p "$ksoftirqd" | awk -F': ' '/policy/ {print $2}')
  chrt -r -p 10 "$ksoftirqd"
fi
# The generator's CPU: with xdp_live the gateway's ingress NAPI runs there (see the header); when it overflows into
# ksoftirqd/0 that thread must not lose to the generator at nice -19.
ksoftirqd0=$(pgrep -x "ksoftirqd/$GEN_CPU" || true)
ksoftirqd0_policy=""
if [ "$GEN_DRIVER" = xdp_live ] && [ -n "$ksoftirqd0" ]; then
  ksoftirqd0_policy=$(chrt -p "$ksoftirqd0" | awk -F': ' '/policy/ {print $2}')
  chrt -r -p 10 "$ksoftirqd0"
fi
xdp_pass_obj=$work/xdp_pass.bpf.o
if [ "$GEN_DRIVER" = xdp_live ]; then
  command -v clang >/dev/null || { echo "run.sh: clang missing (apt-get install clang, or make deps)" >&2; exit 1; }
  clang -O2 -target bpf -I"/usr/include/$(gcc -print-multiarch)" -c "$root/bench/e2e/xdp_pass.bpf.c" -o "$xdp_pass_obj"
fi

cleanup() {
  if [ -n "$ksoftirqd" ] && [ "$ksoftirqd_policy" = SCHED_OTHER ]; then chrt -o -p 0 "$ksoftirqd" || true; fi
  if [ -n "$ksoftirqd0" ] && [ "$ksoftirqd0_policy" = SCHED_OTHER ]; then chrt -o -p 0 "$ksoftirqd0" || true; fi
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
  bash "$topo" down --prefix "$P" >/dev/null 2>&1 || true
  ip netns del "${P}ga" 2>/dev/null || true; ip netns del "${P}gb" 2>/dev/null || true
  rm -rf "/var/run/dpdk/${P}l3fwd"   # l3fwd's EAL runtime directory (--file-prefix)
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
mac_of() { nsx "$1" cat "/sys/class/net/$2/address"; }

current_mode=""
topology() { # fasttun|kernel|vxlan
  if [ "$current_mode" != "$1" ]; then
    bash "$topo" up --prefix "$P" --mode "$1" --mtu "$UNDERLAY_MTU" --offload off
    # Offloads off on the underlay ends too: the generator of tunnel packets and the sink sit there.
    for ns in $G1 $G2; do for dev in eth1 eth2; do nsx "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null 2>&1 || true; done; done
    for ns in $G1 $G2; do for dev in eth1 eth2; do nsx "$ns" sh -c "echo 2 > /sys/class/net/$dev/queues/rx-0/rps_cpus"; done; done
    current_mode=$1
  fi
}

. "$root/bench/e2e/cpu-sample.sh"

# CPU1's jiffies split: user+nice, system, irq+softirq (the CPU split of a gateway's cost per packet).
cpu_split() {
  local name u n sy idle io irq sirq rest
  while read -r name u n sy idle io irq sirq rest; do
    [ "$name" = "cpu$GW_CPU" ] && { echo "$((u + n)) $sy $((irq + sirq))"; return; }
  done < /proc/stat
}
# A veth's per-queue counters (ethtool -S), as "name=value ..." of the non-zero ones; saturation evidence: where
# the frames the generator offered and the gateway did not deliver were dropped.
veth_stats() { # ns dev
  nsx "$1" ethtool -S "$2" 2>/dev/null | awk -F': *' '/rx_queue_0_|tx_queue_0_/ && $2 != 0 {gsub(/ /, "", $1); printf "%s=%s ", $1, $2}'
}
# XDP_PASS on a gateway ingress that has no XDP program, so the in-kernel generator's frames are accepted.
ensure_napi() { # ns dev
  [ "$GEN_DRIVER" = xdp_live ] || return 0
  nsx "$1" ip -d link show dev "$2" | grep -q "prog/xdp" && return 0
  nsx "$1" ip link set dev "$2" xdpdrv obj "$xdp_pass_obj" sec xdp
}
# The sink's veth receive on CPU0 (threaded NAPI, pinned, RT 20) instead of inside the gateway's transmit on CPU1.
# Once the sink has attached its XDP program (veth has NAPI only then; threaded mode on a veth without NAPI is EIO).
sink_napi_pin() { # ns dev
  [ "$SINK_NAPI" = cpu0 ] || return 0
  nsx "$1" sh -c "echo 1 > /sys/class/net/$2/threaded"
  local p n=0
  for p in $(pgrep "^napi/$2-" || true); do taskset -p -c $SINK_CPU "$p" >/dev/null; chrt -r -p 20 "$p"; n=$((n + 1)); done
  [ "$n" -gt 0 ] || log "   warning: no NAPI thread for the sink's $2: its receive stays on CPU1"
}
sink_napi_off() { # ns dev
  [ "$SINK_NAPI" = cpu0 ] || return 0
  nsx "$1" sh -c "echo 0 > /sys/class/net/$2/threaded" 2>/dev/null || true
}

gw_pid=""
start_gateway() { # ns conf-template driver extra-lines...
  local ns=$1 conf=$2 driver=$3; shift 3
  local cfg=$work/$ns.conf
  sed "s/driver 'af_xdp'/driver '$driver'/" "$root/configs/$conf" > "$cfg"
  echo "set fasttun workers 1" >> "$cfg"
  for line in "$@"; do echo "$line" >> "$cfg"; done
  local logf=$work/$ns.log
  ip netns exec "$ns" $GW_PRIO taskset -c $GW_CPU "$F" run --config "$cfg" > "$logf" 2>&1 &
  gw_pid=$!
  pids+=("$gw_pid")
  for _ in $(seq 1 100); do
    grep -q "running" "$logf" 2>/dev/null && return 0
    kill -0 "$gw_pid" 2>/dev/null || { cat "$logf" >&2; return 1; }
    sleep 0.1
  done
  cat "$logf" >&2; return 1
}
# DPDK l3fwd on the gateway's two veths (port 0 = eth1, port 1 = eth2), same CPU and priority as fasttun run.
l3fwd_bin=""
start_l3fwd() { # ns port-for-10.1.8.0/24 eth-dest(port,MAC)
  local ns=$1 port=$2 dest=$3 dir=$work/l3fwd-$1
  mkdir -p "$dir"
  bash "$root/bench/e2e/l3fwd.sh" routes "$dir" "$port"
  local logf=$dir/log
  ip netns exec "$ns" $GW_PRIO taskset -c $GW_CPU "$l3fwd_bin" -l $GW_CPU -n 1 --no-huge -m 256 --no-pci --file-prefix "${P}l3fwd" \
      --vdev "net_af_xdp0,iface=eth1${L3FWD_VDEV_ARGS:-}" --vdev "net_af_xdp1,iface=eth2${L3FWD_VDEV_ARGS:-}" -- -p 0x3 --config "(0,0,$GW_CPU),(1,0,$GW_CPU)" \
      --parse-ptype --rule_ipv4 "$dir/r4.cfg" --rule_ipv6 "$dir/r6.cfg" --eth-dest "$dest" > "$logf" 2>&1 &
  gw_pid=$!
  pids+=("$gw_pid")
  for _ in $(seq 1 200); do
    grep -q "entering main loop" "$logf" 2>/dev/null && return 0
    kill -0 "$gw_pid" 2>/dev/null || { tail -20 "$logf" >&2; return 1; }
    sleep 0.1
  done
  tail -20 "$logf" >&2; return 1
}
# SIGTERM (background jobs of a script ignore SIGINT), then reap; SIGKILL after 5 s. A zombie counts as gone.
# No fork (ps under load takes tens of ms, and the trial's CPU window starts after this loop): state from /proc.
# The comm field may hold spaces, so take the state after its closing parenthesis.
alive() { local line; { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1; line=${line##*) }; [ "${line:0:1}" != Z ]; }
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

# One trial: sink up, generator for TRIAL s at max rate, sink stopped; appends a JSON record.
trial() { # config hop size gen-ns gen-iface sink-ns sink-iface sink-ip gen-args...
  local config=$1 hop=$2 size=$3 gns=$4 gif=$5 sns=$6 sif=$7 sip=$8; shift 8
  local sout=$work/sink.json serr=$work/sink.err gout=$work/gen.json ingress_ns=${INGRESS_NS:-} ingress_dev=${INGRESS_DEV:-}
  ip netns exec "$sns" $NICE taskset -c $SINK_CPU "$F" sink --iface "$sif" --ip "$sip" --rx-coalesce-us "$SINK_COALESCE_US" --duration $((TRIAL + 30)) --json > "$sout" 2> "$serr" &
  local spid=$!
  pids+=("$spid")
  for _ in $(seq 1 200); do grep -q "sink: ready" "$serr" 2>/dev/null && break; sleep 0.05; done
  sink_napi_pin "$sns" "$sif"
  local c0="" p0="" c1 p1 gpid x0 x1 is0="" is1=""
  [ -n "$ingress_dev" ] && is0=$(veth_stats "$ingress_ns" "$ingress_dev")
  : > "$work/gen.err"
  ip netns exec "$gns" $NICE taskset -c $GEN_CPU "$F" gen --iface "$gif" --driver "$GEN_DRIVER" --size "$size" --rate "${TRIAL_RATE:-max}" --flows 16 \
      --duration "$TRIAL" --batch 256 --json "$@" > "$gout" 2> "$work/gen.err" &
  gpid=$!; pids+=("$gpid")
  # CPU counters from the moment the generator starts sending (its .NET startup excluded) to its exit.
  local errlines=()
  for _ in $(seq 1 400); do
    mapfile -t errlines < "$work/gen.err" 2>/dev/null || true
    [[ "${errlines[*]:-}" == *"gen: sending"* ]] && break; alive "$gpid" || break; sleep 0.01
  done
  c0=$(cpu_sample); p0=$(proc_ticks "$gw_pid"); x0=$(cpu_split)
  local perfpid=""
  if [ -n "${DIAG:-}" ] && [ -n "$gw_pid" ]; then
    # Syscalls of the gateway while it forwards: tracepoint counts, no sampling.
    perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_poll \
      -p "$gw_pid" -o "$work/perf.txt" -- sleep $((TRIAL - 1)) >/dev/null 2>&1 &
    perfpid=$!
  fi
  for _ in $(seq 1 $(( (TRIAL + 30) * 50 ))); do alive "$gpid" || break; sleep 0.02; done
  [ -n "$perfpid" ] && wait "$perfpid" 2>/dev/null
  c1=$(cpu_sample); p1=$(proc_ticks "$gw_pid"); x1=$(cpu_split)
  [ -n "$ingress_dev" ] && is1=$(veth_stats "$ingress_ns" "$ingress_dev")
  stop_pid "$gpid"
  grep -v "gen: sending" "$work/gen.err" >&2 || true
  sleep 0.3
  sink_napi_off "$sns" "$sif"   # while NAPI exists: the flag would otherwise outlive it (the next program's NAPI)
  stop_pid "$spid"
  local kind=hop
  [ -n "${DIAG:-}" ] && kind=diag
  /usr/bin/python3 - "$config" "$hop" "$size" "$gout" "$sout" "$c0" "$c1" "$p0" "$p1" "$HZ" "$kind" "$work/perf.txt" "$TRIAL" \
    "$x0" "$x1" "$is0" "$is1" "$GEN_DRIVER" "$SINK_NAPI" "${TRIAL_RATE:-max}" >> "$results" <<'EOF'
import json, sys
config, hop, size, gout, sout, c0, c1, p0, p1, hz, kind, perf, trial, x0, x1, is0, is1, gen_driver, sink_napi, gen_rate = sys.argv[1:]
def load(path):
    try:
        with open(path) as f: return json.loads(f.read().strip().splitlines()[-1])
    except Exception: return None
g, s = load(gout), load(sout)
busy0, soft0, exact0, up0 = map(int, c0.split()); busy1, soft1, exact1, up1 = map(int, c1.split())
u0, s0, v0, r0 = map(int, p0.split()); u1, s1, v1, r1 = map(int, p1.split())
tick = 1e9 / int(hz)
rec = {"kind": kind, "config": config, "hop": hop, "size": int(size), "ok": bool(g and s), "window_s": (up1 - up0) / 1e9,
       "gen_driver": gen_driver, "sink_napi": sink_napi, "gen_rate": gen_rate}
def stats(text):
    return {k: int(v) for k, v in (kv.split("=") for kv in text.split())} if text.strip() else {}
st0, st1 = stats(is0), stats(is1)
rec["ingress"] = {k: st1[k] - st0.get(k, 0) for k in st1 if st1[k] - st0.get(k, 0)}
if kind == "diag":
    counts = {}
    try:
        for line in open(perf):
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0].isdigit():
                counts[parts[2].split(":")[-1]] = int(parts[0])
    except OSError:
        pass
    rec["perf"] = counts
    rec["perf_seconds"] = int(trial) - 1
if g and s:
    pk = s["packets"]
    # CPU figures only from a window that covered most of the generator's run; otherwise they would divide a
    # part of the CPU time by all the packets.
    if (up1 - up0) / 1e9 < 0.8 * g["seconds"]:
        pk_cpu = 0
    else:
        pk_cpu = pk
    rec.update(sent=g["sent"], gen_pps=g["pps"], deferred=g["deferred"], gen_syscalls=g["syscalls"], seconds=g["seconds"], received=pk,
               delivered_pps=pk / g["seconds"] if g["seconds"] > 0 else 0, sink_pps=s["pps"],
               bad_checksum=s["bad_checksum"], lost_gaps=s["lost"], reordered=s["reordered"],
               p50_us=s["latency_ns"]["p50"] / 1e3, p99_us=s["latency_ns"]["p99"] / 1e3,
               cpu1_ns_per_pkt=(busy1 - busy0) * tick / pk_cpu if pk_cpu else None,
               softirq_ns_per_pkt=(soft1 - soft0) * tick / pk_cpu if pk_cpu else None,
               cpu1_exact_ns_per_pkt=(exact1 - exact0) / pk_cpu if pk_cpu else None,
               # The process's exact run time, split into user and system in the proportion of its tick samples.
               proc_ns_per_pkt=(r1 - r0) / pk_cpu if pk_cpu and r0 > 0 else None,
               proc_user_ns_per_pkt=(r1 - r0) * (u1 - u0) / max(1, (u1 - u0) + (s1 - s0)) / pk_cpu if pk_cpu and r0 > 0 else None,
               proc_sys_ns_per_pkt=(r1 - r0) * (s1 - s0) / max(1, (u1 - u0) + (s1 - s0)) / pk_cpu if pk_cpu and r0 > 0 else None,
               pkts_per_wakeup=pk / (v1 - v0) if u0 + s0 > 0 and v1 > v0 else None,
               cpu1_busy_share=(busy1 - busy0) * tick / 1e9 / g["seconds"] if g["seconds"] > 0 else None)
    # CPU1's jiffies split (user+nice / system / irq+softirq) per delivered packet: the whole gateway core.
    xu0, xs0, xi0 = map(int, x0.split()); xu1, xs1, xi1 = map(int, x1.split())
    if pk_cpu:
        rec.update(cpu1_user_ns_per_pkt=(xu1 - xu0) * tick / pk_cpu, cpu1_sys_ns_per_pkt=(xs1 - xs0) * tick / pk_cpu,
                   cpu1_irq_ns_per_pkt=(xi1 - xi0) * tick / pk_cpu)
print(json.dumps(rec))
EOF
  tail -1 "$results" | /usr/bin/python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("   %-9s %-5s %5d B @%s: %s" % (r["config"], r["hop"], r["size"], r["gen_rate"], ("sent %.3f Mpps, delivered %.3f Mpps, cpu1 %s ns/pkt, busy %s, ingress %s" % (r["gen_pps"]/1e6, r["delivered_pps"]/1e6, "%.0f" % r["cpu1_ns_per_pkt"] if r.get("cpu1_ns_per_pkt") else "-", "%.2f" % r["cpu1_busy_share"] if r.get("cpu1_busy_share") is not None else "-", r.get("ingress"))) if r["ok"] else "FAILED"))' >&2
}

hops() { # config
  local config=$1 driver="" encap="" mode
  case $config in
    xdp-*) driver=af_xdp; encap=${config#xdp-}; mode=fasttun ;;
    pkt-*) driver=af_packet; encap=${config#pkt-}; mode=fasttun ;;
    kernel) mode=kernel ;;
    vxlan) mode=vxlan ;;
    l3fwd) mode=fasttun ;;
  esac
  topology "$mode"
  local gw1_eth1 gw2_eth2 s2_net0 gw2_tun0=""
  gw1_eth1=$(mac_of "$G1" eth1); gw2_eth2=$(mac_of "$G2" eth2); s2_net0=$(mac_of "$S2" net0)
  [ "$mode" = vxlan ] && gw2_tun0=$(mac_of "$G2" tun0)

  # Encap hop: server1 -> gw1 -> sink on gw2:eth2 answering for 172.12.1.11.
  gw_pid=""
  case $mode in
    fasttun) if [ "$config" = l3fwd ]; then start_l3fwd "$G1" 1 "1,$gw2_eth2"
             else start_gateway "$G1" "gw1-$encap.conf" "$driver" "set fasttun neighbor 172.12.1.11 mac '$gw2_eth2'"; fi ;;
    kernel) nsx "$G1" ip neigh replace 172.12.1.11 lladdr "$gw2_eth2" dev eth2 nud permanent ;;
    vxlan) nsx "$G1" ip neigh replace 172.12.1.11 lladdr "$gw2_eth2" dev eth2 nud permanent
           nsx "$G1" ip neigh replace 1.1.1.2 lladdr "$gw2_tun0" dev tun0 nud permanent ;;
  esac
  ensure_napi "$G1" eth1
  for size in $SIZES; do for rate in $GEN_RATES; do
    TRIAL_RATE=$rate INGRESS_NS=$G1 INGRESS_DEV=eth1 \
    trial "$config" encap "$size" "$S1" net0 "$G2" eth2 172.12.1.11 --dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac "$gw1_eth1"
  done; done
  [ -n "$gw_pid" ] && stop_pid "$gw_pid"

  # Decap hop: tunnel packets from gw1:eth2 -> gw2 -> sink in server2 answering for 10.1.8.10.
  gw_pid=""
  local gen_encap=()
  case $mode in
    fasttun) if [ "$config" = l3fwd ]; then start_l3fwd "$G2" 0 "0,$s2_net0"
             else start_gateway "$G2" "gw2-$encap.conf" "$driver" "set fasttun neighbor 10.1.8.10 mac '$s2_net0'"
                  gen_encap=(--encap "$encap" --outer-src 172.12.1.10 --outer-dst 172.12.1.11); fi ;;
    kernel) nsx "$G2" ip neigh replace 10.1.8.10 lladdr "$s2_net0" dev eth1 nud permanent ;;
    vxlan) nsx "$G2" ip neigh replace 10.1.8.10 lladdr "$s2_net0" dev eth1 nud permanent
           gen_encap=(--encap vxlan --outer-src 172.12.1.10 --outer-dst 172.12.1.11 --vni 42 --inner-dst-mac "$gw2_tun0") ;;
  esac
  ensure_napi "$G2" eth2
  for size in $SIZES; do for rate in $GEN_RATES; do
    TRIAL_RATE=$rate INGRESS_NS=$G2 INGRESS_DEV=eth2 \
    trial "$config" decap "$size" "$G1" eth2 "$S2" net0 10.1.8.10 --dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac "$gw2_eth2" "${gen_encap[@]}"
  done; done
  [ -n "$gw_pid" ] && stop_pid "$gw_pid"
  # The kernel modes' static neighbours would outlive the trial: rebuild the topology before a full path.
  current_mode="dirty-$mode"
}

full_path() { # config
  local config=$1 driver="" encap="" mode g1pid="" g2pid=""
  case $config in
    xdp-*) driver=af_xdp; encap=${config#xdp-}; mode=fasttun ;;
    pkt-*) driver=af_packet; encap=${config#pkt-}; mode=fasttun ;;
    kernel) mode=kernel ;;
    vxlan) mode=vxlan ;;
  esac
  current_mode=""; topology "$mode"
  if [ "$mode" = fasttun ]; then
    start_gateway "$G1" "gw1-$encap.conf" "$driver"; g1pid=$gw_pid
    start_gateway "$G2" "gw2-$encap.conf" "$driver"; g2pid=$gw_pid
  fi
  nsx "$S1" ping -c 3 -i 0.2 -W 1 10.1.8.10 >/dev/null 2>&1 || true   # warm ARP on every hop
  # Steady state before measuring, for every configuration alike: a fresh FastTun gateway is still JIT-compiling
  # its hot paths for seconds after start-up (the tiered-JIT thread shares the gateways' core at their priority;
  # bench/RESULTS.md section e2e); WARM_PINGS (500) quick pings, then a second for the background compiles.
  if [ "${WARM_PINGS:-500}" -gt 0 ]; then
    nsx "$S1" ping -q -c "${WARM_PINGS:-500}" -i 0.002 -W 1 10.1.8.10 >/dev/null 2>&1 || true; sleep 1
  fi
  local rtt bps idle
  rtt=$(nsx "$S1" taskset -c $GEN_CPU ping -q -c "$PINGS" -i 0.02 -W 1 10.1.8.10 2>/dev/null | awk -F'/' '/^rtt|^round-trip/ {print $5}')
  ip netns exec "$S2" taskset -c $SINK_CPU timeout $((IPERF_SECONDS + 20)) iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local ipid=$!; pids+=("$ipid")
  sleep 0.5
  bps=$(nsx "$S1" taskset -c $GEN_CPU timeout $((IPERF_SECONDS + 15)) iperf3 -c 10.1.8.10 -p 5201 -t "$IPERF_SECONDS" -J 2>/dev/null \
        | /usr/bin/python3 -c 'import json,sys
try: print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])
except Exception: print("")')
  stop_pid "$ipid"
  idle="null"
  if [ "$mode" = fasttun ]; then
    # An idle gateway uses no CPU: both gateways' exact run time over IDLE_SECONDS without traffic.
    local a0 b0 a1 b1
    a0=$(proc_ticks "$g1pid"); b0=$(proc_ticks "$g2pid"); sleep "$IDLE_SECONDS"; a1=$(proc_ticks "$g1pid"); b1=$(proc_ticks "$g2pid")
    idle=$(awk -v a0="${a0##* }" -v a1="${a1##* }" -v b0="${b0##* }" -v b1="${b1##* }" -v t="$IDLE_SECONDS" \
      'BEGIN {printf "%.4f", ((a1 - a0) + (b1 - b0)) / 1e9 / t * 100}')
  fi
  stop_pid "$g1pid"; stop_pid "$g2pid"
  echo "{\"kind\": \"path\", \"config\": \"$config\", \"rtt_ms\": ${rtt:-null}, \"tcp_bps\": ${bps:-null}, \"idle_cpu_pct\": $idle}" >> "$results"
  log "   $config full path: ping avg ${rtt:-?} ms, iperf3 $(awk -v b="${bps:-0}" 'BEGIN{printf "%.2f", b/1e9}') Gbit/s"
  current_mode="dirty-$mode"
}

# The generator alone against trafgen, same veth, same CPU, same priority: packets the peer received per second.
generator_check() {
  local a=${P}ga b=${P}gb
  ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true
  ip netns add "$a"; ip netns add "$b"
  ip link add gv0 netns "$a" type veth peer name gv1 netns "$b"
  nsx "$a" ip link set gv0 up; nsx "$b" ip link set gv1 up
  cat > "$work/trafgen.cfg" <<'TG'
{ 0x02,0x00,0x00,0x00,0x00,0x01, 0x02,0x00,0x00,0x00,0x00,0x02, 0x08,0x00,
  0x45,0x00,0x00,0x32, 0x00,0x00,0x40,0x00, 0x40,0x11,0x00,0x00, 10,9,0,1, 10,9,0,2,
  0x27,0x10,0x00,0x09,0x00,0x1e,0x00,0x00, fill(0x00, 22) }
TG
  local r0 r1
  for tool in fasttun-gen trafgen; do
    r0=$(nsx "$b" cat /sys/class/net/gv1/statistics/rx_packets)
    if [ $tool = trafgen ]; then
      nsx "$a" $NICE taskset -c $GEN_CPU timeout -s INT "$TRIAL" trafgen -i "$work/trafgen.cfg" -o gv0 --cpus 1 -q >/dev/null 2>&1 || true
    else
      nsx "$a" $NICE taskset -c $GEN_CPU "$F" gen --iface gv0 --src 10.9.0.1 --dst 10.9.0.2:9 --dst-mac 02:00:00:00:00:02 \
        --size 64 --rate max --flows 16 --duration "$TRIAL" --batch 256 --json >/dev/null 2>&1
    fi
    r1=$(nsx "$b" cat /sys/class/net/gv1/statistics/rx_packets)
    echo "{\"kind\": \"generator\", \"tool\": \"$tool\", \"pps\": $(awk -v r="$((r1 - r0))" -v t="$TRIAL" 'BEGIN{print r/t}')}" >> "$results"
    log "   $tool alone: $(tail -1 "$results")"
  done
  ip netns del "$a"; ip netns del "$b"
}

start=$(date -u +%s)
log "e2e: rounds=$ROUNDS trial=${TRIAL}s sizes=($SIZES) configs=($CONFIGS) work=$work"
PATH_CONFIGS=${PATH_CONFIGS:-"xdp-ipip xdp-gre pkt-ipip kernel vxlan"}
case " $CONFIGS " in *" l3fwd "*) l3fwd_bin=$(bash "$root/bench/e2e/l3fwd.sh" build) ;; esac
for round in $(seq 1 "$ROUNDS"); do
  if [ "${GEN_CHECK:-1}" = 1 ]; then log "round $round: generator check"; generator_check; fi
  log "round $round: per hop"
  for config in $CONFIGS; do hops "$config"; done
  log "round $round: full path"
  for config in $PATH_CONFIGS; do full_path "$config"; done
done
# Diagnostics outside the measured rounds: syscalls of the FastTun gateway per delivered packet (perf stat on
# syscall tracepoints attached to the gateway), encap and decap hop, 64 B.
if command -v perf >/dev/null; then
  log "diagnostics: gateway syscalls (perf stat)"
  for config in ${DIAG_CONFIGS-$CONFIGS}; do
    case $config in xdp-*|pkt-*) ;; *) continue ;; esac
    DIAG=1 SIZES=64 hops "$config"
  done
fi
elapsed=$(( $(date -u +%s) - start ))
bash "$topo" down --prefix "$P" >/dev/null 2>&1 || true
OUT_DIR=${OUT_DIR:-}   # set: write results.jsonl and RESULTS.md there instead of bench/ (iterating)
if [ -n "$OUT_DIR" ]; then mkdir -p "$OUT_DIR"; cp "$results" "$OUT_DIR/results.jsonl"; report=$OUT_DIR/RESULTS.md
else cp "$results" "$root/bench/e2e/last-results.jsonl"; report=$root/bench/RESULTS.md; fi
/usr/bin/python3 "$root/bench/e2e/report.py" "$results" "$report" \
  --rounds "$ROUNDS" --trial "$TRIAL" --elapsed "$elapsed" --sizes "$SIZES" --configs "$CONFIGS" --path-configs "$PATH_CONFIGS"
log "e2e: done in ${elapsed}s; wrote $report"
