using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>Malformed input gets a parse failure or a DropReason, never an exception: every truncation of every
/// golden frame, targeted header corruptions, and random byte flips from a fixed seed.</summary>
public sealed class HeadersMalformedTests : IDisposable
{
    private readonly TunnelTestFrames _frames = new();

    public void Dispose() => _frames.Dispose();

    /// <summary>Parses every layer it can and reads every accessor; returns how many layers parsed.</summary>
    private static int ParseAll(Span<byte> frame)
    {
        int layers = 0;
        if (!EthernetHeader.TryParse(frame, out EthernetHeader eth)) return layers;
        layers++;
        _ = eth.Destination[5] + eth.Source[5] + eth.VlanId + eth.HeaderLength;
        Span<byte> l3 = eth.Payload;
        if (eth.EtherType == EthernetHeader.EtherTypeArp)
        {
            if (ArpPacket.TryParse(l3, out ArpPacket arp))
            {
                layers++;
                _ = arp.Operation + arp.SenderIp + arp.TargetIp + arp.SenderMac[5] + arp.TargetMac[5];
            }
            return layers;
        }
        Span<byte> ipBytes = l3;
        for (int depth = 0; depth < 2; depth++)
        {
            if (!Ipv4Header.TryParse(ipBytes, out Ipv4Header ip)) return layers;
            layers++;
            _ = ip.Tos + ip.Ttl + ip.Identification + ip.FragmentOffset + ip.Source + ip.Destination + ip.HeaderChecksum
                + ip.Options.Length + ip.Bytes.Length + ip.Packet.Length + (ip.IsChecksumValid() ? 1 : 0) + (ip.IsFragment ? 1 : 0);
            Span<byte> payload = ip.Payload;
            switch (ip.Protocol)
            {
                case Ipv4Header.ProtocolIpip:
                    ipBytes = payload;
                    continue;
                case Ipv4Header.ProtocolGre:
                    if (!GreHeader.TryParse(payload, out GreHeader gre)) return layers;
                    layers++;
                    _ = gre.Key + gre.SequenceNumber + gre.Checksum + gre.ProtocolType + gre.Bytes.Length + (gre.IsChecksumValid() ? 1 : 0);
                    ipBytes = gre.Payload;
                    continue;
                case Ipv4Header.ProtocolIcmp:
                    if (IcmpHeader.TryParse(payload, out IcmpHeader icmp))
                    {
                        layers++;
                        _ = icmp.Type + icmp.Code + icmp.Identifier + icmp.Sequence + icmp.NextHopMtu + icmp.Data.Length + (icmp.IsChecksumValid() ? 1 : 0);
                    }
                    return layers;
                case Ipv4Header.ProtocolTcp:
                    if (TcpHeader.TryParse(payload, out TcpHeader tcp))
                    {
                        layers++;
                        _ = tcp.SourcePort + tcp.DestinationPort + tcp.SequenceNumber + tcp.Flags + tcp.Window + tcp.Options.Length;
                        tcp.TryReadMss(out _);
                        tcp.IsChecksumValid(ip.Source, ip.Destination, payload.Length);
                    }
                    return layers;
                case Ipv4Header.ProtocolUdp:
                    if (UdpHeader.TryParse(payload, out UdpHeader udp))
                    {
                        layers++;
                        _ = udp.SourcePort + udp.DestinationPort + udp.Payload.Length + (udp.IsChecksumValid(ip.Source, ip.Destination) ? 1 : 0);
                    }
                    return layers;
                default:
                    return layers;
            }
        }
        return layers;
    }

    private static TunnelTable ReceiverTable()
    {
        uint gw1 = Ipv4Address.Parse("172.12.1.10"), gw2 = Ipv4Address.Parse("172.12.1.11");
        var table = new TunnelTable();
        foreach (string g in new[] { "Ipip", "Gre", "GreKeyCsumSeq" })
            table.Add(new Tunnel(GoldenTunnelTests.SettingsFor(g, gw2, gw1)));
        return table;
    }

    [Fact]
    public void TryParse_EveryTruncationOfEveryGolden_FailsCleanlyBelowFullLength()
    {
        foreach (string name in GoldenFrames.EthernetFrameNames)
        {
            byte[] frame = GoldenFrames.Get(name);
            int full = ParseAll(frame);
            Assert.True(full >= 3 || name.Contains("Arp"), name);
            for (int len = 0; len < frame.Length; len++)
            {
                byte[] cut = frame.AsSpan(0, len).ToArray();
                Assert.True(ParseAll(cut) < full, $"{name} cut to {len} still parsed every layer");
            }
        }
    }

