using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// GRE keepalive through two in-memory gateways: gw1 sends a probe (posted by the control plane), gw2 reflects it
/// as Linux does, gw1 consumes the returning probe and records its round trip.
/// </summary>
public sealed class KeepalivePipelineTests
{
    private static byte[] SendProbe(SeedLab lab, ushort id)
    {
        var outbox = new KeepaliveOutbox();
        lab.Gw1.Keepalives = outbox;
        Assert.True(outbox.TryPost(lab.State1.Tunnels[0].Tunnel, id));
        lab.Now += 20; // the timer pass runs every 10 ms
        lab.Gw1.Tick(lab.Now);
        var sent = SeedLab.Drain(lab.Gw1);
        Assert.False(outbox.HasWork);
        return Assert.Single(sent, s => s.Port == SeedLab.Eth2).Bytes;
    }

    [Fact]
    public void SendKeepalives_PostedProbe_LeavesEth2AsGreInGreBackToUs()
    {
        using var lab = new SeedLab(TunnelMode.Gre);
        byte[] frame = SendProbe(lab, 7);
        var outer = SeedLab.L3(frame);
        Assert.Equal(SeedLab.Gw2Eth2Mac, Datapath.NeighborEntry.ReadMac(frame));
        Assert.True(Ipv4Header.TryParse(outer, out var ip));
        Assert.Equal(SeedLab.Gw1Wan, ip.Source);
        Assert.Equal(SeedLab.Gw2Wan, ip.Destination);
        Assert.Equal(Ipv4Header.ProtocolGre, ip.Protocol);
        Assert.Equal(GreHeader.ProtocolIPv4, BinaryPrimitives.ReadUInt16BigEndian(outer.AsSpan(22)));
        var inner = outer.AsSpan(24).ToArray();
        Assert.Equal(TunnelKeepalive.ProbeLength, inner.Length);
        Assert.True(Ipv4Header.TryParse(inner, out var innerIp));
        Assert.True(innerIp.IsChecksumValid());
        Assert.Equal(SeedLab.Gw2Wan, innerIp.Source);
        Assert.Equal(SeedLab.Gw1Wan, innerIp.Destination);
        Assert.Equal(7, innerIp.Identification);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32BigEndian(inner.AsSpan(20))); // GRE flags 0, protocol type 0
        Assert.Equal(1, lab.State1.Tunnels[0].Tunnel.Keepalive.Sent);
        Assert.Equal(1, lab.State1.Tunnels[0].Tunnel.EncapPackets);
    }

    [TsharkFact]
    public void SendKeepalives_KeyChecksumSequence_TsharkDecodesCiscoKeepalive()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: 42, checksum: true, sequence: true);
        byte[] first = SendProbe(lab, 1);
        byte[] second = SendProbe(lab, 2);
        string[] lines = Tshark.Decode(nameof(SendKeepalives_KeyChecksumSequence_TsharkDecodesCiscoKeepalive), [first, second],
            "ip.src", "ip.dst", "ip.proto", "ip.id", "ip.ttl", "ip.checksum.status", "gre.flags_and_version", "gre.proto",
            "gre.key", "gre.sequence_number", "gre.checksum.status");
        // Outer: the tunnel's options (key 42, checksum, sequence 0 then 1). Inner: remote → local, GRE with the
        // key the tunnel expects back and protocol type 0, nothing after it.
        Assert.Equal(
        [
            "172.12.1.10,172.12.1.11|172.12.1.11,172.12.1.10|47,47|" + lines[0].Split('|')[3] + "|255,255|1,1|0xb000,0x2000|0x0800,0x0000|0x0000002a,0x0000002a|0|1",
            "172.12.1.10,172.12.1.11|172.12.1.11,172.12.1.10|47,47|" + lines[1].Split('|')[3] + "|255,255|1,1|0xb000,0x2000|0x0800,0x0000|0x0000002a,0x0000002a|1|1",
        ], lines);
        Assert.EndsWith(",0x0001", lines[0].Split('|')[3], StringComparison.Ordinal); // inner IP ID = probe id
        Assert.EndsWith(",0x0002", lines[1].Split('|')[3], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, false, false)]
    [InlineData(42u, true, true)]
    public void KeepaliveHandled_ProbeReflectedByPeer_ReturnsAndIsConsumedWithRtt(uint? key, bool checksum, bool sequence)
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: key, checksum: checksum, sequence: sequence);
        byte[] probe = SendProbe(lab, 9);

        var (out2, rx2) = lab.Run(lab.Gw2, (SeedLab.Eth2, probe));
        Assert.Equal(DropReason.None, Assert.Single(rx2).Drop);
        byte[] reflected = Assert.Single(out2, s => s.Port == SeedLab.Eth2).Bytes;
        Assert.Equal(1, lab.State2.Tunnels[0].Tunnel.Keepalive.Reflected);
        var back = SeedLab.L3(reflected);
        Assert.True(Ipv4Header.TryParse(back, out var ip));
        Assert.True(ip.IsChecksumValid());
        Assert.Equal(SeedLab.Gw2Wan, ip.Source);
        Assert.Equal(SeedLab.Gw1Wan, ip.Destination);
        Assert.Equal(254, ip.Ttl); // routed, as Linux forwards it
        Assert.Equal(SeedLab.Gw1Eth2Mac, Datapath.NeighborEntry.ReadMac(reflected));

        long dropsBefore = lab.Gw1.Counters.TotalDrops();
        var (out1, rx1) = lab.Run(lab.Gw1, (SeedLab.Eth2, reflected));
        Assert.Empty(out1);
        var outcome = Assert.Single(rx1);
        Assert.Equal(DropReason.None, outcome.Drop);
        Assert.Equal(PacketBatch.NoPort, outcome.Port);
        Assert.Equal(dropsBefore, lab.Gw1.Counters.TotalDrops());
        var keepalive = lab.State1.Tunnels[0].Tunnel.Keepalive;
        Assert.Equal(1, keepalive.Replies);
        Assert.Equal(0, keepalive.Stray);
        Assert.True(keepalive.LastRttSeconds >= 0 && keepalive.LastReplyTicks > 0);
    }

    [Fact]
    public void KeepaliveHandled_ReturnedProbeNeverSent_ConsumedAsStray()
    {
        using var lab = new SeedLab(TunnelMode.Gre);
        var reply = new byte[TunnelKeepalive.ProbeLength];
        TunnelKeepalive.WriteProbe(reply, lab.State1.Tunnels[0].Tunnel.Settings, 1234);
        var (out1, rx1) = lab.Run(lab.Gw1, (SeedLab.Eth2, SeedLab.Eth(SeedLab.Gw1Eth2Mac, SeedLab.Gw2Eth2Mac, reply)));
        Assert.Empty(out1);
        Assert.Equal(DropReason.None, Assert.Single(rx1).Drop);
        Assert.Equal(0, lab.State1.Tunnels[0].Tunnel.Keepalive.Replies);
        Assert.Equal(1, lab.State1.Tunnels[0].Tunnel.Keepalive.Stray);
    }

    [Fact]
    public void KeepaliveHandled_GreTypeZeroFromStranger_StillDroppedAsUnsupported()
    {
        using var lab = new SeedLab(TunnelMode.Gre);
        var packet = new byte[TunnelKeepalive.ProbeLength];
        var stranger = new TunnelSettings("x", TunnelMode.Gre, SeedLab.Gw1Wan, 0xAC0C0163);
        TunnelKeepalive.WriteProbe(packet, stranger, 1);
        var (_, rx1) = lab.Run(lab.Gw1, (SeedLab.Eth2, SeedLab.Eth(SeedLab.Gw1Eth2Mac, SeedLab.Gw2Eth2Mac, packet)));
        Assert.Equal(DropReason.GreUnsupportedProtocol, Assert.Single(rx1).Drop);
    }

    [Fact]
    public void KeepaliveHandled_OwnSourceInnerGreToOtherDestination_StillMartian()
    {
        using var lab = new SeedLab(TunnelMode.Gre);
        // gw2's tunnel carries an inner GRE packet from gw2's own address to someone other than the remote: not a
        // keepalive, so the martian rule holds.
        var inner = new byte[TunnelKeepalive.ProbeLength];
        TunnelKeepalive.WriteProbe(inner, new TunnelSettings("x", TunnelMode.Gre, 0x0A010807, SeedLab.Gw2Wan), 5);
        var outerPacket = new byte[24 + inner.Length];
        Ipv4Header.Write(outerPacket, 0, (ushort)outerPacket.Length, 1, true, 64, Ipv4Header.ProtocolGre, SeedLab.Gw1Wan, SeedLab.Gw2Wan);
        BinaryPrimitives.WriteUInt16BigEndian(outerPacket.AsSpan(22), GreHeader.ProtocolIPv4);
        inner.CopyTo(outerPacket, 24);
        var (out2, rx2) = lab.Run(lab.Gw2, (SeedLab.Eth2, SeedLab.Eth(SeedLab.Gw2Eth2Mac, SeedLab.Gw1Eth2Mac, outerPacket)));
        Assert.Empty(out2);
        Assert.Equal(DropReason.MartianSource, Assert.Single(rx2).Drop);
        Assert.Equal(0, lab.State2.Tunnels[0].Tunnel.Keepalive.Reflected);
    }

    [Fact]
    public void TryParseReply_MalformedOrOtherTypes_False()
    {
        var settings = new TunnelSettings("t", TunnelMode.Gre, SeedLab.Gw1Wan, SeedLab.Gw2Wan, inputKey: 5);
        var probe = new byte[TunnelKeepalive.ProbeLength + 4];
        Assert.Equal(probe.Length, TunnelKeepalive.WriteProbe(probe, settings, 3));
        Assert.True(TunnelKeepalive.TryParseReply(probe, out uint src, out uint dst, out uint? key, out ushort id));
        Assert.Equal((SeedLab.Gw2Wan, SeedLab.Gw1Wan, 5u, (ushort)3), (src, dst, key!.Value, id));
        for (int cut = 0; cut < probe.Length; cut++) Assert.False(TunnelKeepalive.TryParseReply(probe.AsSpan(0, cut), out _, out _, out _, out _));
        var typed = (byte[])probe.Clone();
        typed[23] = 0x08; // protocol type 0x0008: not a keepalive
        Assert.False(TunnelKeepalive.TryParseReply(typed, out _, out _, out _, out _));
        var flagged = (byte[])probe.Clone();
        flagged[20] |= 0x10; // S flag
        Assert.False(TunnelKeepalive.TryParseReply(flagged, out _, out _, out _, out _));
        Assert.Equal(0, TunnelKeepalive.WriteProbe(new byte[10], settings, 1));
    }

    [Fact]
    public void KeepaliveOutbox_FullThenDrained_RefusesThenAccepts()
    {
        var tunnel = new Tunnel(new TunnelSettings("t", TunnelMode.Gre, 1, 2));
        var outbox = new KeepaliveOutbox();
        int posted = 0;
        while (outbox.TryPost(tunnel, (ushort)posted)) posted++;
        Assert.Equal(256, posted);
        for (int i = 0; i < posted; i++)
        {
            Assert.True(outbox.TryTake(out var t, out ushort id));
            Assert.Same(tunnel, t);
            Assert.Equal(i, id);
        }
        Assert.False(outbox.TryTake(out _, out _));
        Assert.True(outbox.TryPost(tunnel, 1));
    }
}

