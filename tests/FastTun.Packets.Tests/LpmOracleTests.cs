using FastTun.Traffic;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Packets.Tests;

public class LpmOracleTests
{
    [Fact]
    public void Lookup_FullSyntheticTable_MatchesRouteTrie()
    {
        Route4[] routes = LpmTestSupport.FullTable.Value;
        Lpm4Table table = Lpm4Table.Build(routes);
        RouteTrie trie = LpmTestSupport.BuildTrie(routes);
        Assert.Equal(SyntheticTable.DefaultPrefixCount, table.Count);
        Assert.Equal(trie.Count, table.Count);
        LpmTestSupport.AssertMatches(table, trie, SyntheticTable.Destinations(routes, 1_000_000, seed: 11));
        LpmTestSupport.AssertMatches(table, trie, LpmTestSupport.Uniform(200_000, seed: 12));
        LpmTestSupport.AssertMatches(table, trie, LpmTestSupport.EdgeAddresses(routes.AsSpan(0, 200_000)));
    }

    [Fact]
    public void Lookup_AfterRandomChurn_MatchesRouteTrie()
    {
        Route4[] routes = SyntheticTable.Generate(100_000, seed: 21);
        Lpm4Table table = Lpm4Table.Build(routes);
        RouteTrie trie = LpmTestSupport.BuildTrie(routes);
        var rng = new SplitMix64(22);
        var touched = new List<Route4>();
        for (int op = 0; op < 200_000; op++)
        {
            Route4 r = PickChurnPrefix(ref rng, routes);
            uint nextHop = rng.NextInt(5000);
            if (rng.NextInt(3) == 0)
            {
                Assert.Equal(trie.Delete(r.Prefix, r.Length), table.Delete(r.Prefix, r.Length));
            }
            else
            {
                Assert.Equal(trie.AddOrReplace(r.Prefix, r.Length, nextHop), table.AddOrReplace(r.Prefix, r.Length, nextHop));
                touched.Add(r);
            }
            if (op % 50_000 == 0)
                LpmTestSupport.AssertMatches(table, trie, SyntheticTable.Destinations(routes, 20_000, seed: (ulong)op));
        }
        Assert.Equal(trie.Count, table.Count);
        LpmTestSupport.AssertMatches(table, trie, SyntheticTable.Destinations(routes, 1_000_000, seed: 23));
        LpmTestSupport.AssertMatches(table, trie, LpmTestSupport.EdgeAddresses(touched.ToArray()));
    }

    /// <summary>Half existing prefixes (replace/delete hits), half new ones of any length 0..32 near them.</summary>
    private static Route4 PickChurnPrefix(ref SplitMix64 rng, Route4[] routes)
    {
        Route4 basis = routes[rng.NextInt((uint)routes.Length)];
        if (rng.NextInt(2) == 0) return basis;
        int length = rng.NextInt(8) == 0 ? (int)rng.NextInt(33) : 16 + (int)rng.NextInt(17);
        uint prefix = (basis.Prefix | (rng.NextUInt() & ~Route4.Mask(basis.Length))) & Route4.Mask(length);
        return new Route4(prefix, length, 0);
    }

