using FastTun.Traffic;
using System.Diagnostics;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>
/// Route and destination files for the LPM benchmarks. FASTTUN_ROUTES / FASTTUN_DESTS select any table and
/// destination set; otherwise the default synthetic 1,036,829-prefix table and 1M destinations are generated
/// once into $TMPDIR/fasttun-bench and reused, so every run (and any other LPM implementation) reads identical input.
/// </summary>
public static class LpmInputs
{
    public const int DefaultDestinationCount = 1 << 20;

    public static string CacheDirectory => Path.Combine(Path.GetTempPath(), "fasttun-bench");

    public static string RoutesPath =>
        Environment.GetEnvironmentVariable("FASTTUN_ROUTES") is { Length: > 0 } p ? p
            : Path.Combine(CacheDirectory, $"synthetic-{SyntheticTable.DefaultPrefixCount}-{SyntheticTable.DefaultSeed:x}.routes");

    public static string DestinationsPath =>
        Environment.GetEnvironmentVariable("FASTTUN_DESTS") is { Length: > 0 } p ? p
            : Path.Combine(CacheDirectory, $"synthetic-{SyntheticTable.DefaultPrefixCount}-{SyntheticTable.DefaultSeed:x}-{DefaultDestinationCount}.dests");

    public static Route4[] LoadRoutes()
    {
        string path = RoutesPath;
        if (!File.Exists(path))
        {
            if (Environment.GetEnvironmentVariable("FASTTUN_ROUTES") is { Length: > 0 })
                throw new FileNotFoundException("FASTTUN_ROUTES names a missing file", path);
            Directory.CreateDirectory(CacheDirectory);
            Route4[] generated = SyntheticTable.Generate();
            WriteAtomically(path, tmp => RouteFile.Write(tmp, generated, $"synthetic table, {generated.Length} prefixes, seed 0x{SyntheticTable.DefaultSeed:x}"));
        }
        return RouteFile.Read(path).ToArray();
    }

    public static uint[] LoadDestinations(Route4[] routes)
    {
        string path = DestinationsPath;
        if (!File.Exists(path))
        {
            if (Environment.GetEnvironmentVariable("FASTTUN_DESTS") is { Length: > 0 })
                throw new FileNotFoundException("FASTTUN_DESTS names a missing file", path);
            Directory.CreateDirectory(CacheDirectory);
            uint[] generated = SyntheticTable.Destinations(routes, DefaultDestinationCount);
            WriteAtomically(path, tmp => RouteFile.WriteDestinations(tmp, generated));
        }
        return RouteFile.ReadDestinations(path);
    }

    /// <summary>Writes to a temp name and renames, so a killed run never leaves a truncated cache file.</summary>
    private static void WriteAtomically(string path, Action<string> write)
    {
        string tmp = $"{path}.{Environment.ProcessId}.tmp";
        write(tmp);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>One line describing a built table, printed by the benchmarks and by `gen-table --stats`.</summary>
    public static string Describe(Lpm4Table table, TimeSpan build) =>
        $"LPM: {table.Count:N0} prefixes, lookup structure {table.MemoryBytes:N0} B ({table.MemoryBytes / 1048576.0:F2} MiB, " +
        $"{(double)table.MemoryBytes / Math.Max(1, table.Count):F2} B/prefix), {table.ChunkCount:N0} chunks, " +
        $"control {table.ControlMemoryBytes / 1048576.0:F1} MiB, build {build.TotalMilliseconds:F0} ms";

    public static Lpm4Table BuildTimed(Route4[] routes, out TimeSpan elapsed)
    {
        var clock = Stopwatch.StartNew();
        Lpm4Table table = Lpm4Table.Build(routes);
        elapsed = clock.Elapsed;
        return table;
    }
}
