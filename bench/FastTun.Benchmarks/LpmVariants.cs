using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>
/// <c>lpm-ab ROUTES DESTS [ROUNDS]</c>: A/B of Lpm4Reader's lookup variants inside one process. Each round runs every
/// variant once over all destinations, variant after variant, so that the load of a shared host (which shifts
/// within seconds) hits all of them alike; prints per variant the median and minimum ns per lookup and the median of
/// its per-round ratio to the first variant of its loop. Every variant's answers are first compared with Lookup's.
/// Run it pinned: <c>taskset -c 1 env DOTNET_TieredCompilation=0 dotnet FastTun.Benchmarks.dll lpm-ab R D 30</c>.
/// </summary>
public static class LpmVariants
{
    private const int Bulk = 64;

    public static int Run(string[] args)
    {
        if (args.Length is < 3 or > 4)
        {
            Console.Error.WriteLine("usage: lpm-ab ROUTES DESTS [ROUNDS]");
            return 2;
        }
        Route4[] routes = RouteFile.Read(args[1]).ToArray();
        uint[] dests = RouteFile.ReadDestinations(args[2]);
        int rounds = args.Length == 4 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 20;
        Lpm4Table table = Lpm4Table.Build(routes);
        Lpm4Reader reader = table.GetReader();
        dests = dests.AsSpan(0, dests.Length / Bulk * Bulk).ToArray();
        // LPM_AB_LOCAL=BITS keeps each destination's low BITS bits and takes the rest from the first destination:
        // a cache-resident working set, so the figures show the instruction cost alone.
        if (int.TryParse(Environment.GetEnvironmentVariable("LPM_AB_LOCAL"), out int local))
            for (int i = 0; i < dests.Length; i++) dests[i] = (dests[i] & ((1u << local) - 1)) | (dests[0] & ~((1u << local) - 1));

        var variants = new List<(string Loop, string Name, Func<uint[], uint[], uint> Body)>
        {
            // The first variant of a round runs right after the previous round's chain loop and measures slower: a throwaway.
            ("bulk64", "warm-up", (d, o) => Batch(d, o, (s, t) => reader.LookupBatch(s, t))),
            ("bulk64", "LookupBatch", (d, o) => Batch(d, o, (s, t) => reader.LookupBatch(s, t))),
            ("bulk64", "LookupBatch'", (d, o) => Batch(d, o, (s, t) => reader.LookupBatch(s, t))),
            ("bulk64", "Batch2P", (d, o) => Batch(d, o, (s, t) => reader.LookupBatch2P(s, t))),
            ("bulk64", "Batch2L", (d, o) => Batch(d, o, (s, t) => reader.LookupBatch2L(s, t))),
            // lpm7v: LookupBatch is LookupBatchVector where AVX2 is supported; Scalar3P the three scalar passes.
            ("bulk64", "Scalar3P", (d, o) => Batch(d, o, (s, t) => reader.LookupBatchScalar(s, t))),
            ("single", "Lookup", (d, o) => Single(reader, d, o)),
            ("chain", "Lookup", (d, o) => Chain(reader, d)),
        };
        var expected = new uint[dests.Length];
        for (int i = 0; i < dests.Length; i++) expected[i] = reader.Lookup(dests[i]);
        var output = new uint[dests.Length];
        foreach (var v in variants.Where(v => v.Loop != "chain"))
        {
            Array.Clear(output);
            v.Body(dests, output);
            int bad = 0;
            for (int i = 0; i < dests.Length; i++) bad += output[i] != expected[i] ? 1 : 0;
            if (bad != 0) throw new InvalidOperationException($"{v.Loop} {v.Name}: {bad} answers differ from Lookup");
        }
        for (int warm = 0; warm < 3; warm++)
            foreach (var v in variants) v.Body(dests, output);

        var samples = variants.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
        {
            for (int k = 0; k < variants.Count; k++)
            {
                long start = Stopwatch.GetTimestamp();
                variants[k].Body(dests, output);
                samples[k].Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / dests.Length);
            }
        }
        for (int k = 0; k < variants.Count; k++)
        {
            // Ratios against the first real variant of the loop (the warm-up is a throwaway).
            int first = variants.FindIndex(v => v.Loop == variants[k].Loop && v.Name != "warm-up");
            var ratios = samples[k].Select((x, r) => x / samples[first][r]).ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{variants[k].Loop,-7} {variants[k].Name,-14} median {Median(samples[k]),7:F2}  min {samples[k].Min(),7:F2}  ratio to {variants[first].Name} {Median(ratios):F3}"));
        }
        GC.KeepAlive(table);
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private delegate void BatchBody(ReadOnlySpan<uint> addresses, Span<uint> nextHops);

    private static uint Batch(uint[] d, uint[] o, BatchBody body)
    {
        for (int i = 0; i < d.Length; i += Bulk) body(d.AsSpan(i, Bulk), o.AsSpan(i, Bulk));
        return o[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Single(Lpm4Reader reader, uint[] d, uint[] o)
    {
        for (int i = 0; i < d.Length; i++) o[i] = reader.Lookup(d[i]);
        return o[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint Chain(Lpm4Reader reader, uint[] d)
    {
        uint x = 0;
        for (int i = 0; i < d.Length; i++) x = reader.Lookup(d[i] ^ (x & 0xFF));
        return x;
    }
}
