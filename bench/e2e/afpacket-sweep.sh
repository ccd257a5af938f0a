#!/usr/bin/env bash
# Offered load against delivered rate for one FastTun gateway hop (default: AF_PACKET IPIP encap, 64 B), on the
# same topology and CPU placement as bench/e2e/run.sh: generator and sink on CPU0, the gateway on CPU1.
#
#   RATES    offered rates in packets/s, "max" for the generator's maximum (default: 50k .. max)
#   TRIAL    seconds per point (2)            ROUNDS  passes over RATES, interleaved (1)
#   DRIVER   af_packet | af_xdp (af_packet)   ENCAP   ipip | gre (ipip)     SIZE  frame bytes (64)
#   RPS      1: rps_cpus=2 on the gateways' veths (run.sh's placement: ingress softirq on CPU1), 0: none (the
#            veth receive runs on the sending CPU, CPU0)                                        (1)
#   GW_PRIO  prefix for the gateway command (run.sh: "chrt -r 10")
#   KSOFTIRQD_RT  1: ksoftirqd/1 at chrt -r 10 for the run, as run.sh does (1)
#   EXTRA    extra config lines for the gateway, separated by ';'
#   SINK     xsk: `fasttun sink` (AF_XDP) on gw2:eth2, as run.sh (default); tc: a tc ingress drop program on gw2:eth2
#            (bench/e2e/reflector_drop.bpf.c) counted by the interface's rx_packets: no sink process to wake per
#            packet from inside the gateway's transmit (the veth peer's NAPI runs in the sender's syscall)
#   SINK_COALESCE_US  the xsk sink's --rx-coalesce-us, as run.sh (200): when its ring runs dry it sleeps that long on
#            a timer instead of in poll(2), so the gateway's transmit does not wake it per frame; 0 = poll(2)
#   E2E_PREFIX  namespace prefix (afpkt-)     OUT  JSON lines file (stdout summary always)
# Each point: sink up, generator at the rate for TRIAL s, sink down; the gateway stays up for the whole sweep.
# Record: offered (the generator's achieved rate), delivered (sink packets / generator seconds), CPU1 busy and
# softirq, the gateway process's user and system time, each per delivered packet.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
F=${FASTTUN_BIN:-$root/src/FastTun.Gateway/bin/Release/net10.0/fasttun}
topo=$root/bench/e2e/topology.sh
P=${E2E_PREFIX:-afpkt-}
RATES=${RATES:-"50000 100000 200000 300000 400000 600000 800000 max"}
TRIAL=${TRIAL:-2}
ROUNDS=${ROUNDS:-1}
DRIVER=${DRIVER:-af_packet}
ENCAP=${ENCAP:-ipip}
SIZE=${SIZE:-64}
SINK=${SINK:-xsk}
SINK_COALESCE_US=${SINK_COALESCE_US:-200}
RPS=${RPS:-1}
GW_PRIO=${GW_PRIO-"chrt -r 10"}
KSOFTIRQD_RT=${KSOFTIRQD_RT:-1}
EXTRA=${EXTRA:-}
OUT=${OUT:-/dev/null}
NICE="nice -n -19"
GEN_CPU=0 GW_CPU=1
HZ=$(getconf CLK_TCK)
S1=${P}server1 G1=${P}gw1 G2=${P}gw2

[ "$(id -u)" = 0 ] || { echo "afpacket-sweep.sh: needs root" >&2; exit 1; }
[ -x "$F" ] || { echo "afpacket-sweep.sh: $F not built" >&2; exit 1; }
work=$(mktemp -d /tmp/fasttun-sweep.XXXXXX)
pids=()
ksoftirqd=$(pgrep -x "ksoftirqd/$GW_CPU" || true)
ksoftirqd_policy=""
if [ -n "$ksoftirqd" ] && [ "$KSOFTIRQD_RT" = 1 ]; then
  ksoftirqd_policy=$(chrt -p "$ksoftirqd" | awk -F': ' '/policy/ {print $2}')
  chrt -r -p 10 "$ksoftirqd"
