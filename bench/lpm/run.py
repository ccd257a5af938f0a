#!/usr/bin/env python3
"""`make bench-lpm`: FastTun's Lpm4Table side by side with DPDK's rte_lpm and rte_fib (bench/lpm/README.md).

Starts bench/lpm/dpdk_lpm_bench and `FastTun.Benchmarks lpm-side` pinned to the same CPU, feeds both the same
route and destination files, interleaves their rounds (DPDK, FastTun, DPDK, FastTun, ...), checks that every
implementation gave the same answers, and writes medians and ratios into bench/RESULTS.md between
<!-- begin:lpm --> and <!-- end:lpm -->."""
import argparse, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOOPS = ["bulk64", "single", "chain"]


class Side:
    """One benchmark process speaking the line protocol of dpdk_lpm_bench.c / LpmSideBySide.cs."""

    def __init__(self, name, argv):
        self.name, self.info = name, {}
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        for line in self._lines("ready"):
            if line.startswith("info "):
                _, key, value = line.split(None, 2)
                self.info[key] = value

    def _lines(self, until):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                sys.exit(f"bench-lpm: {self.name} exited early (status {self.proc.wait()})")
            line = line.strip()
            if line == until:
                return
            yield line

    def round(self):
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        results = {}
        for line in self._lines("done"):
            _, impl, loop, ns, check = line.split()
            results[(impl, loop)] = (float(ns), int(check))
        return results

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def run_table(label, routes, dests, cpu, rounds, dll):
    answers = dests + ".rte_lpm-answers"
    pin = ["taskset", "-c", str(cpu)]
    t0 = time.time()
    dpdk = Side("dpdk_lpm_bench", pin + [os.path.join(HERE, "dpdk_lpm_bench"), str(cpu), routes, dests, answers])
    print(f"bench-lpm: {label}: DPDK ready after {time.time() - t0:.0f} s", file=sys.stderr)
    # Pinned to one CPU, the runtime never promoted anything past tier 0 (checked with DOTNET_JitDisasmSummary:
    # no Tier1 method in the whole process), so FastTun's side runs fully optimized from the start, as the C side
    # is compiled with -O3.
    fast = Side("lpm-side", pin + ["env", "DOTNET_TieredCompilation=0", "dotnet", dll, "lpm-side", routes, dests, answers])
    samples = {}
    checks = {}
    for r in range(rounds):
        for side in (dpdk, fast) if r % 2 == 0 else (fast, dpdk):   # A B, B A: neither always runs first
            for key, (ns, check) in side.round().items():
                samples.setdefault(key, []).append(ns)
                checks.setdefault(key[1], set()).add(check)
    dpdk.close()
    fast.close()
    os.unlink(answers)
    mismatches = int(dpdk.info["dpdk_mismatches"]) + int(fast.info["fasttun_mismatches"])
    if mismatches:
        sys.exit(f"bench-lpm: {label}: {mismatches} answers differ between rte_lpm, rte_fib and FastTun")
    if any(len(c) != 1 for c in checks.values()):
        sys.exit(f"bench-lpm: {label}: loop results differ: {checks}")
    med = {k: statistics.median(v) for k, v in samples.items()}
    info = {**dpdk.info, **fast.info}
    return med, samples, info


