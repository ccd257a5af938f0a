using FastTun.Packets.Datapath;

namespace FastTun.Packets.Tests;

public class NeighborTableTests
{
    private const ulong MacA = 0xaac1ab52_6107;
    private const ulong MacB = 0xaac1ab2c_6736;

    [Fact]
    public void GetOrCreate_New_IsIncompleteAndNotUsable()
    {
        var t = new NeighborTable();
        var e = t.GetOrCreate(1, 0x0A01050A, 0)!;
        Assert.Equal(NeighborState.Incomplete, e.State);
        Assert.False(e.TryGetUsable(out _, out _));
        Assert.Same(e, t.Find(1, 0x0A01050A));
        Assert.Null(t.Find(2, 0x0A01050A));
    }

    [Fact]
    public void Learn_Reply_MakesReachableWithMac()
    {
        var t = new NeighborTable();
        t.GetOrCreate(0, 0xAC0C010B, 0);
        t.Learn(0, 0xAC0C010B, MacB, 5, create: false);
        var e = t.Find(0, 0xAC0C010B)!;
        Assert.True(e.TryGetUsable(out ulong mac, out var state));
        Assert.Equal(MacB, mac);
        Assert.Equal(NeighborState.Reachable, state);
    }

    [Fact]
    public void Learn_NoCreate_UnknownAddress_AddsNothing()
    {
        var t = new NeighborTable();
        Assert.Null(t.Learn(0, 1, MacA, 0, create: false));
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Age_ReachableThenStaleThenRemoved()
    {
        var t = new NeighborTable();
        t.Learn(0, 7, MacA, 0, create: true);
        t.Age(NeighborTable.ReachableMs - 1);
        Assert.Equal(NeighborState.Reachable, t.Find(0, 7)!.State);
        t.Age(NeighborTable.ReachableMs);
        Assert.Equal(NeighborState.Stale, t.Find(0, 7)!.State);
        Assert.True(t.Find(0, 7)!.TryGetUsable(out _, out _));
        Assert.Equal(1, t.Age(NeighborTable.ReachableMs + NeighborTable.GcStaleMs));
        Assert.Null(t.Find(0, 7));
    }

    [Fact]
    public void AddStatic_IsNeverOverwrittenOrAged()
    {
        var t = new NeighborTable();
        t.AddStatic(0, 9, MacA, 0);
        t.Learn(0, 9, MacB, 1, create: true);
        t.Age(10 * NeighborTable.GcStaleMs);
        Assert.True(t.Find(0, 9)!.TryGetUsable(out ulong mac, out var state));
        Assert.Equal((MacA, NeighborState.Static), (mac, state));
    }

    [Fact]
    public void GetOrCreate_Full_EvictsStaleFirstThenRefuses()
    {
        var t = new NeighborTable(capacity: 2);
        t.Learn(0, 1, MacA, 0, create: true);
        t.Learn(0, 2, MacA, 0, create: true);
        Assert.Null(t.GetOrCreate(0, 3, 1)); // both reachable: nothing to evict
        t.Age(NeighborTable.ReachableMs); // both stale now
        Assert.NotNull(t.GetOrCreate(0, 3, NeighborTable.ReachableMs + 1));
        Assert.Equal(2, t.Count);
    }

    [Fact]
    public void Remove_ThenFind_IsNull_AndOthersRemain()
    {
        var t = new NeighborTable();
        for (uint ip = 1; ip <= 50; ip++) t.Learn(0, ip, MacA + ip, 0, create: true);
        Assert.True(t.Remove(0, 25));
        Assert.False(t.Remove(0, 25));
        Assert.Null(t.Find(0, 25));
        for (uint ip = 1; ip <= 50; ip++) if (ip != 25) Assert.Equal(MacA + ip, t.Find(0, ip)!.Mac);
    }

    [Theory]
    [InlineData("aa:c1:ab:52:61:07", 0xaac1ab526107UL)]
    [InlineData("00:00:00:00:00:01", 1UL)]
    public void MacText_RoundTrips(string text, ulong value)
    {
        Assert.True(NeighborEntry.TryParseMac(text, out ulong mac));
        Assert.Equal(value, mac);
        Assert.Equal(text, NeighborEntry.FormatMac(mac));
        Span<byte> six = stackalloc byte[6];
        NeighborEntry.WriteMac(mac, six);
        Assert.Equal(mac, NeighborEntry.ReadMac(six));
    }

    [Theory]
    [InlineData("aa:c1:ab:52:61")]
    [InlineData("zz:c1:ab:52:61:07")]
    [InlineData("")]
    public void TryParseMac_Malformed_False(string text) => Assert.False(NeighborEntry.TryParseMac(text, out _));
}

public class IcmpRateLimiterTests
{
    [Fact]
    public void TryTake_BurstThenRefillAtRate()
    {
        var r = new IcmpRateLimiter(perSecond: 1000, burst: 50, nowMs: 0);
        int granted = 0;
        for (int i = 0; i < 100; i++) if (r.TryTake(0)) granted++;
        Assert.Equal(50, granted);
        Assert.False(r.TryTake(0));
        Assert.True(r.TryTake(1)); // 1 ms at 1000/s refills one token
        Assert.False(r.TryTake(1));
        granted = 0;
        for (int i = 0; i < 100; i++) if (r.TryTake(1000)) granted++;
        Assert.Equal(50, granted); // refill caps at the burst
    }
}
