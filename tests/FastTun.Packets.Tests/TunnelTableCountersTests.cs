using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>The decap counters of a hub's tunnels in the dense native store (<see cref="DecapCounters"/>): exact per
/// worker and summed when read, against a dictionary of what each worker delivered; fresh for a new tunnel even
/// when it reuses a collected tunnel's entries.</summary>
public class TunnelTableCountersTests
{
    private const uint Hub = 0xAC0C010A;
    private static uint Spoke(int i) => 0x0A000000u | (uint)(i + 1);

    [Theory]
    [InlineData(300)]  // a small table: no prefetch passes
    [InlineData(1100)] // 2,200 tunnels, 8,192 slots: the prefetch passes ask for the counter entries
    public unsafe void DecapsulateBatch_RandomSpokesAndWorkers_CountsExactPerWorkerAndSummed(int spokes)
    {
        const int Workers = 4;
        var tunnels = new List<Tunnel>();
        for (int i = 0; i < spokes; i++)
        {
            tunnels.Add(new Tunnel(new TunnelSettings($"tun{2 * i}", TunnelMode.Ipip, Hub, Spoke(i)), Workers));
            tunnels.Add(new Tunnel(new TunnelSettings($"tun{2 * i + 1}", TunnelMode.Gre, Hub, Spoke(i), key: (uint)i), Workers));
        }
        var table = new TunnelTable(tunnels);
        var expected = new Dictionary<(Tunnel, int), (long Packets, long Bytes)>();
        var rng = new Random(21);
        using var pool = new FramePool(80, 2048, 128);
        var frames = new Frame[64];
        for (int round = 0; round < 40; round++)
        {
            int worker = rng.Next(Workers);
            int n = rng.Next(1, frames.Length + 1);
            var sent = new Tunnel?[n];
            for (int j = 0; j < n; j++)
            {
                Frame f = default;
                Assert.True(pool.TryRent(ref f));
                int innerLength = rng.Next(20, 200);
                f.Length = innerLength;
                Ipv4Header.Write(f.Data, 0, (ushort)innerLength, 1, true, 63, Ipv4Header.ProtocolUdp, 0x0A01050A, 0x0A01080A);
                int spoke = rng.Next(spokes + 1); // spokes: an unknown remote, dropped and not counted
                bool gre = rng.Next(2) == 0;
                var settings = gre
                    ? new TunnelSettings("s", TunnelMode.Gre, Spoke(spoke), Hub, key: (uint)spoke)
                    : new TunnelSettings("s", TunnelMode.Ipip, Spoke(spoke), Hub);
                Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(new Tunnel(settings, 1), ref f));
                frames[j] = f;
                sent[j] = spoke < spokes ? tunnels[2 * spoke + (gre ? 1 : 0)] : null;
            }
            TunnelDecap.DecapsulateBatch(table, frames.AsSpan(0, n), worker);
            for (int j = 0; j < n; j++)
            {
                if (sent[j] is { } t)
                {
                    Assert.Equal(DropReason.None, frames[j].Drop);
                    expected.TryGetValue((t, worker), out var c);
                    expected[(t, worker)] = (c.Packets + 1, c.Bytes + frames[j].Length);
                }
                else Assert.Equal(DropReason.NoTunnel, frames[j].Drop);
                pool.Return(frames[j]);
            }
        }
        foreach (var t in tunnels)
        {
            long packets = 0, bytes = 0;
            for (int w = 0; w < Workers; w++)
            {
                expected.TryGetValue((t, w), out var c);
                Assert.Equal(c.Packets, t.DecapCounters.Entry(w)[0]);
                Assert.Equal(c.Bytes, t.DecapCounters.Entry(w)[1]);
                packets += c.Packets;
                bytes += c.Bytes;
            }
            Assert.Equal(packets, t.DecapPackets);
            Assert.Equal(bytes, t.DecapBytes);
        }
    }

    [Fact]
    public unsafe void DecapCounters_CollectedTunnelsEntriesReused_NewTunnelsStartAtZero()
    {
        static void Dirty(int count)
        {
            for (int i = 0; i < count; i++)
            {
                var c = new DecapCounters(3);
                for (int w = 0; w < 3; w++) { c.Entry(w)[0] = 7 + w; c.Entry(w)[1] = 1000 + w; }
            }
        }
        Dirty(500);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var fresh = new List<DecapCounters>();
        for (int i = 0; i < 500; i++) fresh.Add(new DecapCounters(3));
        foreach (var c in fresh)
        {
            Assert.Equal(0, c.Packets);
            Assert.Equal(0, c.Bytes);
        }
        Assert.Equal(fresh.Count, fresh.Select(c => c.Worker0).Distinct().Count()); // no two live tunnels share entries
    }

    [Fact]
    public void DecapCounters_WorkersOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DecapCounters(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DecapCounters(Tunnel.MaxWorkers + 1));
    }

    [Fact]
    public void DecapCounters_ConstructorThrew_LiveEntriesNeverHandedOutTwice()
    {
        // A constructor that throws still leaves an object for the finalizer; it returned index 0 (held by a live
        // tunnel) to the store, so two tunnels could share counters (the flaky HubCorpus count mismatch).
        var live = new List<DecapCounters>();
        for (int i = 0; i < 64; i++) live.Add(new DecapCounters(1));
        for (int i = 0; i < 50; i++) Assert.Throws<ArgumentOutOfRangeException>(() => new DecapCounters(0));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        for (int i = 0; i < 200; i++) live.Add(new DecapCounters(1));
        Assert.Equal(live.Count, live.Select(c => c.Worker0).Distinct().Count());
        GC.KeepAlive(live);
    }

    [Fact]
    public void DecapsulateBatch_WorkerBeyondTunnelsCounters_ThrowsAndWritesNoEntry()
    {
        // A tunnel with entries for 2 workers next to one with 4: the table allows workers 0 and 1 only. Before,
        // worker 2 wrote an entry nobody summed or cleared, which the next tunnel renting it inherited.
        var two = new Tunnel(new TunnelSettings("tun1", TunnelMode.Ipip, Hub, Spoke(1)), 2);
        var four = new Tunnel(new TunnelSettings("tun2", TunnelMode.Ipip, Hub, Spoke(2)), 4);
        var table = new TunnelTable(new[] { two, four });
        Assert.Equal(2, table.CounterWorkers);
        using var pool = new FramePool(4, 2048, 128);
        Frame f = default;
        Assert.True(pool.TryRent(ref f));
        f.Length = 40;
        Ipv4Header.Write(f.Data, 0, 40, 1, true, 63, Ipv4Header.ProtocolUdp, 0x0A01050A, 0x0A01080A);
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(new Tunnel(new TunnelSettings("s", TunnelMode.Ipip, Spoke(1), Hub), 1), ref f));
        var frames = new[] { f };
        Assert.Throws<ArgumentOutOfRangeException>(() => TunnelDecap.DecapsulateBatch(table, frames.AsSpan(), 2));
        Assert.Equal(0, two.DecapPackets);
        Assert.Equal(1, TunnelDecap.DecapsulateBatch(table, frames.AsSpan(), 1));
        Assert.Equal(1, two.DecapPackets);
        var added = new TunnelTable();
        added.Add(four);
        Assert.Equal(4, added.CounterWorkers);
        added.Add(two);
        Assert.Equal(2, added.CounterWorkers);
    }

    [Fact]
    public unsafe void Tunnel_RebuiltForMoreWorkers_KeepsTotalsInOwnEntries()
    {
        var settings = new TunnelSettings("tun1", TunnelMode.Ipip, Hub, Spoke(1));
        var one = new Tunnel(settings, 1);
        one.DecapCounters.Entry(0)[0] = 5;
        one.DecapCounters.Entry(0)[1] = 500;
        var same = new Tunnel(settings, 0, one, 1);
        Assert.Same(one.DecapCounters, same.DecapCounters);
        var three = new Tunnel(settings, 0, one, 3);
        Assert.NotSame(one.DecapCounters, three.DecapCounters);
        Assert.Equal(3, three.DecapCounters.Workers);
        Assert.Equal(5, three.DecapPackets);
        Assert.Equal(500, three.DecapBytes);
    }
}