    [Fact]
    public void Decapsulate_EveryTruncationOfEveryTunnelGolden_DropsWithReason()
    {
        TunnelTable table = ReceiverTable();
        foreach (string name in new[] { "Ipip", "Gre", "GreKey", "GreCsum", "GreSeq", "GreKeyCsumSeq" })
        {
            byte[] ip = GoldenFrames.Get(name).AsSpan(EthernetHeader.Length).ToArray();
            for (int len = 0; len < ip.Length; len++)
            {
                Frame f = _frames.Load(ip.AsSpan(0, len));
                DropReason r = TunnelDecap.Decapsulate(table, ref f, out Tunnel? t);
                Assert.NotEqual(DropReason.None, r);
                Assert.Null(t);
                _frames.Return(f);
            }
        }
    }

    [Fact]
    public void Decapsulate_RandomCorruptionsFixedSeed_NeverThrowsAndSuccessYieldsValidInner()
    {
        TunnelTable table = ReceiverTable();
        var rng = new Random(424242);
        string[] names = ["Ipip", "Gre", "GreKey", "GreCsum", "GreSeq", "GreKeyCsumSeq"];
        var reasons = new HashSet<DropReason>();
        for (int i = 0; i < 20_000; i++)
        {
            byte[] ip = GoldenFrames.Get(names[rng.Next(names.Length)]).AsSpan(EthernetHeader.Length).ToArray();
            int flips = rng.Next(1, 4);
            for (int k = 0; k < flips; k++)
            {
                // Bias towards the headers, where the checks are.
                int at = rng.Next(4) == 0 ? rng.Next(ip.Length) : rng.Next(Math.Min(ip.Length, 60));
                ip[at] ^= (byte)(1 << rng.Next(8));
            }
            if (rng.Next(2) == 0)
            {
                // Re-seal the outer checksum so the deeper checks run too.
                int ihl = Math.Clamp((ip[0] & 0x0F) * 4, 0, ip.Length);
                if (ihl >= 20)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), 0);
                    BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum.InternetChecksum.Compute(ip.AsSpan(0, ihl)));
                }
            }
            Frame f = _frames.Load(ip);
            DropReason r = TunnelDecap.Decapsulate(table, ref f, out Tunnel? t);
            reasons.Add(r);
            if (r == DropReason.None)
            {
                Assert.NotNull(t);
                Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header inner));
                Assert.Equal(f.Length, inner.TotalLength);
            }
            _frames.Return(f);
        }
        // The corpus reaches most of the checks, not just the first one.
        Assert.Contains(DropReason.BadIpChecksum, reasons);
        Assert.Contains(DropReason.GreReservedBits, reasons);
        Assert.Contains(DropReason.NoTunnel, reasons);
        Assert.Contains(DropReason.InnerMalformed, reasons);
        Assert.True(reasons.Count >= 10, string.Join(",", reasons));
    }

    [Fact]
    public void Ipv4TryParse_BadVersion_FalseWithReason()
    {
        byte[] p = GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho);
        p[0] = 0x55;
        Assert.False(Ipv4Header.TryParse(p, out _, out DropReason r));
        Assert.Equal(DropReason.BadIpVersion, r);
    }

    [Theory]
    [InlineData(0x40)]
    [InlineData(0x44)]
    public void Ipv4TryParse_IhlBelow5_False(byte versionIhl)
    {
        byte[] p = GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho);
        p[0] = versionIhl;
        Assert.False(Ipv4Header.TryParse(p, out _, out DropReason r));
        Assert.Equal(DropReason.BadIpHeaderLength, r);
    }

    [Fact]
    public void Ipv4TryParse_IhlBeyondBuffer_False()
    {
        byte[] p = GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho).AsSpan(0, 40).ToArray();
        p[0] = 0x4F; // 60-byte header in a 40-byte buffer
        Assert.False(Ipv4Header.TryParse(p, out _, out DropReason r));
        Assert.Equal(DropReason.BadIpHeaderLength, r);
    }

    [Theory]
    [InlineData(85)]   // one past the buffer
    [InlineData(19)]   // shorter than the header
    [InlineData(0)]
    public void Ipv4TryParse_TotalLengthOutOfRange_False(int totalLength)
    {
        byte[] p = GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)totalLength);
        Assert.False(Ipv4Header.TryParse(p, out _, out DropReason r));
        Assert.Equal(DropReason.BadIpTotalLength, r);
    }

    [Fact]
    public void Ipv4TryParse_TrailingPadding_AcceptedAndPayloadStopsAtTotalLength()
    {
        byte[] p = [.. GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho), 0, 0, 0, 0];
        Assert.True(Ipv4Header.TryParse(p, out Ipv4Header ip));
        Assert.Equal(84, ip.TotalLength);
        Assert.Equal(64, ip.Payload.Length);
    }

    [Fact]
    public void GreTryParse_Version1_False()
    {
        byte[] g = [0x00, 0x01, 0x08, 0x00];
        Assert.False(GreHeader.TryParse(g, out _, out DropReason r));
        Assert.Equal(DropReason.GreBadVersion, r);
    }

    [Fact]
    public void GreTryParse_EachReservedBit_False()
    {
        for (int bit = 0; bit < 16; bit++)
        {
            ushort flags = (ushort)(1 << bit);
            if ((flags & GreHeader.Reserved0Mask) == 0) continue;
            byte[] g = new byte[16];
            BinaryPrimitives.WriteUInt16BigEndian(g, flags);
            Assert.False(GreHeader.TryParse(g, out _, out DropReason r));
            Assert.Equal(DropReason.GreReservedBits, r);
        }
    }

    [Theory]
    [InlineData(0x80, 7)]  // C without room for checksum + reserved1
    [InlineData(0x20, 7)]  // K without room for the key
    [InlineData(0x10, 7)]  // S without room for the sequence
    [InlineData(0xB0, 15)] // all three, one byte short
    public void GreTryParse_OptionBitWithoutRoom_False(byte flagsHigh, int length)
    {
        byte[] g = new byte[length];
        g[0] = flagsHigh;
        g[3] = 0x00; g[2] = 0x08;
        Assert.False(GreHeader.TryParse(g, out _, out DropReason r));
        Assert.Equal(DropReason.Truncated, r);
        byte[] fits = new byte[length + 1];
        fits[0] = flagsHigh;
        Assert.True(GreHeader.TryParse(fits, out GreHeader ok));
        Assert.Equal(length + 1, ok.HeaderLength);
    }

    [Fact]
    public void EthernetTryParse_VlanTpidWithoutTag_False()
    {
        byte[] f = new byte[16];
        f[12] = 0x81; f[13] = 0x00;
        Assert.False(EthernetHeader.TryParse(f, out _));
        Assert.True(EthernetHeader.TryParse(new byte[18] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0x0F, 0xFF, 8, 0 }, out EthernetHeader eth));
        Assert.Equal(0xFFF, eth.VlanId);
        Assert.Equal(EthernetHeader.EtherTypeIPv4, eth.EtherType);
    }

    [Fact]
    public void ArpTryParse_WrongTypesOrLengths_False()
    {
        byte[] good = GoldenFrames.Get("ArpReply").AsSpan(14).ToArray();
        Assert.True(ArpPacket.TryParse(good, out _));
        foreach (int at in new[] { 1, 3, 4, 5 })
        {
            byte[] bad = (byte[])good.Clone();
            bad[at] ^= 0x01;
            Assert.False(ArpPacket.TryParse(bad, out _));
        }
        Assert.False(ArpPacket.TryParse(good.AsSpan(0, 27), out _));
    }

    [Fact]
    public void TcpTryParse_DataOffsetOutOfRange_False()
    {
        byte[] seg = new byte[40];
        seg[12] = 0x40; // 16 bytes
        Assert.False(TcpHeader.TryParse(seg, out _));
        seg[12] = 0xF0; // 60 bytes in 40
        Assert.False(TcpHeader.TryParse(seg, out _));
        seg[12] = 0xA0;
        Assert.True(TcpHeader.TryParse(seg, out _));
    }

    [Fact]
    public void UdpTryParse_LengthOutOfRange_False()
    {
        byte[] d = new byte[12];
        d[5] = 7;
        Assert.False(UdpHeader.TryParse(d, out _));
        d[5] = 13;
        Assert.False(UdpHeader.TryParse(d, out _));
        d[5] = 12;
        Assert.True(UdpHeader.TryParse(d, out _));
    }
}
