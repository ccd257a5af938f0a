using FastTun.Packets.Headers;

namespace FastTun.Packets.Tests;

/// <summary>The views read the scapy-built golden frames field by field; the writers rebuild them byte for byte;
/// tshark decodes what the writers produced.</summary>
public class HeadersGoldenTests
{
    private static readonly uint Server1 = Ipv4Address.Parse("10.1.5.10");
    private static readonly uint Server2 = Ipv4Address.Parse("10.1.8.10");
    private static readonly uint Gw1 = Ipv4Address.Parse("172.12.1.10");
    private static readonly uint Gw2 = Ipv4Address.Parse("172.12.1.11");

    [Fact]
    public void TryParse_IpipGolden_ReadsEveryLayer()
    {
        byte[] frame = GoldenFrames.Get("Ipip");
        Assert.Equal(118, frame.Length); // the seed capture: "length 118"
        Assert.True(EthernetHeader.TryParse(frame, out EthernetHeader eth));
        Assert.Equal(GoldenFrames.Gw2Mac, eth.Destination.ToArray());
        Assert.Equal(GoldenFrames.Gw1Mac, eth.Source.ToArray());
        Assert.False(eth.HasVlan);
        Assert.Equal(0, eth.VlanId);
        Assert.Equal(EthernetHeader.EtherTypeIPv4, eth.EtherType);
        Assert.Equal(14, eth.HeaderLength);

        Assert.True(Ipv4Header.TryParse(eth.Payload, out Ipv4Header outer));
        Assert.Equal(4, outer.Version);
        Assert.Equal(20, outer.HeaderLength);
        Assert.Equal(104, outer.TotalLength);
        Assert.Equal(0x1234, outer.Identification);
        Assert.True(outer.DontFragment);
        Assert.False(outer.MoreFragments);
        Assert.False(outer.IsFragment);
        Assert.Equal(0, outer.FragmentOffset);
        Assert.Equal(63, outer.Ttl);
        Assert.Equal(Ipv4Header.ProtocolIpip, outer.Protocol);
        Assert.Equal(0xcf30, outer.HeaderChecksum);
        Assert.True(outer.IsChecksumValid());
        Assert.Equal(0xAC0C010Au, outer.Source);
        Assert.Equal(Gw2, outer.Destination);

        Assert.True(Ipv4Header.TryParse(outer.Payload, out Ipv4Header inner));
        Assert.Equal(Server1, inner.Source);
        Assert.Equal(0x0A01050Au, inner.Source);
        Assert.Equal(Server2, inner.Destination);
        Assert.Equal(Ipv4Header.ProtocolIcmp, inner.Protocol);
        Assert.True(IcmpHeader.TryParse(inner.Payload, out IcmpHeader icmp));
        Assert.Equal(IcmpHeader.TypeEchoRequest, icmp.Type);
        Assert.Equal(0, icmp.Code);
        Assert.Equal(2359, icmp.Identifier);
        Assert.Equal(1, icmp.Sequence);
        Assert.Equal(0x6ca8, icmp.Checksum);
        Assert.True(icmp.IsChecksumValid());
        Assert.Equal(56, icmp.Data.Length);
    }

    [Theory]
    [InlineData("Gre", false, false, false, 0u, 0u, 4)]
    [InlineData("GreKey", false, true, false, 42u, 0u, 8)]
    [InlineData("GreCsum", true, false, false, 0u, 0u, 8)]
    [InlineData("GreSeq", false, false, true, 0u, 0u, 8)]
    [InlineData("GreKeyCsumSeq", true, true, true, 42u, 0u, 16)]
    public void TryParse_GreGolden_ReadsOptionsByBits(string golden, bool c, bool k, bool s, uint key, uint seq, int length)
    {
        byte[] frame = GoldenFrames.Get(golden);
        Assert.True(Ipv4Header.TryParse(frame.AsSpan(14), out Ipv4Header outer));
        Assert.Equal(Ipv4Header.ProtocolGre, outer.Protocol);
        Assert.True(GreHeader.TryParse(outer.Payload, out GreHeader gre));
        Assert.Equal(c, gre.HasChecksum);
        Assert.Equal(k, gre.HasKey);
        Assert.Equal(s, gre.HasSequence);
        Assert.Equal(0, gre.Version);
        Assert.Equal(GreHeader.ProtocolIPv4, gre.ProtocolType);
        Assert.Equal(key, gre.Key);
        Assert.Equal(seq, gre.SequenceNumber);
        Assert.Equal(length, gre.HeaderLength);
        Assert.True(gre.IsChecksumValid());
        Assert.True(Ipv4Header.TryParse(gre.Payload, out Ipv4Header inner));
        Assert.Equal(Server2, inner.Destination);
    }

