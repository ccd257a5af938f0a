#!/usr/bin/env bash
# Arms of one build, interleaved, SITTINGS sittings; each run is one process of `bench worker --ratio-rounds 6` (the hub
# ratio of #15 item 5: N spokes over 1 spoke, rounds alternating in the process). An arm is a list of environment
# assignments (the ablation switches of hub-floor.patch), e.g.:
#   B=/tmp/floor/src/FastTun.Gateway/bin/Release/net10.0 bash bench/ablations/hub-floor-ab.sh out.jsonl 6 FT_ORACLE=0 FT_ORACLE=1 FT_ORACLE=3
#   python3 bench/ablations/hub-floor-ab.py out.jsonl
# SPOKES (10000) and HUB_ARGS ("--hub-gre", "--active-spokes 16", "--spoke-burst 8") as for the bench. Pinned to CPU 1 at nice -19.
set -uo pipefail
: "${B:?B=the directory holding the fasttun launcher of the build}"
out=$1; n=$2; shift 2
for s in $(seq 1 "$n"); do
  for arm in "$@"; do
    r=$(env $arm taskset -c "${CPU:-1}" nice -n -19 "$B/fasttun" bench worker --mode decap --routes 1000000 --frame 64 \
      --tunnels "${SPOKES:-10000}" --ratio-rounds 6 --seconds 0.5 --warmup 0.5 --json ${HUB_ARGS:-} 2>/dev/null | tail -1)
    echo "{\"sitting\":$s,\"arm\":\"$arm\",\"r\":${r:-null}}" >> "$out"
  done
done
