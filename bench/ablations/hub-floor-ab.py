"""Reads hub-floor-ab.sh's lines: per arm, the median of every in-process ratio, each sitting's median, and the 1-spoke and
hub ns per packet (median, min)."""
import collections
import json
import statistics as st
import sys

arms = collections.OrderedDict()
for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d["r"]
    if not r:
        continue
    a = arms.setdefault(d["arm"], {"ratio": [], "one": [], "hub": [], "sit": []})
    a["sit"].append(r["ratio_median"])
    a["ratio"] += r["ratios"]
    a["one"] += r["one_spoke_ns"]
    a["hub"] += r["hub_ns"]
for k, a in arms.items():
    print(f"{k:24s} n={len(a['ratio']):3d} ratio median {st.median(a['ratio']):.3f}  sittings "
          f"{' '.join('%.3f' % x for x in a['sit'])}  1 spoke {st.median(a['one']):.1f} (min {min(a['one']):.1f})  "
          f"hub {st.median(a['hub']):.1f} (min {min(a['hub']):.1f}) ns")
