#!/usr/bin/env bash
# Idle CPU of one gateway per thread: gw1 of edge-lab.sh, schedstat run time of every thread over 10 s after 8 s of
# settling. Run under the bench lock: FASTTUN_BIN=<build>/fasttun EDGE_PREFIX=idle- flock /tmp/fasttun-bench.lock bash bench/e2e/idle-threads.sh
source "$(dirname "$0")/edge-lab.sh"
trap lab_down EXIT
lab_up
start_gw1
sleep 8
snap() { for t in /proc/$GW_PID/task/*; do echo "$(basename $t) $(cat $t/comm | tr ' ' _) $(cut -d" " -f1 $t/schedstat)"; done; }
snap > $work/idle-a.txt; sleep 10; snap > $work/idle-b.txt
join <(sort $work/idle-a.txt) <(sort $work/idle-b.txt) | awk '{d=($5-$3)/1e6; if (d>0.05) print $2, d" ms"; s+=d} END {print "total", s" ms in 10 s"}' | sort -k2 -nr | head