    [Fact]
    public void Lookup_EdgePrefixes_MatchesRouteTrie()
    {
        var table = new Lpm4Table();
        var trie = new RouteTrie();
        void Add(string p, int len, uint nh)
        {
            Assert.True(Ipv4Address.TryParse(p, out uint a));
            table.AddOrReplace(a, len, nh);
            trie.AddOrReplace(a, len, nh);
        }
        void Del(string p, int len)
        {
            Assert.True(Ipv4Address.TryParse(p, out uint a));
            Assert.True(table.Delete(a, len));
            Assert.True(trie.Delete(a, len));
        }
        uint[] probes = Probes();
        LpmTestSupport.AssertMatches(table, trie, probes);
        Assert.Equal(Lpm4Table.NoRoute, table.Lookup(0x01020304));

        Add("0.0.0.0", 0, 1);
        Add("255.255.255.255", 32, 2);
        Add("0.0.0.0", 32, 3);
        Add("10.0.0.0", 8, 4);
        Add("10.1.0.0", 16, 5);
        Add("10.1.0.0", 18, 6);
        Add("10.1.0.0", 19, 7);
        Add("10.1.5.0", 24, 8);
        Add("10.1.5.0", 25, 9);
        Add("10.1.5.128", 26, 10);
        Add("10.1.5.1", 32, 11);
        Add("10.1.5.2", 31, 12);
        Add("10.1.64.0", 18, 13);
        LpmTestSupport.AssertMatches(table, trie, probes);
        Assert.Equal(11u, table.Lookup(0x0A010501));
        Assert.Equal(1u, table.Lookup(0x0B000000));
        Assert.Equal(2u, table.Lookup(0xFFFFFFFF));

        Del("10.1.0.0", 16);   // covering prefix under more-specifics (short path)
        LpmTestSupport.AssertMatches(table, trie, probes);
        Del("10.1.5.0", 24);   // covering prefix under more-specifics (chunk path)
        LpmTestSupport.AssertMatches(table, trie, probes);
        Del("10.0.0.0", 8);
        Del("0.0.0.0", 0);
        LpmTestSupport.AssertMatches(table, trie, probes);
        Assert.Equal(Lpm4Table.NoRoute, table.Lookup(0x0B000000));
        Add("10.1.5.0", 24, 14);   // re-add under existing specifics
        Add("10.1.5.1", 32, 15);   // replace
        LpmTestSupport.AssertMatches(table, trie, probes);
        Assert.Equal(15u, table.Lookup(0x0A010501));
        Assert.Equal(trie.Count, table.Count);
    }

    /// <summary>Every address in 10.1.0.0/20 and around the extremes of the address space.</summary>
    private static uint[] Probes()
    {
        var list = new List<uint>();
        for (uint a = 0x0A010000; a < 0x0A011000; a++) list.Add(a);
        for (uint a = 0; a < 300; a++) { list.Add(a); list.Add(uint.MaxValue - a); }
        list.AddRange([0x0A000000, 0x0AFFFFFF, 0x0A014000, 0x0A017FFF, 0x0A018000, 0x09FFFFFF, 0x0B000000]);
        return list.ToArray();
    }

    [Fact]
    public void AddOrReplace_ShortPrefixOverChunks_LeavesAndEntriesFollow()
    {
        // Chunk leaves carry the /18's direct answer, so a short prefix change must rebuild the chunks below it
        // (and a /18 left without any route must answer NoRoute through the empty chunk).
        var table = new Lpm4Table();
        var trie = new RouteTrie();
        void Set(uint p, int l, uint nh) => Assert.Equal(trie.AddOrReplace(p, l, nh), table.AddOrReplace(p, l, nh));
        void Del(uint p, int l) => Assert.Equal(trie.Delete(p, l), table.Delete(p, l));
        var probes = new List<uint>();
        for (uint x = 0; x < 64; x++)
        {
            Set(0x0A000000 | (x << 16) | 0x0100, 24, 100 + x);        // a chunk in every fourth /18 of 10.0.0.0/10
            Set(0x0A000000 | (x << 16) | 0x0180, 25, 200 + x);
            for (uint y = 0; y < 8; y++) probes.Add(0x0A000000 | (x << 16) | (y << 13) | (y * 37));
            probes.Add(0x0A000000 | (x << 16) | 0x0101);
            probes.Add(0x0A000000 | (x << 16) | 0x0181);
        }
        uint[] addresses = probes.ToArray();
        LpmTestSupport.AssertMatches(table, trie, addresses);
        Set(0x0A000000, 8, 1);
        LpmTestSupport.AssertMatches(table, trie, addresses);
        Set(0x0A000000, 12, 2);
        Set(0x0A000000, 8, 3);   // replaced: only the entries and chunk slots the /8 still owns change
        LpmTestSupport.AssertMatches(table, trie, addresses);
        Del(0x0A000000, 12);
        LpmTestSupport.AssertMatches(table, trie, addresses);
        Del(0x0A000000, 8);
        LpmTestSupport.AssertMatches(table, trie, addresses);
        for (uint x = 0; x < 64; x++)
        {
            Del(0x0A000000 | (x << 16) | 0x0100, 24);
            Del(0x0A000000 | (x << 16) | 0x0180, 25);
        }
        LpmTestSupport.AssertMatches(table, trie, addresses);
        Assert.All(addresses, a => Assert.Equal(Lpm4Table.NoRoute, table.Lookup(a)));
        Assert.Equal(0, table.ChunkCount);
    }

