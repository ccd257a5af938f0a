using FastTun.Traffic;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>
/// Lookup cost on the route file (default: the synthetic 1,036,829-prefix table) with the destination file's
/// addresses. Each invocation takes the next 4096 destinations of the (1M-entry) set, so the working set is the
/// whole table, not 4096 hot paths. Per-lookup figures via OperationsPerInvoke.
/// </summary>
[Config(typeof(LpmConfig))]
public class LpmLookupBenchmarks
{
    private const int PerInvoke = 4096;
    private Lpm4Table _table = new();
    private uint[] _destinations = [];
    private readonly uint[] _output = new uint[64];
    private int _cursor;

    [GlobalSetup]
    public void Setup()
    {
        Route4[] routes = LpmInputs.LoadRoutes();
        _destinations = LpmInputs.LoadDestinations(routes);
        if (_destinations.Length < PerInvoke) throw new InvalidOperationException("need at least 4096 destinations");
        _table = LpmInputs.BuildTimed(routes, out TimeSpan build);
        LpmConfig.Record(nameof(LpmLookupBenchmarks), _table, build);
    }

    private ReadOnlySpan<uint> NextSlice()
    {
        if (_cursor + PerInvoke > _destinations.Length) _cursor = 0;
        ReadOnlySpan<uint> slice = _destinations.AsSpan(_cursor, PerInvoke);
        _cursor += PerInvoke;
        return slice;
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public uint Single()
    {
        ReadOnlySpan<uint> addresses = NextSlice();
        Lpm4Reader reader = _table.GetReader();
        uint sum = 0;
        foreach (uint a in addresses) sum += reader.Lookup(a);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public uint Batch64()
    {
        ReadOnlySpan<uint> addresses = NextSlice();
        Lpm4Reader reader = _table.GetReader();   // one snapshot per batch, as a worker does
        uint sum = 0;
        for (int i = 0; i < PerInvoke; i += 64)
        {
            reader.LookupBatch(addresses.Slice(i, 64), _output);
            sum += _output[0] + _output[63];
        }
        return sum;
    }

    /// <summary>Each address is the next destination XOR the low byte of the previous answer: no overlap.</summary>
    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public uint Chain()
    {
        ReadOnlySpan<uint> addresses = NextSlice();
        Lpm4Reader reader = _table.GetReader();
        uint answer = 0;
        foreach (uint a in addresses) answer = reader.Lookup(a ^ (answer & 0xFF));
        return answer;
    }
}

/// <summary>The seed gateway's table: three connected /24s, the tunnel /24 and a default route.</summary>
[Config(typeof(LpmConfig))]
public class LpmSmallTableBenchmarks
{
    private const int PerInvoke = 4096;
    private Lpm4Table _table = new();
    private uint[] _destinations = [];
    private readonly uint[] _output = new uint[64];

    [GlobalSetup]
    public void Setup()
    {
        Route4[] routes = RouteFile.Read(new StringReader("""
            # seed gw1: connected LAN, underlay, far LAN via the tunnel, tunnel subnet, default
            10.1.5.0/24   0
            172.12.1.0/24 1
            10.1.8.0/24   2
            1.1.1.0/24    2
            0.0.0.0/0     1
            """)).ToArray();
        _table = LpmInputs.BuildTimed(routes, out TimeSpan build);
        LpmConfig.Record(nameof(LpmSmallTableBenchmarks), _table, build);
        _destinations = SyntheticTable.Destinations(routes, PerInvoke, seed: 5, insideFraction: 0.95);
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public uint Single()
    {
        Lpm4Reader reader = _table.GetReader();
        uint sum = 0;
        foreach (uint a in _destinations) sum += reader.Lookup(a);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public uint Batch64()
    {
        Lpm4Reader reader = _table.GetReader();
        uint sum = 0;
        for (int i = 0; i < PerInvoke; i += 64)
        {
            reader.LookupBatch(_destinations.AsSpan(i, 64), _output);
            sum += _output[0] + _output[63];
        }
        return sum;
    }
}

/// <summary>
/// Prints the built table's size and build time into the benchmark log. (A summary column cannot show it: the
/// benchmarks run out of process, so the host never sees the child's table.)
/// </summary>
public sealed class LpmConfig : ManualConfig
{
    public static void Record(string benchmarkClass, Lpm4Table table, TimeSpan build) =>
        Console.WriteLine($"{benchmarkClass}: {LpmInputs.Describe(table, build)}");
}
