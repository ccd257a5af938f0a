#!/usr/bin/env bash
# Start-up latency of `fasttun show stats` against an idle gateway: what `make install` ships (`make publish`:
# self-contained composite ReadyToRun), against BASELINE (another build's fasttun, e.g. main's `make publish`, when
# given) and the plain JIT build of the same source; with floors from the same run: `fasttun --version` (.NET
# start-up and System.CommandLine), a Console.WriteLine hello-world published the same way (the .NET floor here)
# and /bin/true (process spawn). Interleaved A B C ..., medians of ROUNDS runs each, p10/p90 to show the noise.
# Not a test: a figure for bench/RESULTS.md. Root (a namespace with one veth, an AF_PACKET gateway in it).
# Publishes first, then wraps the measurement in flock /tmp/fasttun-bench.lock so it never overlaps another benchmark.
#   [BASELINE=/path/to/old/fasttun] bash bench/cli/startup.sh [ROUNDS]     (default 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-30}
NS=cli-bench
JIT=src/FastTun.Gateway/bin/Release/net10.0/fasttun
[ -x "$JIT" ] || { echo "build first: dotnet build FastTun.sln -c Release" >&2; exit 1; }

if [ -z "${FASTTUN_BENCH_DIR:-}" ]; then
  # Publishing (minutes of crossgen2) happens before taking the lock; only the measurement holds it.
  DIR=$(mktemp -d /tmp/cli-bench.XXXXXX)
  trap 'rm -rf "$DIR"' EXIT
  make -s publish PUBLISH_DIR="$DIR/r2r" >/dev/null
  # The .NET floor: a hello-world published with the same flags as `make publish`.
  mkdir -p "$DIR/hello"
  cat > "$DIR/hello/hello.csproj" <<'CSPROJ'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework>
    <InvariantGlobalization>true</InvariantGlobalization><ConcurrentGarbageCollection>false</ConcurrentGarbageCollection>
  </PropertyGroup>
</Project>
CSPROJ
  echo 'System.Console.WriteLine("hello");' > "$DIR/hello/Program.cs"
  dotnet publish "$DIR/hello" -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=true \
    -p:PublishReadyToRunComposite=true -o "$DIR/hello/out" --verbosity quiet -nologo >/dev/null
  env FASTTUN_BENCH_DIR="$DIR" flock /tmp/fasttun-bench.lock bash "$0" "$@"
  exit
fi

DIR=$FASTTUN_BENCH_DIR
R2R=$DIR/r2r
SOCK=$DIR/fasttun.sock
GW_PID=
cleanup() {
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

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
python3 - "$ROUNDS" "$R2R/fasttun" "$JIT" "$SOCK" "$DIR/hello/out/hello" "${BASELINE:-}" <<'PY'
import statistics, subprocess, sys, time
rounds, r2r, jit, sock, hello, baseline = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
show = ["show", "stats", "--control-socket", sock]
variants = {"make publish": [r2r] + show}
if baseline:
    variants["BASELINE"] = [baseline] + show
variants.update({
    "jit build": [jit] + show,
    "--version": [r2r, "--version"],
    "hello world": [hello],
    "/bin/true": ["/bin/true"],
})
times = {k: [] for k in variants}
for _ in range(2):  # warm the page cache for all
    for argv in variants.values():
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
for _ in range(rounds):  # interleaved A B C D A B C D
    for name, argv in variants.items():
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - t0) * 1000)
m = {k: statistics.median(v) for k, v in times.items()}
for name, t in times.items():
    t.sort()
    print(f"{name:14s} median {m[name]:6.1f} ms  p10 {t[len(t)//10]:6.1f}  p90 {t[len(t)*9//10]:6.1f}  (n={len(t)})")
if baseline:
    print(f"ratio make publish / BASELINE: {m['make publish'] / m['BASELINE']:.2f}")
print(f"ratio make publish / jit build: {m['make publish'] / m['jit build']:.2f}")
print(f"make publish above the hello-world floor: {m['make publish'] - m['hello world']:.1f} ms")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
