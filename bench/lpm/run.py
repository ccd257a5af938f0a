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

    def round(self, cpu):
        """One round; returns the results and what else used the CPU meanwhile (see round_state)."""
        before = cpu_sample(cpu, self.proc.pid)
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        results, state = {}, {}
        for line in self._lines("done"):
            if line.startswith("state "):   # the side's own view of the round (FastTun: JIT, GC, faults, huge pages)
                _, key, value = line.split()
                state[key] = value
                continue
            _, impl, loop, ns, check = line.split()
            results[(impl, loop)] = (float(ns), int(check))
        state.update(round_state(before, cpu_sample(cpu, self.proc.pid)))
        return results, state

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def cpu_sample(cpu, pid):
    """/proc counters around a round: the pinned CPU's busy and steal ticks, the process's CPU ticks, faults and
    involuntary context switches."""
    with open("/proc/stat") as f:
        lines = f.readlines()
    per_cpu = {l.split()[0]: [int(x) for x in l.split()[1:]] for l in lines if l.startswith("cpu") and l[3].isdigit()}
    ticks = per_cpu[f"cpu{cpu}"]
    others = [t for name, t in per_cpu.items() if name != f"cpu{cpu}"]   # the CPUs sharing the L3 and memory bus
    busy = sum(ticks) - ticks[3] - ticks[4]   # all but idle and iowait
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        nvcsw = next(int(l.split()[1]) for l in f if l.startswith("nonvoluntary_ctxt_switches"))
    return {"total": sum(ticks), "busy": busy, "others_total": sum(sum(t) for t in others),
            "others_busy": sum(sum(t) - t[3] - t[4] for t in others), "steal": ticks[7], "own": int(st[11]) + int(st[12]), "minflt": int(st[7]),
            "majflt": int(st[9]), "nvcsw": nvcsw, "t": time.time()}


def round_state(a, b):
    """foreign: share of the pinned CPU's ticks during the round spent on other processes (or stolen by the host);
    preempted: involuntary context switches of the side; faults: page faults taken during the round."""
    total = max(1, b["total"] - a["total"])
    foreign = max(0, (b["busy"] - a["busy"]) - (b["own"] - a["own"]))
    return {"foreign_pct": f"{100.0 * foreign / total:.0f}", "steal_pct": f"{100.0 * (b['steal'] - a['steal']) / total:.0f}",
            "preempted": str(b["nvcsw"] - a["nvcsw"]), "faults": str(b["minflt"] - a["minflt"] + b["majflt"] - a["majflt"]),
            "wall_ms": f"{1000 * (b['t'] - a['t']):.0f}",
            # The other CPUs share the L3 and the memory bus with the pinned one (cache-resident tables feel it most).
            # /proc/stat counts 10 ms ticks: over a round of a few hundred ms this is coarse (± a tick).
            "others_busy_pct": f"{100.0 * (b['others_busy'] - a['others_busy']) / max(1, b['others_total'] - a['others_total']):.0f}"}


