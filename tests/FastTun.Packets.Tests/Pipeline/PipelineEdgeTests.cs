using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>Issue #12 items 3 and 4 on the seed pipelines: an ARP flood cannot push out the tunnel's neighbours,
/// and martian or reverse-path-failing sources are dropped, forwarded or decapsulated alike.</summary>
public class PipelineEdgeTests
{
    private const ulong StrangerMac = 0x02bad0bad0bad;

    private static byte[] Encapsulated(uint outerSrc, uint outerDst, byte[] inner)
    {
        var p = new byte[20 + inner.Length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 7, true, 64, Ipv4Header.ProtocolIpip, outerSrc, outerDst);
        inner.CopyTo(p, 20);
        return p;
    }

    private static byte[] Arp(ushort operation, ulong senderMac, uint sender, ulong targetMac, uint target)
    {
        var arp = new byte[28];
        Span<byte> s = stackalloc byte[6], t = stackalloc byte[6];
        NeighborEntry.WriteMac(senderMac, s);
        NeighborEntry.WriteMac(targetMac, t);
        ArpPacket.Write(arp, operation, s, sender, t, target);
        return Eth(operation == ArpPacket.OperationRequest ? BroadcastMac : targetMac, senderMac, arp, 0x0806);
    }

    private const ulong BroadcastMac = Packets.Datapath.Pipeline.BroadcastMac;

