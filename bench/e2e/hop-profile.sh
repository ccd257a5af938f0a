#!/usr/bin/env bash
# Where a FastTun gateway's CPU goes on one hop (run.sh's placement: generator and sink on CPU0 at nice -19, the
# gateway `chrt -r 10 taskset -c 1`, rps_cpus=2), with two or more builds interleaved per round (A B A B ...):
# per trial the delivered rate, the gateway's exact run time per packet split by thread (worker, .NET runtime
# threads, control), the worker's user/system split (tick samples), its sleeps (voluntary context switches)
# per packet, rx batches and packets per batch from the gateway's own counters, and CPU1's softirq per packet.
#   flock /tmp/fasttun-bench.lock env BINS="base=/tmp/e2e-base/src/FastTun.Gateway/bin/Release/net10.0/fasttun \
#       new=src/FastTun.Gateway/bin/Release/net10.0/fasttun" ROUNDS=3 TRIAL=3 HOP=encap bash bench/e2e/hop-profile.sh
# Environment: BINS (name=path[:VAR=VALUE[,VAR=VALUE]] ...; default this checkout's build; the variables go to that
# gateway only), ROUNDS (3), TRIAL (3 s), HOP (encap|decap),
# DRIVER (af_xdp|af_packet), ENCAP (ipip|gre), SIZE (64), RATE (max), WARMUP (0: seconds of traffic before the
# measured window, same gateway), PERF (1: perf record -C 1 during every trial; the worker's user share of its samples
# splits its exact run time: perf_worker_user_ns_per_pkt),
# GW_ENV (extra environment for the gateway only, e.g. "DOTNET_TieredCompilation=0"), OUT (jsonl file to append),
# SINK_COALESCE_US (200: the sink's --rx-coalesce-us, as run.sh; 0 = poll(2), woken by the gateway's transmit).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BINS=${BINS:-"this=$root/src/FastTun.Gateway/bin/Release/net10.0/fasttun"}
ROUNDS=${ROUNDS:-3} TRIAL=${TRIAL:-3} HOP=${HOP:-encap} DRIVER=${DRIVER:-af_xdp} ENCAP=${ENCAP:-ipip} SIZE=${SIZE:-64}
RATE=${RATE:-max} WARMUP=${WARMUP:-0} P=${E2E_PREFIX:-e2e-hp-}
S1=${P}server1 G1=${P}gw1 G2=${P}gw2 S2=${P}server2
work=$(mktemp -d /tmp/e2e-hop.XXXXXX)
OUT=${OUT:-$work/results.jsonl}
source "$root/bench/e2e/lab-common.sh"

bash "$root/bench/e2e/topology.sh" up --prefix "$P" --mode fasttun --mtu 1600 --offload off >/dev/null
for ns in $G1 $G2; do for dev in eth1 eth2; do
  nsx "$ns" ethtool -K "$dev" tx off tso off gso off >/dev/null 2>&1 || true
  nsx "$ns" sh -c "echo 2 > /sys/class/net/$dev/queues/rx-0/rps_cpus"; done; done
gw1_eth1=$(nsx "$G1" cat /sys/class/net/eth1/address); gw2_eth2=$(nsx "$G2" cat /sys/class/net/eth2/address)
s2_net0=$(nsx "$S2" cat /sys/class/net/net0/address)
if [ "$HOP" = encap ]; then
  GW=$G1 CONF=gw1-$ENCAP.conf NEIGH="set fasttun neighbor 172.12.1.11 mac '$gw2_eth2'"
  GNS=$S1 GIF=net0 SNS=$G2 SIF=eth2 SIP=172.12.1.11
  GARGS=(--dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac "$gw1_eth1")
else
  GW=$G2 CONF=gw2-$ENCAP.conf NEIGH="set fasttun neighbor 10.1.8.10 mac '$s2_net0'"
  GNS=$G1 GIF=eth2 SNS=$S2 SIF=net0 SIP=10.1.8.10
  GARGS=(--dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac "$gw2_eth2" --encap "$ENCAP" --outer-src 172.12.1.10 --outer-dst 172.12.1.11)
fi