/// <summary>Keepalive with two workers on gw1: the probe of a sequenced tunnel takes its number from the owner, and
/// the reply may arrive on the other worker.</summary>
public sealed class KeepaliveWorkersTests
{
    [Fact]
    public void SendKeepalives_PostedToNonOwner_HandedToOwnerAndReplyCountedOnOtherWorker()
    {
        using var lab = new SeedLab(TunnelMode.Gre, sequence: true);
        var tunnel = lab.State1.Tunnels[0].Tunnel;
        using var handoff = new TunnelHandoff(2);
        int owner = TunnelHandoff.OwnerOf(tunnel, 2);
        using var ownerWorker = lab.Gw1Worker(owner, 2, handoff);
        using var other = lab.Gw1Worker(1 - owner, 2, handoff);
        var outbox = new KeepaliveOutbox();
        other.Keepalives = outbox;
        Assert.True(outbox.TryPost(tunnel, 77));
        lab.Now += 20;
        other.Tick(lab.Now);
        Assert.Empty(SeedLab.Drain(other)); // handed over, not sent by the non-owner
        lab.Now += 20;
        ownerWorker.Tick(lab.Now);
        byte[] probe = Assert.Single(SeedLab.Drain(ownerWorker)).Bytes;
        Assert.Equal(0u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(probe.AsSpan(14 + 24))); // first sequence number

        var (out2, _) = lab.Run(lab.Gw2, (SeedLab.Eth2, probe));
        byte[] reflected = Assert.Single(out2).Bytes;
        var (out1, rx1) = lab.Run(other, (SeedLab.Eth2, reflected));
        Assert.Empty(out1);
        Assert.Equal(DropReason.None, Assert.Single(rx1).Drop);
        Assert.Equal(1, tunnel.Keepalive.Replies);
    }
}
