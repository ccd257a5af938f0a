using System.Buffers.Binary;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Traffic.Tests;

public class TrafficFramesTests
{
    private static readonly byte[] MacA = [2, 0, 0, 0, 0, 0xa], MacB = [2, 0, 0, 0, 0, 0xb];
    private const uint Src = 0x0A01050A, Dst = 0x0A01080A, OuterSrc = 0xAC0C010A, OuterDst = 0xAC0C010B;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string encap in new[] { "none", "ipip", "gre", "gre-opts", "vxlan" })
            foreach (int size in new[] { 64, 65, 128, 1500 })
                data.Add(encap, size);
        return data;
    }

    private static TrafficSpec Spec(string encap, int size, int flows) => new()
    {
        SourceMac = MacA,
        DestinationMac = MacB,
        Source = Src,
        Destination = Dst,
        Size = size,
        Flows = flows,
        Encap = encap switch { "ipip" => TrafficEncap.Ipip, "gre" or "gre-opts" => TrafficEncap.Gre, "vxlan" => TrafficEncap.Vxlan, _ => TrafficEncap.None },
        Tunnel = encap switch
        {
            "ipip" => new TunnelSettings("t", TunnelMode.Ipip, OuterSrc, OuterDst, ttl: 64),
            "gre" => new TunnelSettings("t", TunnelMode.Gre, OuterSrc, OuterDst, ttl: 64),
            "gre-opts" => new TunnelSettings("t", TunnelMode.Gre, OuterSrc, OuterDst, ttl: 64, key: 7, checksum: true, sequence: true),
            _ => null,
        },
        OuterSource = OuterSrc,
        OuterDestination = OuterDst,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fill_RandomSequences_ClassifierReadsBackWithValidChecksums(string encap, int size)
    {
        var rng = new Random(size * 31 + encap.Length);
        var spec = Spec(encap, size, 5);
        using var frames = new TrafficFrames(spec, 8);
        for (int i = 0; i < 500; i++)
        {
            ushort flow = (ushort)rng.Next(0, 5);
            ulong seq = (ulong)rng.NextInt64();
            long ts = rng.NextInt64();
            var f = default(Frame);
            frames.Fill(i % 8, flow, seq, ts, ref f);
            Assert.Equal(spec.WireSize, f.Length);
            Span<byte> data = f.Data;
            Assert.Equal(TrafficKind.Traffic, TrafficClassifier.Classify(data, out ushort gotFlow, out ulong gotSeq, out long gotTs));
            Assert.Equal(flow, gotFlow);
            Assert.Equal(seq, gotSeq);
            Assert.Equal(ts, gotTs);

            // Oracle: the inner UDP checksum recomputed from scratch over the patched packet.
            int innerIp = data.Length - (size - EthernetHeader.Length);
            Span<byte> ip = data.Slice(innerIp);
            Assert.True(Ipv4Header.TryParse(ip, out var h) && h.IsChecksumValid());
            Span<byte> udp = h.Payload;
            ushort stored = BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset));
            BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), 0);
            ushort full = InternetChecksum.Compute(udp, UdpHeader.PseudoHeaderSum(Src, Dst, Ipv4Header.ProtocolUdp, udp.Length));
            Assert.Equal(full == 0 ? (ushort)0xFFFF : full, stored);
            BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), stored);
            Assert.Equal((ushort)(10000 + flow), BinaryPrimitives.ReadUInt16BigEndian(udp));
        }
    }

    [Theory]
    [InlineData("none")]
    [InlineData("gre-opts")]
    [InlineData("vxlan")]
    public void Classify_CorruptedPayloadByte_ReportsBadChecksum(string encap)
    {
        var spec = Spec(encap, 128, 1);
        using var frames = new TrafficFrames(spec, 1);
        var f = default(Frame);
        frames.Fill(0, 0, 42, 1234, ref f);
        Span<byte> data = f.Data;
        data[^3] ^= 0x10; // filler byte after the payload header
        Assert.Equal(TrafficKind.BadChecksum, TrafficClassifier.Classify(data, out _, out ulong seq, out _));
        Assert.Equal(42UL, seq);
    }

    [Fact]
    public void Classify_TruncatedOrForeignFrames_OtherWithoutThrowing()
    {
        var spec = Spec("gre-opts", 200, 1);
        using var frames = new TrafficFrames(spec, 1);
        var f = default(Frame);
        frames.Fill(0, 0, 1, 1, ref f);
        byte[] copy = f.Data.ToArray();
        for (int len = 0; len < copy.Length - 1; len += 7)
            Assert.NotEqual(TrafficKind.Traffic, TrafficClassifier.Classify(copy.AsSpan(0, len), out _, out _, out _));
        var arp = new byte[60];
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(12), EthernetHeader.EtherTypeArp);
        Assert.Equal(TrafficKind.Arp, TrafficClassifier.Classify(arp, out _, out _, out _));
    }

    [Fact]
    public void Fill_GreWithSequence_OuterSequenceAdvancesFromZero()
    {
        var spec = Spec("gre-opts", 64, 1);
        using var frames = new TrafficFrames(spec, 2);
        for (uint i = 0; i < 3; i++)
        {
            var f = default(Frame);
            frames.Fill((int)(i % 2), 0, i, 0, ref f);
            Span<byte> gre = f.Data.Slice(EthernetHeader.Length + Ipv4Header.MinLength);
            Assert.True(GreHeader.TryParse(gre, out var g));
            Assert.Equal(7u, g.Key);
            Assert.Equal(i, g.SequenceNumber);
            Assert.True(g.IsChecksumValid());
        }
    }
}
