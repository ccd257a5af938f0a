using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>
/// <c>lpm-side ROUTES DESTS ANSWERS</c>: FastTun's side of `make bench-lpm` (bench/lpm/run.py). The three loops
/// are line for line those of bench/lpm/dpdk_lpm_bench.c, and so is the stdin/stdout protocol:
/// "info KEY VALUE" lines, "ready"; "round" → "result fasttun LOOP NS_PER_LOOKUP CHECK" lines, "done"; "quit".
/// Before "ready" it compares its single and batch answers for every destination with ANSWERS (rte_lpm's, written
/// by the C program) and warms the loops up so that the JIT has produced its final code.
/// </summary>
public static unsafe class LpmSideBySide
{
    private const int Bulk = 64;
    /// <summary>Untimed rounds before "ready"; dpdk_lpm_bench.c runs the same number.</summary>
    private const int WarmupRounds = 3;
    private static readonly uint[] Output = new uint[Bulk];
    private static readonly string Side = Environment.GetEnvironmentVariable("FASTTUN_SIDE_NAME") is { Length: > 0 } n ? n : "fasttun";

    public static int Run(string[] args)
    {
        if (args.Length != 4)
        {
            Console.Error.WriteLine("usage: lpm-side ROUTES DESTS ANSWERS");
            return 2;
        }
        Route4[] routes = RouteFile.Read(args[1]).ToArray();
        uint[] dests = RouteFile.ReadDestinations(args[2]);
        // "-" skips the comparison (A/B runs of two FastTun builds without DPDK); FASTTUN_SIDE_NAME renames the side.
        uint[]? answers = args[3] == "-" ? null : RouteFile.ReadDestinations(args[3]);
        if (answers is not null && answers.Length != dests.Length) throw new InvalidDataException($"{args[3]}: {answers.Length} answers for {dests.Length} destinations");

        var clock = Stopwatch.StartNew();
        Lpm4Table table = Lpm4Table.Build(routes);
        double build = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"info fasttun_build_s {build.ToString("F3", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"info fasttun_memory_mib {(table.MemoryBytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"info fasttun_huge_pages {(table.OnHugePages ? "all" : table.HugePages ? "advised, not all" : "no")}");

        Lpm4Reader reader = table.GetReader();
        var batch = new uint[dests.Length];
        for (int i = 0; i < dests.Length; i += Bulk)   // batches as the pipeline uses them (last one may be short)
            reader.LookupBatch(dests.AsSpan(i, Math.Min(Bulk, dests.Length - i)), batch.AsSpan(i));
        long mismatches = 0;
        for (int i = 0; answers is not null && i < dests.Length; i++)
            mismatches += (reader.Lookup(dests[i]) != answers[i] ? 1 : 0) + (batch[i] != answers[i] ? 1 : 0);
        Console.WriteLine($"info fasttun_mismatches {mismatches}");

        // Warm-up: the same WarmupRounds untimed rounds as the C side (dpdk_lpm_bench.c). Run with
        // DOTNET_TieredCompilation=0 (run.py), every method is compiled fully optimized at its first call, so nothing
        // is left to the JIT after these; each round's "state jit_methods" shows it (0 in every round measured).
        for (int warm = 0; warm < WarmupRounds; warm++) Round(reader, dests, print: false);
        Console.WriteLine("ready");
        string? command;
        while ((command = Console.ReadLine()) is not null && command != "quit")
        {
            if (command != "round") throw new InvalidDataException($"unknown command '{command}'");
            long jit = System.Runtime.JitInfo.GetCompiledMethodCount(), gcs = GC.CollectionCount(0);
            Round(reader, dests, print: true);
            // What could make a round differ from the next besides the host: JIT or GC work during it, and how much of
            // the table is on 2 MiB pages (smaps of its mapping).
            Console.WriteLine($"state jit_methods {System.Runtime.JitInfo.GetCompiledMethodCount() - jit}");
            Console.WriteLine($"state gcs {GC.CollectionCount(0) - gcs}");
            Console.WriteLine($"state table_thp_kib {HugePageKib((nuint)reader.Entries)}");
            Console.WriteLine("done");
        }
        GC.KeepAlive(table);
        return 0;
    }

    /// <summary>AnonHugePages (KiB) of the mapping that contains <paramref name="address"/>, from /proc/self/smaps.</summary>
    private static unsafe long HugePageKib(nuint address)
    {
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, null, out ulong start)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, null, out ulong end))
            {
                inside = start <= address && address < end;
            }
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }
        return -1;
    }

    private static void Round(Lpm4Reader reader, uint[] dests, bool print)
    {
        Bulk64(reader, dests);   // untimed, as on the C side: the other program's round has just flushed the caches
        Measure("single", () => Single(reader, dests));
        Measure("bulk64", () => Bulk64(reader, dests));
        Measure("chain", () => Chain(reader, dests));

        void Measure(string loop, Func<uint> body)
        {
            long start = Stopwatch.GetTimestamp();
            uint check = body();
            double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / dests.Length;
            if (print) Console.WriteLine($"result {Side} {loop} {ns.ToString("F3", CultureInfo.InvariantCulture)} {check}");
        }
    }

    // The loops run a few times each, so tiering would leave them in tier-0/OSR code (and a method with stackalloc
    // gets no OSR at all): compile them fully optimized at once, as the C side is compiled with -O3. The table's
    // own methods still tier up normally.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Single(Lpm4Reader reader, uint[] d)
    {
        uint sum = 0;
        for (int i = 0; i < d.Length; i++) sum += reader.Lookup(d[i]);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Bulk64(Lpm4Reader reader, uint[] d)
    {
        Span<uint> output = Output;
        uint sum = 0;
        for (int i = 0; i + Bulk <= d.Length; i += Bulk)
        {
            reader.LookupBatch(d.AsSpan(i, Bulk), output);
            sum += output[0] + output[Bulk - 1];
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Chain(Lpm4Reader reader, uint[] d)
    {
        uint x = 0;
        for (int i = 0; i < d.Length; i++) x = reader.Lookup(d[i] ^ (x & 0xFF));
        return x;
    }
}
