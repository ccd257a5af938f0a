using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// Wire order: frames the gateway builds (fragments, ICMP errors) leave in the place of the packet they come
/// from, and a sequenced GRE tunnel's numbers follow the wire order, as the kernel's would.
/// </summary>
public sealed class PipelineOrderTests
{
    /// <summary>A ping from server1 to server2 with its own IP ID (and DF as asked).</summary>
    private static byte[] Packet(ushort id, int payload = 56, bool df = true, byte ttl = 64)
    {
        byte[] p = Ping(Server1, Server2, ttl: ttl, payload: payload, df: df);
        Assert.True(Ipv4Header.TryParse(p, out var ip));
        ip.Identification = id;
        ip.ComputeChecksum();
        return p;
    }

    private static Ipv4Header Ip(byte[] l3)
    {
        Assert.True(Ipv4Header.TryParse(l3, out var ip));
        return ip;
    }

    /// <summary>(ID, fragment offset) of the inner packet of an outer IPv4 frame on eth2.</summary>
    private static (ushort Id, int Offset) Inner(byte[] frame, int outerHeaderLength)
    {
        var inner = Ip(L3(frame).AsSpan(outerHeaderLength).ToArray());
        return (inner.Identification, inner.FragmentOffset);
    }

    [Fact]
    public void Process_BigNonDfPacketBetweenSmallOnes_FragmentsLeaveInItsPlaceInOffsetOrder()
    {
        using var lab = new SeedLab();
        var (o, _) = lab.Run(lab.Gw1,
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(1))),
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(2, payload: 2000, df: false))),
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(3))));
        Assert.All(o, s => Assert.Equal(Eth2, s.Port));
        var order = o.Select(s => Inner(s.Bytes, 20)).ToArray();
        Assert.Equal(new (ushort, int)[] { (1, 0), (2, 0), (2, 1456), (3, 0) }, order);
    }

    [Fact]
    public void Process_TtlExpiredBetweenForwarded_TimeExceededLeavesInItsPlace()
    {
        using var lab = new SeedLab();
        var (o, rx) = lab.Run(lab.Gw1,
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(1))),
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(2, ttl: 1))),
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(3))));
        Assert.Equal(DropReason.TtlExceeded, rx[1].Drop);
        Assert.Equal(new[] { Eth2, Eth1, Eth2 }, o.Select(s => s.Port).ToArray());
        Assert.Equal(1, Inner(o[0].Bytes, 20).Id);
        var error = Ip(L3(o[1].Bytes));
        Assert.Equal((Ipv4Header.ProtocolIcmp, Server1), (error.Protocol, error.Destination));
        Assert.Equal((byte)Packets.Datapath.Pipeline.IcmpTimeExceeded, error.Payload[0]);
        Assert.Equal(3, Inner(o[2].Bytes, 20).Id);
    }

    [Fact]
    public void Process_SequencedGreBatchWithFragments_SequenceNumbersContiguousInWireOrder()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: 42, checksum: true, sequence: true);
        const int outerHeader = 20 + 16;
        var frames = new List<(ushort, byte[])>();
        for (ushort id = 1; id <= 8; id++)
            frames.Add((Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(id, payload: id % 3 == 0 ? 3000 : 56, df: false))));
        var (o1, _) = lab.Run(lab.Gw1, frames.ToArray());
        var (o2, _) = lab.Run(lab.Gw1, frames.Take(3).ToArray());
        var wire = o1.Concat(o2).ToList();
        var sequence = wire.Select(s => BinaryPrimitives.ReadUInt32BigEndian(L3(s.Bytes).AsSpan(20 + 12))).ToArray();
        Assert.Equal(Enumerable.Range(0, wire.Count).Select(i => (uint)i).ToArray(), sequence);
        // Packets 3 and 6 were split in three each, and their pieces sit in their place, in offset order.
        var ids = o1.Select(s => Inner(s.Bytes, outerHeader)).ToArray();
        Assert.Equal(new (ushort, int)[] { (1, 0), (2, 0), (3, 0), (3, 1440), (3, 2880), (4, 0), (5, 0), (6, 0), (6, 1440), (6, 2880), (7, 0), (8, 0) }, ids);

        // And the peer, which checks sequence numbers, accepts every one of them.
        var (delivered, rx) = lab.Run(lab.Gw2, wire.Select(s => (Eth2, s.Bytes)).ToArray());
        Assert.All(rx, r => Assert.Equal(DropReason.None, r.Drop));
        Assert.Equal(wire.Count, delivered.Count);
    }

    [Fact]
    public void Process_TwoWorkers_TunnelCountersPerWorkerAndIpIdsDisjoint()
    {
        using var lab = new SeedLab();
        using var w0 = lab.Gw1Worker(0, 2);
        using var w1 = lab.Gw1Worker(1, 2);
        var ids = new List<(int Worker, ushort Id)>();
        for (int round = 0; round < 20; round++)
        {
            var frames = Enumerable.Range(0, 10).Select(i => (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet((ushort)i)))).ToArray();
            foreach (var s in lab.Run(w0, frames).Out) ids.Add((0, Ip(L3(s.Bytes)).Identification));
            foreach (var s in lab.Run(w1, frames.Take(7).ToArray()).Out) ids.Add((1, Ip(L3(s.Bytes)).Identification));
        }
        var tunnel = lab.State1.Tunnels[0].Tunnel;
        Assert.Equal(200, tunnel.EncapPacketsOf(0));
        Assert.Equal(140, tunnel.EncapPacketsOf(1));
        Assert.Equal(340, tunnel.EncapPackets);
        Assert.Equal(200, w0.Counters.Forwarded);
        Assert.Equal(140, w1.Counters.Forwarded);
        Assert.Equal(ids.Count, ids.Select(i => i.Id).Distinct().Count());
        Assert.All(ids, i => Assert.Equal(i.Worker, (i.Id - 1) % 2));
    }

    [Fact]
    public void Process_TwoWorkersSequencedGre_OwnerSendsAllWithContiguousSequenceNumbers()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: 7, sequence: true);
        using var handoff = new TunnelHandoff(2);
        using var w0 = lab.Gw1Worker(0, 2, handoff);
        using var w1 = lab.Gw1Worker(1, 2, handoff);
        var tunnel = lab.State1.Tunnels[0].Tunnel;
        int owner = TunnelHandoff.OwnerOf(tunnel, 2);
        var workers = new[] { w0, w1 };
        var wire = new List<Sent>();
        int sent = 0;
        var small = new int[2];
        var pieces = new int[2];
        ushort id = 1;
        for (int round = 0; round < 30; round++)
        {
            // Both workers receive (with some fragments), in an interleaving that changes per round.
            foreach (var w in round % 2 == 0 ? workers : workers.Reverse())
            {
                var frames = new List<(ushort, byte[])>();
                for (int i = 0; i < 5; i++, id++)
                {
                    bool big = id % 7 == 0;
                    frames.Add((Eth1, Eth(Gw1Eth1Mac, Server1Mac, Packet(id, payload: big ? 2000 : 56, df: !big))));
                    sent += big ? 2 : 1;
                    pieces[w.Worker] += big ? 2 : 1;
                    if (!big) small[w.Worker]++;
                }
                var (o, rx) = lab.Run(w, frames.ToArray());
                Assert.All(rx, r => Assert.Equal(DropReason.None, r.Drop));
                if (w != workers[owner]) Assert.Empty(o); // handed over, nothing sent by the other worker
                wire.AddRange(o);
            }
        }
        wire.AddRange(lab.Run(workers[owner]).Out); // the last hand-over, taken by the owner's next batch
        Assert.All(wire, s => Assert.Equal(Eth2, s.Port));
        var sequence = wire.Select(s => BinaryPrimitives.ReadUInt32BigEndian(L3(s.Bytes).AsSpan(20 + 8))).ToArray();
        Assert.Equal(Enumerable.Range(0, sent).Select(i => (uint)i).ToArray(), sequence);
        Assert.Equal(sent, tunnel.EncapPackets);
        Assert.Equal(sent, tunnel.EncapPacketsOf(owner));
        // Each worker counts the rx packets it forwarded (handed over included; a packet split into fragments is
        // consumed, as with one worker); the other worker also counts every piece it handed over.
        Assert.Equal(pieces[1 - owner], workers[1 - owner].Counters.HandedOff);
        Assert.Equal(0, workers[owner].Counters.HandedOff);
        Assert.Equal(small[owner], workers[owner].Counters.Forwarded);
        Assert.Equal(small[1 - owner], workers[1 - owner].Counters.Forwarded);
        Assert.All(workers, w => Assert.Equal(0, w.Counters.TotalDrops()));
    }

    [Fact]
    public void Process_RandomDestinationsWithRuns_EachFrameRoutedAsItsOwnLookupSays()
    {
        // The batch looks a run of equal destinations up once; every frame must still get the route the scalar
        // lookup gives (the oracle), whatever the runs.
        using var lab = new SeedLab();
        uint[] candidates = [Server2, Server1, 0x08080808, Gw1Lan, 0x0A010899];
        var random = new Random(10);
        for (int round = 0; round < 20; round++)
        {
            var destinations = new List<uint>();
            while (destinations.Count < 60)
            {
                uint d = candidates[random.Next(candidates.Length)];
                int run = random.Next(1, 5);
                for (int r = 0; r < run; r++) destinations.Add(d);
            }
            var frames = destinations.Select(d => (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, d)))).ToArray();
            var (_, rx) = lab.Run(lab.Gw1, frames);
            for (int i = 0; i < destinations.Count; i++)
            {
                uint hopIndex = lab.State1.Routes.Lookup(destinations[i]);
                var (port, drop) = hopIndex >= lab.State1.NextHops.Length
                    ? (PacketBatch.NoPort, DropReason.NoRoute)
                    : lab.State1.NextHops[hopIndex].Kind switch
                    {
                        NextHopKind.Tunnel => (Eth2, DropReason.None),
                        _ => (Eth1, DropReason.None), // connected on eth1, or our address (echo reply to server1)
                    };
                Assert.True((port, drop) == (rx[i].Port, rx[i].Drop), $"round {round} frame {i} to {Ipv4Address.Format(destinations[i])}: {rx[i].Port}/{rx[i].Drop}");
            }
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(5, 7)]
    public void NextId_WorkerOfMany_NonZeroOwnClassAndNoRepeatWithinAWrap(int worker, int workers)
    {
        var tunnel = new Tunnel(new TunnelSettings("t", TunnelMode.Ipip, 1, 2));
        int perWorker = (0xFFFF - worker - 1) / workers + 1;
        var seen = new HashSet<ushort>();
        for (int i = 0; i < perWorker; i++)
        {
            ushort id = tunnel.NextId(worker, workers);
            Assert.NotEqual(0, id);
            Assert.Equal(worker, (id - 1) % workers);
            Assert.True(seen.Add(id), $"id {id} repeated after {i} packets");
        }
        Assert.Contains(tunnel.NextId(worker, workers), seen); // the wrap starts over
    }
}
