using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>One test per rejection: each builds a valid tunnel packet, breaks exactly one thing (re-sealing the
/// outer checksum so the intended check is the one reached) and expects its DropReason with the frame left as it was.</summary>
public sealed class TunnelRejectTests : IDisposable
{
    private static readonly uint Gw1 = Ipv4Address.Parse("172.12.1.10");
    private static readonly uint Gw2 = Ipv4Address.Parse("172.12.1.11");
    private readonly TunnelTestFrames _frames = new();

    public void Dispose() => _frames.Dispose();

    private static TunnelSettings Gre(uint local, uint remote, uint? key = null, bool csum = false, bool seq = false) =>
        new("tun0", TunnelMode.Gre, local, remote, key: key, checksum: csum, sequence: seq);

    /// <summary>A packet encapsulated by gw1 with <paramref name="tx"/>, as gw2 receives it.</summary>
    private static byte[] Sent(TunnelSettings tx, byte innerTos = 0x02, Tunnel? sender = null)
    {
        var tunnel = sender ?? new Tunnel(tx);
        using var frames = new TunnelTestFrames();
        Frame f = frames.Load(TunnelRoundTripTests.Inner(new Random(9), innerTos, 64, true, 64));
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
        return f.Data.ToArray();
    }

    /// <summary>Rewrites the outer header checksum without parsing (the header may be deliberately invalid).</summary>
    private static void Reseal(byte[] packet)
    {
        int ihl = (packet[0] & 0x0F) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), Checksum.InternetChecksum.Compute(packet.AsSpan(0, ihl)));
    }

    private static void ResealGre(byte[] packet)
    {
        Assert.True(Ipv4Header.TryParse(packet, out Ipv4Header ip));
        Assert.True(GreHeader.TryParse(ip.Payload, out GreHeader gre));
        gre.ComputeChecksum();
    }

    private DropReason Decap(TunnelTable table, byte[] packet, out Tunnel? tunnel)
    {
        Frame f = _frames.Load(packet);
        DropReason r = TunnelDecap.Decapsulate(table, ref f, out tunnel);
        if (r != DropReason.None)
        {
            Assert.Null(tunnel);
            Assert.Equal(128, f.Offset);
            Assert.Equal(packet, f.Data.ToArray());
        }
        _frames.Return(f);
        return r;
    }

    private DropReason Decap(TunnelSettings rx, byte[] packet) => Decap(Table(rx), packet, out _);

    private static TunnelTable Table(params TunnelSettings[] settings)
    {
        var t = new TunnelTable();
        foreach (TunnelSettings s in settings) t.Add(new Tunnel(s));
        return t;
    }

    // ---- outer IPv4 ----

    [Fact]
    public void Decapsulate_ShorterThanIpHeader_Truncated() =>
        Assert.Equal(DropReason.Truncated, Decap(Gre(Gw2, Gw1), Sent(Gre(Gw1, Gw2)).AsSpan(0, 19).ToArray()));

    [Fact]
    public void Decapsulate_Version6_BadIpVersion()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[0] = 0x65;
        Assert.Equal(DropReason.BadIpVersion, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_IhlBelow5_BadIpHeaderLength()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[0] = 0x44;
        Assert.Equal(DropReason.BadIpHeaderLength, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_TotalLengthBeyondBuffer_BadIpTotalLength()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)(p.Length + 1));
        Reseal(p);
        Assert.Equal(DropReason.BadIpTotalLength, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_CorruptOuterChecksum_BadIpChecksum()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[10] ^= 0x01;
        Assert.Equal(DropReason.BadIpChecksum, Decap(Gre(Gw2, Gw1), p));
    }

    [Theory]
    [InlineData(Ipv4Header.FlagMoreFragments)]
    [InlineData(Ipv4Header.FlagDontFragment | 0x00B9)]
    public void Decapsulate_OuterFragment_TunnelFragment(ushort flagsAndOffset)
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), flagsAndOffset);
        Reseal(p);
        Assert.Equal(DropReason.TunnelFragment, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_UdpProtocol_UnsupportedProtocol()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[9] = Ipv4Header.ProtocolUdp;
        Reseal(p);
        Assert.Equal(DropReason.UnsupportedProtocol, Decap(Gre(Gw2, Gw1), p));
    }

    // ---- lookup ----

    [Fact]
    public void Decapsulate_IpipFromUnknownRemote_NoTunnel()
    {
        var tx = new TunnelSettings("t", TunnelMode.Ipip, Ipv4Address.Parse("172.12.1.99"), Gw2);
        Assert.Equal(DropReason.NoTunnel, Decap(new TunnelSettings("t", TunnelMode.Ipip, Gw2, Gw1), Sent(tx)));
    }

    [Fact]
    public void Decapsulate_IpipToOtherLocal_NoTunnel()
    {
        var tx = new TunnelSettings("t", TunnelMode.Ipip, Gw1, Ipv4Address.Parse("172.12.1.12"));
        Assert.Equal(DropReason.NoTunnel, Decap(new TunnelSettings("t", TunnelMode.Ipip, Gw2, Gw1), Sent(tx)));
    }

    [Fact]
    public void Decapsulate_IpipPacketForGreTunnel_NoTunnel()
    {
        var tx = new TunnelSettings("t", TunnelMode.Ipip, Gw1, Gw2);
        Assert.Equal(DropReason.NoTunnel, Decap(Gre(Gw2, Gw1), Sent(tx)));
    }

    [Fact]
    public void Decapsulate_GreFromUnknownRemote_NoTunnel() =>
        Assert.Equal(DropReason.NoTunnel, Decap(Gre(Gw2, Ipv4Address.Parse("172.12.1.99")), Sent(Gre(Gw1, Gw2))));

    [Theory]
    [InlineData(42u, 43u)]
    [InlineData(42u, null)]
    [InlineData(null, 42u)]
    public void Decapsulate_GreKeyDiffers_GreKeyMismatch(uint? sentKey, uint? expectedKey) =>
        Assert.Equal(DropReason.GreKeyMismatch, Decap(Gre(Gw2, Gw1, expectedKey), Sent(Gre(Gw1, Gw2, sentKey))));

    [Fact]
    public void Decapsulate_TwoKeysSameEndpoints_EachReachesItsTunnel()
    {
        var table = new TunnelTable();
        var a = new Tunnel(Gre(Gw2, Gw1, 1));
        var b = new Tunnel(Gre(Gw2, Gw1, 2));
        var none = new Tunnel(Gre(Gw2, Gw1));
        table.Add(a); table.Add(b); table.Add(none);
        Assert.Equal(DropReason.None, Decap(table, Sent(Gre(Gw1, Gw2, 2)), out Tunnel? got));
        Assert.Same(b, got);
        Assert.Equal(DropReason.None, Decap(table, Sent(Gre(Gw1, Gw2, 1)), out got));
        Assert.Same(a, got);
        Assert.Equal(DropReason.None, Decap(table, Sent(Gre(Gw1, Gw2)), out got));
        Assert.Same(none, got);
    }

    // ---- GRE header ----

    [Fact]
    public void Decapsulate_GreVersion1_GreBadVersion()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[21] |= 0x01;
        Assert.Equal(DropReason.GreBadVersion, Decap(Gre(Gw2, Gw1), p));
    }

    [Theory]
    [InlineData(0, 0x40)] // routing bit (RFC 1701)
    [InlineData(0, 0x08)] // strict source route
    [InlineData(1, 0x80)] // reserved0 bits 4..12
    public void Decapsulate_GreReservedBitSet_GreReservedBits(int offset, byte bit)
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[20 + offset] |= bit;
        Assert.Equal(DropReason.GreReservedBits, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_GreCBitWithoutRoomForChecksum_Truncated()
    {
        byte[] p = Sent(Gre(Gw1, Gw2)).AsSpan(0, 24).ToArray(); // outer header + 4 GRE bytes, no inner
        p[20] |= 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 24);
        Reseal(p);
        Assert.Equal(DropReason.Truncated, Decap(Gre(Gw2, Gw1, csum: true), p));
    }

    [Fact]
    public void Decapsulate_GreIpv6Payload_GreUnsupportedProtocol()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 0x86DD);
        Assert.Equal(DropReason.GreUnsupportedProtocol, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_GreChecksumCorrupt_BadChecksum()
    {
        byte[] p = Sent(Gre(Gw1, Gw2, csum: true));
        p[^1] ^= 0x40;
        Assert.Equal(DropReason.BadChecksum, Decap(Gre(Gw2, Gw1, csum: true), p));
    }

    [Fact]
    public void Decapsulate_TunnelWantsChecksumPacketHasNone_GreChecksumMissing() =>
        Assert.Equal(DropReason.GreChecksumMissing, Decap(Gre(Gw2, Gw1, csum: true), Sent(Gre(Gw1, Gw2))));

    [Fact]
    public void Decapsulate_PacketHasChecksumTunnelDoesNot_GreChecksumUnexpected() =>
        Assert.Equal(DropReason.GreChecksumUnexpected, Decap(Gre(Gw2, Gw1), Sent(Gre(Gw1, Gw2, csum: true))));

    [Fact]
    public void Decapsulate_TunnelWantsSequencePacketHasNone_GreSequenceMissing() =>
        Assert.Equal(DropReason.GreSequenceMissing, Decap(Gre(Gw2, Gw1, seq: true), Sent(Gre(Gw1, Gw2))));

    [Fact]
    public void Decapsulate_PacketHasSequenceTunnelDoesNot_Accepted() =>
        Assert.Equal(DropReason.None, Decap(Gre(Gw2, Gw1), Sent(Gre(Gw1, Gw2, seq: true))));

    private static byte[] WithSequence(byte[] sent, uint seq, bool csum)
    {
        byte[] p = (byte[])sent.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(p.Length - 84 - 4), seq); // sequence is the last GRE word
        if (csum) { BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), 0); ResealGre(p); }
        return p;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decapsulate_DuplicateOrOlderSequence_GreSequenceOld(bool csum)
    {
        TunnelTable table = Table(Gre(Gw2, Gw1, 5, csum, seq: true));
        byte[] sent = Sent(Gre(Gw1, Gw2, 5, csum, seq: true));
        Assert.Equal(DropReason.None, Decap(table, WithSequence(sent, 10, csum), out _));
        Assert.Equal(DropReason.GreSequenceOld, Decap(table, WithSequence(sent, 10, csum), out _));
        Assert.Equal(DropReason.GreSequenceOld, Decap(table, WithSequence(sent, 9, csum), out _));
        Assert.Equal(DropReason.None, Decap(table, WithSequence(sent, 14, csum), out _)); // gap accepted
        Assert.Equal(DropReason.GreSequenceOld, Decap(table, WithSequence(sent, 12, csum), out _));
        Assert.Equal(DropReason.None, Decap(table, WithSequence(sent, 15, csum), out _));
    }

    [Fact]
    public void Decapsulate_SequenceWrapsPast32Bits_SerialArithmeticAccepts()
    {
        TunnelTable table = Table(Gre(Gw2, Gw1, seq: true));
        byte[] sent = Sent(Gre(Gw1, Gw2, seq: true));
        Assert.Equal(DropReason.None, Decap(table, WithSequence(sent, 0xFFFF_FFF0, false), out _));
        Assert.Equal(DropReason.None, Decap(table, WithSequence(sent, 3, false), out _));
        Assert.Equal(DropReason.GreSequenceOld, Decap(table, WithSequence(sent, 0xFFFF_FFFE, false), out _));
    }

    // ---- inner packet and ECN ----

    [Fact]
    public void Decapsulate_InnerNotIpv4_InnerMalformed()
    {
        byte[] p = Sent(Gre(Gw1, Gw2));
        p[24] = 0x60;
        Assert.Equal(DropReason.InnerMalformed, Decap(Gre(Gw2, Gw1), p));
    }

    [Fact]
    public void Decapsulate_IpipInnerTruncated_InnerMalformed()
    {
        var tx = new TunnelSettings("t", TunnelMode.Ipip, Gw1, Gw2);
        byte[] p = Sent(tx).AsSpan(0, 20 + 19).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        Reseal(p);
        Assert.Equal(DropReason.InnerMalformed, Decap(new TunnelSettings("t", TunnelMode.Ipip, Gw2, Gw1), p));
    }

    private static byte[] WithOuterEcn(byte[] sent, int ecn)
    {
        byte[] p = (byte[])sent.Clone();
        p[1] = (byte)((p[1] & 0xFC) | ecn);
        Reseal(p);
        return p;
    }

    [Fact]
    public void Decapsulate_OuterCeInnerNotEct_EcnCeOnNotEct() =>
        Assert.Equal(DropReason.EcnCeOnNotEct, Decap(Gre(Gw2, Gw1), WithOuterEcn(Sent(Gre(Gw1, Gw2), innerTos: 0x20), 3)));

    [Theory]
    [InlineData(0x22, 3, 0x23)] // ECT(0) inner, CE outer → CE
    [InlineData(0x21, 3, 0x23)] // ECT(1) inner, CE outer → CE
    [InlineData(0x23, 3, 0x23)] // CE stays CE
    [InlineData(0x22, 1, 0x22)] // ECT outer: inner unchanged
    [InlineData(0x20, 2, 0x20)] // ECT outer over not-ECT: accepted unchanged (Linux only logs)
    [InlineData(0x20, 0, 0x20)]
    public void Decapsulate_OuterEcn_AppliesRfc6040(byte innerTos, int outerEcn, byte expectedInnerTos)
    {
        TunnelTable table = Table(Gre(Gw2, Gw1));
        Frame f = _frames.Load(WithOuterEcn(Sent(Gre(Gw1, Gw2), innerTos), outerEcn));
        Assert.Equal(DropReason.None, TunnelDecap.Decapsulate(table, ref f, out _));
        Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header inner));
        Assert.Equal(expectedInnerTos, inner.Tos);
        Assert.True(inner.IsChecksumValid());
        _frames.Return(f);
    }

    [Fact]
    public void Decapsulate_EthernetPaddingAfterPacket_StripsPadding()
    {
        var tx = new TunnelSettings("t", TunnelMode.Ipip, Gw1, Gw2);
        using var frames = new TunnelTestFrames();
        Frame small = frames.Load(TunnelRoundTripTests.Inner(new Random(3), 0, 64, true, 0));
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(new Tunnel(tx), ref small));
        byte[] padded = new byte[46 + 10];
        small.Data.CopyTo(padded);
        Frame f = _frames.Load(padded);
        Assert.Equal(DropReason.None, TunnelDecap.Decapsulate(Table(new TunnelSettings("t", TunnelMode.Ipip, Gw2, Gw1)), ref f, out _));
        Assert.Equal(20, f.Length);
    }

    // ---- encapsulation ----

    [Fact]
    public void Encapsulate_HeadroomSmallerThanHeader_NoHeadroom()
    {
        var tunnel = new Tunnel(Gre(Gw1, Gw2, 1, true, true));
        Frame f = _frames.Load(TunnelRoundTripTests.Inner(new Random(1), 0, 64, true, 10), headroom: 35);
        Assert.Equal(DropReason.NoHeadroom, TunnelEncap.Encapsulate(tunnel, ref f));
        Assert.Equal(35, f.Offset);
        Assert.Equal(0, tunnel.EncapPackets);
        Frame g = _frames.Load(TunnelRoundTripTests.Inner(new Random(1), 0, 64, true, 10), headroom: 36);
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref g));
        Assert.Equal(0, g.Offset);
    }

    [Fact]
    public void Encapsulate_InnerShorterThanIpHeader_InnerMalformed()
    {
        var tunnel = new Tunnel(Gre(Gw1, Gw2));
        Frame f = _frames.Load(new byte[19]);
        Assert.Equal(DropReason.InnerMalformed, TunnelEncap.Encapsulate(tunnel, ref f));
    }

    [Fact]
    public void Encapsulate_OuterWouldExceed65535_FragNeeded()
    {
        using var pool = new FramePool(1, 70_000, 128);
        Frame f = default;
        Assert.True(pool.TryRent(ref f));
        f.Length = 65_535 - 20 + 1;
        Ipv4Header.Write(f.Data, 0, 0xFFFF, 1, true, 64, Ipv4Header.ProtocolUdp, 1, 2);
        Assert.Equal(DropReason.FragNeeded, TunnelEncap.Encapsulate(new Tunnel(new TunnelSettings("t", TunnelMode.Ipip, Gw1, Gw2)), ref f));
        f.Length = 65_535 - 20;
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(new Tunnel(new TunnelSettings("t", TunnelMode.Ipip, Gw1, Gw2)), ref f));
    }
}
