using FastTun.Packets.Datapath;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>#12 item 2: a tunnel rebuilt from changed settings (`tunnel set`, reload) goes on with its predecessor's
/// running state, as `ip tunnel change` does; a new tunnel starts afresh.</summary>
public class TunnelChangeStateTests
{
    private const uint Local = 0xAC0C010A, Remote = 0xAC0C010B;

    private static TunnelSettings Gre(byte ttl, uint key) =>
        new("tun0", TunnelMode.Gre, Local, Remote, ttl: ttl, key: key, sequence: true);

    [Fact]
    public void Tunnel_RebuiltWithNewTtlAndKey_KeepsCountersSequenceIdsMeterAndLearnedPmtu()
    {
        var old = new Tunnel(Gre(255, 42));
        for (int i = 0; i < 5; i++) old.NextTxSequence();
        old.Slots[0].EncapPackets = 7;
        unsafe { old.DecapCounters.Entry(0)[1] = 1234; }
        ushort lastId = 0;
        for (int i = 0; i < 3; i++) lastId = old.NextId(0, 1);
        old.SequenceMeter.Observe(100);
        var oldPath = new TunnelPath(old, 1464, 0x01010101);
        oldPath.LearnPmtu(1400, nowMs: 1_000);
        Assert.Equal(1400 - old.HeaderLength, oldPath.Mtu(2_000));

        var changed = new Tunnel(Gre(64, 43), old);
        var path = new TunnelPath(changed, 1464, 0x01010101);

        Assert.Equal(5u, changed.NextTxSequence());              // the GRE output sequence goes on
        Assert.Equal(7, changed.EncapPackets);                    // counters go on (Prometheus never goes back)
        Assert.Equal(1234, changed.DecapBytes);
        ushort nextId = changed.NextId(0, 1);
        Assert.Equal(lastId == 0xFFFF ? 1 : lastId + 1, nextId);  // no IP ID repeats
        Assert.Same(old.SequenceMeter, changed.SequenceMeter);    // receive window and meter
        Assert.Equal(101u, changed.SequenceMeter.NextExpected);
        Assert.Equal(1400 - changed.HeaderLength, path.Mtu(2_000)); // learned PMTU, with the new tunnel's overhead
        Assert.Equal(1464, path.Mtu(1_000 + TunnelPath.PmtuExpiresMs)); // and it still expires
        Assert.Equal(64, changed.Settings.Ttl);
    }

    [Fact]
    public void Tunnel_NewWithoutPredecessor_StartsAfresh()
    {
        var old = new Tunnel(Gre(255, 42));
        old.NextTxSequence();
        old.Slots[0].EncapPackets = 3;
        var fresh = new Tunnel(Gre(255, 42));
        Assert.Equal(0u, fresh.NextTxSequence());
        Assert.Equal(0, fresh.EncapPackets);
        Assert.Equal(1464, new TunnelPath(fresh, 1464, 0).Mtu(0));
    }

    [Fact]
    public void Tunnel_BuiltForTwoWorkers_KeepsTwoCounterLinesAndARebuildKeepsThem()
    {
        var two = new Tunnel(Gre(255, 42), workers: 2);
        Assert.Equal(2, two.WorkerSlots);
        two.Slots[1].EncapPackets = 4;
        var changed = new Tunnel(Gre(64, 42), two);
        Assert.Equal(2, changed.WorkerSlots);
        Assert.Equal(4, changed.EncapPackets);
        Assert.Equal(Tunnel.MaxWorkers, new Tunnel(Gre(255, 42)).WorkerSlots);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tunnel(Gre(255, 42), workers: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tunnel(Gre(255, 42), workers: Tunnel.MaxWorkers + 1));
    }

    [Fact]
    public void Process_StateWithFewerWorkerSlotsThanWorkers_RefusedBeforeAnyPacket()
    {
        var tunnel = new Tunnel(Gre(255, 42), workers: 1);
        var ports = new[] { new PortInfo(0, "eth1", 0x020000000001, 1500, [0x0A010501u]) };
        var state = new ForwardingState(new FastTun.Packets.Routing.Lpm4Table(), [NextHop.Into(0)], ports,
            [new TunnelPath(tunnel, 1464, 0)], new TunnelTable());
        Assert.Equal(1, state.WorkerSlots);
        var neighbors = new NeighborTable();
        var second = new Datapath.Pipeline(() => state, neighbors, worker: 1, workers: 2);
        var batch = new PacketBatch(1);
        var error = Assert.Throws<InvalidOperationException>(() => { second.Process(batch, 0); });
        Assert.Contains("1 worker(s)", error.Message);
        var only = new Datapath.Pipeline(() => state, neighbors, worker: 0, workers: 1);
        only.Process(batch, 0); // one worker: accepted
    }
}