    /// <summary>
    /// The attack of the issue, replayed in simulated time: 2,000 ARP requests per second for 30 s aimed at gw1's
    /// addresses, half from random senders anywhere, half from random senders inside gw1's own subnets (the
    /// stronger case: those are learned, up to the per-port cap). Every 10 ms one canary crosses the tunnel each
    /// way (server1 → server2 and back). gw2 and server1 answer gw1's ARP as real hosts would. No canary may be
    /// lost or dropped, and the table stays within its bound.
    /// </summary>
    [Fact]
    public void Process_ArpFloodFromRandomSenders_NoCanaryLostTableBounded()
    {
        using var lab = new SeedLab(staticNeighbors: false);
        var rng = new Random(12);
        var pending = new List<(ushort, byte[])>();
        int sent = 0, outbound = 0, inbound = 0;
        long end = lab.Now + 30_000;
        for (ushort seq = 0; lab.Now < end; seq++, lab.Now += 10)
        {
            var frames = new List<(ushort, byte[])>(pending);
            pending.Clear();
            for (int i = 0; i < 20; i++) // 20 per 10 ms = 2,000 per second
            {
                bool lan = (i & 2) == 0;
                ushort port = lan ? Eth1 : Eth2;
                uint target = lan ? Gw1Lan : Gw1Wan;
                uint sender = (i & 1) == 0
                    ? (uint)rng.NextInt64(1, uint.MaxValue) // anywhere: off-subnet almost always
                    : (target & 0xFFFFFF00) | (uint)rng.Next(2, 255); // inside the receiving port's /24
                if (sender == Server1 || sender == Gw2Wan || sender == target) continue; // spoofing a real host is another attack
                frames.Add((port, Arp(ArpPacket.OperationRequest, StrangerMac + (uint)i, sender, 0, target)));
            }
            frames.Add((Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2, seq: seq))));
            frames.Add((Eth2, Eth(Gw1Eth2Mac, Gw2Eth2Mac, Encapsulated(Gw2Wan, Gw1Wan, Ping(Server2, Server1, seq: seq)))));
            sent++;
            var (o, rx) = lab.Run(lab.Gw1, frames.ToArray());
            foreach (var r in rx)
                Assert.True(r.Drop is DropReason.None or DropReason.NotForUs, $"a frame was dropped at {lab.Now}: {DropReasons.Name(r.Drop)}");
            foreach (var s in o)
            {
                var ethType = (s.Bytes[12] << 8) | s.Bytes[13];
                if (ethType == 0x0806)
                {
                    Assert.True(ArpPacket.TryParse(s.Bytes.AsSpan(14), out var a));
                    if (a.Operation != ArpPacket.OperationRequest) continue; // replies to the strangers
                    // gw1 resolves (or re-probes) a real neighbour: that neighbour answers.
                    if (a.TargetIp == Gw2Wan) pending.Add((Eth2, Arp(ArpPacket.OperationReply, Gw2Eth2Mac, Gw2Wan, Gw1Eth2Mac, Gw1Wan)));
                    else if (a.TargetIp == Server1) pending.Add((Eth1, Arp(ArpPacket.OperationReply, Server1Mac, Server1, Gw1Eth1Mac, Gw1Lan)));
                    continue;
                }
                Assert.True(Ipv4Header.TryParse(L3(s.Bytes), out var ip));
                if (s.Port == Eth2 && ip.Protocol == Ipv4Header.ProtocolIpip) outbound++;
                else if (s.Port == Eth1 && ip.Destination == Server1) inbound++;
            }
            if (lab.Now % 1000 == 0) lab.Neighbors1.Age(lab.Now); // the runtime's aging timer
        }
        lab.Now += 3_000;
        var (tail, _) = lab.Run(lab.Gw1); // anything still parked leaves or expires
        outbound += tail.Count(s => s.Port == Eth2 && s.Bytes[12] == 0x08 && s.Bytes[13] == 0x00);
        inbound += tail.Count(s => s.Port == Eth1 && s.Bytes[12] == 0x08 && s.Bytes[13] == 0x00);

        Assert.Equal(3000, sent);
        Assert.Equal((sent, sent), (outbound, inbound));
        var table = lab.Neighbors1;
        Assert.True(table.Count <= 2 * table.LearnedPerPort + 2, $"{table.Count} entries");
        Assert.InRange(table.IgnoredOffSubnet, 25_000, 30_000); // about half the requests come from off-subnet senders
        Assert.All(table.Snapshot(), e => Assert.True(table.IsOnConnectedSubnet(e.Port, e.Ip)));
        Assert.Equal(NeighborOrigin.Used, table.Find(Eth2, Gw2Wan)!.Origin);
        Assert.Equal(NeighborOrigin.Used, table.Find(Eth1, Server1)!.Origin);
    }

    [Theory]
    [InlineData(0x7F000001u)] // 127.0.0.1
    [InlineData(0x00000000u)] // 0.0.0.0
    [InlineData(0xFFFFFFFFu)] // 255.255.255.255
    [InlineData(0xE0000005u)] // 224.0.0.5
    [InlineData(0xF0000001u)] // 240.0.0.1
    [InlineData(Gw2Lan)] // gw2's own eth1 address
    [InlineData(Tun2)] // gw2's own tunnel address
    public void Process_DecapsulatedMartianSource_DroppedCounted(uint source)
    {
        using var lab = new SeedLab();
        var frame = Eth(Gw2Eth2Mac, Gw1Eth2Mac, Encapsulated(Gw1Wan, Gw2Wan, Ping(source, Server2)));
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, frame));
        Assert.Equal(DropReason.MartianSource, rx[0].Drop);
        Assert.Equal(1, lab.Gw2.Counters.Drops[(int)DropReason.MartianSource]);
        Assert.DoesNotContain(o, s => s.Port == Eth1);
    }

    [Theory]
    [InlineData(0x7F000001u)]
    [InlineData(0xE0000005u)]
    [InlineData(Gw1Wan)] // gw1's own address, arriving from the LAN
    public void Process_ForwardedMartianSource_DroppedCounted(uint source)
    {
        using var lab = new SeedLab();
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(source, Server2))));
        Assert.Equal(DropReason.MartianSource, rx[0].Drop);
        Assert.Empty(o);
    }

    [Fact]
    public void Process_StrictRpFilter_DecapsulatedSourceRoutingOutEth1_Dropped()
    {
        using var lab = new SeedLab(rpFilter: RpFilterMode.Strict);
        uint lanHost = 0x0A010863; // 10.1.8.99: on gw2's eth1 subnet, so its route leaves by eth1, not tun0
        var frame = Eth(Gw2Eth2Mac, Gw1Eth2Mac, Encapsulated(Gw1Wan, Gw2Wan, Ping(lanHost, Server2)));
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, frame));
        Assert.Equal(RpFilterMode.Strict, lab.State2.Sources.Mode);
        Assert.Equal(DropReason.RpFilter, rx[0].Drop);
        Assert.Equal(1, lab.Gw2.Counters.Drops[(int)DropReason.RpFilter]);
        Assert.DoesNotContain(o, s => s.Port == Eth1);

        // The legitimate source (server1 routes back into tun0) still passes in strict mode.
        var good = Eth(Gw2Eth2Mac, Gw1Eth2Mac, Encapsulated(Gw1Wan, Gw2Wan, Ping(Server1, Server2)));
        var (o2, rx2) = lab.Run(lab.Gw2, (Eth2, good));
        Assert.Equal(DropReason.None, rx2[0].Drop);
        Assert.Contains(o2, s => s.Port == Eth1);
    }

    [Fact]
    public void Process_LooseRpFilterDefault_DecapsulatedSourceRoutingOutEth1_Delivered()
    {
        using var lab = new SeedLab();
        Assert.Equal(RpFilterMode.Loose, lab.State2.Sources.Mode);
        var frame = Eth(Gw2Eth2Mac, Gw1Eth2Mac, Encapsulated(Gw1Wan, Gw2Wan, Ping(0x0A010863, Server2)));
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, frame));
        Assert.Equal(DropReason.None, rx[0].Drop);
        Assert.Contains(o, s => s.Port == Eth1);
    }

    [Fact]
    public void Process_LooseRpFilter_SourceWithoutRoute_Dropped()
    {
        using var lab = new SeedLab();
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(0xC6336401, Server2)))); // 198.51.100.1: no route back
        Assert.Equal(DropReason.RpFilter, rx[0].Drop);
        Assert.Empty(o);
    }

    [Fact]
    public void Process_RpFilterOff_SourceWithoutRoute_Forwarded()
    {
        using var lab = new SeedLab(rpFilter: RpFilterMode.Off);
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(0xC6336401, Server2))));
        Assert.Equal(DropReason.None, rx[0].Drop);
        Assert.Contains(o, s => s.Port == Eth2);
    }
}

