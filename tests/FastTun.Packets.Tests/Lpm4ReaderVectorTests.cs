using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;
using FastTun.Traffic;

namespace FastTun.Packets.Tests;

/// <summary>
/// The vector batch path (Lpm4Reader.Vector.cs) and the scalar three passes against the trie oracle. Where AVX2 is
/// missing (or with DOTNET_EnableHWIntrinsic=0) the vector path is the scalar one and the same comparisons check that.
/// </summary>
public class Lpm4ReaderVectorTests
{
    private delegate void BatchVariant(Lpm4Reader reader, uint[] addresses, uint[] output, int count);

    private static readonly (string Name, BatchVariant Run)[] Variants =
    [
        ("Vector", (r, a, o, n) => r.LookupBatchVector(a.AsSpan(0, n), o)),
        ("Scalar", (r, a, o, n) => r.LookupBatchScalar(a.AsSpan(0, n), o)),
    ];

    private static void AssertVariantsMatch(Lpm4Table table, RouteTrie trie, uint[] addresses)
    {
        Lpm4Reader reader = table.GetReader();
        var output = new uint[addresses.Length];
        foreach (var (name, run) in Variants)
        {
            Array.Fill(output, 0xDEADBEEFu);
            run(reader, addresses, output, addresses.Length);
            for (int i = 0; i < addresses.Length; i++)
            {
                uint expected = trie.Lookup(addresses[i]);
                if (output[i] != expected)
                    Assert.Fail($"{name} [{i}] {Ipv4Address.Format(addresses[i])}: {output[i]}, trie {expected}");
            }
        }
    }

    [Fact]
    public void LookupBatchVector_FullSyntheticTable_MatchesRouteTrie()
    {
        Route4[] routes = LpmTestSupport.FullTable.Value;
        Lpm4Table table = Lpm4Table.Build(routes);
        RouteTrie trie = LpmTestSupport.BuildTrie(routes);
        AssertVariantsMatch(table, trie, SyntheticTable.Destinations(routes, 300_000, seed: 71));
        AssertVariantsMatch(table, trie, LpmTestSupport.Uniform(100_000, seed: 72));
        AssertVariantsMatch(table, trie, LpmTestSupport.EdgeAddresses(routes.AsSpan(0, 100_000)));
        AssertVariantsMatch(table, trie, LpmTestSupport.EdgeAddresses(routes.AsSpan(routes.Length - 50_000)));
    }

    [Fact]
    public void LookupBatchVector_SmallTable_MatchesRouteTrie()
    {
        Route4[] routes = SyntheticTable.Generate(2_000, seed: 73);
        Lpm4Table table = Lpm4Table.Build(routes);
        RouteTrie trie = LpmTestSupport.BuildTrie(routes);
        AssertVariantsMatch(table, trie, SyntheticTable.Destinations(routes, 50_000, seed: 74));
        AssertVariantsMatch(table, trie, LpmTestSupport.Uniform(50_000, seed: 75));
        AssertVariantsMatch(table, trie, LpmTestSupport.EdgeAddresses(routes));
    }

    /// <summary>Both root words (v below and above 64), child leaves at every level, /0 and /32 at the extremes.</summary>
    [Fact]
    public void LookupBatchVector_EdgePrefixes_MatchesRouteTrie()
    {
        var table = new Lpm4Table();
        var trie = new RouteTrie();
        AssertVariantsMatch(table, trie, [0, 1, 0x0A010501, uint.MaxValue]);   // empty: NoRoute everywhere
        var routes = new List<Route4>
        {
            new(0, 0, 1), new(uint.MaxValue, 32, 2), new(0, 32, 3), new(0x0A000000, 8, 4), new(0x0A010000, 17, 5),
            new(0x0A010000, 24, 6), new(0x0A013F00, 24, 7), new(0x0A014000, 24, 8), new(0x0A017F00, 24, 9),
            new(0x0A014000, 26, 10), new(0x0A017FFF, 32, 11), new(0x0A010080, 25, 12), new(0x0A0140C0, 30, 13),
            new(0x0A018000, 23, 14), new(0x0A01FE00, 23, 15), new(0xFFFFFF00, 24, 16), new(0xFFFFFFFE, 31, 17),
        };
        foreach (Route4 r in routes)
        {
            table.AddOrReplace(r.Prefix, r.Length, r.NextHop);
            trie.AddOrReplace(r.Prefix, r.Length, r.NextHop);
        }
        var probes = new List<uint>(LpmTestSupport.EdgeAddresses(routes.ToArray()));
        for (uint a = 0x0A010000; a < 0x0A020000; a += 61) probes.Add(a);   // every root slot of both /17s
        for (uint a = 0; a < 64; a++) { probes.Add(a); probes.Add(uint.MaxValue - a); }
        AssertVariantsMatch(table, trie, probes.ToArray());
    }

    [Fact]
    public void LookupBatchVector_EveryLengthUpTo100_MatchesSingleLookups()
    {
        Route4[] routes = SyntheticTable.Generate(5_000, seed: 76);
        Lpm4Table table = Lpm4Table.Build(routes);
        Lpm4Reader reader = table.GetReader();
        uint[] addresses = SyntheticTable.Destinations(routes, 100, seed: 77);
        foreach (var (name, run) in Variants)
        {
            for (int n = 0; n <= 100; n++)
            {
                var output = new uint[n + 1];
                output[n] = 0xDEADBEEF;
                run(reader, addresses, output, n);
                for (int i = 0; i < n; i++) Assert.True(table.Lookup(addresses[i]) == output[i], $"{name} n={n} [{i}]");
                Assert.Equal(0xDEADBEEFu, output[n]);   // nothing written past the batch
            }
            Assert.Throws<ArgumentException>(() => run(reader, addresses, new uint[3], addresses.Length));
        }
    }
}
