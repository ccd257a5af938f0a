# CPU and process-time samplers shared by run.sh and afpacket-sweep.sh (sourced; needs GW_CPU set).
# The samples that open and close a trial's CPU window use shell builtins only: under a load average of 20 every
# fork+exec (awk, cat, grep, ps) costs tens of ms, and a dozen of them put the window's start seconds after the
# generator's (records carry window_s; report.py ignores CPU figures from windows shorter than 80 % of the trial).
# ns_of SECONDS.FRACTION -> integer ns
ns_of() { local w=${1%.*} f=${1#*.}000000000; echo $(( w * 1000000000 + 10#${f:0:9} )); }
# cpu1 busy and softirq jiffies, CPU1's exact busy time in ns (wall clock minus cpuidle residency), uptime in ns
cpu_sample() {
  local name u n sy idle io irq sirq rest up idle_us=0 t f
  for f in /sys/devices/system/cpu/cpu$GW_CPU/cpuidle/state*/time; do { read -r t < "$f"; } 2>/dev/null && idle_us=$((idle_us + t)); done
  read -r up _ < /proc/uptime; up=$(ns_of "$up")
  while read -r name u n sy idle io irq sirq rest; do
    [ "$name" = "cpu$GW_CPU" ] && { echo "$((u + n + sy + irq + sirq)) $sirq $((up - idle_us * 1000)) $up"; return; }
  done < /proc/stat
}
# utime stime (jiffies), voluntary context switches (sleeps in poll = wakeups) of all the process's threads, and
# the threads' exact run time in ns (schedstat; utime/stime are tick samples, which alias with a worker that wakes
# on the tick-driven TPACKET_V3 block timer)
proc_ticks() {
  local line k v t r=0 vcs=0 f pid=${1:-}
  if [ -n "$pid" ] && { read -r line < "/proc/$pid/stat"; } 2>/dev/null; then
    line=${line##*) }
    set -- $line   # state ppid ... : utime is field 12, stime 13 after the comm
    local ut=${12} st=${13}
    for f in /proc/"$pid"/task/*/schedstat; do { read -r t _ < "$f"; } 2>/dev/null && r=$((r + t)); done
    for f in /proc/"$pid"/task/*/status; do
      while read -r k v; do [ "$k" = voluntary_ctxt_switches: ] && vcs=$((vcs + v)); done < "$f" 2>/dev/null
    done
    echo "$ut $st $vcs $r"
  else echo "0 0 0 0"; fi
}
