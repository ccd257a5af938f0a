#!/usr/bin/env bash
# Start-up latency of `fasttun show stats` against an idle gateway: the ReadyToRun publish (what `make install`
# ships) against the plain JIT build of the same source (the anchor), with `fasttun --version` (.NET start-up
# and the command tree) and /bin/true (process spawn) as floors; interleaved, medians of ROUNDS runs each.
# Not a test: a figure for bench/RESULTS.md. Root (a namespace with one veth, an AF_PACKET gateway in it).
# Wraps itself in flock /tmp/fasttun-bench.lock so it never overlaps another benchmark.
#   bash bench/cli/startup.sh [ROUNDS]        (default 30; prints medians, p90 and the ratio)
set -euo pipefail
[ -n "${FASTTUN_BENCH_LOCKED:-}" ] || exec env FASTTUN_BENCH_LOCKED=1 flock /tmp/fasttun-bench.lock bash "$0" "$@"
cd "$(dirname "$0")/../.."
ROUNDS=${1:-30}
NS=cli-bench
DIR=$(mktemp -d /tmp/cli-bench.XXXXXX)
R2R=$DIR/r2r
JIT=src/FastTun.Gateway/bin/Release/net10.0/fasttun
SOCK=$DIR/fasttun.sock
GW_PID=

cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

[ -x "$JIT" ] || { echo "build first: dotnet build FastTun.sln -c Release" >&2; exit 1; }
dotnet publish src/FastTun.Gateway -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o "$R2R" --verbosity quiet -nologo >/dev/null

ip netns add "$NS"
ip -n "$NS" link add cli-bench0 type veth peer name cli-bench1
ip -n "$NS" link set cli-bench0 up
ip -n "$NS" link set cli-bench1 up
cat > "$DIR/gw.conf" <<CONF
set interfaces ethernet cli-bench0 address '10.99.0.1/24'
set fasttun interface cli-bench0 driver af_packet
CONF
ip netns exec "$NS" "$R2R/fasttun" run --config "$DIR/gw.conf" --control-socket "$SOCK" >"$DIR/gw.log" 2>&1 &
GW_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$DIR/gw.log" >&2; exit 1; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$ROUNDS" "$R2R/fasttun" "$JIT" "$SOCK" <<'PY'
import statistics, subprocess, sys, time
rounds, r2r, jit, sock = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
show = ["show", "stats", "--control-socket", sock]
variants = {  # the anchor is the JIT build; /bin/true is the process-spawn floor; --version is .NET start-up alone
    "readytorun": [r2r] + show,
    "jit (anchor)": [jit] + show,
    "r2r --version": [r2r, "--version"],
    "/bin/true": ["/bin/true"],
}
times = {k: [] for k in variants}
for _ in range(2):  # warm the page cache for all
    for argv in variants.values():
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
for _ in range(rounds):  # interleaved A B C D A B C D
    for name, argv in variants.items():
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - t0) * 1000)
for name, t in times.items():
    t.sort()
    print(f"{name:14s} median {statistics.median(t):6.1f} ms  p10 {t[len(t)//10]:6.1f}  p90 {t[len(t)*9//10]:6.1f}  (n={len(t)})")
m = {k: statistics.median(v) for k, v in times.items()}
print(f"ratio readytorun/jit: {m['readytorun'] / m['jit (anchor)']:.2f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
