#!/usr/bin/env python3
"""bench/hub-ab.sh's JSON lines: per build, the median ns/pkt with 1 spoke and with N, and the hub ratio (N over 1) of
each round, whose median is the figure #15 item 5 sets a target for (<= 1.10)."""
import collections
import json
import statistics
import sys

ns = collections.defaultdict(dict)   # (build, round) -> {tunnels: ns}
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row["r"] is None:
        print(f"failed run: round {row['round']} tunnels {row['tunnels']} {row['build']}", file=sys.stderr)
        continue
    ns[(row["build"], row["round"])][row["tunnels"]] = row["r"]["ns_per_packet"]
for build in dict.fromkeys(b for b, _ in sorted(ns, key=lambda k: k[1])):
    rounds = [v for (b, _), v in sorted(ns.items(), key=lambda kv: kv[0][1]) if b == build]
    spokes = sorted({t for v in rounds for t in v})
    if len(spokes) != 2:
        print(f"{build}: need runs with 1 and N spokes, have {spokes}", file=sys.stderr)
        continue
    one, many = spokes
    pairs = [(v[one], v[many]) for v in rounds if one in v and many in v]
    ratios = [m / o for o, m in pairs]
    print(f"{build}: 1 spoke median {statistics.median(o for o, _ in pairs):.2f} ns, {many} spokes median "
          f"{statistics.median(m for _, m in pairs):.2f} ns; hub ratio per round {[round(x, 3) for x in ratios]}, "
          f"median {statistics.median(ratios):.3f} (target <= 1.10)")
