using FastTun.Traffic;
using System.Diagnostics;
using System.Globalization;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/FastTun.Benchmarks -- gen-table [--count N] [--seed S]
/// [--dests N] [--routes-out FILE] [--dests-out FILE] [--routes-in FILE] [--stats]</c>: writes a synthetic table and a destination
/// set (defaults: 1,036,829 prefixes, seed 0x5eedf4577, 1,048,576 destinations, into $TMPDIR/fasttun-bench), so
/// other LPM implementations can be measured on identical input. <c>--routes-in</c> takes the routes from a file
/// instead (only the destination set is written). <c>--stats</c> also builds an
/// <see cref="Lpm4Table"/> and prints its size, build time and the length mix.
/// </summary>
public static class LpmGenTable
{
    public static int Run(string[] args)
    {
        int count = SyntheticTable.DefaultPrefixCount, dests = LpmInputs.DefaultDestinationCount;
        ulong seed = SyntheticTable.DefaultSeed;
        string? routesOut = null, destsOut = null, routesIn = null;
        bool stats = false;
        for (int i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--count": count = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--seed": seed = ParseSeed(Value()); break;
                case "--dests": dests = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--routes-out": routesOut = Value(); break;
                case "--routes-in": routesIn = Value(); break;
                case "--dests-out": destsOut = Value(); break;
                case "--stats": stats = true; break;
                default:
                    Console.Error.WriteLine($"gen-table: unknown option {args[i]}");
                    Console.Error.WriteLine("usage: gen-table [--count N] [--seed S] [--dests N] [--routes-out FILE] [--dests-out FILE] [--routes-in FILE] [--stats]");
                    return 2;
            }
        }
        Directory.CreateDirectory(LpmInputs.CacheDirectory);
        routesOut ??= Path.Combine(LpmInputs.CacheDirectory, $"synthetic-{count}-{seed:x}.routes");
        destsOut ??= Path.Combine(LpmInputs.CacheDirectory, $"synthetic-{count}-{seed:x}-{dests}.dests");

        var clock = Stopwatch.StartNew();
        Route4[] routes = routesIn is null ? SyntheticTable.Generate(count, seed) : RouteFile.Read(routesIn).ToArray();
        TimeSpan generate = clock.Elapsed;
        if (routesIn is null) RouteFile.Write(routesOut, routes, $"synthetic table, {routes.Length} prefixes, seed 0x{seed:x}");
        RouteFile.WriteDestinations(destsOut, SyntheticTable.Destinations(routes, dests, seed + 1));
        if (routesIn is null) Console.WriteLine($"wrote {routes.Length:N0} routes to {routesOut} (generated in {generate.TotalMilliseconds:F0} ms)");
        Console.WriteLine($"wrote {dests:N0} destinations to {destsOut}");
        if (stats)
        {
            var perLength = new int[33];
            foreach (Route4 r in routes) perLength[r.Length]++;
            for (int l = 0; l <= 32; l++)
                if (perLength[l] > 0) Console.WriteLine($"  /{l,-2} {perLength[l],9:N0}  {100.0 * perLength[l] / routes.Length,6:F2} %");
            for (int round = 0; round < 3; round++)
            {
                Lpm4Table table = LpmInputs.BuildTimed(routes, out TimeSpan build);
                Console.WriteLine(LpmInputs.Describe(table, build));
            }
            Lpm4Table measured = Lpm4Table.Build(routes);
            QuickMeasure(measured, SyntheticTable.Destinations(routes, dests, seed + 1));
            QuickUpdates(measured, routes);
        }
        return 0;
    }

    /// <summary>
    /// A rough Stopwatch + process-CPU-time check for development, not a substitute for the BenchmarkDotNet
    /// suites: on a shared, oversubscribed machine the CPU-time figure excludes time spent descheduled.
    /// </summary>
    private static void QuickMeasure(Lpm4Table table, uint[] destinations)
    {
        var output = new uint[64];
        Lpm4Reader reader = table.GetReader();
        for (int round = 0; round < 3; round++)
        {
            Measure("single", () => { uint s = 0; foreach (uint a in destinations) s += reader.Lookup(a); return s; });
            Measure("batch64", () =>
            {
                uint s = 0;
                for (int i = 0; i + 64 <= destinations.Length; i += 64)
                {
                    reader.LookupBatch(destinations.AsSpan(i, 64), output);
                    s += output[0];
                }
                return s;
            });
            Measure("chain", () => { uint x = 0; foreach (uint a in destinations) x = reader.Lookup(a ^ (x & 0xFF)); return x; });
        }

        void Measure(string name, Func<uint> body)
        {
            var process = Process.GetCurrentProcess();
            TimeSpan cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            uint result = body();
            double wall = clock.Elapsed.TotalNanoseconds / destinations.Length;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalNanoseconds / destinations.Length;
            Console.WriteLine($"  {name,-8} wall {wall,7:F1} ns/lookup   cpu {cpu,7:F1} ns/lookup   (result {result})");
        }
    }

    /// <summary>Single-threaded delete + re-add of random routes (no readers): the writer's own cost.</summary>
    private static void QuickUpdates(Lpm4Table table, Route4[] routes)
    {
        var rng = new SplitMix64(99);
        const int Operations = 200_000;
        for (int round = 0; round < 3; round++)
        {
            var process = Process.GetCurrentProcess();
            TimeSpan cpu0 = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < Operations; i++)
            {
                Route4 r = routes[(int)rng.NextInt((uint)routes.Length)];
                table.Delete(r.Prefix, r.Length);
                table.AddOrReplace(r.Prefix, r.Length, r.NextHop);
            }
            double wall = clock.Elapsed.TotalNanoseconds / Operations;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalNanoseconds / Operations;
            Console.WriteLine($"  delete+re-add  wall {wall,7:F0} ns/op ({1e9 / wall:N0}/s)   cpu {cpu,7:F0} ns/op ({1e9 / cpu:N0}/s)");
        }
    }

    private static ulong ParseSeed(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(text, CultureInfo.InvariantCulture);
}
