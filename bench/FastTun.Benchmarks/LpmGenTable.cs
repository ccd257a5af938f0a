using System.Diagnostics;
using System.Globalization;
using FastTun.Packets.Routing;

namespace FastTun.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/FastTun.Benchmarks -- gen-table [--count N] [--seed S]
/// [--dests N] [--routes-out FILE] [--dests-out FILE] [--stats]</c>: writes a synthetic table and a destination
/// set (defaults: 1,036,829 prefixes, seed 0x5eedf4577, 1,048,576 destinations, into $TMPDIR/fasttun-bench), so
/// other LPM implementations can be measured on identical input. <c>--stats</c> also builds an
/// <see cref="Lpm4Table"/> and prints its size, build time and the length mix.
/// </summary>
public static class LpmGenTable
{
    public static int Run(string[] args)
    {
        int count = SyntheticTable.DefaultPrefixCount, dests = LpmInputs.DefaultDestinationCount;
        ulong seed = SyntheticTable.DefaultSeed;
        string? routesOut = null, destsOut = null;
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
                case "--dests-out": destsOut = Value(); break;
                case "--stats": stats = true; break;
                default:
                    Console.Error.WriteLine($"gen-table: unknown option {args[i]}");
                    Console.Error.WriteLine("usage: gen-table [--count N] [--seed S] [--dests N] [--routes-out FILE] [--dests-out FILE] [--stats]");
                    return 2;
            }
        }
        Directory.CreateDirectory(LpmInputs.CacheDirectory);
        routesOut ??= Path.Combine(LpmInputs.CacheDirectory, $"synthetic-{count}-{seed:x}.routes");
        destsOut ??= Path.Combine(LpmInputs.CacheDirectory, $"synthetic-{count}-{seed:x}-{dests}.dests");

        var clock = Stopwatch.StartNew();
        Route4[] routes = SyntheticTable.Generate(count, seed);
        TimeSpan generate = clock.Elapsed;
        RouteFile.Write(routesOut, routes, $"synthetic table, {routes.Length} prefixes, seed 0x{seed:x}");
        RouteFile.WriteDestinations(destsOut, SyntheticTable.Destinations(routes, dests, seed + 1));
        Console.WriteLine($"wrote {routes.Length:N0} routes to {routesOut} (generated in {generate.TotalMilliseconds:F0} ms)");
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
        }
        return 0;
    }

    private static ulong ParseSeed(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(text, CultureInfo.InvariantCulture);
}
