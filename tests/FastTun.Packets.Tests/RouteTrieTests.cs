using FastTun.Traffic;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Packets.Tests;

public class RouteTrieTests
{
    /// <summary>The oracle's oracle: a linear scan for the longest covering prefix.</summary>
    private static uint LinearLookup(Dictionary<(uint, int), uint> routes, uint address)
    {
        int bestLength = -1;
        uint best = Lpm4Table.NoRoute;
        foreach (((uint prefix, int length), uint nh) in routes)
        {
            if (length > bestLength && (address & Route4.Mask(length)) == prefix)
            {
                bestLength = length;
                best = nh;
            }
        }
        return best;
    }

    [Fact]
    public void Lookup_RandomNestedRoutesWithDeletes_MatchesLinearScan()
    {
        var rng = new SplitMix64(41);
        var trie = new RouteTrie();
        var routes = new Dictionary<(uint, int), uint>();
        for (int op = 0; op < 3000; op++)
        {
            int length = (int)rng.NextInt(33);
            uint prefix = (0x0A000000u | (rng.NextUInt() & 0x000FFFFF)) & Route4.Mask(length);   // nested in 10/12
            if (rng.NextInt(4) == 0)
            {
                Assert.Equal(routes.Remove((prefix, length)), trie.Delete(prefix, length));
            }
            else
            {
                uint nh = rng.NextInt(100);
                Assert.Equal(!routes.ContainsKey((prefix, length)), trie.AddOrReplace(prefix, length, nh));
                routes[(prefix, length)] = nh;
            }
        }
        Assert.Equal(routes.Count, trie.Count);
        for (int i = 0; i < 3000; i++)
        {
            uint address = 0x0A000000u | (rng.NextUInt() & 0x000FFFFF);
            Assert.Equal(LinearLookup(routes, address), trie.Lookup(address));
        }
        foreach (((uint p, int l), uint nh) in routes)
        {
            Assert.True(trie.TryGet(p, l, out uint got));
            Assert.Equal(nh, got);
        }
    }

    [Fact]
    public void AddOrReplace_HostBitsSet_Throws()
    {
        Assert.Throws<ArgumentException>(() => new RouteTrie().AddOrReplace(0x0A010501, 24, 1));
    }
}