trial() { # name binary round
  local name=$1 F=$2 round=$3 sock=$work/gw.sock cfg=$work/gw.conf envs=${GW_ENV:-}
  case $F in *:*) envs="$envs ${F#*:}"; envs=${envs//,/ }; F=${F%%:*} ;; esac
  sed "s/driver 'af_xdp'/driver '$DRIVER'/" "$root/configs/$CONF" > "$cfg"
  { echo "set fasttun workers 1"; echo "$NEIGH"; } >> "$cfg"
  rm -f "$sock"
  ip netns exec "$GW" env $envs chrt -r 10 taskset -c 1 "$F" run --config "$cfg" --control-socket "$sock" > "$work/gw.log" 2>&1 &
  local gpid=$!; pids+=("$gpid")
  for _ in $(seq 1 100); do grep -q "running" "$work/gw.log" 2>/dev/null && break; sleep 0.1; done
  # The sink and generator are this checkout's build for every variant (only the gateway differs).
  local T=$root/src/FastTun.Gateway/bin/Release/net10.0/fasttun
  # One sample before any traffic: the gateway's first `show stats` JITs the control path (hundreds of ms).
  /usr/bin/python3 "$root/bench/e2e/proc_sample.py" "$gpid" "$sock" > /dev/null
  ip netns exec "$SNS" nice -n -19 taskset -c 0 "$T" sink --iface "$SIF" --ip "$SIP" --rx-coalesce-us "${SINK_COALESCE_US:-200}" --duration $((TRIAL + WARMUP + 40)) --json > "$work/sink.json" 2> "$work/sink.err" &
  local spid=$!; pids+=("$spid")
  for _ in $(seq 1 200); do grep -q "sink: ready" "$work/sink.err" 2>/dev/null && break; sleep 0.05; done
  ip netns exec "$GNS" nice -n -19 taskset -c 0 "$T" gen --iface "$GIF" --size "$SIZE" --rate "$RATE" --flows 16 \
      --duration $((TRIAL + WARMUP + 10)) --batch 256 --json "${GARGS[@]}" > "$work/gen.json" 2> "$work/gen.err" &
  local genpid=$!; pids+=("$genpid")
  for _ in $(seq 1 400); do grep -q "gen: sending" "$work/gen.err" 2>/dev/null && break; sleep 0.01; done
  [ "$WARMUP" -gt 0 ] && sleep "$WARMUP"
  local sinkrx0; sinkrx0=$(nsx "$SNS" cat /sys/class/net/$SIF/statistics/rx_packets)
  /usr/bin/python3 "$root/bench/e2e/proc_sample.py" "$gpid" "$sock" > "$work/s0.json"
  local perfpid=""
  local perfdata=""
  if [ "${PERF:-0}" = 1 ]; then
    perfdata=$work/perf-$name-r$round.data
    perf record -C 1 -F 2999 -g -o "$perfdata" -- sleep $((TRIAL - 1)) > /dev/null 2>&1 &
    perfpid=$!
  fi
  sleep "$TRIAL"
  /usr/bin/python3 "$root/bench/e2e/proc_sample.py" "$gpid" "$sock" > "$work/s1.json"
  local sinkrx1; sinkrx1=$(nsx "$SNS" cat /sys/class/net/$SIF/statistics/rx_packets)
  [ -n "$perfpid" ] && wait "$perfpid" 2>/dev/null
  stop "$genpid"; stop "$spid"
  if [ -n "$perfpid" ]; then for q in $(ip netns pids "$GW"); do cp /tmp/perf-"$q".map "$work/" 2>/dev/null || true; done; fi
  stop "$gpid"
  /usr/bin/python3 - "$name" "$round" "$work/s0.json" "$work/s1.json" "$sinkrx0" "$sinkrx1" "$HOP" "$perfdata" "$gpid" >> "$OUT" <<'PY'
import json, subprocess, sys
name, rnd, a, b, r0, r1, hop, perfdata, gpid = sys.argv[1:]
s0, s1 = json.load(open(a)), json.load(open(b))
dt = s1["t"] - s0["t"]
pk = int(r1) - int(r0)
tick = 1e7  # ns per jiffy (CLK_TCK 100)
groups = {}
wk = {}
for tid, x in s1["threads"].items():
    y = s0["threads"].get(tid, {"run": 0, "ut": 0, "st": 0, "vcs": 0})
    g = "worker" if x["comm"].startswith("fasttun-worker") else "control" if x["comm"].startswith("fasttun-contr") else x["comm"]
    d = {k: x[k] - y[k] for k in ("run", "ut", "st", "vcs")}
    acc = groups.setdefault(g, {"run": 0, "ut": 0, "st": 0, "vcs": 0})
    for k in d: acc[k] += d[k]
rec = {"name": name, "round": int(rnd), "hop": hop, "window_s": round(dt, 3), "delivered_pps": pk / dt if dt > 0 else 0}
if pk > 0:
    tot = sum(v["run"] for v in groups.values())
    rec["proc_ns_per_pkt"] = tot / pk
    w = groups.get("worker", {"run": 0, "ut": 0, "st": 0, "vcs": 0})
    ticks = max(1, w["ut"] + w["st"])
    rec["worker_ns_per_pkt"] = w["run"] / pk
    rec["worker_user_ns_per_pkt"] = w["run"] * w["ut"] / ticks / pk
    rec["worker_sys_ns_per_pkt"] = w["run"] * w["st"] / ticks / pk
    rec["worker_sleeps_per_kpkt"] = w["vcs"] * 1000 / pk
    rec["other_threads_ns_per_pkt"] = {k: round(v["run"] / pk, 1) for k, v in groups.items() if k != "worker" and v["run"] > 0}
    rec["cpu1_softirq_ns_per_pkt"] = (s1["softirq"] - s0["softirq"]) * tick / pk
    if perfdata:
        # perf's samples of this gateway's worker thread on CPU1 (other helpers' fasttun processes have threads of the
        # same name): the user share of them (JIT code, libc) is a finer split of the worker's exact run time than the
        # tick samples (CLK_TCK 100).
        # (Sorted by comm and dso, filtered here: perf report's own --comm filter drops the kernel's lines on this
        # perf, which made every sample look like user time.)
        out = subprocess.run(["perf", "report", "-i", perfdata, "--pid", gpid, "--no-children", "--sort", "comm,dso",
                              "--stdio", "-g", "none"], capture_output=True, text=True).stdout
        tot = kern = 0.0
        for line in out.splitlines():
            p = line.split()
            if len(p) >= 3 and p[0].endswith("%") and p[1].startswith("fasttun-worker"):
                v = float(p[0][:-1]); tot += v
                if p[2].startswith("[kernel") or p[2].startswith("bpf_"): kern += v
        if tot > 0:
            rec["perf_worker_user_share"] = (tot - kern) / tot
            rec["perf_worker_user_ns_per_pkt"] = w["run"] * (tot - kern) / tot / pk
    try:
        w0, w1 = s0["stats"]["workers"][0], s1["stats"]["workers"][0]
        batches = w1["batches"] - w0["batches"]; packets = w1["packets"] - w0["packets"]
        rec["rx_batches_per_s"] = batches / dt
        rec["pkts_per_batch"] = packets / batches if batches else None
        for k in ("sleeps", "emptyPasses"):
            if k in w1: rec[k + "_per_kpkt"] = (w1[k] - w0[k]) * 1000 / packets if packets else None
        rec["busy_ratio_window"] = (w1["busySeconds"] - w0["busySeconds"]) / dt
    except Exception as e:
        rec["stats_error"] = str(e)
print(json.dumps(rec))
PY
  tail -1 "$OUT" | /usr/bin/python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("  r%d %-6s %s: %.3f Mpps, worker %s ns/pkt (user %s, sys %s), sleeps/kpkt %s, pkts/batch %s, others %s" % (r["round"], r["name"], r["hop"], r["delivered_pps"]/1e6, *["%.0f" % r[k] if r.get(k) is not None else "-" for k in ("worker_ns_per_pkt","worker_user_ns_per_pkt","worker_sys_ns_per_pkt","worker_sleeps_per_kpkt","pkts_per_batch")], r.get("other_threads_ns_per_pkt")))' >&2
}

