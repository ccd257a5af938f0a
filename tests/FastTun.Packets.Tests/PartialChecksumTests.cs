using System.Buffers.Binary;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tests;

/// <summary>Issue #12 item 7: partial (offloaded) TCP/UDP checksums found on the receive path and completed,
/// checked against a from-scratch checksum (the oracle) on random packets.</summary>
public class PartialChecksumTests
{
    /// <summary>An IPv4 TCP or UDP packet with a correct checksum, computed from scratch.</summary>
    private static byte[] Packet(Random rng, byte protocol, int payload, bool fragment = false)
    {
        int l4Header = protocol == 6 ? 20 : 8;
        var p = new byte[20 + l4Header + payload];
        Ipv4Header.Write(p, 0, (ushort)p.Length, (ushort)rng.Next(), !fragment, 64, protocol,
            (uint)rng.NextInt64(0x01000000, 0xDF000000), (uint)rng.NextInt64(0x01000000, 0xDF000000));
        if (fragment)
        {
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), 0x2000); // MF, offset 0
            Ipv4Header.TryParse(p, out var ip);
            ip.ComputeChecksum();
        }
        rng.NextBytes(p.AsSpan(20, l4Header + payload));
        if (protocol == 6) p[20 + 12] = 0x50; // data offset 5
        else BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), (ushort)(8 + payload));
        int field = 20 + (protocol == 6 ? 16 : 6);
        p[field] = p[field + 1] = 0;
        uint pseudo = PartialChecksum.PseudoHeaderSum(p, protocol, l4Header + payload);
        ushort sum = InternetChecksum.Compute(p.AsSpan(20), pseudo);
        if (protocol == 17 && sum == 0) sum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(field), sum);
        return p;
    }

    /// <summary>What a sender with tx checksum offload puts on the wire: the folded pseudo-header sum.</summary>
    private static byte[] MakePartial(byte[] finished, byte protocol)
    {
        var p = (byte[])finished.Clone();
        int field = 20 + (protocol == 6 ? 16 : 6);
        uint pseudo = PartialChecksum.PseudoHeaderSum(p, protocol, p.Length - 20);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(field), InternetChecksum.Fold(pseudo));
        return p;
    }

    [Theory]
    [InlineData((byte)6)]
    [InlineData((byte)17)]
    public void CompleteIfPartial_RandomPackets_MatchesOracle(byte protocol)
    {
        var rng = new Random(protocol);
        for (int i = 0; i < 5000; i++)
        {
            var finished = Packet(rng, protocol, rng.Next(0, 1400));
            var untouched = (byte[])finished.Clone();
            Assert.Equal(PartialChecksumResult.NotPartial, PartialChecksum.CompleteIfPartial(untouched));
            Assert.Equal(finished, untouched);

            var partial = MakePartial(finished, protocol);
            if (partial.AsSpan().SequenceEqual(finished)) continue; // the finished sum equals the pseudo sum: 1 in 65,536
            Assert.Equal(PartialChecksumResult.Completed, PartialChecksum.CompleteIfPartial(partial));
            Assert.Equal(finished, partial);
        }
    }

    [Fact]
    public void CompleteIfPartial_PartialFragment_Incomplete()
    {
        var rng = new Random(3);
        var p = MakePartial(Packet(rng, 6, 100, fragment: true), 6);
        Assert.Equal(PartialChecksumResult.Incomplete, PartialChecksum.CompleteIfPartial(p));
    }

    [Fact]
    public void CompleteIfPartial_IcmpOrShortOrUdpWithoutChecksum_NotPartial()
    {
        var rng = new Random(4);
        var udp = Packet(rng, 17, 20);
        udp[26] = udp[27] = 0; // UDP: no checksum
        Assert.Equal(PartialChecksumResult.NotPartial, PartialChecksum.CompleteIfPartial(udp));
        var shortTcp = Packet(rng, 6, 0)[..30]; // cut inside the TCP header, before the checksum field
        Assert.Equal(PartialChecksumResult.NotPartial, PartialChecksum.CompleteIfPartial(shortTcp));
        var icmp = new byte[28];
        Ipv4Header.Write(icmp, 0, 28, 1, true, 64, Ipv4Header.ProtocolIcmp, 0x0A000001, 0x0A000002);
        Assert.Equal(PartialChecksumResult.NotPartial, PartialChecksum.CompleteIfPartial(icmp));
    }
    /// <summary>MatchesPseudoHeader (native words, no fold) against the folded pseudo-header sum compare that
    /// CompleteIfPartial makes, on random addresses, lengths and fields, with the field set to the folded sum, to 0 and
    /// 0xFFFF, and to a random value.</summary>
    [Theory]
    [InlineData((byte)6)]
    [InlineData((byte)17)]
    public void MatchesPseudoHeader_RandomFields_MatchesFoldedCompare(byte protocol)
    {
        var rng = new Random(768 + protocol);
        int matches = 0;
        Span<byte> wire = stackalloc byte[10];
        for (int round = 0; round < 300_000; round++)
        {
            uint source = round % 7 == 0 ? 0 : (uint)rng.NextInt64(0, 1L << 32);
            uint destination = round % 11 == 0 ? 0xFFFF_FFFF : (uint)rng.NextInt64(0, 1L << 32);
            int segment = rng.Next(0, 65_516);
            ushort folded = InternetChecksum.Fold(UdpHeader.PseudoHeaderSum(source, destination, protocol, segment));
            ushort stored = (round % 5) switch
            {
                0 => folded,
                1 => 0,
                2 => 0xFFFF,
                3 => (ushort)(folded + 1),
                _ => (ushort)rng.Next(0x10000),
            };
            bool expected = stored == folded || (folded == 0xFFFF && stored == 0);
            matches += expected ? 1 : 0;
            BinaryPrimitives.WriteUInt32BigEndian(wire, source);
            BinaryPrimitives.WriteUInt32BigEndian(wire[4..], destination);
            BinaryPrimitives.WriteUInt16BigEndian(wire[8..], stored);
            bool actual = PartialChecksum.MatchesPseudoHeader(System.Runtime.InteropServices.MemoryMarshal.Read<uint>(wire),
                System.Runtime.InteropServices.MemoryMarshal.Read<uint>(wire[4..]), protocol, segment,
                System.Runtime.InteropServices.MemoryMarshal.Read<ushort>(wire[8..]));
            Assert.Equal(expected, actual);
        }
        Assert.InRange(matches, 60_000, 200_000);
    }
}
