using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

public class PipelineForwardingTests
{
    private static Ipv4Header Ip(byte[] l3)
    {
        Assert.True(Ipv4Header.TryParse(l3, out var ip));
        Assert.True(ip.IsChecksumValid());
        return ip;
    }

    [Fact]
    public void Process_PingServer1ToServer2_EncapsulatedOnEth2ThenDeliveredByGw2()
    {
        using var lab = new SeedLab();
        var (out1, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))));
        var wire = Assert.Single(out1);
        Assert.Equal(Eth2, wire.Port);
        Assert.Equal(Gw2Eth2Mac, NeighborEntry.ReadMac(wire.Bytes));
        Assert.Equal(Gw1Eth2Mac, NeighborEntry.ReadMac(wire.Bytes.AsSpan(6)));
        var outer = Ip(L3(wire.Bytes));
        Assert.Equal((Gw1Wan, Gw2Wan, Ipv4Header.ProtocolIpip), (outer.Source, outer.Destination, outer.Protocol));
        Assert.Equal(255, outer.Ttl);          // VyOS default ttl 255
        Assert.True(outer.DontFragment);       // PMTU discovery on
        var inner = Ip(outer.Payload.ToArray());
        Assert.Equal(63, inner.Ttl);

        var (out2, _) = lab.Run(lab.Gw2, (Eth2, wire.Bytes));
        var delivered = Assert.Single(out2);
        Assert.Equal(Eth1, delivered.Port);
        Assert.Equal(Server2Mac, NeighborEntry.ReadMac(delivered.Bytes));
        var ip = Ip(L3(delivered.Bytes));
        Assert.Equal((Server1, Server2, (byte)62), (ip.Source, ip.Destination, ip.Ttl));
        Assert.Equal(1, lab.Gw1.Counters.Forwarded);
    }

    [Fact]
    public void Process_PingGatewayAddresses_EachAnswersFromThePingedAddress()
    {
        using var lab = new SeedLab();
        foreach (uint target in new[] { Gw1Lan, Gw1Wan, Tun1 })
        {
            var (o, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, target, ttl: 1))));
            var reply = Assert.Single(o);
            Assert.Equal(Eth1, reply.Port);
            var ip = Ip(L3(reply.Bytes));
            Assert.Equal((target, Server1, (byte)64), (ip.Source, ip.Destination, ip.Ttl));
            Assert.True(IcmpHeader.TryParse(ip.Payload, out var icmp));
            Assert.Equal(0, icmp.Type);
            Assert.True(icmp.IsChecksumValid());
        }
    }

    [Fact]
    public void Process_PingFarTunnelAddress_ReplyComesBackThroughTunnel()
    {
        using var lab = new SeedLab();
        var (o1, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Tun2))));
        var (o2, _) = lab.Run(lab.Gw2, (Eth2, Assert.Single(o1).Bytes));
        var back = Assert.Single(o2);
        Assert.Equal(Eth2, back.Port); // encapsulated back to gw1
        var (o3, _) = lab.Run(lab.Gw1, (Eth2, back.Bytes));
        var reply = Ip(L3(Assert.Single(o3).Bytes));
        Assert.Equal((Tun2, Server1), (reply.Source, reply.Destination));
    }

    [Fact]
    public void Process_Traceroute_HopsAreGw1LanThenTun2ThenServer2()
    {
        using var lab = new SeedLab();
        // TTL 1: gw1 answers from the address of eth1, the interface the error leaves by.
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Udp(Server1, Server2, ttl: 1))));
        Assert.Equal(DropReason.TtlExceeded, rx[0].Drop);
        var err = Ip(L3(Assert.Single(o).Bytes));
        Assert.Equal((Gw1Lan, Server1, (byte)0xC0, (byte)64, false), (err.Source, err.Destination, err.Tos, err.Ttl, err.DontFragment));
        Assert.True(IcmpHeader.TryParse(err.Payload, out var icmp));
        Assert.Equal((11, 0), (icmp.Type, icmp.Code));

        // TTL 2: gw2 answers from 1.1.1.2 (its error goes back into tun0) and gw1 carries it home.
        (o, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Udp(Server1, Server2, ttl: 2))));
        (o, _) = lab.Run(lab.Gw2, (Eth2, Assert.Single(o).Bytes));
        Assert.Equal(1, lab.Gw2.Counters.Drops[(int)DropReason.TtlExceeded]);
        (o, _) = lab.Run(lab.Gw1, (Eth2, Assert.Single(o).Bytes));
        var hop2 = Ip(L3(Assert.Single(o).Bytes));
        Assert.Equal((Tun2, Server1), (hop2.Source, hop2.Destination));

        // TTL 3 reaches server2.
        (o, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Udp(Server1, Server2, ttl: 3))));
        (o, _) = lab.Run(lab.Gw2, (Eth2, Assert.Single(o).Bytes));
        Assert.Equal(Server2, Ip(L3(Assert.Single(o).Bytes)).Destination);
    }

    [Fact]
    public void Process_DfPacketOverTunnelMtu_FragNeededWithMtu1480()
    {
        using var lab = new SeedLab();
        var big = Ping(Server1, Server2, payload: 1500 - 28, df: true);
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, big)));
        Assert.Equal(DropReason.FragNeeded, rx[0].Drop);
        var err = Ip(L3(Assert.Single(o).Bytes));
        Assert.Equal((Gw1Lan, Server1), (err.Source, err.Destination));
        Assert.True(IcmpHeader.TryParse(err.Payload, out var icmp));
        Assert.Equal((3, 4), (icmp.Type, icmp.Code));
        Assert.Equal(1480u, icmp.RestOfHeader & 0xFFFF);
    }

    [Theory]
    [InlineData(TunnelMode.Ipip, false, 1480)]
    [InlineData(TunnelMode.Gre, false, 1476)]
    [InlineData(TunnelMode.Gre, true, 1464)]
    public void Process_NonDfPacketOverTunnelMtu_FragmentedThenArrivesWhole(TunnelMode mode, bool keyCsumSeq, int mtu)
    {
        using var lab = keyCsumSeq ? new SeedLab(mode, key: 42, checksum: true, sequence: true) : new SeedLab(mode);
        var big = Ping(Server1, Server2, payload: 1500 - 28, df: false);
        var (o1, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, big)));
        Assert.Equal(2, o1.Count);
        Assert.All(o1, s => Assert.True(s.Bytes.Length - 14 <= 1500));
        Assert.All(o1, s => Assert.True(Ip(L3(s.Bytes)).Payload.Length - (s.Bytes.Length - 14 - 20 - mtu) <= mtu));
        var (o2, _) = lab.Run(lab.Gw2, o1.Select(s => (Eth2, s.Bytes)).ToArray());
        Assert.Equal(2, o2.Count); // gw2 forwards the inner fragments; server2 reassembles
        int payload = o2.Sum(s => Ip(L3(s.Bytes)).Payload.Length);
        Assert.Equal(1500 - 20, payload);
    }

    [Fact]
    public void Process_NoRoute_NetUnreachableFromIngressAddress()
    {
        using var lab = new SeedLab();
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, 0x08080808))));
        Assert.Equal(DropReason.NoRoute, rx[0].Drop);
        var err = Ip(L3(Assert.Single(o).Bytes));
        Assert.True(IcmpHeader.TryParse(err.Payload, out var icmp));
        Assert.Equal((3, 0, Gw1Lan), (icmp.Type, icmp.Code, err.Source));
    }

    [Fact]
    public void Process_ArpRequestForOwnAddress_RepliedInPlace()
    {
        using var lab = new SeedLab(staticNeighbors: false);
        var arp = new byte[28];
        Span<byte> mac = stackalloc byte[6];
        NeighborEntry.WriteMac(Server1Mac, mac);
        ArpPacket.WriteRequest(arp, mac, Server1, Gw1Lan);
        var (o, _) = lab.Run(lab.Gw1, (Eth1, Eth(0xFFFFFFFFFFFF, Server1Mac, arp, 0x0806)));
        var reply = Assert.Single(o);
        Assert.Equal(Eth1, reply.Port);
        Assert.Equal(Server1Mac, NeighborEntry.ReadMac(reply.Bytes));
        Assert.True(ArpPacket.TryParse(reply.Bytes.AsSpan(14), out var r));
        Assert.Equal((2, Gw1Lan, Server1), (r.Operation, r.SenderIp, r.TargetIp));
        Assert.Equal(Gw1Eth1Mac, NeighborEntry.ReadMac(r.SenderMac));
        // The requester was learned.
        Assert.Equal(Server1Mac, lab.Neighbors1.Find(Eth1, Server1)!.Mac);
    }

    [Fact]
    public void Process_ArpForSomeoneElse_NotAnswered()
    {
        using var lab = new SeedLab(staticNeighbors: false);
        var arp = new byte[28];
        Span<byte> mac = stackalloc byte[6];
        NeighborEntry.WriteMac(Server1Mac, mac);
        ArpPacket.WriteRequest(arp, mac, Server1, 0x0A010563);
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(0xFFFFFFFFFFFF, Server1Mac, arp, 0x0806)));
        Assert.Empty(o);
        Assert.Equal(DropReason.NotForUs, rx[0].Drop);
        Assert.Null(lab.Neighbors1.Find(Eth1, Server1));
    }

    [Fact]
    public void Process_UnknownNeighbor_ArpsParksThenSendsOnReply()
    {
        using var lab = new SeedLab(staticNeighbors: false);
        lab.Neighbors1.AddStatic(Eth1, Server1, Server1Mac, 0);
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))));
        Assert.Equal(DropReason.None, rx[0].Drop);
        var request = Assert.Single(o);
        Assert.Equal(0xFFFFFFFFFFFFUL, NeighborEntry.ReadMac(request.Bytes));
        Assert.True(ArpPacket.TryParse(request.Bytes.AsSpan(14), out var req));
        Assert.Equal((1, Gw1Wan, Gw2Wan), (req.Operation, req.SenderIp, req.TargetIp));
        Assert.Equal(1, lab.Gw1.PendingCount);

        var reply = new byte[28];
        Span<byte> m = stackalloc byte[6];
        NeighborEntry.WriteMac(Gw2Eth2Mac, m);
        Span<byte> ours = stackalloc byte[6];
        NeighborEntry.WriteMac(Gw1Eth2Mac, ours);
        ArpPacket.WriteReply(reply, m, Gw2Wan, ours, Gw1Wan);
        lab.Now += 1;
        (o, _) = lab.Run(lab.Gw1, (Eth2, Eth(Gw1Eth2Mac, Gw2Eth2Mac, reply, 0x0806)));
        var sent = Assert.Single(o);
        Assert.Equal(Gw2Eth2Mac, NeighborEntry.ReadMac(sent.Bytes));
        Assert.Equal(Ipv4Header.ProtocolIpip, Ip(L3(sent.Bytes)).Protocol);
        Assert.Equal(0, lab.Gw1.PendingCount);
    }

    [Fact]
    public void Process_UnderlayFragNeededQuotingOurTunnel_LowersTunnelMtu()
    {
        using var lab = new SeedLab();
        // An underlay router (172.12.1.254) says our outer packet to gw2 needs MTU 1400.
        lab.Run(lab.Gw1, (Eth2, Eth(Gw1Eth2Mac, 0x02aabbccdd01, UnderlayFragNeeded(quotedSource: Gw1Wan, mtu: 1400))));
        Assert.Equal(1380, lab.State1.Tunnels[0].Mtu(lab.Now));

        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2, payload: 1400 - 28, df: true))));
        Assert.Equal(DropReason.FragNeeded, rx[0].Drop);
        var err = Ip(L3(Assert.Single(o).Bytes));
        Assert.True(IcmpHeader.TryParse(err.Payload, out var e));
        Assert.Equal(1380u, e.RestOfHeader & 0xFFFF);
        // Learned MTUs expire (Linux mtu_expires, 600 s).
        Assert.Equal(1480, lab.State1.Tunnels[0].Mtu(lab.Now + TunnelPath.PmtuExpiresMs));
    }

    /// <summary>An underlay router's (172.12.1.254) frag-needed to gw1, quoting an IPIP packet from
    /// <paramref name="quotedSource"/> to gw2.</summary>
    private static byte[] UnderlayFragNeeded(uint quotedSource, ushort mtu)
    {
        var quotedOuter = new byte[20 + 8];
        Ipv4Header.Write(quotedOuter, 0, 1500, 9, true, 254, Ipv4Header.ProtocolIpip, quotedSource, Gw2Wan);
        var icmp = new byte[20 + 8 + quotedOuter.Length];
        Ipv4Header.Write(icmp, 0xC0, (ushort)icmp.Length, 1, false, 64, Ipv4Header.ProtocolIcmp, 0xAC0C01FE, Gw1Wan);
        IcmpHeader.Write(icmp.AsSpan(20), 3, 4, mtu);
        quotedOuter.CopyTo(icmp, 28);
        IcmpHeader.TryParse(icmp.AsSpan(20), out var h);
        h.ComputeChecksum();
        return icmp;
    }

    [Fact]
    public void Process_FragNeededForSomeoneElsesPacket_IgnoredForPmtu()
    {
        using var lab = new SeedLab();
        lab.Run(lab.Gw1, (Eth2, Eth(Gw1Eth2Mac, 0x02aabbccdd01, UnderlayFragNeeded(quotedSource: 0xAC0C0163, mtu: 600))));
        Assert.Equal(1480, lab.State1.Tunnels[0].Mtu(lab.Now));
    }

    [Fact]
    public void Tick_NeighborSilent_ThreeProbesThenHostUnreachable()
    {
        using var lab = new SeedLab(staticNeighbors: false);
        lab.Neighbors1.AddStatic(Eth1, Server1, Server1Mac, 0);
        var (o, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))));
        int arps = o.Count;
        ReassertNoReply(lab, ref arps);
        Assert.Equal(NeighborTable.MaxProbes, arps);
        Assert.Equal(0, lab.Gw1.PendingCount);
        Assert.Equal(1, lab.Gw1.Counters.Drops[(int)DropReason.NeighborUnresolved]);
        Assert.Equal(NeighborState.Failed, lab.Neighbors1.Find(Eth2, Gw2Wan)!.State);
    }

    [Fact]
    public void Process_FailedNeighbor_NextPacketAfterRetransRestartsResolution()
    {
        using var lab = new SeedLab(staticNeighbors: false);
        lab.Neighbors1.AddStatic(Eth1, Server1, Server1Mac, 0);
        var (o, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))));
        int arps = o.Count;
        ReassertNoReply(lab, ref arps);
        var entry = lab.Neighbors1.Find(Eth2, Gw2Wan)!;
        Assert.Equal(NeighborState.Failed, entry.State);

        // Within a second of failing: dropped, no new ARP request (a flood to a dead neighbour stays cheap).
        lab.Now = entry.UpdatedMs + NeighborTable.RetransMs - 1;
        var (quiet, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))));
        Assert.Empty(quiet);
        Assert.Equal(DropReason.NeighborUnresolved, rx[0].Drop);

        // Later: the packet waits and a new request goes out, as Linux does from NUD_FAILED.
        lab.Now = entry.UpdatedMs + NeighborTable.RetransMs;
        var (asked, _) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2))));
        Assert.Equal(0xFFFFFFFFFFFFUL, NeighborEntry.ReadMac(Assert.Single(asked).Bytes));
        Assert.Equal(NeighborState.Incomplete, entry.State);
        Assert.Equal(1, lab.Gw1.PendingCount);

        // The peer answers: the waiting packet leaves through the tunnel.
        lab.Neighbors1.Learn(Eth2, Gw2Wan, Gw2Eth2Mac, lab.Now, create: false);
        lab.Gw1.Tick(lab.Now);
        var sent = Drain(lab.Gw1);
        Assert.Equal(Gw2Eth2Mac, NeighborEntry.ReadMac(Assert.Single(sent).Bytes));
        Assert.Equal(0, lab.Gw1.PendingCount);
    }

    private static void ReassertNoReply(SeedLab lab, ref int arps)
    {
        for (int i = 0; i < 5; i++)
        {
            lab.Now += NeighborTable.RetransMs;
            lab.Gw1.Tick(lab.Now);
            foreach (var s in Drain(lab.Gw1))
            {
                if (NeighborEntry.ReadMac(s.Bytes) == 0xFFFFFFFFFFFF) arps++;
                else
                {
                    var err = Ipv4Header.TryParse(L3(s.Bytes), out var ip) ? ip.Payload[0] : (byte)0;
                    Assert.Equal(3, err); // destination unreachable, host
                }
            }
        }
    }
}
