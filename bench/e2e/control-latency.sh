#!/usr/bin/env bash
# Issue #12 item 5: a raw `show stats` on the control socket answers in p99 <= 2 ms while the datapath is
# saturated. Benchmark script, not a test: run it under the bench lock,
#   flock /tmp/fasttun-bench.lock bash bench/e2e/control-latency.sh
# Per round (ROUNDS, default 3), interleaved: idle (no traffic; the anchor) then saturated (generator at max
# rate through gw1 for the whole measurement). N requests (default 1000) 5 ms apart on one connection; the
# client runs at CLIENT_PRIO (default `chrt -f 1`: SCHED_FIFO; `nice -n -19` was not enough on the shared host,
# where even the idle anchor's p99 reached 2.5-8 ms from the client's own wake-ups among the neighbours'
# compilers), so its own scheduling does not count as server latency.
# Prints one JSON line per phase and a summary with medians of the rounds.
source "$(dirname "$0")/edge-lab.sh"
ROUNDS=${ROUNDS:-3} N=${N:-1000} CLIENT_PRIO=${CLIENT_PRIO-"chrt -f 1"}
trap lab_down EXIT
trap 'exit 130' INT TERM
lab_up
start_gw1
out=$work/latency.jsonl; : > "$out"
for r in $(seq 1 "$ROUNDS"); do
  printf '{"round":%d,"phase":"idle",' "$r" >> "$out"
  $CLIENT_PRIO /usr/bin/python3 "$root/bench/e2e/control_client.py" "$SOCK" "$N" 5 | sed 's/^{//' >> "$out"
  start_sink $((N * 6 / 1000 + 40))
  start_gen max $((N * 6 / 1000 + 20))
  printf '{"round":%d,"phase":"saturated",' "$r" >> "$out"
  $CLIENT_PRIO /usr/bin/python3 "$root/bench/e2e/control_client.py" "$SOCK" "$N" 5 | sed 's/^{//' >> "$out"
  stop "$GEN_PID"; stop "$SINK_PID"
done
cat "$out"
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for phase in ("idle", "saturated"):
    r = [x for x in rows if x["phase"] == phase]
    print(f"{phase:9s} median of {len(r)} rounds: p50 {statistics.median(x['p50_ms'] for x in r):.3f} ms, "
          f"p99 {statistics.median(x['p99_ms'] for x in r):.3f} ms, max {max(x['max_ms'] for x in r):.3f} ms, "
          f"gw1 forwarded {statistics.median(x['forwarded_pps'] for x in r):.0f} pps")
PY
