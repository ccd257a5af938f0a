#!/usr/bin/env bash
# Ping RTT across both gateways (server1 -> gw1 -> gw2 -> server2 and back), run.sh's full-path placement (both
# gateways `chrt -r 10 taskset -c 1`, ping on CPU0), kernel forwarding as the anchor, variants interleaved per round;
# then each FastTun variant's idle CPU (both gateways' exact run time over IDLE s with no traffic, after the ping).
#   flock /tmp/fasttun-bench.lock env VARIANTS="kernel base=/tmp/e2e-base/.../fasttun spin0=THIS:FASTTUN_WORKER_SPIN_US=0 \
#       spin100=THIS:FASTTUN_WORKER_SPIN_US=100" ROUNDS=3 bash bench/e2e/path-latency.sh
# A variant is `kernel`, or NAME=BINARY[:ENV=VALUE[,ENV=VALUE]] (BINARY THIS = this checkout's build; BINARY kernel =
# kernel forwarding under another name, e.g. `kernel0=kernel:GW_CPU=0,RPS=0`). Placement per variant, given among its
# ENV pairs and not passed to the gateway: GW_CPU (1: the CPU both gateways are pinned to, FastTun only), RPS (2: the
# rps_cpus mask on every gateway veth, 0 = none, so the receive runs on the sending CPU). The anchor is the variant
# named `kernel`.
# Environment: ROUNDS (3), PINGS (200), INTERVAL (0.02), IDLE (10 s), ENCAP (ipip), DRIVER (af_xdp), PING_CPU (0), OUT,
# TRACE (0; 1 = during the measured pings, trace each gateway worker's poll(2) and sendto in a tracefs instance and
# add the cold/warm pass times, poll return -> first sendto, to the row: cold-pass.py; TRACE_EVENTS: more events,
# e.g. "exceptions/page_fault_user raw_syscalls/sys_enter", kept in the work directory's trace-NAME-ROUND.txt).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
THIS=$root/src/FastTun.Gateway/bin/Release/net10.0/fasttun
VARIANTS=${VARIANTS:-"kernel this=THIS"}
ROUNDS=${ROUNDS:-3} PINGS=${PINGS:-200} INTERVAL=${INTERVAL:-0.02} IDLE=${IDLE:-10} ENCAP=${ENCAP:-ipip} DRIVER=${DRIVER:-af_xdp}
P=${E2E_PREFIX:-e2e-pl-}
S1=${P}server1 G1=${P}gw1 G2=${P}gw2 S2=${P}server2
work=$(mktemp -d /tmp/e2e-path.XXXXXX)
OUT=${OUT:-$work/results.jsonl}
source "$root/bench/e2e/lab-common.sh"
runtime_ns() { local r=0 t f; for f in /proc/"$1"/task/*/schedstat; do { read -r t _ < "$f"; } 2>/dev/null && r=$((r + t)); done; echo $r; }
PING_CPU=${PING_CPU:-0}
topo() { # mode rps-mask
  bash "$root/bench/e2e/topology.sh" up --prefix "$P" --mode "$1" --mtu 1600 --offload off >/dev/null
  for ns in $G1 $G2; do for dev in eth1 eth2; do
    nsx "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null 2>&1 || true
    nsx "$ns" sh -c "echo $2 > /sys/class/net/$dev/queues/rx-0/rps_cpus"; done; done
}
start_gw() { # ns conf binary env cpu
  local ns=$1 conf=$2 bin=$3 envs=$4 cpu=$5 cfg=$work/$1.conf
  sed "s/driver 'af_xdp'/driver '$DRIVER'/" "$root/configs/$conf" > "$cfg"
  echo "set fasttun workers 1" >> "$cfg"
  ip netns exec "$ns" env $envs chrt -r 10 taskset -c "$cpu" "$bin" run --config "$cfg" --control-socket "$work/$ns.sock" > "$work/$ns.log" 2>&1 &
  gw=$!; pids+=("$gw")
  for _ in $(seq 1 150); do grep -q "running" "$work/$ns.log" 2>/dev/null && return 0; sleep 0.1; done
  cat "$work/$ns.log" >&2; return 1
}
worker_tid() { local t; for t in /proc/"$1"/task/*; do grep -q '^fasttun-worker' "$t/comm" 2>/dev/null && { basename "$t"; return; }; done; }
TRACE_DIR=/sys/kernel/tracing/instances/${P}trace
trace_start() { # gw1-pid gw2-pid -> "tid1 tid2"
  local t1 t2 e; t1=$(worker_tid "$1"); t2=$(worker_tid "$2")
  mkdir -p "$TRACE_DIR"; echo 0 > "$TRACE_DIR/tracing_on"; echo 8192 > "$TRACE_DIR/buffer_size_kb"
  for e in sys_enter_poll sys_exit_poll sys_enter_ppoll sys_exit_ppoll sys_enter_sendto; do
    echo "common_pid == $t1 || common_pid == $t2" > "$TRACE_DIR/events/syscalls/$e/filter"
    echo 1 > "$TRACE_DIR/events/syscalls/$e/enable"; done
  for e in ${TRACE_EVENTS:-}; do   # extra events (group/name) for a closer look; the trace stays in $work
    echo "common_pid == $t1 || common_pid == $t2" > "$TRACE_DIR/events/$e/filter"; echo 1 > "$TRACE_DIR/events/$e/enable"; done
  echo > "$TRACE_DIR/trace"; echo 1 > "$TRACE_DIR/tracing_on"; echo "$t1 $t2"
}
trace_stop() { # "tid1 tid2" -> JSON fields
  echo 0 > "$TRACE_DIR/tracing_on"; cat "$TRACE_DIR/trace" > "$work/trace.txt"; cp "$work/trace.txt" "$work/trace-$name-$round.txt"
  rmdir "$TRACE_DIR" 2>/dev/null || true
  set -- $1; /usr/bin/python3 "$root/bench/e2e/cold-pass.py" "$work/trace.txt" "gw1=$1" "gw2=$2"
}
measure() { # variant
  local v=$1 name bin envs="" e g1="" g2="" idle=null cpu=1 rps=2
  [ "$v" = kernel ] && v=kernel=kernel
  name=${v%%=*}; bin=${v#*=}
  case $bin in *:*) for e in $(echo "${bin#*:}" | tr ',' ' '); do
      case $e in GW_CPU=*) cpu=${e#GW_CPU=} ;; RPS=*) rps=${e#RPS=} ;; *) envs="$envs $e" ;; esac; done
    bin=${bin%%:*} ;; esac
  if [ "$bin" = kernel ]; then
    topo kernel "$rps"
  else
    [ "$bin" = THIS ] && bin=$THIS
    topo fasttun "$rps"
    start_gw "$G1" "gw1-$ENCAP.conf" "$bin" "$envs" "$cpu"; g1=$gw
    start_gw "$G2" "gw2-$ENCAP.conf" "$bin" "$envs" "$cpu"; g2=$gw
  fi
  nsx "$S1" ping -c 5 -i 0.2 -W 1 10.1.8.10 >/dev/null 2>&1 || true   # ARP on every hop, JIT warm
  # Steady state before measuring, for every configuration alike: a fresh FastTun gateway is still JIT-compiling
  # its hot paths for seconds after start-up (the tiered-JIT thread shares the gateways' core at their priority;
  # bench/RESULTS.md section e2e); WARM_PINGS (500) quick pings, then a second for the background compiles.
  if [ "${WARM_PINGS:-500}" -gt 0 ]; then
    nsx "$S1" ping -q -c "${WARM_PINGS:-500}" -i 0.002 -W 1 10.1.8.10 >/dev/null 2>&1 || true; sleep 1
  fi
  local out tr=""
  if [ "${TRACE:-0}" = 1 ] && [ -n "$g1" ]; then tr=$(trace_start "$g1" "$g2"); fi
  out=$(nsx "$S1" taskset -c "$PING_CPU" ping -c "$PINGS" -i "$INTERVAL" -W 1 10.1.8.10 2>/dev/null || true)
  local passes="{}"
  if [ -n "$tr" ]; then passes=$(trace_stop "$tr"); fi
  local rtts; rtts=$(echo "$out" | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | tr '\n' ' ')
  if [ -n "$g1" ]; then
    sleep 1   # the last ping's window and the runtime's after-traffic work end
    local a0 b0 a1 b1; a0=$(runtime_ns "$g1"); b0=$(runtime_ns "$g2"); sleep "$IDLE"; a1=$(runtime_ns "$g1"); b1=$(runtime_ns "$g2")
    idle=$(awk -v a="$((a1 - a0))" -v b="$((b1 - b0))" -v t="$IDLE" 'BEGIN {printf "%.4f", (a + b) / 2 / 1e9 / t * 100}')
    stop "$g1"; stop "$g2"
  fi
  /usr/bin/python3 - "$name" "$round" "$idle" "$rtts" "$cpu" "$rps" "$passes" >> "$OUT" <<'PY'
import json, statistics, sys
name, rnd, idle, rtts, cpu, rps, passes = sys.argv[1:]
r = sorted(float(x) for x in rtts.split())
q = lambda p: r[min(len(r) - 1, int(p * len(r)))] if r else None
print(json.dumps({"name": name, "round": int(rnd), "gw_cpu": int(cpu), "rps_cpus": rps, "n": len(r), "avg_ms": statistics.mean(r) if r else None, "p50_ms": q(0.5),
                  "p90_ms": q(0.9), "idle_cpu_pct_per_gw": None if idle == "null" else float(idle), **json.loads(passes)}))
PY
  tail -1 "$OUT" >&2
}
echo "path-latency: rounds=$ROUNDS pings=$PINGS interval=$INTERVAL idle=${IDLE}s variants=($VARIANTS) work=$work" >&2
for round in $(seq 1 "$ROUNDS"); do for v in $VARIANTS; do measure "$v"; done; done
/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = list(dict.fromkeys(r["name"] for r in rows))
med = lambda n, k: statistics.median([r[k] for r in rows if r["name"] == n and r.get(k) is not None] or [float("nan")])
k = med("kernel", "avg_ms") if "kernel" in names else float("nan")
kp = med("kernel", "p50_ms") if "kernel" in names else float("nan")
print("variant | rounds | avg RTT ms (median of rounds) | vs kernel | p50 RTT ms | vs kernel | idle CPU % per gateway (max of rounds) | cold pass us gw1 / gw2, warm (medians of rounds' p50)")
def passes(n):
    f = lambda k: med(n, k)
    if all(r.get("gw1_cold_p50_us") is None for r in rows if r["name"] == n): return "-"
    return f"{f('gw1_cold_p50_us'):.1f} / {f('gw2_cold_p50_us'):.1f}, {f('gw1_warm_p50_us'):.1f} / {f('gw2_warm_p50_us'):.1f}"
for n in names:
    rs = [r for r in rows if r["name"] == n]
    idle = [r["idle_cpu_pct_per_gw"] for r in rs if r["idle_cpu_pct_per_gw"] is not None]
    print(f"{n} | {len(rs)} | {med(n,'avg_ms'):.3f} | {med(n,'avg_ms')/k:.2f}x | {med(n,'p50_ms'):.3f} | {med(n,'p50_ms')/kp:.2f}x | {max(idle) if idle else '-'} | {passes(n)}")
PY
echo "results: $OUT" >&2
