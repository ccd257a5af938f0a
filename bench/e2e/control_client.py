#!/usr/bin/env python3
"""Raw control-socket client for control-latency.sh: N `show stats` requests on one connection, one at a time,
each timed from send to the end of its answer line; prints one JSON line: p50/p99/max in ms and the gateway's
forwarded-packet rate over the run (from the answers' counters)."""
import json, socket, sys, time
path, count, gap_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rb")
req = b'{"cmd":"show","what":"stats"}\n'
lat, first, last = [], None, None
for _ in range(count):
    t0 = time.perf_counter()
    s.sendall(req)
    line = f.readline()
    lat.append((time.perf_counter() - t0) * 1e3)
    ans = json.loads(line)
    fwd = ans.get("data", {}).get("forwarded")
    if fwd is None:
        fwd = sum(w.get("forwarded", 0) for w in ans.get("data", {}).get("workers", []))
    now = time.monotonic()
    if first is None: first = (now, fwd)
    last = (now, fwd)
    time.sleep(gap_ms / 1e3)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
pps = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else 0
print(json.dumps({"n": len(lat), "p50_ms": round(q(0.50), 3), "p99_ms": round(q(0.99), 3), "max_ms": round(lat[-1], 3), "forwarded_pps": round(pps)}))