def run_table(label, routes, dests, cpu, rounds, dll):
    answers = dests + ".rte_lpm-answers"
    # Both sides: the same CPU, the same priority (nice -19 when root: the other processes on this shared host then
    # take less of the pinned CPU from either side), the same warm-up (WARMUP untimed rounds before "ready", then one
    # untimed bulk pass at the start of each round).
    pin = ["taskset", "-c", str(cpu)] + (["nice", "-n", "-19"] if os.geteuid() == 0 else [])
    t0 = time.time()
    dpdk = Side("dpdk_lpm_bench", pin + [os.path.join(HERE, "dpdk_lpm_bench"), str(cpu), routes, dests, answers])
    print(f"bench-lpm: {label}: DPDK ready after {time.time() - t0:.0f} s", file=sys.stderr)
    # Pinned to one CPU, the runtime never promoted anything past tier 0 (checked with DOTNET_JitDisasmSummary:
    # no Tier1 method in the whole process), so FastTun's side runs fully optimized from the start, as the C side
    # is compiled with -O3.
    fast = Side("lpm-side", pin + ["env", "DOTNET_TieredCompilation=0", "dotnet", dll, "lpm-side", routes, dests, answers])
    samples = {}
    checks = {}
    states = {"dpdk": [], "fasttun": []}
    for r in range(rounds):
        for side in (dpdk, fast) if r % 2 == 0 else (fast, dpdk):   # A B, B A: neither always runs first
            results, state = side.round(cpu)
            states["dpdk" if side is dpdk else "fasttun"].append(state)
            for key, (ns, check) in results.items():
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
    info["states"] = states
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
    out.append("")
    out.append("Per-round conditions (DPDK side / FastTun side): other processes or host steal on the pinned CPU "
               "(foreign %), involuntary context switches, page faults; FastTun's own: methods JIT-compiled, GCs and "
               "table KiB on huge pages during the round.")
    out.append("")
    out.append("| round | DPDK foreign % | DPDK preempted | DPDK faults | other CPUs busy % (DPDK round) | FastTun foreign % | "
               "FastTun preempted | FastTun faults | other CPUs busy % (FastTun round) | JIT methods | GCs | table on 2 MiB pages |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r, (d, f) in enumerate(zip(info["states"]["dpdk"], info["states"]["fasttun"])):
        out.append(f"| {r + 1} | {d['foreign_pct']} | {d['preempted']} | {d['faults']} | {d['others_busy_pct']} | "
                   f"{f['foreign_pct']} | {f['preempted']} | {f['faults']} | {f['others_busy_pct']} | {f.get('jit_methods', '?')} | {f.get('gcs', '?')} | "
                   f"{f.get('table_thp_kib', '?')} KiB |")
    return out

# Issue #11's targets on the 1M-prefix table: (loop or figure, test, wording).
TARGETS = [
    ("bulk64", lambda m, i: m[("fasttun", "bulk64")] <= 5.0 and m[("rte_lpm", "bulk64")] / m[("fasttun", "bulk64")] >= 1.4, "bulk64 <= 5 ns and >= 1.4x"),
    ("single", lambda m, i: m[("fasttun", "single")] <= 10.0, "single <= 10 ns"),
    ("chain", lambda m, i: m[("fasttun", "chain")] <= 60.0 and m[("rte_lpm", "chain")] / m[("fasttun", "chain")] >= 2.5, "chain <= 60 ns and >= 2.5x"),
    ("memory", lambda m, i: float(i["fasttun_memory_mib"]) <= 16.0, "memory <= 16 MiB"),
    ("build", lambda m, i: float(i["fasttun_build_s"]) <= 0.25, "build <= 0.25 s"),
]
RUN_LOG_TITLE = "### Every run of this benchmark on the 1M-prefix table (newest first; kept across runs)"


def run_log_line(stamp, rounds, med, info):
    """One line per run: the medians, the ratios, which of #11's targets the run met, and how busy the pinned CPU was
    (the highest per-round foreign %), so that a bad run stays on record next to the good ones."""
    missed = [text for _, test, text in TARGETS if not test(med, info)]
    foreign = max(int(s["foreign_pct"]) for side in info["states"].values() for s in side)
    fig = lambda loop: (f"{loop} {med[('fasttun', loop)]:.2f} vs {med[('rte_lpm', loop)]:.2f} ns "
                        f"({med[('rte_lpm', loop)] / med[('fasttun', loop)]:.2f}x)")
    verdict = "all #11 targets met" if not missed else "missed: " + ", ".join(missed)
    return (f"- {stamp}, {rounds} rounds: {fig('bulk64')}, {fig('single')}, {fig('chain')}; "
            f"{info['fasttun_memory_mib']} MiB, build {info['fasttun_build_s']} s; max foreign % on the pinned CPU {foreign}; {verdict}")


def run_log(old_results, new_line):
    """The run log of the old section with this run's line on top."""
    kept, inside = [], False
    begin, end = old_results.find("<!-- begin:lpm -->"), old_results.find("<!-- end:lpm -->")
    for line in (old_results[begin:end].split("\n") if 0 <= begin < end else []):
        if line == RUN_LOG_TITLE:
            inside = True
        elif inside and line.startswith("- "):
            kept.append(line)
        elif inside and line.strip():
            break
    return [RUN_LOG_TITLE, ""] + ([new_line] if new_line else []) + kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
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
             "`DOTNET_TieredCompilation=0` (pinned to one CPU, tiering never left tier 0). Both sides: nice -19 (as root), "
             "3 untimed warm-up rounds, one untimed bulk pass per round. Shared 2-core host: expect 10-40 % noise; "
             "the per-round conditions table shows what else ran.", ""]
    tables = [] if args.skip_dfz else [("1M-prefix DFZ-like table (seed 0x5eedf4577)", dfz_routes, dfz_dests)]
    tables.append(("seed gateway's small table (bench/lpm/small.routes)", small_routes, small_dests))
    stamp = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    run_line = None
    for label, routes, dests in tables:
        med, samples, info = run_table(label, routes, dests, args.cpu, args.rounds, args.dll)
        lines += table_markdown(label, med, samples, info) + [""]
        if routes == dfz_routes:
            run_line = run_log_line(stamp, args.rounds, med, info)
    old = open(args.results).read() if os.path.exists(args.results) else ""
    lines += run_log(old, run_line) + [""]
    notes = os.path.join(HERE, "NOTES.md")   # the change log with predictions, kept with the figures
    if os.path.exists(notes):
        lines += open(notes).read().rstrip("\n").split("\n") + [""]
    lines.append("<!-- end:lpm -->")
    text = "\n".join(lines) + "\n"
    print(text)
    begin, end = old.find("<!-- begin:lpm -->"), old.find("<!-- end:lpm -->")
    if begin >= 0 and end > begin:
        new = old[:begin] + text + old[end + len("<!-- end:lpm -->") + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(args.results, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
