#!/usr/bin/python3
"""Turns bench/e2e/run.sh's JSON lines into bench/RESULTS.md: medians, min-max, ratios against the kernel
baselines measured in the same run, the targets, the method and the machine."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("out")
ap.add_argument("--rounds", type=int)
ap.add_argument("--trial", type=float)
ap.add_argument("--elapsed", type=int)
ap.add_argument("--sizes")
ap.add_argument("--configs")
ap.add_argument("--path-configs")
a = ap.parse_args()

recs = [json.loads(l) for l in open(a.results) if l.strip()]


def kept_sections(path):
    """The `<!-- begin:NAME -->` … `<!-- end:NAME -->` sections of the existing file: other people's figures, kept
    verbatim at the end of the regenerated report."""
    try:
        text = open(path).read()
    except OSError:
        return []
    import re
    return [m.group(0) for m in re.finditer(r"<!-- begin:([\w.-]+) -->.*?<!-- end:\1 -->", text, re.S)]


KEPT = kept_sections(a.out)
hops = [r for r in recs if r["kind"] == "hop"]
paths = [r for r in recs if r["kind"] == "path"]
gens = [r for r in recs if r["kind"] == "generator"]
configs = a.configs.split()
sizes = [int(s) for s in a.sizes.split()]
path_configs = a.path_configs.split()

NAMES = {"xdp-ipip": "FastTun AF_XDP IPIP", "xdp-gre": "FastTun AF_XDP GRE", "pkt-ipip": "FastTun AF_PACKET IPIP",
         "pkt-gre": "FastTun AF_PACKET GRE", "kernel": "kernel IP forwarding (no tunnel)", "vxlan": "kernel VXLAN",
         "l3fwd": "DPDK l3fwd AF_XDP PMD (no tunnel)"}
FASTTUN = ("xdp-ipip", "xdp-gre", "pkt-ipip", "pkt-gre")


def values(config, hop, size, key):
    return [r[key] for r in hops if r["config"] == config and r["hop"] == hop and r["size"] == size
            and r.get("ok") and r.get(key) is not None]


def med(v):
    return statistics.median(v) if v else None


def fmt_mpps(v):
    return "—" if not v else f"{med(v) / 1e6:.3f} ({min(v) / 1e6:.3f}–{max(v) / 1e6:.3f})"


def fmt_ns(v):
    return "—" if not v else f"{med(v):.0f}"


def ratio(x, y):
    return None if not x or not y else med(x) / med(y)


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def saturated(c, hop, size):
    """Yes when the gateway dropped part of what the generator offered (delivered < 95 % of sent, median over
    rounds); otherwise the generator was the limit and the delivered rate is only a lower bound of the gateway's."""
    d, g = values(c, hop, size, "delivered_pps"), values(c, hop, size, "gen_pps")
    if not d or not g:
        return "—"
    return "yes" if med(d) < 0.95 * med(g) else "no: generator-limited (lower bound)"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        return "?"


LOAD = " ".join(open("/proc/loadavg").read().split()[:3])
cpu_model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
out = []
w = out.append
w("# FastTun end-to-end results")
w("")
w(f"Run {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `make bench-e2e` "
  f"(bench/e2e/run.sh, {a.elapsed} s): {a.rounds} interleaved rounds of {' '.join(configs)}; "
  f"{a.trial:g} s per trial at the generator's maximum rate, 16 flows.")
w(f"Machine: {os.cpu_count()} CPUs, {cpu_model}, Linux {platform.release()}; "
  f"load average at the end: {LOAD} (the benchmark's own processes count in it; a shared 2-core machine is noisy, so compare ratios from one run).")
w("")
w("Values are medians over the rounds, with min–max in parentheses. \"delivered\" = test packets the sink received "
  "÷ the generator's run time. Ratios compare medians of the same run. \"gateway saturated?\" says whether the gateway "
  "dropped part of the offered load (delivered < 95 % of sent): where it did not, the generator was the limit, the "
  "delivered rate is a lower bound of the gateway's capacity, and a ratio against such a row is bounded accordingly. "
  "On this 2-core machine the generator shares CPU0 with the sink and with the ingress veth's receive work, and the "
  "receiving veth pushes back on it (when the receiver's backlog or XDP ring is full the AF_XDP copy-mode transmit "
  "stops with EBUSY and the generator yields), so it reaches less than when it sends alone "
  "(see Generator).")
