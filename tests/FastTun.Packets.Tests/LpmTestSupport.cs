using FastTun.Traffic;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Packets.Tests;

/// <summary>Shared helpers for the LPM oracle tests: build both structures and compare on many addresses.</summary>
internal static class LpmTestSupport
{
    /// <summary>The default 1,036,829-prefix synthetic table, generated once per test run.</summary>
    public static readonly Lazy<Route4[]> FullTable = new(() => SyntheticTable.Generate());

    public static RouteTrie BuildTrie(ReadOnlySpan<Route4> routes)
    {
        var trie = new RouteTrie();
        foreach (Route4 r in routes) trie.AddOrReplace(r.Prefix, r.Length, r.NextHop);
        return trie;
    }

    /// <summary>Compares batch and single lookups against the trie; fails naming the first bad address.</summary>
    public static void AssertMatches(Lpm4Table table, RouteTrie trie, uint[] addresses)
    {
        var batch = new uint[addresses.Length];
        Lpm4Reader reader = table.GetReader();
        reader.LookupBatch(addresses, batch);
        for (int i = 0; i < addresses.Length; i++)
        {
            uint expected = trie.Lookup(addresses[i]);
            if (batch[i] != expected || (i % 7 == 0 && table.Lookup(addresses[i]) != expected))
                Assert.Fail($"{Ipv4Address.Format(addresses[i])}: batch {batch[i]}, single {table.Lookup(addresses[i])}, trie {expected}");
        }
    }

    /// <summary>Addresses that stress prefix edges: each route's first and last address and their neighbours.</summary>
    public static uint[] EdgeAddresses(ReadOnlySpan<Route4> routes)
    {
        var result = new uint[routes.Length * 4];
        for (int i = 0; i < routes.Length; i++)
        {
            uint first = routes[i].Prefix, last = first | ~Route4.Mask(routes[i].Length);
            result[4 * i] = first;
            result[4 * i + 1] = last;
            result[4 * i + 2] = first - 1;
            result[4 * i + 3] = last + 1;
        }
        return result;
    }

    public static uint[] Uniform(int count, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var result = new uint[count];
        for (int i = 0; i < count; i++) result[i] = rng.NextUInt();
        return result;
    }
}