/// <summary>Issue #12 item 8 in the pipeline: every rx frame is counted exactly once.</summary>
public class PipelineAccountingTests
{
    [Fact]
    public void Process_FuzzedAndValidFrames_EveryFrameCountedOnce()
    {
        using var lab = new SeedLab();
        var rng = new Random(8);
        var arpReply = new byte[28];
        Span<byte> s1 = stackalloc byte[6], g1 = stackalloc byte[6];
        NeighborEntry.WriteMac(Server1Mac, s1);
        NeighborEntry.WriteMac(Gw1Eth1Mac, g1);
        ArpPacket.Write(arpReply, ArpPacket.OperationReply, s1, Server1, g1, Gw1Lan);
        var templates = new List<(ushort, byte[])>
        {
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))), // forwarded into the tunnel (parked for ARP first)
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Gw1Lan))), // echo to us: answered (parked for ARP first)
            (Eth2, Eth(Gw1Eth2Mac, Gw2Eth2Mac, Ping(Gw2Wan, Server1, df: false, payload: 3000)[..1400])), // truncated
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Udp(Server1, Gw1Lan, 64))), // port unreachable
            (Eth1, Eth(0x02aaaaaaaaaa, Server1Mac, Ping(Server1, Server2))), // not for us
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(0x7F000001, Server2))), // martian
            (Eth1, Eth(Gw1Eth1Mac, Server1Mac, arpReply, 0x0806)), // learned: consumed
        };
        long frames = 0;
        for (int round = 0; round < 400; round++, lab.Now += 5)
        {
            var batch = new (ushort, byte[])[rng.Next(1, 40)];
            for (int i = 0; i < batch.Length; i++)
            {
                var (port, t) = templates[rng.Next(templates.Count)];
                var bytes = (byte[])t.Clone();
                int mutations = rng.Next(0, 4);
                for (int m = 0; m < mutations; m++) bytes[rng.Next(bytes.Length)] ^= (byte)rng.Next(1, 256);
                if (rng.Next(8) == 0) bytes = bytes[..rng.Next(0, bytes.Length)];
                batch[i] = (port, bytes);
            }
            frames += batch.Length;
            lab.Run(lab.Gw1, batch);
        }
        var c = lab.Gw1.Counters;
        Assert.Equal(frames, c.Packets);
        Assert.Equal(c.Packets, c.Forwarded + c.Consumed + c.RxDropped);
        Assert.True(c.Forwarded > 0 && c.Consumed > 0 && c.RxDropped > 0, $"{c.Forwarded} {c.Consumed} {c.RxDropped}");
    }
}