echo "hop-profile: hop=$HOP driver=$DRIVER encap=$ENCAP rounds=$ROUNDS trial=${TRIAL}s warmup=${WARMUP}s work=$work" >&2
for round in $(seq 1 "$ROUNDS"); do
  for b in $BINS; do trial "${b%%=*}" "${b#*=}" "$round"; done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = list(dict.fromkeys(r["name"] for r in rows))
keys = ["delivered_pps", "proc_ns_per_pkt", "worker_ns_per_pkt", "worker_user_ns_per_pkt", "perf_worker_user_ns_per_pkt", "worker_sys_ns_per_pkt",
        "cpu1_softirq_ns_per_pkt", "worker_sleeps_per_kpkt", "pkts_per_batch", "sleeps_per_kpkt", "emptyPasses_per_kpkt"]
print("medians | " + " | ".join(keys))
for n in names:
    rs = [r for r in rows if r["name"] == n]
    vals = []
    for k in keys:
        v = [r[k] for r in rs if r.get(k) is not None]
        vals.append("%.3f" % (statistics.median(v) / 1e6) if k == "delivered_pps" and v else "%.1f" % statistics.median(v) if v else "-")
    print(f"{n} ({len(rs)}) | " + " | ".join(vals))
PY
echo "results: $OUT" >&2
