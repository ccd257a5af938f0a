#!/usr/bin/env bash
# Runs every test suite and prints one closing line "tests: N passed, N failed, N skipped".
# The packet suite runs three times: with all SIMD paths, with AVX-512 off, and with hardware intrinsics off
# so the Vector512/256/128 and scalar paths are each exercised on this CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-Release}
DOTNET=${DOTNET:-dotnet}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

run() { # label, env..., project
  local label=$1; shift
  echo "=== $label"
  # PIPESTATUS must be read right after the pipeline: behind "|| true" it would be true's (always 0), and a
  # failing suite would leave the status 0. The suite's exit code decides, not the filter's.
  # A failed test's message and the top of its stack follow its "  Failed " line (at most 60 lines each): a CI log
  # then says which assertion failed, not only which test.
  env "$@" 2>&1 | tee -a "$log" | awk '
    /^  Failed / { detail = 60 }
    /^(Passed!|Failed!|  Skipped |\[xUnit.*(FAIL|SKIP))|error/ || detail > 0 { print; fflush() }
    detail > 0 { detail--; if (/^  Standard Output Messages:/) detail = 0 }'
  local codes=("${PIPESTATUS[@]}")
  [ "${codes[0]}" -eq 0 ] || status=1
}
# The console logger at minimal prints each failed test's message and stack (quiet alone prints only its name).
t() { echo "$DOTNET" test "$1" -c "$CONFIG" --no-build --nologo --verbosity quiet --logger "console;verbosity=minimal"; }

run "packets"                              $(t tests/FastTun.Packets.Tests)
# On .NET 10 DOTNET_EnableAVX512F=0 alone leaves Vector512 accelerated; DOTNET_EnableAVX512=0 turns it off.
run "packets, AVX-512 off (DOTNET_EnableAVX512F=0 DOTNET_EnableAVX512=0)" DOTNET_EnableAVX512F=0 DOTNET_EnableAVX512=0 $(t tests/FastTun.Packets.Tests)
run "packets, DOTNET_EnableHWIntrinsic=0"  DOTNET_EnableHWIntrinsic=0 $(t tests/FastTun.Packets.Tests)
run "traffic"                              $(t tests/FastTun.Traffic.Tests)
run "linux (root)"                         $(t tests/FastTun.Linux.Tests)
run "gateway (root, netns)"                $(t tests/FastTun.Gateway.Tests)

read -r passed failed skipped < <(awk '
  /^(Passed|Failed)!/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { f += $(i+1) }
      if ($i == "Passed:")  { p += $(i+1) }
      if ($i == "Skipped:") { s += $(i+1) }
    }
  }
  END { printf "%d %d %d\n", p, f, s }' FS='[ ,]+' "$log")
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ]; then echo "no test ran" >&2; status=1; fi
if [ "$failed" -gt 0 ]; then status=1; fi
exit $status
