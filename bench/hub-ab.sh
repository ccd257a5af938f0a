#!/usr/bin/env bash
# The hub ratio of #15 item 5: decap cost per packet with N spokes over the cost with 1 spoke, the same build, for every
# build in BUILDS, builds interleaved, ROUNDS sittings.
#   BUILDS="/tmp/base /tmp/new" ROUNDS=4 SPOKES=10000 [HUB_ARGS="--hub-gre --spoke-burst 8"] bash bench/hub-ab.sh > hub.jsonl
#   python3 bench/hub-ab.py hub.jsonl
# Default (session 9): each sitting is one process per build, `fasttun bench worker --ratio-rounds K` (K=RATIO_ROUNDS,
# 4): 1 spoke and N spokes alternate in time inside the process, so the host's drift falls on both sides of every ratio.
# IN_PROCESS=0 (builds before session 9, which lack --ratio-rounds): --tunnels 1 then --tunnels N as two processes per
# build and round (bench/worker-ab.sh). Every run holds /tmp/fasttun-bench.lock, pinned to CPU 1 at nice -19.
set -euo pipefail
: "${BUILDS:?BUILDS=\"dir1 dir2 ...\" (directories with a fasttun launcher)}"
ROUNDS=${ROUNDS:-3}
SPOKES=${SPOKES:-10000}
here=$(dirname "$0")
for r in $(seq 1 "$ROUNDS"); do
  for b in $BUILDS; do
    if [ "${IN_PROCESS:-1}" = 1 ]; then
      out=$(flock /tmp/fasttun-bench.lock taskset -c "${CPU:-1}" nice -n -19 "$b/fasttun" bench worker --mode decap \
        --routes "${ROUTES:-1000000}" --frame 64 --tunnels "$SPOKES" --ratio-rounds "${RATIO_ROUNDS:-4}" \
        --seconds "${SECONDS_EACH:-1}" --warmup "${WARMUP:-0.7}" --json ${HUB_ARGS:-} 2>/dev/null | tail -1) || out=null
      [ -n "$out" ] || out=null
      echo "{\"round\":$r,\"build\":\"$b\",\"in_process\":$out}"
    else
      for t in 1 "$SPOKES"; do
        BUILDS="$b" ROUNDS=1 SPECS="decap:64" EXTRA_ARGS="--tunnels $t ${HUB_ARGS:-}" bash "$here/worker-ab.sh" \
          | sed "s/^{\"round\":1,/{\"round\":$r,\"tunnels\":$t,/"
      done
    fi
  done
done
