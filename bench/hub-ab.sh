#!/usr/bin/env bash
# The hub ratio of #15 item 5, measured as it is defined: decap cost with N spokes over the cost with 1 spoke, the same
# build, in the same round (1 spoke and N spokes back to back), for every build in BUILDS interleaved.
#   BUILDS="/tmp/base /tmp/new" ROUNDS=4 SPOKES=10000 [HUB_ARGS="--hub-gre"] bash bench/hub-ab.sh > hub.jsonl
#   python3 bench/hub-ab.py hub.jsonl
# Each round runs, for each build: --tunnels 1, then --tunnels SPOKES (bench/worker-ab.sh: flock, CPU 1, nice -19).
set -euo pipefail
: "${BUILDS:?BUILDS=\"dir1 dir2 ...\" (directories with a fasttun launcher)}"
ROUNDS=${ROUNDS:-3}
SPOKES=${SPOKES:-10000}
here=$(dirname "$0")
for r in $(seq 1 "$ROUNDS"); do
  for b in $BUILDS; do
    for t in 1 "$SPOKES"; do
      BUILDS="$b" ROUNDS=1 SPECS="decap:64" EXTRA_ARGS="--tunnels $t ${HUB_ARGS:-}" bash "$here/worker-ab.sh" \
        | sed "s/^{\"round\":1,/{\"round\":$r,\"tunnels\":$t,/"
    done
  done
done
