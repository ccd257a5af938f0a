using FastTun.Traffic;
using BenchmarkDotNet.Attributes;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>Build time of the whole route file (default 1,036,829 prefixes) into a fresh table.</summary>
[Config(typeof(LpmConfig))]
public class LpmBuildBenchmarks
{
    private Route4[] _routes = [];

    [GlobalSetup]
    public void Setup()
    {
        _routes = LpmInputs.LoadRoutes();
        LpmConfig.Record(nameof(LpmBuildBenchmarks), LpmInputs.BuildTimed(_routes, out TimeSpan build), build);
    }

    [Benchmark]
    public int Build() => Lpm4Table.Build(_routes).Count;
}

/// <summary>
/// Update rate with one reader thread doing batch lookups over the destination set the whole time, registered
/// with the table's QSBR domain and reporting a quiescent state after each batch, as a worker does. One
/// operation = delete one existing route and add it back (the DPDK anchor's "update"), routes drawn at random
/// from the table; each operation is two route changes (updates/s = 2 / time per operation).
/// </summary>
[Config(typeof(LpmConfig))]
public class LpmUpdateBenchmarks
{
    private const int PerInvoke = 4096;
    private Lpm4Table _table = new();
    private Route4[] _routes = [];
    private uint[] _destinations = [];
    private int[] _order = [];
    private int _cursor;
    private Thread[] _readers = [];
    private volatile bool _stop;   // volatile: the readers must see Cleanup's store; orders nothing else
    private long _readerLookups;

    [GlobalSetup]
    public void Setup()
    {
        _routes = LpmInputs.LoadRoutes();
        _destinations = LpmInputs.LoadDestinations(_routes);
        _table = LpmInputs.BuildTimed(_routes, out TimeSpan build);
        LpmConfig.Record(nameof(LpmUpdateBenchmarks), _table, build);
        var rng = new SplitMix64(99);
        _order = new int[1 << 20];
        for (int i = 0; i < _order.Length; i++) _order[i] = (int)rng.NextInt((uint)_routes.Length);
        _readers = new Thread[1];
        for (int t = 0; t < _readers.Length; t++)
        {
            int offset = t * (_destinations.Length / 2);
            _readers[t] = new Thread(() => ReadLoop(offset)) { IsBackground = true, Name = $"lpm-reader-{t}" };
            _readers[t].Start();
        }
    }

    private void ReadLoop(int offset)
    {
        var output = new uint[64];
        long lookups = 0;
        int at = offset;
        using QsbrReader qsbr = _table.Readers.Register();
        while (!_stop)
        {
            qsbr.Quiescent();
            if (at + 64 > _destinations.Length) at = 0;
            _table.GetReader().LookupBatch(_destinations.AsSpan(at, 64), output);
            at += 64;
            lookups += 64;
        }
        Interlocked.Add(ref _readerLookups, lookups);   // reported after the readers are joined
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        foreach (Thread reader in _readers) reader.Join();
        Console.WriteLine($"LPM update benchmark: readers did {Interlocked.Read(ref _readerLookups):N0} lookups meanwhile; " +
                          $"pool touched {_table.PoolTouchedBytes >> 20} MiB, {_table.RetiredChunks} chunks awaiting readers");
    }

    [Benchmark(OperationsPerInvoke = PerInvoke)]
    public int DeleteAndReAdd()
    {
        int changed = 0;
        for (int i = 0; i < PerInvoke; i++)
        {
            if (_cursor == _order.Length) _cursor = 0;
            Route4 r = _routes[_order[_cursor++]];
            if (_table.Delete(r.Prefix, r.Length)) changed++;
            _table.AddOrReplace(r.Prefix, r.Length, r.NextHop);
        }
        return changed;
    }
}