def table_markdown(label, med, samples, info):
    out = [f"**{label}** ({info['routes']} routes as rte_lpm sees them, {int(info['destinations']):,} destinations; "
           f"every answer identical in rte_lpm, rte_fib and FastTun)", "",
           "| loop | rte_lpm | rte_fib (" + info["fib_lookup"] + ") | FastTun Lpm4Table | FastTun vs rte_lpm | FastTun vs rte_fib |",
           "|---|---|---|---|---|---|"]
    for loop in LOOPS:
        l, f, t = med[("rte_lpm", loop)], med[("rte_fib", loop)], med[("fasttun", loop)]
        out.append(f"| {loop} | {l:.2f} ns | {f:.2f} ns | {t:.2f} ns | {l / t:.2f}× | {f / t:.2f}× |")
    out.append(f"| memory | {info['lpm_memory_mib']} MiB (tbl24 + used tbl8s) | | {info['fasttun_memory_mib']} MiB "
               f"(huge pages: {info['fasttun_huge_pages']}) | | |")
    out.append(f"| build | {info['lpm_build_s']} s | {info['fib_build_s']} s | {info['fasttun_build_s']} s | | |")
    out.append("")
    out.append("Per-round samples (ns/lookup): " + "; ".join(
        f"{impl} {loop} " + "/".join(f"{x:.1f}" for x in samples[(impl, loop)])
        for impl in ("rte_lpm", "rte_fib", "fasttun") for loop in LOOPS))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    ap.add_argument("--dll", default=os.path.join(ROOT, "bench", "FastTun.Benchmarks", "bin", "Release", "net10.0", "FastTun.Benchmarks.dll"))
    ap.add_argument("--skip-dfz", action="store_true", help="only the small table (quick check)")
    args = ap.parse_args()
    cache = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fasttun-bench")
    os.makedirs(cache, exist_ok=True)
    dfz_routes = os.path.join(cache, "synthetic-1036829-5eedf4577.routes")
    dfz_dests = os.path.join(cache, "synthetic-1036829-5eedf4577-1048576.dests")
    small_routes = os.path.join(HERE, "small.routes")
    small_dests = os.path.join(cache, "small-1048576.dests")
    gen = ["dotnet", args.dll, "gen-table"]
    if not (os.path.exists(dfz_routes) and os.path.exists(dfz_dests)):
        subprocess.run(gen + ["--routes-out", dfz_routes, "--dests-out", dfz_dests], check=True)
    if not os.path.exists(small_dests):
        subprocess.run(gen + ["--routes-in", small_routes, "--dests-out", small_dests], check=True)

    lines = ["<!-- begin:lpm -->", "## LPM side by side: FastTun Lpm4Table vs DPDK 22.11 rte_lpm / rte_fib", "",
             f"Command: `make bench-lpm` (= `python3 bench/lpm/run.py --rounds {args.rounds} --cpu {args.cpu}`), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Both programs pinned to CPU {args.cpu}, rounds "
             f"interleaved (DPDK, FastTun, FastTun, DPDK, ...), {args.rounds} rounds, medians in ns per lookup; "
             "ratio > 1 means FastTun is faster. DPDK runs with `--no-huge` (4 KiB pages: EAL's memfd gets no "
             "transparent huge pages here); FastTun's table asks for 2 MiB pages. FastTun runs with "
             "`DOTNET_TieredCompilation=0` (pinned to one CPU, tiering never left tier 0). Shared 2-core host: expect "
             "10-40 % noise.", ""]
    tables = [] if args.skip_dfz else [("1M-prefix DFZ-like table (seed 0x5eedf4577)", dfz_routes, dfz_dests)]
    tables.append(("seed gateway's small table (bench/lpm/small.routes)", small_routes, small_dests))
    for label, routes, dests in tables:
        med, samples, info = run_table(label, routes, dests, args.cpu, args.rounds, args.dll)
        lines += table_markdown(label, med, samples, info) + [""]
    notes = os.path.join(HERE, "NOTES.md")   # the change log with predictions, kept with the figures
    if os.path.exists(notes):
        lines += open(notes).read().rstrip("\n").split("\n") + [""]
    lines.append("<!-- end:lpm -->")
    text = "\n".join(lines) + "\n"
    print(text)
    old = open(args.results).read() if os.path.exists(args.results) else ""
    begin, end = old.find("<!-- begin:lpm -->"), old.find("<!-- end:lpm -->")
    if begin >= 0 and end > begin:
        new = old[:begin] + text + old[end + len("<!-- end:lpm -->") + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(args.results, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
