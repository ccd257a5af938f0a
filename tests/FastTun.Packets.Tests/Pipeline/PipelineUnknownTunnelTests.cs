using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;
using System.Linq;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>Linux's answers to strangers (#15 item 4): an IPIP/GRE packet to us that matches no tunnel gets ICMP
/// port unreachable, rate limited, unless the gateway is told to stay silent; ICMP errors quote the packet as
/// received, before the TTL decrement.</summary>
public class PipelineUnknownTunnelTests
{
    private static byte[] Gre(uint outerSrc, uint outerDst, uint? key, byte[] inner)
    {
        int greLength = key.HasValue ? 8 : 4;
        var p = new byte[20 + greLength + inner.Length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 77, true, 64, Ipv4Header.ProtocolGre, outerSrc, outerDst);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), key.HasValue ? GreHeader.FlagKey : (ushort)0);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), GreHeader.ProtocolIPv4);
        if (key.HasValue) BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(24), key.Value);
        inner.CopyTo(p, 20 + greLength);
        return p;
    }

    /// <summary>The single ICMP error in <paramref name="o"/>: its header fields and the bytes it quotes.</summary>
    private static (byte Type, byte Code, uint Source, uint Destination, byte[] Quote) Error(List<Sent> o)
    {
        var err = Assert.Single(o);
        Assert.True(Ipv4Header.TryParse(L3(err.Bytes), out var ip));
        Assert.True(ip.IsChecksumValid());
        Assert.True(IcmpHeader.TryParse(ip.Payload, out var icmp));
        Assert.True(icmp.IsChecksumValid());
        return (icmp.Type, icmp.Code, ip.Source, ip.Destination, ip.Payload.Slice(8).ToArray());
    }

    [Theory]
    [InlineData(43u)]   // wrong key
    [InlineData(null)]  // key missing
    public void Process_GreFromConfiguredRemoteWithBadKey_PortUnreachableAndCountedKeyMismatch(uint? key)
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: 42);
        byte[] outer = Gre(Gw1Wan, Gw2Wan, key, Ping(Server1, Server2));
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, outer)));
        Assert.Equal(DropReason.GreKeyMismatch, rx[0].Drop);
        Assert.Equal(1, lab.Gw2.Counters.Drops[(int)DropReason.GreKeyMismatch]);
        var e = Error(o);
        Assert.Equal((3, 3, Gw2Wan, Gw1Wan), (e.Type, e.Code, e.Source, e.Destination));
        Assert.Equal(outer, e.Quote); // the whole packet as received (it fits in 576 bytes)
        Assert.DoesNotContain(o, s => s.Port == Eth1);
    }

    // A hub-sized tunnel table (≥ 4096 slots) turns on the decap prefetch stages (pass 1 asks for the table line,
    // pass 2 looks the tunnel up, pass 3 decapsulates with that answer): a mixed batch gives exactly what the same
    // gateway with its small table gives, frame by frame, and the same tunnel counters.
    [Fact]
    public void Process_HubSizedTableWithPrefetch_SameOutputAndCountersAsSmallTable()
    {
        using var small = new SeedLab(TunnelMode.Gre, key: 42);
        using var hub = new SeedLab(TunnelMode.Gre, key: 42);
        var s = hub.State2;
        var many = new List<Tunnel>(s.Decap.Tunnels);
        for (int i = 0; i < 3_000; i++)
            many.Add(new Tunnel(new TunnelSettings($"tun{100 + i}", TunnelMode.Ipip, Gw2Wan, 0x0B000000u + (uint)i)));
        var hubState = new ForwardingState(s.Routes, s.NextHops, s.Ports, s.Tunnels, new TunnelTable(many));
        var gw2 = new Packets.Datapath.Pipeline(() => hubState, hub.Neighbors2);
        var t = small.State2; // the same state built the same way, with the lab's small table
        var smallState = new ForwardingState(t.Routes, t.NextHops, t.Ports, t.Tunnels, t.Decap);
        var gw2Small = new Packets.Datapath.Pipeline(() => smallState, small.Neighbors2);
        small.State2.Tunnels[0].Tunnel.SetNextId(100); // the replies go back through the tunnel: same outer IP IDs
        s.Tunnels[0].Tunnel.SetNextId(100);
        (ushort, byte[])[] frames =
        [
            (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Gre(Gw1Wan, Gw2Wan, 42, Ping(Server1, Server2)))),
            (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Gre(Gw1Wan, Gw2Wan, 43, Ping(Server1, Server2)))),   // wrong key
            (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Gre(Gw1Wan, Gw2Wan, null, Ping(Server1, Server2, seq: 2)))), // no key
            (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Gre(Gw1Wan ^ 0x100, Gw2Wan, 42, Ping(Server1, Server2)))), // stranger
            (Eth1, Eth(Gw2Eth1Mac, Server2Mac, Ping(Server2, Server1))),                              // not a tunnel packet
            (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Gre(Gw1Wan, Gw2Wan, 42, Ping(Server1, Server2, seq: 3)))),
        ];
        for (int round = 0; round < 3; round++)
        {
            var (oSmall, rxSmall) = small.Run(gw2Small, frames);
            var (oHub, rxHub) = hub.Run(gw2, frames);
            Assert.Equal(rxSmall.Select(r => (r.Port, r.Drop, Convert.ToHexString(r.Bytes))), rxHub.Select(r => (r.Port, r.Drop, Convert.ToHexString(r.Bytes))));
            // Each pipeline draws its own first IP ID for the ICMP errors it builds: compared without the outer ID and
            // header checksum.
            Assert.Equal(oSmall.Select(r => (r.Port, WithoutId(r.Bytes))), oHub.Select(r => (r.Port, WithoutId(r.Bytes))));
        }
        Assert.Equal(DropReason.None, hub.Run(gw2, frames[0]).Rx[0].Drop);
        Assert.Equal(7, s.Tunnels[0].Tunnel.DecapPackets);
        Assert.Equal(small.State2.Tunnels[0].Tunnel.DecapPackets + 1, s.Tunnels[0].Tunnel.DecapPackets);
    }

    private static string WithoutId(byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        copy.AsSpan(14 + 4, 2).Clear();
        copy.AsSpan(14 + 10, 2).Clear();
        return Convert.ToHexString(copy);
    }

    [Fact]
    public void Process_UnknownTunnelRepliesDisabled_SilentDropStillCounted()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: 42);
        var s = lab.State2;
        var silent = new ForwardingState(s.Routes, s.NextHops, s.Ports, s.Tunnels, s.Decap) { UnknownTunnelUnreachable = false };
        var gw2 = new Packets.Datapath.Pipeline(() => silent, lab.Neighbors2);
        var wrongKey = Gre(Gw1Wan, Gw2Wan, 43, Ping(Server1, Server2));
        var stranger = Gre(0xAC0C0163, Gw2Wan, null, Ping(Server1, Server2));
        lab.Neighbors2.AddStatic(Eth2, 0xAC0C0163, 0x02aabbccddee, 0);
        var (o, rx) = lab.Run(gw2, (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, wrongKey)), (Eth2, Eth(Gw2Eth2Mac, 0x02aabbccddee, stranger)));
        Assert.Empty(o);
        Assert.Equal(new[] { DropReason.GreKeyMismatch, DropReason.NoTunnel }, rx.Select(r => r.Drop));
        Assert.Equal(0, gw2.Counters.IcmpSent);
        Assert.Equal(1, gw2.Counters.Drops[(int)DropReason.NoTunnel]);
    }

    [Fact]
    public void Process_FloodOfStrangers_RepliesRateLimited()
    {
        using var lab = new SeedLab();
        lab.Neighbors2.AddStatic(Eth2, 0xAC0C0163, 0x02aabbccddee, 0);
        var frame = Eth(Gw2Eth2Mac, 0x02aabbccddee, Gre(0xAC0C0163, Gw2Wan, null, Ping(Server1, Server2)));
        int replies = 0;
        for (int batch = 0; batch < 4; batch++)
            replies += lab.Run(lab.Gw2, Enumerable.Repeat((Eth2, frame), 32).ToArray()).Out.Count; // same millisecond
        Assert.Equal(128, lab.Gw2.Counters.Drops[(int)DropReason.NoTunnel]);
        Assert.InRange(replies, 1, 64); // the token bucket's burst, not one per packet
        Assert.Equal(128 - replies, lab.Gw2.Counters.Drops[(int)DropReason.IcmpRateLimited]);
    }

    [Fact]
    public void Process_DfPacketTooBigForTunnel_FragNeededQuotesPacketAsReceived()
    {
        using var lab = new SeedLab();
        byte[] ping = Ping(Server1, Server2, ttl: 64, payload: 1472, df: true); // 1500 bytes > tunnel MTU 1480
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, ping)));
        Assert.Equal(DropReason.FragNeeded, rx[0].Drop);
        var e = Error(o);
        Assert.Equal((3, 4, Gw1Lan, Server1), (e.Type, e.Code, e.Source, e.Destination));
        Assert.Equal(ping.AsSpan(0, e.Quote.Length).ToArray(), e.Quote); // TTL 64 and its checksum, as sent
        Assert.Equal(64, e.Quote[Ipv4Header.TtlOffset]);
    }

    [Fact]
    public void Process_TtlOneForwarded_TimeExceededQuotesPacketAsReceived()
    {
        using var lab = new SeedLab();
        byte[] ping = Ping(Server1, Server2, ttl: 1);
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, Eth(Gw1Eth1Mac, Server1Mac, ping)));
        Assert.Equal(DropReason.TtlExceeded, rx[0].Drop);
        var e = Error(o);
        Assert.Equal((11, 0, Gw1Lan, Server1), (e.Type, e.Code, e.Source, e.Destination));
        Assert.Equal(ping, e.Quote);
    }
}
