#!/usr/bin/env python3
"""Reads a tracefs instance's trace (events sys_enter_poll, sys_exit_poll, sys_enter_sendto of the gateways' worker
threads, see path-latency.sh TRACE=1) and prints one JSON object: per worker, the user-mode time from poll(2)
returning to the first sendto (the transmit kick of the pass that forwarded the frame), split into cold passes (the
poll slept >= COLD_MS before returning) and warm ones. Argument: trace file, then NAME=TID pairs."""
import json, re, statistics, sys

COLD_MS = float(__import__("os").environ.get("COLD_MS", "5.0"))
# tracefs prints "sys_poll(ufds: ...)" on entry, "sys_poll -> 0x1" on exit, "sys_sendto(fd: ...)" on entry.
line_re = re.compile(r"^\s*.+-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+sys_(p?poll|sendto)(\(| -> )")
names = dict((int(t), n) for n, t in (a.split("=") for a in sys.argv[2:]))
state = {}   # tid -> (poll enter time, poll exit time or None)
out = {n: {"cold": [], "warm": []} for n in names.values()}
for line in open(sys.argv[1], errors="replace"):
    m = line_re.match(line)
    if not m: continue
    tid, ts, call, enter = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4) == "("
    if tid not in names: continue
    s = state.setdefault(tid, [None, None, 0.0])
    if call != "sendto" and enter: s[0] = ts; s[1] = None
    elif call != "sendto":
        if s[0] is not None: s[1] = ts; s[2] = (ts - s[0]) * 1e3
    elif s[1] is not None:   # first sendto after the poll returned
        kind = "cold" if s[2] >= COLD_MS else "warm"
        out[names[tid]][kind].append((ts - s[1]) * 1e6)
        s[1] = None
res = {}
for n, d in out.items():
    for k in ("cold", "warm"):
        v = sorted(d[k])
        res[f"{n}_{k}_n"] = len(v)
        res[f"{n}_{k}_p50_us"] = round(statistics.median(v), 1) if v else None
        res[f"{n}_{k}_p90_us"] = round(v[int(0.9 * (len(v) - 1))], 1) if v else None
print(json.dumps(res))
