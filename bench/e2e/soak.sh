#!/usr/bin/env bash
# Issue #12 item 9: memory stays flat. A soak at half capacity: gw1 (IPIP encap, af_xdp by default) forwards
# generator traffic at half the rate it sustained in a short max-rate probe, for SOAK_SECONDS (600); RSS
# (VmRSS of gw1) is sampled every SAMPLE seconds. Pass: the last sample is within 5 % of the sample at minute 2.
# Writes the RSS curve to bench/e2e/soak-results.md (REPORT) and prints the verdict. Run it under the bench lock:
#   flock /tmp/fasttun-bench.lock bash bench/e2e/soak.sh
# Environment: SOAK_SECONDS (600), SAMPLE (10), PROBE_SECONDS (5), DRIVER (af_xdp), SIZE (64), REPORT.
source "$(dirname "$0")/edge-lab.sh"
SOAK_SECONDS=${SOAK_SECONDS:-600} SAMPLE=${SAMPLE:-10} PROBE_SECONDS=${PROBE_SECONDS:-5}
REPORT=${REPORT:-$root/bench/e2e/soak-results.md}
trap lab_down EXIT
trap 'exit 130' INT TERM
lab_up
start_gw1

# Capacity probe: generator at max; gw1's forwarded rate from two `show stats` answers.
fwd() { /usr/bin/python3 - "$SOCK" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"cmd":"show","what":"stats"}\n')
d = json.loads(s.makefile("rb").readline())["data"]
print(sum(w["forwarded"] for w in d["workers"]), sum(w["packets"] for w in d["workers"]), sum(w["consumed"] + w["rxDropped"] for w in d["workers"]))
PY
}
start_sink $((PROBE_SECONDS + 20))
start_gen max $((PROBE_SECONDS + 2))
sleep 1; read -r f0 _ _ < <(fwd); sleep "$PROBE_SECONDS"; read -r f1 _ _ < <(fwd)
stop "$GEN_PID"; stop "$SINK_PID"
capacity=$(( (f1 - f0) / PROBE_SECONDS ))
rate=$(( capacity / 2 ))
echo "capacity probe: $capacity pps forwarded; soaking at $rate pps for $SOAK_SECONDS s" >&2

start_sink $((SOAK_SECONDS + 60))
start_gen "$rate" "$SOAK_SECONDS"
t0=$(date +%s)
read -r s0 p0 o0 < <(fwd)
curve=$work/rss.tsv; : > "$curve"
while kill -0 "$GEN_PID" 2>/dev/null; do
  now=$(( $(date +%s) - t0 ))
  printf '%d\t%d\n' "$now" "$(rss_kb "$GW_PID")" >> "$curve"
  [ "$now" -ge "$SOAK_SECONDS" ] && break
  sleep "$SAMPLE"
done
read -r s1 p1 o1 < <(fwd)
stop "$GEN_PID"; stop "$SINK_PID"
/usr/bin/python3 - "$curve" "$REPORT" "$capacity" "$rate" "$SOAK_SECONDS" "$((s1 - s0))" "$((p1 - p0))" "$DRIVER" "$SIZE" <<'PY'
import sys, datetime
curve, report, capacity, rate, seconds, fwd, pkts, driver, size = sys.argv[1:]
rows = [tuple(map(int, l.split())) for l in open(curve) if l.strip()]
at2 = min(rows, key=lambda r: abs(r[0] - 120))
last = rows[-1]
change = (last[1] - at2[1]) / at2[1] * 100
ok = abs(change) <= 5
peak = max(r[1] for r in rows)
lines = [f"# Soak: gw1 RSS at half capacity ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC)", "",
         f"`flock /tmp/fasttun-bench.lock bash bench/e2e/soak.sh` — {driver}, {size}-byte frames, IPIP encap hop;",
         f"capacity probe {int(capacity):,} pps forwarded, soak at {int(rate):,} pps for {seconds} s "
         f"({int(fwd):,} packets forwarded of {int(pkts):,} received during the soak).", "",
         f"RSS at minute 2 ({at2[0]} s): {at2[1] / 1024:.1f} MB; at the end ({last[0]} s): {last[1] / 1024:.1f} MB; "
         f"change {change:+.2f} % (limit ±5 %): **{'PASS' if ok else 'FAIL'}**; peak {peak / 1024:.1f} MB.", "",
         "| t (s) | RSS (MB) | |", "|---:|---:|:---|"]
lo = min(r[1] for r in rows)
for t, kb in rows:
    bar = "#" * int(1 + 40 * (kb - lo) / max(1, peak - lo))
    lines.append(f"| {t} | {kb / 1024:.1f} | `{bar}` |")
open(report, "w").write("\n".join(lines) + "\n")
print("\n".join(lines[:6]))
PY