fi
cleanup() {
  if [ -n "$ksoftirqd_policy" ] && [ "$ksoftirqd_policy" = SCHED_OTHER ]; then chrt -o -p 0 "$ksoftirqd" || true; fi
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; done
  bash "$topo" down --prefix "$P" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# No fork (ps under load takes tens of ms, and the trial's CPU window starts after this loop): state from /proc.
# The comm field may hold spaces, so take the state after its closing parenthesis.
alive() { local line; { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1; line=${line##*) }; [ "${line:0:1}" != Z ]; }
stop_pid() {
  local pid=$1; [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
# Frames dropped at the full per-CPU backlog (softnet_stat column 2, hex), all CPUs
backlog_drops() { local s=0 h rest; while read -r _ h rest; do s=$((s + 16#$h)); done < /proc/net/softnet_stat; echo $s; }
. "$root/bench/e2e/cpu-sample.sh"

# ksoftirqd/1's run time (ns), exact
ksoft_ns() { local t=0; [ -n "$ksoftirqd" ] && read -r t _ < "/proc/$ksoftirqd/schedstat"; echo "$t"; }
bash "$topo" up --prefix "$P" --mode fasttun --mtu 1600 --offload off
for ns in $G1 $G2; do for dev in eth1 eth2; do
  nsx "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null 2>&1 || true
  if [ "$RPS" = 1 ]; then nsx "$ns" sh -c "echo 2 > /sys/class/net/$dev/queues/rx-0/rps_cpus"; fi
done; done
if [ -n "${TC_DROP:-}" ]; then for dev in eth1 eth2; do
  nsx "$G1" tc qdisc add dev $dev clsact; nsx "$G1" tc filter add dev $dev ingress bpf da obj "$TC_DROP" sec tc; done; fi
if [ "$SINK" = tc ]; then
  clang -O2 -target bpf -I/usr/include/$(gcc -print-multiarch) -c "$root/bench/e2e/reflector_drop.bpf.c" -o "$work/drop.o"
  nsx "$G2" tc qdisc add dev eth2 clsact; nsx "$G2" tc filter add dev eth2 ingress bpf da obj "$work/drop.o" sec tc
fi
gw1_eth1=$(nsx "$G1" cat /sys/class/net/eth1/address); gw2_eth2=$(nsx "$G2" cat /sys/class/net/eth2/address)

cfg=$work/gw1.conf
sed "s/driver 'af_xdp'/driver '$DRIVER'/" "$root/configs/gw1-$ENCAP.conf" > "$cfg"
{ echo "set fasttun workers 1"; echo "set fasttun neighbor 172.12.1.11 mac '$gw2_eth2'"; } >> "$cfg"
IFS=';' read -ra extra_lines <<< "$EXTRA"
for line in "${extra_lines[@]:-}"; do [ -n "$line" ] && echo "$line" >> "$cfg"; done
ip netns exec "$G1" $GW_PRIO taskset -c $GW_CPU "$F" run --config "$cfg" --control-socket "$work/ctl.sock" > "$work/gw.log" 2>&1 &
gw=$!; pids+=("$gw")
for _ in $(seq 1 100); do grep -q running "$work/gw.log" 2>/dev/null && break; alive "$gw" || { cat "$work/gw.log" >&2; exit 1; }; sleep 0.1; done

echo "# sink=$SINK coalesce_us=$SINK_COALESCE_US driver=$DRIVER encap=$ENCAP size=$SIZE rps=$RPS gw_prio='$GW_PRIO' ksoftirqd_rt=$KSOFTIRQD_RT extra='$EXTRA'" >&2
printf '%-8s %10s %10s %6s %9s %9s %9s %9s %9s %9s %9s\n' rate offered delivered ratio cpu1_ns soft_ns user_ns sys_ns proc_ns busy_ns bl_drops >&2
for round in $(seq 1 "$ROUNDS"); do
for rate in $RATES; do
  : > "$work/sink.err"
  rx0=$(nsx "$G2" cat /sys/class/net/eth2/statistics/rx_packets)
  # gateway counters before the point (a .NET start: not inside the measured window)
  "$F" show interfaces --json --control-socket "$work/ctl.sock" > "$work/if0.json" 2>/dev/null || echo '{}' > "$work/if0.json"
  spid=""
  if [ "$SINK" = xsk ]; then
    ip netns exec "$G2" $NICE taskset -c $GEN_CPU "$F" sink --iface eth2 --ip 172.12.1.11 --rx-coalesce-us "$SINK_COALESCE_US" --duration $((TRIAL + 20)) --json > "$work/sink.json" 2> "$work/sink.err" &
    spid=$!; pids+=("$spid")
    for _ in $(seq 1 200); do grep -q "sink: ready" "$work/sink.err" 2>/dev/null && break; sleep 0.05; done
  fi
  : > "$work/gen.err"
  ip netns exec "$S1" $NICE taskset -c $GEN_CPU "$F" gen --iface net0 --size "$SIZE" --rate "$rate" --flows 16 --duration "$TRIAL" \
      --batch 256 --json --dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac "$gw1_eth1" > "$work/gen.json" 2> "$work/gen.err" &
  gpid=$!; pids+=("$gpid")
  for _ in $(seq 1 400); do
    mapfile -t errlines < "$work/gen.err" 2>/dev/null || true
    [[ "${errlines[*]:-}" == *"gen: sending"* ]] && break; alive "$gpid" || break; sleep 0.01
  done
  c0=$(cpu_sample); p0=$(proc_ticks "$gw"); q0=$(ksoft_ns); d0=$(backlog_drops)
  for _ in $(seq 1 $(( (TRIAL + 20) * 50 ))); do alive "$gpid" || break; sleep 0.02; done
  c1=$(cpu_sample); p1=$(proc_ticks "$gw"); q1=$(ksoft_ns); d1=$(backlog_drops)
  [ -n "${DEBUG:-}" ] && echo "debug: p0=$p0 p1=$p1 q0=$q0 q1=$q1 gen=$(cat "$work/gen.err" | head -3)" >&2
  stop_pid "$gpid"; sleep 0.3; stop_pid "$spid"
  rx1=$(nsx "$G2" cat /sys/class/net/eth2/statistics/rx_packets)
  [ "$SINK" = tc ] && echo "{\"packets\": $((rx1 - rx0)), \"rx_dropped\": null}" > "$work/sink.json"
  "$F" show interfaces --json --control-socket "$work/ctl.sock" > "$work/if1.json" 2>/dev/null || echo '{}' > "$work/if1.json"
  /usr/bin/python3 - "$rate" "$work/gen.json" "$work/sink.json" "$c0" "$c1" "$p0" "$p1" "$HZ" "$DRIVER" "$ENCAP" "$SIZE" "$RPS" "$GW_PRIO" "$EXTRA" "$round" "$q0" "$q1" "$d0" "$d1" "$work/if0.json" "$work/if1.json" "$SINK" <<'EOF' | tee -a "$OUT"
import json, sys
rate, gout, sout, c0, c1, p0, p1, hz, driver, encap, size, rps, prio, extra, rnd, q0, q1, d0, d1, if0, if1, sink = sys.argv[1:]
def ifs(p):
    try: return {i["name"]: i for i in json.load(open(p))["interfaces"]}
    except Exception: return {}
i0, i1 = ifs(if0), ifs(if1)
def dif(name, key):
    try: return i1[name][key] - i0[name][key]
    except Exception: return None
def load(p):
    try: return json.loads(open(p).read().strip().splitlines()[-1])
    except Exception: return None
g, s = load(gout), load(sout)
b0, f0, x0, up0 = map(int, c0.split()); b1, f1, x1, up1 = map(int, c1.split())
u0, s0, v0, e0 = map(int, p0.split()); u1, s1, v1, e1 = map(int, p1.split())
tick = 1e9 / int(hz)
r = {"kind": "sweep", "rate": rate, "driver": driver, "encap": encap, "size": int(size), "rps": int(rps), "gw_prio": prio,
     "extra": extra, "round": int(rnd), "sink": sink, "ok": bool(g and s)}
if g and s:
    pk = s["packets"]; sec = g["seconds"]
    window = (up1 - up0) / 1e9
    pkc = pk if window >= 0.8 * sec else 0   # CPU figures only from a window that covered the run
    r.update(offered_pps=g["pps"], delivered_pps=pk / sec if sec else 0, sent=g["sent"], received=pk,
             cpu1_ns=(b1 - b0) * tick / pkc if pkc else None, softirq_ns=(f1 - f0) * tick / pkc if pkc else None,
             user_ns=(u1 - u0) * tick / pkc if pkc else None, sys_ns=(s1 - s0) * tick / pkc if pkc else None,
             proc_ns=(e1 - e0) / pkc if pkc else None,
             backlog_drops=int(d1) - int(d0), sink_rx_dropped=s.get("rx_dropped"),
             gw_rx=dif("eth1", "rxPackets"), gw_ring_drops=dif("eth1", "rxDropped"), gw_tx=dif("eth2", "txPackets"), gw_tx_drops=dif("eth2", "txDropped"),
             busy_ns=(x1 - x0) / pkc if pkc else None, window_s=window,
             ksoftirqd_ns=(int(q1) - int(q0)) / pkc if pkc else None,
             cpu1_busy=(b1 - b0) * tick / 1e9 / sec if sec else None)
print(json.dumps(r))
f = lambda v: "-" if v is None else "%.0f" % v
if r["ok"]:
    print("%-8s %10.0f %10.0f %6.2f %9s %9s %9s %9s %9s %9s %9s" % (rate, r["offered_pps"], r["delivered_pps"], r["delivered_pps"] / r["offered_pps"],
          f(r["cpu1_ns"]), f(r["softirq_ns"]), f(r["user_ns"]), f(r["sys_ns"]), f(r["proc_ns"]), f(r["busy_ns"]), r["backlog_drops"]), file=sys.stderr)
    print("         gw rx %s ring-drops %s tx %s tx-drops %s; sink rx-dropped %s" % (r["gw_rx"], r["gw_ring_drops"], r["gw_tx"], r["gw_tx_drops"], r["sink_rx_dropped"]), file=sys.stderr)
else:
    print("%-8s FAILED" % rate, file=sys.stderr)
EOF
done
done 2>&1 >/dev/null | cat >&2
cp "$work/gw.log" /tmp/afpkt-sweep-gw.log 2>/dev/null || true