/// <summary>Issue #12 item 9 in the pipeline: steady forwarding (both directions of the tunnel, and ticks) allocates nothing.</summary>
public class PipelineAllocationTests
{
    [Fact]
    public void Process_SteadyTunnelTraffic_AllocatesNothing()
    {
        using var lab = new SeedLab();
        using var pool = new FramePool(64, 2048);
        byte[] outbound = Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2));
        var inner = Ping(Server2, Server1);
        var outer = new byte[20 + inner.Length];
        Ipv4Header.Write(outer, 0, (ushort)outer.Length, 7, true, 64, Ipv4Header.ProtocolIpip, Gw2Wan, Gw1Wan);
        inner.CopyTo(outer, 20);
        byte[] inbound = Eth(Gw1Eth2Mac, Gw2Eth2Mac, outer);
        var batch = new PacketBatch(32);
        void Round(long now)
        {
            batch.Clear();
            for (int i = 0; i < 32; i++)
            {
                ref Frame f = ref batch.Add();
                Assert.True(pool.TryRent(ref f));
                var src = (i & 1) == 0 ? outbound : inbound;
                f.Length = src.Length;
                src.CopyTo(f.Data);
                f.InPort = (i & 1) == 0 ? Eth1 : Eth2;
            }
            lab.Gw1.Process(batch, now);
            lab.Gw1.Tick(now);
            lab.Gw1.ReleaseGenerated();
            for (int i = 0; i < batch.Count; i++) pool.Return(batch[i]);
        }
        for (int i = 0; i < 2000; i++) Round(1000 + i); // warm up (tiering, first-use paths)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++) Round(5000 + i);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(22_000L * 32, lab.Gw1.Counters.Forwarded);
    }
}

/// <summary>Issue #12 item 7 in the pipeline: an offloaded (partial) TCP checksum is completed before forwarding.</summary>
public class PipelineOffloadTests
{
    [Fact]
    public void Process_TcpWithPartialChecksum_CompletedThenEncapsulated()
    {
        using var lab = new SeedLab();
        var p = new byte[20 + 20 + 100];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 9, true, 64, Ipv4Header.ProtocolTcp, Server1, Server2);
        p[20 + 12] = 0x50;
        for (int i = 40; i < p.Length; i++) p[i] = (byte)i;
        uint pseudo = Packets.Checksum.PartialChecksum.PseudoHeaderSum(p, 6, p.Length - 20);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(36), Packets.Checksum.InternetChecksum.Fold(pseudo));
        Assert.False(Packets.Checksum.InternetChecksum.Verify(p.AsSpan(20), pseudo)); // as the sender's NIC would get it

        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, p)));
        Assert.Equal(DropReason.None, rx[0].Drop);
        Assert.Equal(1, lab.Gw1.Counters.ChecksumsCompleted);
        var sent = Assert.Single(o);
        var inner = L3(sent.Bytes).AsSpan(20); // inside the IPIP outer header
        Assert.True(Packets.Checksum.InternetChecksum.Verify(inner.Slice(20), pseudo));
    }

    [Theory]
    [InlineData(0)]   // partial: the field holds the folded pseudo-header sum
    [InlineData(1)]   // finished: a valid checksum, left alone
    [InlineData(2)]   // no checksum (0), left alone
    [InlineData(3)]   // a fragment with a partial-looking field: dropped (cannot be completed)
    public void Process_UdpChecksumStates_OnlyPartialCompleted(int kind)
    {
        // ClassifyCommon's few-load pre-check decides which packets the offload hook sees: the hook's verdict must
        // be what it would have been for every packet.
        using var lab = new SeedLab();
        var p = new byte[20 + 8 + 77];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 9, kind != 3, 64, Ipv4Header.ProtocolUdp, Server1, Server2);
        if (kind == 3) p[6] |= 0x20; // MF: the first fragment
        Ipv4Header.TryParse(p, out var ip);
        ip.ComputeChecksum();
        UdpHeader.Write(p.AsSpan(20), 4000, 5000, Server1, Server2);
        for (int i = 28; i < p.Length; i++) p[i] = (byte)(i * 7);
        uint pseudo = Packets.Checksum.PartialChecksum.PseudoHeaderSum(p, Ipv4Header.ProtocolUdp, p.Length - 20);
        ushort field = kind switch
        {
            1 => 0, // computed below
            2 => 0,
            _ => Packets.Checksum.InternetChecksum.Fold(pseudo),
        };
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(26), field);
        if (kind == 1)
        {
            ushort sum = Packets.Checksum.InternetChecksum.Compute(p.AsSpan(20), pseudo);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(26), sum == 0 ? (ushort)0xFFFF : sum);
        }
        var expectedField = p.AsSpan(26, 2).ToArray();

        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, p)));
        if (kind == 3)
        {
            Assert.Equal(DropReason.PartialChecksum, rx[0].Drop);
            return;
        }
        Assert.Equal(DropReason.None, rx[0].Drop);
        Assert.Equal(kind == 0 ? 1 : 0, lab.Gw1.Counters.ChecksumsCompleted);
        var inner = L3(Assert.Single(o).Bytes).AsSpan(20);
        if (kind == 0) Assert.True(Packets.Checksum.InternetChecksum.Verify(inner.Slice(20), pseudo));
        else Assert.Equal(expectedField, inner.Slice(26, 2).ToArray());
    }
}