    [Theory]
    [InlineData("Gre")]
    [InlineData("GreKey")]
    [InlineData("GreCsum")]
    [InlineData("GreSeq")]
    [InlineData("GreKeyCsumSeq")]
    [InlineData("Ipip")]
    public void Write_OuterHeaders_RebuildGoldenFrame(string golden)
    {
        byte[] expected = GoldenFrames.Get(golden);
        byte[] inner = GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho);
        bool isGre = golden != "Ipip";
        bool c = golden.Contains("Csum"), k = golden.Contains("Key"), s = golden.Contains("Seq");
        int greLength = isGre ? GreHeader.LengthOf((ushort)((c ? 0x8000 : 0) | (k ? 0x2000 : 0) | (s ? 0x1000 : 0))) : 0;
        var frame = new byte[14 + 20 + greLength + inner.Length];
        EthernetHeader.Write(frame, GoldenFrames.Gw2Mac, GoldenFrames.Gw1Mac, EthernetHeader.EtherTypeIPv4);
        Ipv4Header.Write(frame.AsSpan(14), 0, (ushort)(20 + greLength + inner.Length), 0x1234, dontFragment: true, 63,
            isGre ? Ipv4Header.ProtocolGre : Ipv4Header.ProtocolIpip, Gw1, Gw2);
        inner.CopyTo(frame.AsSpan(14 + 20 + greLength));
        if (isGre)
        {
            Assert.Equal(greLength, GreHeader.Write(frame.AsSpan(34), GreHeader.ProtocolIPv4, c, k ? 42u : null, s ? 0u : null));
            Assert.True(GreHeader.TryParse(frame.AsSpan(34), out GreHeader gre));
            if (c) gre.ComputeChecksum();
        }
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(frame));
    }

    [Fact]
    public void TryParse_VlanArpRequest_ReadsTagAndArp()
    {
        byte[] frame = GoldenFrames.Get("VlanArpRequest");
        Assert.True(EthernetHeader.TryParse(frame, out EthernetHeader eth));
        Assert.True(eth.HasVlan);
        Assert.Equal(100, eth.VlanId);
        Assert.Equal(EthernetHeader.EtherTypeArp, eth.EtherType);
        Assert.Equal(18, eth.HeaderLength);
        Assert.True(ArpPacket.TryParse(eth.Payload, out ArpPacket arp));
        Assert.Equal(ArpPacket.OperationRequest, arp.Operation);
        Assert.Equal(GoldenFrames.Gw1Mac, arp.SenderMac.ToArray());
        Assert.Equal(Gw1, arp.SenderIp);
        Assert.Equal(new byte[6], arp.TargetMac.ToArray());
        Assert.Equal(Gw2, arp.TargetIp);
    }

    private static byte[] BuildVlanArpRequest()
    {
        var frame = new byte[18 + 28];
        EthernetHeader.WriteTagged(frame, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], GoldenFrames.Gw1Mac, 100, EthernetHeader.EtherTypeArp);
        ArpPacket.WriteRequest(frame.AsSpan(18), GoldenFrames.Gw1Mac, Gw1, Gw2);
        return frame;
    }

    private static byte[] BuildArpReply()
    {
        var frame = new byte[14 + 28];
        EthernetHeader.Write(frame, GoldenFrames.Gw1Mac, GoldenFrames.Gw2Mac, EthernetHeader.EtherTypeArp);
        ArpPacket.WriteReply(frame.AsSpan(14), GoldenFrames.Gw2Mac, Gw2, GoldenFrames.Gw1Mac, Gw1);
        return frame;
    }

    private static readonly byte[] SynOptions = Convert.FromHexString("020405b40402080afe2a043e0000000001030307");

    private static byte[] BuildTcpSyn()
    {
        var frame = new byte[14 + 20 + 40];
        EthernetHeader.Write(frame, GoldenFrames.Gw2Mac, GoldenFrames.Gw1Mac, EthernetHeader.EtherTypeIPv4);
        Ipv4Header.Write(frame.AsSpan(14), 0, 60, 0x4d2, dontFragment: true, 64, Ipv4Header.ProtocolTcp, Server1, Server2);
        TcpHeader.Write(frame.AsSpan(34), 35892, 80, 3964984022, 0, TcpHeader.FlagSyn, 64240, SynOptions, Server1, Server2);
        return frame;
    }

    private static byte[] BuildUdp()
    {
        var frame = new byte[14 + 20 + 8 + 7];
        EthernetHeader.Write(frame, GoldenFrames.Gw2Mac, GoldenFrames.Gw1Mac, EthernetHeader.EtherTypeIPv4);
        Ipv4Header.Write(frame.AsSpan(14), 0xb8, 35, 0x10, dontFragment: false, 64, Ipv4Header.ProtocolUdp, Server1, Server2);
        "fasttun"u8.CopyTo(frame.AsSpan(42));
        UdpHeader.Write(frame.AsSpan(34), 5353, 7777, Server1, Server2);
        return frame;
    }

    private static byte[] BuildIcmpFragNeeded()
    {
        byte[] quoted = GoldenFrames.Get("Gre").AsSpan(14, 28).ToArray();
        var frame = new byte[14 + 20 + 8 + 28];
        EthernetHeader.Write(frame, GoldenFrames.Gw1Mac, GoldenFrames.Gw2Mac, EthernetHeader.EtherTypeIPv4);
        Ipv4Header.Write(frame.AsSpan(14), 0xc0, 56, 7, dontFragment: false, 64, Ipv4Header.ProtocolIcmp, Gw2, Gw1);
        quoted.CopyTo(frame.AsSpan(42));
        IcmpHeader.Write(frame.AsSpan(34), IcmpHeader.TypeDestinationUnreachable, IcmpHeader.CodeFragmentationNeeded, 1476);
        return frame;
    }

    [Fact]
    public void Write_ArpTcpUdpIcmp_RebuildGoldenFrames()
    {
        Assert.Equal(GoldenFrames.VlanArpRequest, Convert.ToHexString(BuildVlanArpRequest()).ToLowerInvariant());
        Assert.Equal(GoldenFrames.ArpReply, Convert.ToHexString(BuildArpReply()).ToLowerInvariant());
        Assert.Equal(Convert.ToHexString(GoldenFrames.Get("TcpSyn")), Convert.ToHexString(BuildTcpSyn()));
        Assert.Equal(Convert.ToHexString(GoldenFrames.Get("Udp")), Convert.ToHexString(BuildUdp()));
        Assert.Equal(Convert.ToHexString(GoldenFrames.Get("IcmpFragNeeded")), Convert.ToHexString(BuildIcmpFragNeeded()));
    }

    [Fact]
    public void TryParse_TcpSyn_ReadsPortsFlagsAndMss()
    {
        byte[] frame = GoldenFrames.Get("TcpSyn");
        Assert.True(Ipv4Header.TryParse(frame.AsSpan(14), out Ipv4Header ip));
        Assert.True(TcpHeader.TryParse(ip.Payload, out TcpHeader tcp));
        Assert.Equal(35892, tcp.SourcePort);
        Assert.Equal(80, tcp.DestinationPort);
        Assert.Equal(3964984022u, tcp.SequenceNumber);
        Assert.Equal(0u, tcp.AcknowledgmentNumber);
        Assert.Equal(40, tcp.HeaderLength);
        Assert.True(tcp.Syn);
        Assert.False(tcp.Ack);
        Assert.Equal(64240, tcp.Window);
        Assert.True(tcp.TryReadMss(out ushort mss));
        Assert.Equal(1460, mss);
        Assert.True(tcp.IsChecksumValid(ip.Source, ip.Destination, ip.Payload.Length));
    }

    [Fact]
    public void TryParse_Udp_ReadsFieldsAndChecksum()
    {
        byte[] frame = GoldenFrames.Get("Udp");
        Assert.True(Ipv4Header.TryParse(frame.AsSpan(14), out Ipv4Header ip));
        Assert.Equal(0xb8, ip.Tos);
        Assert.Equal(46, ip.Dscp);
        Assert.Equal(0, ip.Ecn);
        Assert.False(ip.DontFragment);
        Assert.True(UdpHeader.TryParse(ip.Payload, out UdpHeader udp));
        Assert.Equal(5353, udp.SourcePort);
        Assert.Equal(7777, udp.DestinationPort);
        Assert.Equal(15, udp.DatagramLength);
        Assert.Equal("fasttun"u8.ToArray(), udp.Payload.ToArray());
        Assert.True(udp.IsChecksumValid(ip.Source, ip.Destination));
    }

    [Fact]
    public void TryParse_IcmpFragNeeded_ReadsNextHopMtu()
    {
        byte[] frame = GoldenFrames.Get("IcmpFragNeeded");
        Assert.True(Ipv4Header.TryParse(frame.AsSpan(14), out Ipv4Header ip));
        Assert.Equal(0xc0, ip.Tos);
        Assert.True(IcmpHeader.TryParse(ip.Payload, out IcmpHeader icmp));
        Assert.Equal(3, icmp.Type);
        Assert.Equal(4, icmp.Code);
        Assert.Equal(1476, icmp.NextHopMtu);
        Assert.Equal(1476u, icmp.RestOfHeader);
        Assert.True(icmp.IsChecksumValid());
        Assert.True(Ipv4Header.TryParse(icmp.Data, out _) == false); // the quote is truncated: header only, total length 100
    }

    [TsharkFact]
    public void Write_HeaderFrames_TsharkDecodesFields()
    {
        string[] lines = Tshark.Decode(nameof(Write_HeaderFrames_TsharkDecodesFields),
            [BuildVlanArpRequest(), BuildArpReply(), BuildTcpSyn(), BuildUdp(), BuildIcmpFragNeeded()],
            "vlan.id", "arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "ip.src", "ip.dst", "ip.checksum.status",
            "tcp.flags.syn", "tcp.options.mss_val", "tcp.checksum.status", "udp.dstport", "udp.checksum.status",
            "icmp.type", "icmp.code", "icmp.mtu", "icmp.checksum.status");
        Assert.Equal(
        [
            "100|1|172.12.1.10|172.12.1.11||||||||||||",
            "|2|172.12.1.11|172.12.1.10||||||||||||",
            "||||10.1.5.10|10.1.8.10|1|1|1460|1||||||",
            "||||10.1.5.10|10.1.8.10|1||||7777|1||||",
            "||||172.12.1.11,172.12.1.10|172.12.1.10,172.12.1.11|1,1||||||3|4|1476|1",
        ], lines);
    }
}
