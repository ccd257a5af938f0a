using FastTun.Traffic;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Packets.Tests;

public class QsbrTests
{
    [Fact]
    public void IsSafe_NoReaders_True()
    {
        var domain = new Qsbr();
        Assert.True(domain.IsSafe(domain.Retire()));
    }

    [Fact]
    public void IsSafe_OnlineReaderNotYetQuiescent_FalseUntilItReports()
    {
        var domain = new Qsbr();
        using QsbrReader reader = domain.Register();
        ulong token = domain.Retire();
        Assert.False(domain.IsSafe(token));
        reader.Quiescent();
        Assert.True(domain.IsSafe(token));
    }

    [Fact]
    public void IsSafe_OfflineReader_DoesNotBlockWriter()
    {
        var domain = new Qsbr();
        using QsbrReader idle = domain.Register();
        idle.Offline();
        ulong token = domain.Retire();
        Assert.True(domain.IsSafe(token));
        idle.Online();
        Assert.False(domain.IsSafe(domain.Retire()));   // back online: later retirements wait for it again
    }

    [Fact]
    public void Register_MoreThanCapacity_ThrowsAndDisposeFreesSlot()
    {
        var domain = new Qsbr(maxReaders: 1);
        QsbrReader first = domain.Register();
        Assert.Throws<InvalidOperationException>(() => domain.Register());
        first.Dispose();
        using QsbrReader again = domain.Register();
    }

    [Fact]
    public void Rebuild_RegisteredReaderNotQuiescent_OldChunksStayRetiredUntilItReports()
    {
        var domain = new Qsbr();
        var table = new Lpm4Table(domain);
        Route4[] routes = SyntheticTable.Generate(5_000, seed: 61);
        table.AddRange(routes);
        using QsbrReader reader = domain.Register();
        uint before = table.Lookup(routes[0].Prefix);
        foreach (Route4 r in routes.AsSpan(0, 200))
            if (r.Length > 18) table.AddOrReplace(r.Prefix, r.Length, r.NextHop + 1);
        Assert.True(table.RetiredChunks > 0);   // the reader may still hold the chunks it saw before
        Assert.Equal(routes[0].Length > 18 ? before + 1 : before, table.Lookup(routes[0].Prefix));
        reader.Quiescent();
        table.Reclaim();
        Assert.Equal(0, table.RetiredChunks);
    }

    [Fact]
    public void Churn_RetiredChunksReused_TouchedMemoryStaysBounded()
    {
        var table = new Lpm4Table(new Qsbr());   // no readers: every retired block is reusable at once
        Route4[] routes = SyntheticTable.Generate(20_000, seed: 62);
        table.AddRange(routes);
        long touched = table.PoolTouchedBytes;
        var rng = new SplitMix64(63);
        for (int i = 0; i < 100_000; i++)
        {
            Route4 r = routes[rng.NextInt((uint)routes.Length)];
            table.Delete(r.Prefix, r.Length);
            table.AddOrReplace(r.Prefix, r.Length, r.NextHop);
        }
        Assert.InRange(table.PoolTouchedBytes, touched, touched + (1 << 20));
        LpmTestSupport.AssertMatches(table, LpmTestSupport.BuildTrie(routes), SyntheticTable.Destinations(routes, 50_000, seed: 64));
    }
}