    [Fact]
    public void AddOrReplace_ManyDistinctNextHops_AllStoredExactly()
    {
        var table = new Lpm4Table();
        const int Routes = 1 << 20;
        var routes = new Route4[Routes];
        for (int i = 0; i < Routes; i++)   // 2^20 /28s inside 16.0.0.0/8, next hop i scaled up to MaxNextHop
            routes[i] = new Route4(0x10000000u + ((uint)i << 4), 28, (uint)((ulong)i * Lpm4Table.MaxNextHop / (Routes - 1)));
        table.AddRange(routes);
        for (int i = 0; i < Routes; i++)
            Assert.Equal(routes[i].NextHop, table.Lookup(routes[i].Prefix | 0xF));
        Assert.Equal(Lpm4Table.MaxNextHop, table.Lookup(0x10FFFFFF));
    }

    [Fact]
    public void AddOrReplace_InvalidArguments_Throws()
    {
        var table = new Lpm4Table();
        Assert.Throws<ArgumentException>(() => table.AddOrReplace(0x0A010501, 24, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.AddOrReplace(0, 33, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.AddOrReplace(0, -1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.AddOrReplace(0, 0, Lpm4Table.NoRoute));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.AddOrReplace(0, 0, Lpm4Table.MaxNextHop + 1));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Delete_MissingPrefix_ReturnsFalseAndKeepsCount()
    {
        var table = new Lpm4Table();
        Assert.True(table.AddOrReplace(0x0A010500, 24, 1));
        Assert.False(table.AddOrReplace(0x0A010500, 24, 2));
        Assert.False(table.Delete(0x0A010500, 25));
        Assert.False(table.Delete(0x0A010000, 16));
        Assert.Equal(1, table.Count);
        Assert.True(table.TryGet(0x0A010500, 24, out uint nh));
        Assert.Equal(2u, nh);
        Assert.True(table.Delete(0x0A010500, 24));
        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.ChunkCount);
        Assert.Equal(Lpm4Table.NoRoute, table.Lookup(0x0A010501));
    }

    [Fact]
    public void AddRange_DuplicatePrefix_LastOneWins()
    {
        Lpm4Table table = Lpm4Table.Build([new(0x0A010500, 24, 1), new(0x0A000000, 8, 3), new(0x0A010500, 24, 2), new(0x0A000000, 8, 4)]);
        Assert.Equal(2, table.Count);
        Assert.Equal(2u, table.Lookup(0x0A010505));
        Assert.Equal(4u, table.Lookup(0x0A020505));
    }

    [Fact]
    public void LookupBatch_EveryLengthUpTo100_MatchesSingleLookups()
    {
        Route4[] routes = SyntheticTable.Generate(5_000, seed: 31);
        Lpm4Table table = Lpm4Table.Build(routes);
        uint[] addresses = SyntheticTable.Destinations(routes, 100, seed: 32);
        for (int n = 0; n <= 100; n++)
        {
            var output = new uint[n];
            table.LookupBatch(addresses.AsSpan(0, n), output);
            for (int i = 0; i < n; i++) Assert.Equal(table.Lookup(addresses[i]), output[i]);
        }
        Assert.Throws<ArgumentException>(() => table.LookupBatch(addresses, new uint[3]));
    }

    [Fact]
    public void MemoryBytes_FullSyntheticTable_WithinSixteenMebibytes()
    {
        Lpm4Table table = Lpm4Table.Build(LpmTestSupport.FullTable.Value);
        Assert.InRange(table.MemoryBytes, 3L << 20, 16L << 20);
    }
}
