using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>
/// Encapsulation must produce exactly the scapy-built golden frames (Linux's bytes for the same settings), tshark
/// must decode them with valid checksums, and decapsulation must give back the inner packet.
/// </summary>
public sealed class GoldenTunnelTests : IDisposable
{
    private static readonly uint Gw1 = Ipv4Address.Parse("172.12.1.10");
    private static readonly uint Gw2 = Ipv4Address.Parse("172.12.1.11");
    private readonly TunnelTestFrames _frames = new();

    public void Dispose() => _frames.Dispose();

    public static TunnelSettings SettingsFor(string golden, uint local, uint remote) => golden switch
    {
        "Ipip" => new TunnelSettings("tun0", TunnelMode.Ipip, local, remote),
        "Gre" => new TunnelSettings("tun0", TunnelMode.Gre, local, remote),
        "GreKey" => new TunnelSettings("tun0", TunnelMode.Gre, local, remote, key: 42),
        "GreCsum" => new TunnelSettings("tun0", TunnelMode.Gre, local, remote, checksum: true),
        "GreSeq" => new TunnelSettings("tun0", TunnelMode.Gre, local, remote, sequence: true),
        "GreKeyCsumSeq" => new TunnelSettings("tun0", TunnelMode.Gre, local, remote, key: 42, checksum: true, sequence: true),
        _ => throw new ArgumentException(golden),
    };

    public static readonly TheoryData<string> TunnelGoldens = new() { "Ipip", "Gre", "GreKey", "GreCsum", "GreSeq", "GreKeyCsumSeq" };

    /// <summary>Encapsulates the golden inner packet as gw1 would and adds gw1→gw2 Ethernet.</summary>
    private byte[] EncapsulateAsGw1(string golden)
    {
        var tunnel = new Tunnel(SettingsFor(golden, Gw1, Gw2), firstId: 0x1234);
        Frame f = _frames.Load(GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho));
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
        Span<byte> eth = f.Prepend(EthernetHeader.Length);
        EthernetHeader.Write(eth, GoldenFrames.Gw2Mac, GoldenFrames.Gw1Mac, EthernetHeader.EtherTypeIPv4);
        byte[] bytes = f.Data.ToArray();
        _frames.Return(f);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(TunnelGoldens))]
    public void Encapsulate_GoldenInner_MatchesGoldenBytes(string golden)
    {
        Assert.Equal(Convert.ToHexString(GoldenFrames.Get(golden)), Convert.ToHexString(EncapsulateAsGw1(golden)));
    }

    [Theory]
    [MemberData(nameof(TunnelGoldens))]
    public void Decapsulate_GoldenFrame_YieldsInnerPacket(string golden)
    {
        var table = new TunnelTable();
        var tunnel = new Tunnel(SettingsFor(golden, Gw2, Gw1));
        table.Add(tunnel);
        Frame f = _frames.Load(GoldenFrames.Get(golden));
        f.TrimFront(EthernetHeader.Length);
        Assert.Equal(DropReason.None, TunnelDecap.Decapsulate(table, ref f, out Tunnel? t));
        Assert.Same(tunnel, t);
        Assert.Equal(GoldenFrames.InnerIcmpEcho, Convert.ToHexString(f.Data).ToLowerInvariant());
        Assert.Equal(1, tunnel.DecapPackets);
        Assert.Equal(f.Length, tunnel.DecapBytes);
        _frames.Return(f);
    }

    [TsharkFact]
    public void Encapsulate_AllVariants_TsharkDecodesFieldsAndValidChecksums()
    {
        string[] goldens = ["Ipip", "Gre", "GreKey", "GreCsum", "GreSeq", "GreKeyCsumSeq"];
        string[] lines = Tshark.Decode(nameof(Encapsulate_AllVariants_TsharkDecodesFieldsAndValidChecksums),
            goldens.Select(EncapsulateAsGw1),
            "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.dsfield", "ip.flags.df", "ip.checksum.status",
            "gre.flags_and_version", "gre.key", "gre.sequence_number", "gre.checksum.status", "icmp.type", "icmp.seq",
            "icmp.checksum.status");
        Assert.Equal(
        [
            // The seed's "172.12.1.10 > 172.12.1.11: 10.1.5.10 > 10.1.8.10: ICMP echo request (ipip-proto-4)".
            "172.12.1.10,10.1.5.10|172.12.1.11,10.1.8.10|4,1|63,63|0x00,0x00|1,1|1,1|||||8|1|1",
            "172.12.1.10,10.1.5.10|172.12.1.11,10.1.8.10|47,1|63,63|0x00,0x00|1,1|1,1|0x0000||||8|1|1",
            "172.12.1.10,10.1.5.10|172.12.1.11,10.1.8.10|47,1|63,63|0x00,0x00|1,1|1,1|0x2000|0x0000002a|||8|1|1",
            "172.12.1.10,10.1.5.10|172.12.1.11,10.1.8.10|47,1|63,63|0x00,0x00|1,1|1,1|0x8000|||1|8|1|1",
            "172.12.1.10,10.1.5.10|172.12.1.11,10.1.8.10|47,1|63,63|0x00,0x00|1,1|1,1|0x1000||0||8|1|1",
            "172.12.1.10,10.1.5.10|172.12.1.11,10.1.8.10|47,1|63,63|0x00,0x00|1,1|1,1|0xb000|0x0000002a|0|1|8|1|1",
        ], lines);
    }

    [TsharkFact]
    public void Encapsulate_GreSequenceOverThreePackets_TsharkSees012()
    {
        var tunnel = new Tunnel(SettingsFor("GreKeyCsumSeq", Gw1, Gw2));
        var frames = new List<byte[]>();
        for (int i = 0; i < 3; i++)
        {
            Frame f = _frames.Load(GoldenFrames.Bytes(GoldenFrames.InnerIcmpEcho));
            Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
            EthernetHeader.Write(f.Prepend(EthernetHeader.Length), GoldenFrames.Gw2Mac, GoldenFrames.Gw1Mac, EthernetHeader.EtherTypeIPv4);
            frames.Add(f.Data.ToArray());
            _frames.Return(f);
        }
        string[] lines = Tshark.Decode(nameof(Encapsulate_GreSequenceOverThreePackets_TsharkSees012), frames,
            "gre.sequence_number", "gre.checksum.status", "ip.checksum.status", "ip.id");
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("0|1|1,1|", lines[0]);
        Assert.StartsWith("1|1|1,1|", lines[1]);
        Assert.StartsWith("2|1|1,1|", lines[2]);
        // Outer IDs differ packet to packet and are never zero.
        string[] outerIds = lines.Select(l => l.Split('|')[3].Split(',')[0]).ToArray();
        Assert.Equal(3, outerIds.Distinct().Count());
        Assert.DoesNotContain("0x0000", outerIds);
    }
}
