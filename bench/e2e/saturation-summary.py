#!/usr/bin/python3
"""Summary of a bench/e2e/run.sh results.jsonl measured at several offered rates (GEN_RATES): for each
configuration, hop and size, the median over rounds at every offered rate, the peak (the highest of those
medians) and the ratios of FastTun's peak and at-max figures to the baselines' measured in the same run.
Markdown on stdout.

Who is saturated: a trial whose generator offered >= 1.3x what the sink received, with the gateway's core
(CPU1) >= 90 % busy, is gateway-saturated ("gw"); offered >= 1.3x delivered with CPU1 below 90 % means the
frames were lost before the gateway's core (the ingress NAPI on CPU0, its ring) ("in"); else not saturated ("-").
"""
import json
import statistics
import sys

recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hops = [r for r in recs if r.get("kind") == "hop" and r.get("ok")]
FASTTUN = [c for c in ("xdp-ipip", "xdp-gre", "pkt-ipip", "pkt-gre") if any(r["config"] == c for r in hops)]
BASE = [c for c in ("kernel", "vxlan", "l3fwd") if any(r["config"] == c for r in hops)]


def rate_key(rate):
    if rate == "max":
        return float("inf")
    mult = {"k": 1e3, "M": 1e6}.get(rate[-1], 1)
    return float(rate.rstrip("kM")) * mult


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


groups = {}
for r in hops:
    groups.setdefault((r["config"], r["hop"], r["size"], r.get("gen_rate", "max")), []).append(r)


def row(rs):
    return {
        "n": len(rs),
        "offered": med([r["gen_pps"] for r in rs]),
        "delivered": med([r["delivered_pps"] for r in rs]),
        "rounds": [r["delivered_pps"] for r in rs],
        "busy": med([r.get("cpu1_busy_share") for r in rs]),
        "cpu1": med([r.get("cpu1_ns_per_pkt") for r in rs]),
        "puser": med([r.get("proc_user_ns_per_pkt") for r in rs]),
        "psys": med([r.get("proc_sys_ns_per_pkt") for r in rs]),
        "soft": med([r.get("softirq_ns_per_pkt") for r in rs]),
        "u": med([r.get("cpu1_user_ns_per_pkt") for r in rs]),
        "s": med([r.get("cpu1_sys_ns_per_pkt") for r in rs]),
        "i": med([r.get("cpu1_irq_ns_per_pkt") for r in rs]),
        "ring_drops": med([r.get("ingress", {}).get("rx_queue_0_drops", 0) / r["seconds"] for r in rs]),
    }


def who(x):
    if x["offered"] and x["delivered"] and x["offered"] >= 1.3 * x["delivered"]:
        return "gw" if (x["busy"] or 0) >= 0.9 else "in"
    return "-"


def f(v, fmt="%.0f"):
    return fmt % v if v is not None else "—"


configs = FASTTUN + BASE
print("| config | hop | B | offered Mpps | delivered Mpps (rounds) | saturated | CPU1 busy | CPU1 ns/pkt | process user / sys ns/pkt | CPU1 user / sys / irq+softirq ns/pkt | ingress ring drops Mpps |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
peak, atmax = {}, {}
for c in configs:
    for hop in ("encap", "decap"):
        for size in sorted({k[2] for k in groups}):
            rates = sorted({k[3] for k in groups if k[:3] == (c, hop, size)}, key=rate_key)
            best = None
            for rate in rates:
                x = row(groups[(c, hop, size, rate)])
                print("| %s | %s | %d | %s (%s) | %s (%s) | %s | %s | %s | %s / %s | %s / %s / %s | %s |" % (
                    c, hop, size, f(x["offered"] / 1e6, "%.3f"), rate, f(x["delivered"] / 1e6, "%.3f"),
                    " / ".join("%.3f" % (v / 1e6) for v in x["rounds"]), who(x), f(x["busy"], "%.2f"), f(x["cpu1"]),
                    f(x["puser"]), f(x["psys"]), f(x["u"]), f(x["s"]), f(x["i"]), f(x["ring_drops"] / 1e6, "%.2f")))
                if best is None or x["delivered"] > best["delivered"]:
                    best = dict(x, rate=rate)
                if rate == "max":
                    atmax[(c, hop, size)] = x
            if best:
                peak[(c, hop, size)] = best

print()
print("| FastTun | hop | B | peak Mpps (at) | vs kernel fwd | vs VXLAN | vs l3fwd | at max: Mpps, vs kernel / VXLAN / l3fwd |")
print("|---|---|---|---|---|---|---|---|")
for c in FASTTUN:
    for (cc, hop, size), x in sorted(peak.items()):
        if cc != c:
            continue
        def ratio(base, table):
            b = table.get((base, hop, size))
            a = table.get((c, hop, size))
            return "%.2f×" % (a["delivered"] / b["delivered"]) if a and b and b["delivered"] else "—"
        m = atmax.get((c, hop, size))
        print("| %s | %s | %d | %.3f (%s) | %s | %s | %s | %s, %s / %s / %s |" % (
            c, hop, size, x["delivered"] / 1e6, x["rate"], ratio("kernel", peak), ratio("vxlan", peak), ratio("l3fwd", peak),
            f(m["delivered"] / 1e6 if m else None, "%.3f"), ratio("kernel", atmax), ratio("vxlan", atmax), ratio("l3fwd", atmax)))
print()
print("Baselines' peaks: " + ", ".join("%s %s %.3f Mpps (at %s)" % (c, hop, x["delivered"] / 1e6, x["rate"])
                                    for (c, hop, size), x in sorted(peak.items()) if c in BASE))
