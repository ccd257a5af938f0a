#!/usr/bin/env python3
"""Medians per mode and build of bench/worker-ab.sh's JSON lines, with each run's ns/pkt and cpu_share."""
import collections
import json
import statistics
import sys

runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row["r"] is None:
        print(f"failed run: round {row['round']} {row['mode']} {row['build']}", file=sys.stderr)
        continue
    runs[(row["mode"], row["build"])].append((row["r"]["ns_per_packet"], row["r"].get("cpu_share")))
for (mode, build), v in sorted(runs.items()):
    print(f"{mode} {build} median {statistics.median(x[0] for x in v):.2f} ns "
          f"rounds {[round(x[0], 2) for x in v]} cpu_share {[x[1] for x in v]}")
