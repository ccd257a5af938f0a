#!/usr/bin/env python3
"""One sample of a gateway for hop-profile.sh: per-thread CPU (exact run time from schedstat, utime/stime tick
samples, voluntary context switches) grouped by thread name, CPU1's softirq jiffies, and the gateway's own
counters from one raw `show stats` on its control socket. Prints one JSON line.
Usage: proc_sample.py PID CONTROL_SOCKET"""
import json, os, socket, sys, time
pid, sock = sys.argv[1], sys.argv[2]
t = time.monotonic()
threads = {}
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        base = f"/proc/{pid}/task/{tid}"
        comm = open(f"{base}/comm").read().strip()
        stat = open(f"{base}/stat").read()
        fields = stat[stat.rindex(")") + 2:].split()
        ut, st = int(fields[11]), int(fields[12])
        run = int(open(f"{base}/schedstat").read().split()[0])
        vcs = 0
        for line in open(f"{base}/status"):
            if line.startswith("voluntary_ctxt_switches:"): vcs = int(line.split()[1])
        threads[tid] = {"comm": comm, "ut": ut, "st": st, "run": run, "vcs": vcs}
    except (OSError, ValueError):
        pass
soft = 0
for line in open("/proc/stat"):
    p = line.split()
    if p[0] == "cpu1": soft = int(p[7])
stats = None
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(sock)
    s.sendall(b'{"cmd":"show","what":"stats"}\n')
    stats = json.loads(s.makefile("rb").readline()).get("data")
    s.close()
except Exception as e:
    stats = {"error": str(e)}
print(json.dumps({"t": t, "threads": threads, "softirq": soft, "stats": stats}))