w("")

for hop, title in (("encap", "Encap hop: generator in server1 → gw1 → sink on the underlay"),
                   ("decap", "Decap hop: generator of tunnel packets on the underlay → gw2 → sink in server2")):
    w(f"## {title}")
    w("")
    w("| configuration | frame | delivered Mpps | vs kernel fwd | vs VXLAN | vs l3fwd | gateway saturated? | gateway CPU1 ns/pkt | of which softirq | gateway process ns/pkt | generator Mpps |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        k = values("kernel", hop, size, "delivered_pps")
        v = values("vxlan", hop, size, "delivered_pps")
        l3 = values("l3fwd", hop, size, "delivered_pps")
        for c in configs:
            d = values(c, hop, size, "delivered_pps")
            if not d and not values(c, hop, size, "sent"):
                continue
            w(f"| {NAMES.get(c, c)} | {size} B | {fmt_mpps(d)} | {fmt_ratio(ratio(d, k))} | {fmt_ratio(ratio(d, v))} | {fmt_ratio(ratio(d, l3))} | {saturated(c, hop, size)} | "
              f"{fmt_ns(values(c, hop, size, 'cpu1_exact_ns_per_pkt') or values(c, hop, size, 'cpu1_ns_per_pkt'))} | {fmt_ns(values(c, hop, size, 'softirq_ns_per_pkt'))} | "
              f"{fmt_ns(values(c, hop, size, 'proc_ns_per_pkt'))} | {fmt_mpps(values(c, hop, size, 'gen_pps'))} |")
    w("")

w("## Where the time goes (FastTun gateway)")
w("")
w("CPU time per delivered packet, split: the gateway process (fasttun, or l3fwd) in user space (pipeline, ring handling) and in the kernel "
  "(system time: the AF_XDP copy-mode transmit, skb allocation and veth xmit run inside its sendto kicks; AF_PACKET "
  "tx-ring kicks likewise), and CPU1's softirq. Packets per wakeup = delivered packets ÷ voluntary context switches "
  "of the process's threads (each is a sleep in poll(2) when the worker found nothing to do).")
w("")
w("| configuration | hop | frame | user ns/pkt | system ns/pkt | CPU1 softirq ns/pkt | CPU1 busy ns/pkt | vs kernel fwd's CPU1 busy | packets per wakeup |")
w("|---|---|---|---|---|---|---|---|---|")
for hop in ("encap", "decap"):
    for size in sizes:
        kb = values("kernel", hop, size, "cpu1_exact_ns_per_pkt")
        for c in configs:
            if c in ("kernel", "vxlan") or not values(c, hop, size, "sent"):
                continue
            ppw = values(c, hop, size, "pkts_per_wakeup")
            cb = values(c, hop, size, "cpu1_exact_ns_per_pkt")
            w(f"| {NAMES.get(c, c)} | {hop} | {size} B | {fmt_ns(values(c, hop, size, 'proc_user_ns_per_pkt'))} | "
              f"{fmt_ns(values(c, hop, size, 'proc_sys_ns_per_pkt'))} | {fmt_ns(values(c, hop, size, 'softirq_ns_per_pkt'))} | "
              f"{fmt_ns(cb)} | {fmt_ratio(ratio(cb, kb))} | "
              f"{'—' if not ppw else f'{med(ppw):.0f}'} |")
w("")
w("User and system are the process's exact run time (schedstat) split in the proportion of its utime/stime tick "
  "samples; system includes softirq work that interrupted the process (the veth transmit runs the receiver's NAPI "
  "inside the sender's syscall), so it overlaps the softirq column, which is CPU1's tick-sampled softirq time (also "
  "the kernel forwarding's whole cost). CPU1 busy is exact (wall clock minus cpuidle residency) and includes "
  "whatever else ran on CPU1.")
w("")
w("For comparison the kernel's whole forwarding cost on CPU1 is its softirq column in the hop tables above.")
w("")
diags = [r for r in recs if r["kind"] == "diag" and r.get("ok") and r.get("perf")]
if diags:
    w("Syscalls of the gateway process (one extra 64 B trial per configuration after the rounds, `perf stat` on the "
      "syscall tracepoints attached to `fasttun run` for the trial minus one second; packets = delivered rate × that time). "
      "The worker kicks tx with one sendto per burst when need_wakeup asks for it (copy mode: always), and sleeps in "
      "poll only after empty passes.")
    w("")
    w("| configuration | hop | delivered Mpps | syscalls per packet | packets per sendto (tx kick) | recvfrom per packet | poll per packet |")
    w("|---|---|---|---|---|---|---|")
    for r in diags:
        p = r["perf"]
        pk = r["delivered_pps"] * r["perf_seconds"]
        if pk <= 0:
            continue
        send = p.get("sys_enter_sendto", 0)
        w(f"| {NAMES.get(r['config'], r['config'])} | {r['hop']} | {r['delivered_pps'] / 1e6:.3f} | "
          f"{p.get('sys_enter', 0) / pk:.3f} | {'—' if not send else f'{pk / send:.1f}'} | "
          f"{p.get('sys_enter_recvfrom', 0) / pk:.4f} | {p.get('sys_enter_poll', 0) / pk:.4f} |")
    w("")

w("## Generator")
w("")
w("Packets per second that the peer of a bare veth received (no XDP on it), 64-byte frames, same CPU and priority, "
  "interleaved once per round: `fasttun gen --driver af_xdp --batch 256 --rate max` against `trafgen --cpus 1`.")
w("")
gen_fast = [g["pps"] for g in gens if g["tool"] == "fasttun-gen"]
gen_tg = [g["pps"] for g in gens if g["tool"] == "trafgen"]
w("| generator | Mpps |")
w("|---|---|")
w(f"| fasttun gen (AF_XDP) | {fmt_mpps(gen_fast)} |")
w(f"| trafgen (AF_PACKET TX_RING) | {fmt_mpps(gen_tg)} |")
w("")

w("## Full path server1 → gw1 → gw2 → server2")
w("")
w("| configuration | ping RTT avg ms | vs kernel fwd | iperf3 TCP Gbit/s | vs kernel fwd | idle gateways' CPU % |")
w("|---|---|---|---|---|---|")
def pv(c, key):
    return [p[key] for p in paths if p["config"] == c and p.get(key) is not None]
kr, kt = pv("kernel", "rtt_ms"), pv("kernel", "tcp_bps")
for c in path_configs:
    r, t = pv(c, "rtt_ms"), pv(c, "tcp_bps")
    rs = "—" if not r else f"{med(r):.3f} ({min(r):.3f}–{max(r):.3f})"
    ts = "—" if not t else f"{med(t) / 1e9:.2f} ({min(t) / 1e9:.2f}–{max(t) / 1e9:.2f})"
    ic = pv(c, "idle_cpu_pct")
    w(f"| {NAMES.get(c, c)} | {rs} | {fmt_ratio(ratio(r, kr))} | {ts} | {fmt_ratio(ratio(t, kt))} | {'—' if not ic else f'{max(ic):.3f}'} |")
w("")
w("Idle CPU: both gateways' exact run time (schedstat) over 2 s with no traffic after the ping and iperf3, in % of one core "
  "(the largest over the rounds).")
w("")

w("## Targets")
w("")
def verdict(ok):
    return "**met**" if ok else "**not met**"
def judged(r, target, own, base, hop, size):
    """A ratio against a generator-limited baseline is an upper bound: it can show a target missed, not met."""
    if r is None:
        return "—"
    base_limited = saturated(base, hop, size).startswith("no")
    own_limited = saturated(own, hop, size).startswith("no")
    if r >= target and base_limited:
        return f"{fmt_ratio(r)} (target ≥ {target:g}×: **not shown**: the {NAMES[base]} baseline was generator-limited, so this is an upper bound)"
    if r < target and own_limited:
        return f"{fmt_ratio(r)} (target ≥ {target:g}×: **not shown**: FastTun was generator-limited, so this is a lower bound)"
    return f"{fmt_ratio(r)} (target ≥ {target:g}×: {verdict(r >= target)})"


def cost(c, hop, size):
    """Gateway-core CPU per packet: the fasttun process plus CPU1 softirq, or the kernel's CPU1 softirq."""
    soft = values(c, hop, size, "softirq_ns_per_pkt")
    if not soft:
        return None
    proc = values(c, hop, size, "proc_ns_per_pkt")
    return med(soft) + (med(proc) if proc else 0)


w("Delivered-rate ratios at the generator's limit:")
w("")
for hop in ("encap", "decap"):
    for size in sizes:
        for c in ("xdp-ipip", "xdp-gre"):
            d = values(c, hop, size, "delivered_pps")
            rk, rv = ratio(d, values("kernel", hop, size, "delivered_pps")), ratio(d, values("vxlan", hop, size, "delivered_pps"))
            if rk is None:
                continue
            w(f"- {hop} hop, {size} B, {NAMES[c]}: {judged(rv, 2, c, 'vxlan', hop, size)} kernel VXLAN; "
              f"{judged(rk, 1.0, c, 'kernel', hop, size)} kernel forwarding.")
w("")
w("Capacity estimated from CPU cost on the gateway core (packets per second one core could forward = 1 s ÷ ns per "
  "packet; FastTun = its process time + CPU1 softirq, kernel = CPU1 softirq; the share of the receive work that runs "
  "on CPU0 is left out of both):")
w("")
for hop in ("encap", "decap"):
    for size in sizes:
        ck, cv = cost("kernel", hop, size), cost("vxlan", hop, size)
        for c in ("xdp-ipip", "xdp-gre"):
            cf = cost(c, hop, size)
            if not cf or not ck or not cv:
                continue
            w(f"- {hop} hop, {size} B, {NAMES[c]}: {cf:.0f} ns/pkt ≈ {1e3 / cf:.2f} Mpps per core; kernel forwarding "
              f"{ck:.0f} ns ≈ {1e3 / ck:.2f} Mpps → {ck / cf:.2f}× (target ≥ 1.0×: {verdict(ck / cf >= 1)}); kernel VXLAN "
              f"{cv:.0f} ns ≈ {1e3 / cv:.2f} Mpps → {cv / cf:.2f}× (target ≥ 2×: {verdict(cv / cf >= 2)}).")
w("")
for hop in ("encap", "decap"):
    for size in sizes:
        l3 = values("l3fwd", hop, size, "delivered_pps")
        for c in FASTTUN:
            r = ratio(values(c, hop, size, "delivered_pps"), l3)
            if r is not None:
                w(f"- {hop} hop, {size} B, {NAMES[c]}: {judged(r, 1.5, c, 'l3fwd', hop, size)} DPDK l3fwd (AF_XDP PMD).")
for c in path_configs:
    if c not in FASTTUN:
        continue
    rr = ratio(pv(c, "rtt_ms"), kr)
    ic = pv(c, "idle_cpu_pct")
    if rr is not None:
        w(f"- ping RTT, {NAMES[c]}: {rr:.2f}× kernel forwarding (target ≤ 1.5×: {verdict(rr <= 1.5)})"
          + ("." if not ic else f"; the two idle gateways used {max(ic):.3f} % of a core together (target: no busy polling, "
                                f"under 1 % per gateway: {verdict(max(ic) < 2)}; what remains is the .NET runtime's timers and "
                                f"tiered JIT and the worker's 100 ms poll timeout)."))
if gen_fast and gen_tg:
    rg = med(gen_fast) / med(gen_tg)
    w(f"- generator alone into a veth: {med(gen_fast) / 1e6:.3f} Mpps, {rg:.2f}× trafgen measured in the same run "
      f"({med(gen_tg) / 1e6:.3f} Mpps; target: more than trafgen: {verdict(rg > 1)}; more than LAB-NOTES' 0.47 Mpps on this "
      f"loaded machine: {verdict(med(gen_fast) > 0.47e6)}).")
w("")

w("## Method")
w("")
w("""- Topology: `bench/e2e/topology.sh up --prefix ge- --mode fasttun|kernel|vxlan --mtu 1600 --offload off`, plus
  `ethtool -K eth1|eth2 tx off tso off gso off` on the gateways' veths and `rps_cpus=2` on every gateway veth.
  Underlay MTU 1600 so that 1500-byte IP packets fit in every tunnel (IPIP +20, GRE +24, VXLAN +50).
- Frame sizes: 64 = 64-byte Ethernet frames (FCS excluded); 1514 = 1500-byte IP packets. On the encap hop the
  sink sees them larger by the tunnel header, on the decap hop the generator sends them larger.
- CPU placement: CPU0 runs the generator and the sink (`nice -n -19 taskset -c 0`), CPU1 the gateway
  (`chrt -r 10 taskset -c 1 fasttun run`: real-time round-robin, so that like the kernel's softirq it is not
  time-shared with the other helpers' compilers; 5 % of CPU1 stays with them through RT throttling); kernel
  forwarding lands on CPU1 through RPS on the ingress veth, and ksoftirqd/1 (where the kernel's softirq work goes
  under load) gets the same `chrt -r 10` for the run (restored afterwards), so both kinds of gateway are treated alike. AF_XDP receive work (XDP redirect and the copy
  into the gateway's rx ring) runs in the veth NAPI of the sender, i.e. on CPU0, because RPS does not apply to XDP;
  the kernel work of the gateway's transmissions (veth xmit, the sink's XDP receive) runs on CPU1 in every mode.
- Gateway CPU per packet: delta of CPU1's user+nice+system+irq+softirq jiffies in /proc/stat over the generator's
  run ÷ packets delivered; "of which softirq" is the softirq column alone; "fasttun process" is utime+stime of the
  `fasttun run` process (/proc/PID/stat) over the same window ÷ packets. CLK_TCK = 100, so a 3 s trial resolves
  about 0.3 %. Other processes that happen to run on CPU1 are included: noise, not signal.
- Neighbours are static (`set fasttun neighbor A mac M` lines appended to the configs; `ip neigh replace … nud
  permanent` for the kernel), so no trial waits for ARP; the sinks also answer ARP (`--ip`).
- Full path: both gateways on CPU1 (`set fasttun workers 1`, same chrt),  `ping -q -c 50 -i 0.02` average RTT,
  `iperf3 -c 10.1.8.10 -t 3` one TCP stream (client and server on CPU0, server offloads off).

Exact commands of one trial (encap hop, FastTun AF_XDP IPIP, 64 B):

```
ip netns exec ge-gw1 chrt -r 10 taskset -c 1 fasttun run --config gw1-ipip.conf   # + driver, workers 1, static neighbour
ip netns exec ge-gw2 nice -n -19 taskset -c 0 fasttun sink --iface eth2 --ip 172.12.1.11 --duration 33 --json
ip netns exec ge-server1 nice -n -19 taskset -c 0 fasttun gen --iface net0 --size 64 --rate max --flows 16 --duration 3 \\
    --batch 256 --json --dst 10.1.8.10:9 --src 10.1.5.10 --dst-mac <gw1 eth1 MAC>
# decap hop: ip netns exec ge-gw1 nice -n -19 taskset -c 0 fasttun gen --iface eth2 ... --encap ipip|gre|vxlan \\
#     --outer-src 172.12.1.10 --outer-dst 172.12.1.11 [--vni 42 --inner-dst-mac <gw2 tun0 MAC>] --dst-mac <gw2 eth2 MAC>
```
""")
w("Raw per-trial records: bench/e2e/last-results.jsonl.")
w("")
for section in KEPT:
    w(section)
    w("")
open(a.out, "w").write("\n".join(out))
