#!/usr/bin/env bash
# Interleaved A/B of `fasttun bench worker` between builds (bench/RESULTS.md, integration6).
#   BUILDS="/tmp/base/ /tmp/new" ROUNDS=5 SPECS="ipip:64 decap:64 forward:64 gre:64 ipip:1500" bash bench/worker-ab.sh > out.jsonl
#   python3 bench/worker-ab.py out.jsonl
# Each BUILDS entry is a directory holding the fasttun launcher (a build output or a publish). Every run holds
# /tmp/fasttun-bench.lock, is pinned to CPU 1 at nice -19, and prints one JSON line per run.
set -euo pipefail
: "${BUILDS:?BUILDS=\"dir1 dir2 ...\" (directories with a fasttun launcher)}"
ROUNDS=${ROUNDS:-3}
SPECS=${SPECS:-"ipip:64 decap:64 forward:64 gre:64 ipip:1500"}
ROUTES=${ROUTES:-1000000}
SECONDS_EACH=${SECONDS_EACH:-3}
CPU=${CPU:-1}
for r in $(seq 1 "$ROUNDS"); do
  for spec in $SPECS; do
    mode=${spec%%:*}; frame=${spec##*:}
    for b in $BUILDS; do
      out=$(flock /tmp/fasttun-bench.lock taskset -c "$CPU" nice -n -19 "$b/fasttun" bench worker --mode "$mode" \
        --routes "$ROUTES" --frame "$frame" --seconds "$SECONDS_EACH" --json ${EXTRA_ARGS:-} 2>/dev/null | tail -1) || out=null
      [ -n "$out" ] || out=null
      echo "{\"round\":$r,\"mode\":\"$mode-$frame\",\"build\":\"$b\",\"r\":$out}"
    done
  done
done
