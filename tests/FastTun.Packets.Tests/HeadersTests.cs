using System.Buffers.Binary;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>Accessors, setters and the fast header sums against slow oracles on random input (fixed seeds).</summary>
public class HeadersTests
{
    [Theory]
    [InlineData("10.1.5.10", 0x0A01050Au)]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    [InlineData("172.12.1.11", 0xAC0C010Bu)]
    public void Ipv4AddressParse_DottedQuad_HostOrder(string text, uint expected)
    {
        Assert.Equal(expected, Ipv4Address.Parse(text));
        Assert.Equal(text, Ipv4Address.Format(expected));
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.1.5")]
    [InlineData("10.1.5.10.1")]
    [InlineData("10.1.5.256")]
    [InlineData("10..5.1")]
    [InlineData("10.1.5.1 ")]
    [InlineData("+1.1.1.1")]
    [InlineData("1.1.1.0001")]
    [InlineData("a.b.c.d")]
    [InlineData(null)]
    public void Ipv4AddressTryParse_Invalid_False(string? text)
    {
        Assert.False(Ipv4Address.TryParse(text, out _));
        if (text is not null) Assert.Throws<FormatException>(() => Ipv4Address.Parse(text));
    }

    [Fact]
    public void Ipv4AddressFormatParse_RandomFixedSeed_RoundTrips()
    {
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            uint a = (uint)rng.NextInt64(0, 1L << 32);
            Assert.Equal(a, Ipv4Address.Parse(Ipv4Address.Format(a)));
        }
    }

    [Fact]
    public void HeaderSum_RandomHeadersWithAndWithoutOptions_MatchesScalarReference()
    {
        var rng = new Random(1071);
        for (int i = 0; i < 5000; i++)
        {
            int ihl = rng.Next(3) == 0 ? rng.Next(5, 16) : 5;
            var h = new byte[ihl * 4];
            rng.NextBytes(h);
            h[0] = (byte)(0x40 | ihl);
            Assert.Equal(InternetChecksum.Fold(InternetChecksum.SumScalar(h)), Ipv4Header.HeaderSum(h, h.Length));
        }
    }

    [Fact]
    public void ComputeChecksum_RandomHeaders_VerifiesWithReference()
    {
        var rng = new Random(791);
        for (int i = 0; i < 2000; i++)
        {
            int ihl = rng.Next(5, 16);
            var p = new byte[ihl * 4 + 8];
            rng.NextBytes(p);
            p[0] = (byte)(0x40 | ihl);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
            Assert.True(Ipv4Header.TryParse(p, out Ipv4Header ip));
            ip.ComputeChecksum();
            Assert.True(InternetChecksum.Verify(p.AsSpan(0, ihl * 4)));
            Assert.True(ip.IsChecksumValid());
            p[rng.Next(1, ihl * 4)] ^= (byte)(1 << rng.Next(8)); // not byte 0: the view assumes its IHL stays put
            Assert.False(ip.IsChecksumValid());
        }
    }

