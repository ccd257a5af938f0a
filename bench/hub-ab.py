#!/usr/bin/env python3
"""bench/hub-ab.sh's JSON lines: per build, the median ns/pkt with 1 spoke and with N, and the hub ratio (N over 1) of
each round, whose median is the figure #15 item 5 sets a target for (<= 1.10). In-process lines (the default) carry
every round of one process; two-process lines (IN_PROCESS=0) one run each."""
import collections
import json
import statistics
import sys

ones = collections.defaultdict(list)    # build -> 1-spoke ns of every round
many = collections.defaultdict(list)    # build -> N-spoke ns of every round
ratios = collections.defaultdict(list)  # build -> N over 1 of every round
sittings = collections.defaultdict(list)  # build -> median ratio of each in-process sitting
pairs = collections.defaultdict(dict)   # (build, round) -> {tunnels: ns}, two-process lines
spokes = set()
for line in open(sys.argv[1]):
    row = json.loads(line)
    if "in_process" in row:
        d = row["in_process"]
        if d is None:
            print(f"failed run: round {row['round']} {row['build']}", file=sys.stderr)
            continue
        spokes.add(d["spokes"])
        ones[row["build"]] += d["one_spoke_ns"]
        many[row["build"]] += d["hub_ns"]
        ratios[row["build"]] += d["ratios"]
        sittings[row["build"]].append(d["ratio_median"])
    elif row["r"] is None:
        print(f"failed run: round {row['round']} tunnels {row['tunnels']} {row['build']}", file=sys.stderr)
    else:
        pairs[(row["build"], row["round"])][row["tunnels"]] = row["r"]["ns_per_packet"]
for (build, _), v in sorted(pairs.items(), key=lambda kv: kv[0][1]):
    if len(v) == 2:
        one, n = sorted(v)
        spokes.add(n)
        ones[build].append(v[one])
        many[build].append(v[n])
        ratios[build].append(v[n] / v[one])
n = "/".join(str(s) for s in sorted(spokes)) or "N"
for build in ones:
    extra = f"; sitting medians {sittings[build]}" if sittings[build] else ""
    print(f"{build}: 1 spoke median {statistics.median(ones[build]):.2f} ns, {n} spokes median "
          f"{statistics.median(many[build]):.2f} ns; hub ratio over {len(ratios[build])} rounds: median "
          f"{statistics.median(ratios[build]):.3f} (target <= 1.10){extra}")
