using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tests;

/// <summary>ECMP selection: the flow hash against a slow tuple extractor, and the hash-threshold split.</summary>
public class MultipathTests
{
    /// <summary>The slow oracle: the tuple Linux's L4 policy hashes, read field by field through the header view.</summary>
    private static (uint Src, uint Dst, byte Proto, uint Ports) ReferenceTuple(byte[] packet)
    {
        Assert.True(Ipv4Header.TryParse(packet, out var ip, out _));
        int ihl = (packet[0] & 0xF) * 4;
        bool fragment = ip.IsFragment;
        bool hasPorts = ip.Protocol is 6 or 17 or 33 or 132 or 136;
        uint ports = 0;
        if (!fragment && hasPorts && packet.Length >= ihl + 4)
            ports = (uint)(BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(ihl)) << 16 | BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(ihl + 2)));
        return (ip.Source, ip.Destination, ip.Protocol, ports);
    }

    private static byte[] Packet(Random rng, byte protocol, bool fragment, int options)
    {
        int ihl = 20 + options * 4;
        var p = new byte[ihl + 8 + rng.Next(0, 40)];
        Ipv4Header.Write(p, 0, (ushort)p.Length, (ushort)rng.Next(), !fragment, 64, protocol, (uint)rng.Next(), (uint)rng.Next());
        p[0] = (byte)(0x40 | (ihl / 4));
        if (fragment) BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), (ushort)(rng.Next(2) == 0 ? 0x2000 : rng.Next(1, 0x1FFF)));
        rng.NextBytes(p.AsSpan(ihl));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum.InternetChecksum.Compute(p.AsSpan(0, ihl)));
        return p;
    }

    [Fact]
    public void FlowHash_RandomPackets_MatchesReferenceTuple()
    {
        var rng = new Random(14);
        byte[] protocols = [1, 6, 17, 33, 47, 132, 136, 4];
        for (int i = 0; i < 5000; i++)
        {
            var p = Packet(rng, protocols[rng.Next(protocols.Length)], rng.Next(4) == 0, rng.Next(0, 3));
            var t = ReferenceTuple(p);
            Assert.Equal(Multipath.Hash(t.Src, t.Dst, t.Proto, t.Ports), Multipath.FlowHash(p));
        }
    }

    [Fact]
    public void FlowHash_FragmentsOfOneDatagram_SameHashWhateverTheirPayload()
    {
        var rng = new Random(7);
        var first = Packet(rng, 17, fragment: false, options: 0);
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(6), 0x2000); // MF, offset 0: the first fragment, ports present
        var later = (byte[])first.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(later.AsSpan(6), 0x00B9); // offset 1480, no ports
        rng.NextBytes(later.AsSpan(20));
        Assert.Equal(Multipath.FlowHash(first), Multipath.FlowHash(later));
        Assert.NotEqual(Multipath.Hash(0, 0, 0, 0), Multipath.FlowHash(first));
    }

    [Fact]
    public void FlowHash_PortsChange_HashChanges_ButNotForIcmp()
    {
        var rng = new Random(3);
        var udp = Packet(rng, 17, false, 0);
        var other = (byte[])udp.Clone();
        other[21] ^= 1; // source port
        Assert.NotEqual(Multipath.FlowHash(udp), Multipath.FlowHash(other));
        var icmp = Packet(rng, 1, false, 0);
        var icmp2 = (byte[])icmp.Clone();
        icmp2[21] ^= 1;
        Assert.Equal(Multipath.FlowHash(icmp), Multipath.FlowHash(icmp2));
    }

    [Fact]
    public void Pick_HashThreshold_EqualSlicesInOrder()
    {
        Assert.Equal(0, Multipath.Pick(0, 3));
        Assert.Equal(2, Multipath.Pick(uint.MaxValue, 3));
        Assert.Equal(1, Multipath.Pick(0x8000_0000, 2));
        Assert.Equal(0, Multipath.Pick(0x7FFF_FFFF, 2));
        var counts = new int[4];
        var rng = new Random(1);
        for (int i = 0; i < 40_000; i++) counts[Multipath.Pick(Multipath.Hash((uint)rng.Next(), (uint)rng.Next(), 17, (uint)rng.Next()), 4)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Pick_SequentialSourcePorts_SpreadEvenly(int members)
    {
        // Real flows often differ only in a few low bits: one client's ephemeral ports to one server.
        var counts = new int[members];
        for (uint port = 32768; port < 32768 + 12_000; port++)
            counts[Multipath.Pick(Multipath.Hash(0x0A01050A, 0x0A01080A, 6, (port << 16) | 443), members)]++;
        Assert.All(counts, c => Assert.InRange(c, 12_000 / members * 90 / 100, 12_000 / members * 110 / 100));
    }

    [Fact]
    public void Select_PlainHop_ReturnsItAndGroupReturnsAMember()
    {
        NextHop[][] groups = [[NextHop.Into(0), NextHop.Into(1)]];
        var state = new ForwardingState(new Routing.Lpm4Table(), [NextHop.OneOf(0), NextHop.Into(5)], [], [], new Tunnels.TunnelTable(), groups);
        var p = Packet(new Random(2), 17, false, 0);
        Assert.Equal(NextHop.Into(5), Multipath.Select(state, in state.NextHops[1], p));
        var chosen = Multipath.Select(state, in state.NextHops[0], p);
        Assert.Equal(groups[0][Multipath.Pick(Multipath.FlowHash(p), 2)], chosen);
    }
}