    [Fact]
    public void IncrementalChecksum_RandomHeaderAndTosChange_MatchesFullRecompute()
    {
        var rng = new Random(1624);
        for (int i = 0; i < 5000; i++)
        {
            var h = new byte[20];
            rng.NextBytes(h);
            h[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), 0);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), InternetChecksum.Compute(h));
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(h);
            h[1] = (byte)rng.Next(256);
            ushort newWord = BinaryPrimitives.ReadUInt16BigEndian(h);
            ushort incremental = IncrementalChecksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(h.AsSpan(10)), oldWord, newWord);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), incremental);
            Assert.True(InternetChecksum.Verify(h), $"case {i}");
        }
    }

    [Fact]
    public void Ipv4Setters_WriteBigEndianFields()
    {
        byte[] p = GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho);
        Assert.True(Ipv4Header.TryParse(p, out Ipv4Header ip));
        ip.Tos = 0xb9;
        ip.Identification = 0xBEEF;
        ip.Ttl = 9;
        ip.Source = 0x01020304;
        ip.Destination = 0x05060708;
        ip.DontFragment = false;
        ip.MoreFragments = true;
        ip.FragmentOffset = 1480;
        ip.ComputeChecksum();
        Assert.Equal("45b90054beef20b90901", Convert.ToHexString(p.AsSpan(0, 10)).ToLowerInvariant());
        Assert.Equal("0102030405060708", Convert.ToHexString(p.AsSpan(12, 8)).ToLowerInvariant());
        Assert.Equal(46, ip.Dscp);
        Assert.Equal(1, ip.Ecn);
        Assert.True(ip.IsFragment);
        Assert.Equal(1480, ip.FragmentOffset);
        Assert.True(ip.IsChecksumValid());
        Assert.Throws<ArgumentOutOfRangeException>(() => { Assert.True(Ipv4Header.TryParse(p, out Ipv4Header v)); v.FragmentOffset = 3; });
    }

    private static bool Mss(byte[] options, out ushort mss)
    {
        var seg = new byte[20 + options.Length];
        seg[12] = (byte)((seg.Length / 4) << 4);
        options.CopyTo(seg, 20);
        Assert.True(TcpHeader.TryParse(seg, out TcpHeader tcp));
        return tcp.TryReadMss(out mss);
    }

    [Fact]
    public void TryReadMss_OptionLayouts_WalksSafely()
    {
        Assert.True(Mss([1, 1, 2, 4, 0x05, 0x78, 0, 0], out ushort mss));
        Assert.Equal(1400, mss);
        Assert.True(Mss([4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 2, 4, 0x05, 0xb4, 1, 1, 1, 0], out mss)); // SACK-perm, TS, then MSS
        Assert.Equal(1460, mss);
        Assert.False(Mss([0, 0, 2, 4, 0x05, 0xb4, 0, 0], out _));  // End before MSS
        Assert.False(Mss([3, 0, 2, 4, 0x05, 0xb4, 0, 0], out _));  // length 0 stops the walk
        Assert.False(Mss([3, 1, 2, 4, 0x05, 0xb4, 0, 0], out _));  // length 1 stops the walk
        Assert.False(Mss([8, 9, 1, 1, 2, 4, 0x05, 0xb4], out _));  // option runs past the header
        Assert.False(Mss([1, 1, 1, 2], out _));                     // kind with no length byte
        Assert.False(Mss([2, 3, 0x05, 0xb4], out _));              // MSS with the wrong length
        Assert.False(Mss([1, 1, 2, 4], out _));                     // MSS cut by the header end
        Assert.False(Mss([], out _));
    }

    [Fact]
    public void TryReadMss_RandomOptionsFixedSeed_NeverThrowsAndAgreesWithOracle()
    {
        var rng = new Random(9293);
        for (int i = 0; i < 20_000; i++)
        {
            var options = new byte[rng.Next(0, 11) * 4];
            for (int k = 0; k < options.Length; k++)
                options[k] = rng.Next(3) == 0 ? (byte)rng.Next(256) : (byte)rng.Next(0, 6);
            bool fast = Mss(options, out ushort mss);
            bool slow = SlowMss(options, out ushort slowMss);
            Assert.Equal(slow, fast);
            Assert.Equal(slowMss, mss);
        }
    }

    /// <summary>Oracle: a recursive reading of RFC 9293 §3.1 option rules.</summary>
    private static bool SlowMss(ReadOnlySpan<byte> o, out ushort mss)
    {
        mss = 0;
        if (o.IsEmpty || o[0] == 0) return false;
        if (o[0] == 1) return SlowMss(o[1..], out mss);
        if (o.Length < 2 || o[1] < 2 || o[1] > o.Length) return false;
        if (o[0] == 2)
        {
            if (o[1] != 4) return false;
            mss = (ushort)(o[2] << 8 | o[3]);
            return true;
        }
        return SlowMss(o[o[1]..], out mss);
    }

    [Fact]
    public void GreWrite_EveryCombination_ParsesBack()
    {
        for (int c = 0; c < 2; c++)
        for (int k = 0; k < 2; k++)
        for (int s = 0; s < 2; s++)
        {
            var buf = new byte[16 + 20];
            int len = GreHeader.Write(buf, GreHeader.ProtocolIPv4, c == 1, k == 1 ? 0x01020304u : null, s == 1 ? 0xA0B0C0D0u : null);
            Assert.Equal(4 + 4 * (c + k + s), len);
            Assert.True(GreHeader.TryParse(buf.AsSpan(0, len + 20), out GreHeader gre));
            Assert.Equal(len, gre.HeaderLength);
            Assert.Equal(k == 1 ? 0x01020304u : 0, gre.Key);
            Assert.Equal(s == 1 ? 0xA0B0C0D0u : 0, gre.SequenceNumber);
            Assert.Equal(20, gre.Payload.Length);
            if (c == 1)
            {
                gre.ComputeChecksum();
                Assert.True(gre.IsChecksumValid());
                Assert.True(InternetChecksum.Verify(buf.AsSpan(0, len + 20)));
            }
            else
            {
                Assert.Throws<InvalidOperationException>(() => { Assert.True(GreHeader.TryParse(buf, out GreHeader g)); g.Checksum = 1; });
            }
        }
    }

    [Fact]
    public void EthernetEtherTypeSetter_Tagged_WritesInnerType()
    {
        byte[] f = GoldenFrames.Get("VlanArpRequest");
        Assert.True(EthernetHeader.TryParse(f, out EthernetHeader eth));
        eth.EtherType = EthernetHeader.EtherTypeIPv4;
        Assert.Equal(0x8100, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)));
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)));
    }

    [Fact]
    public void UdpComputeChecksum_ZeroResult_SentAsFfff()
    {
        // Search a payload whose checksum computes to 0 and check it is transmitted as 0xFFFF (RFC 768).
        var d = new byte[10];
        for (int v = 0; v < 0x10000; v++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(8), (ushort)v);
            UdpHeader.Write(d, 1, 2, 0x0A000001, 0x0A000002);
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(6), 0);
            uint sum = InternetChecksum.Sum(d, UdpHeader.PseudoHeaderSum(0x0A000001, 0x0A000002, 17, 10));
            if ((ushort)~InternetChecksum.Fold(sum) != 0) continue;
            UdpHeader.Write(d, 1, 2, 0x0A000001, 0x0A000002);
            Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
            Assert.True(UdpHeader.TryParse(d, out UdpHeader udp));
            Assert.True(udp.IsChecksumValid(0x0A000001, 0x0A000002));
            return;
        }
        Assert.Fail("no payload with a zero checksum found");
    }
}
