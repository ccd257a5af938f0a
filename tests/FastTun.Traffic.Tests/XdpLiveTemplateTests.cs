using System.Buffers.Binary;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Traffic.Tests;

/// <summary>The in-kernel generator's template and its per-packet patch (the managed mirror of xdp_gen.bpf.c),
/// checked against the classifier the sink uses and against checksums recomputed from scratch.</summary>
public class XdpLiveTemplateTests
{
    private static readonly byte[] MacA = [2, 0, 0, 0, 0, 0xa], MacB = [2, 0, 0, 0, 0, 0xb];
    private const uint Src = 0x0A01050A, Dst = 0x0A01080A, OuterSrc = 0xAC0C010A, OuterDst = 0xAC0C010B;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string encap in new[] { "none", "ipip", "gre", "gre-key-seq", "vxlan" })
            foreach (int size in new[] { 64, 65, 128, 1500 })
                data.Add(encap, size);
        return data;
    }

    private static TrafficSpec Spec(string encap, int size, int flows, bool greChecksum = false) => new()
    {
        SourceMac = MacA,
        DestinationMac = MacB,
        Source = Src,
        Destination = Dst,
        Size = size,
        Flows = flows,
        Encap = encap switch { "ipip" => TrafficEncap.Ipip, "gre" or "gre-key-seq" => TrafficEncap.Gre, "vxlan" => TrafficEncap.Vxlan, _ => TrafficEncap.None },
        Tunnel = encap switch
        {
            "ipip" => new TunnelSettings("t", TunnelMode.Ipip, OuterSrc, OuterDst, ttl: 64),
            "gre" => new TunnelSettings("t", TunnelMode.Gre, OuterSrc, OuterDst, ttl: 64, checksum: greChecksum),
            "gre-key-seq" => new TunnelSettings("t", TunnelMode.Gre, OuterSrc, OuterDst, ttl: 64, key: 7, sequence: true),
            _ => null,
        },
        OuterSource = OuterSrc,
        OuterDestination = OuterDst,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Patch_RandomSequences_ClassifierReadsBackWithValidChecksums(string encap, int size)
    {
        var rng = new Random(size * 17 + encap.Length);
        var spec = Spec(encap, size, 7);
        var template = XdpLiveTemplate.Build(spec);
        Assert.Equal(spec.WireSize, template.Frame.Length);
        for (int i = 0; i < 300; i++)
        {
            ushort flow = (ushort)rng.Next(0, 7);
            ulong seq = i < 3 ? (ulong)i : (ulong)rng.NextInt64();
            long ts = i == 0 ? 0 : rng.NextInt64();
            byte[] frame = (byte[])template.Frame.Clone();
            template.Patch(frame, flow, seq, ts);
            Assert.Equal(TrafficKind.Traffic, TrafficClassifier.Classify(frame, out ushort gotFlow, out ulong gotSeq, out long gotTs));
            Assert.Equal(flow, gotFlow);
            Assert.Equal(seq, gotSeq);
            Assert.Equal(ts, gotTs);

            // Oracle: the UDP checksum recomputed over the whole patched datagram.
            Span<byte> udp = frame.AsSpan(template.UdpOffset);
            ushort stored = BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset));
            BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), 0);
            ushort full = InternetChecksum.Compute(udp, UdpHeader.PseudoHeaderSum(Src, Dst, Ipv4Header.ProtocolUdp, udp.Length));
            Assert.Equal(full == 0 ? (ushort)0xFFFF : full, stored);
            Assert.Equal((ushort)(spec.SourcePortBase + flow), BinaryPrimitives.ReadUInt16BigEndian(udp));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Build_AnyEncap_UdpOffsetPointsAtTheInnerDatagram(string encap, int size)
    {
        var spec = Spec(encap, size, 1);
        var template = XdpLiveTemplate.Build(spec);
        Span<byte> udp = template.Frame.AsSpan(template.UdpOffset);
        Assert.Equal(spec.DestinationPort, BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(UdpHeader.DestinationPortOffset)));
        Assert.Equal(size - EthernetHeader.Length - Ipv4Header.MinLength, BinaryPrimitives.ReadUInt16BigEndian(udp.Slice(UdpHeader.LengthOffset)));
        Assert.Equal(TrafficPayload.MagicValue, BinaryPrimitives.ReadUInt32BigEndian(udp.Slice(UdpHeader.Length)));
    }

    [Fact]
    public void Build_GreWithChecksum_Throws()
    {
        var spec = Spec("gre", 64, 1, greChecksum: true);
        Assert.False(XdpLiveTemplate.Supports(spec));
        Assert.Throws<ArgumentException>(() => XdpLiveTemplate.Build(spec));
    }

    [Fact]
    public void Build_MoreFlowsThanTheProgramCounts_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => XdpLiveTemplate.Build(Spec("none", 64, XdpLiveTemplate.MaxFlows + 1)));
    }
}

/// <summary>The BPF program itself (native/xdp_gen.bpf.c, run by BPF_PROG_RUN in test mode: nothing is sent)
/// against its managed mirror. Needs root and the native build, like the AF_XDP tests.</summary>
public class XdpLiveProgramTests
{
    [Theory]
    [InlineData(TrafficEncap.None, 64, 3, 5)]
    [InlineData(TrafficEncap.Ipip, 64, 3, 7)]
    [InlineData(TrafficEncap.Vxlan, 128, 16, 40)]
    [InlineData(TrafficEncap.Gre, 1500, 1, 2)]
    public void TestRun_AfterRuns_FrameEqualsManagedPatch(TrafficEncap encap, int size, int flows, int runs) =>
        CheckAgainstManaged(encap, size, flows, runs, corrupt: false);

    /// <summary>A recycled page that a receiver wrote into (here: every header byte inverted) still leaves as the
    /// template: the program restores the headers.</summary>
    [Theory]
    [InlineData(TrafficEncap.None, 64, 2, 3)]
    [InlineData(TrafficEncap.Vxlan, 64, 16, 17)]
    [InlineData(TrafficEncap.Ipip, 1500, 4, 9)]
    public void TestRun_HeadersOverwritten_FrameEqualsManagedPatch(TrafficEncap encap, int size, int flows, int runs) =>
        CheckAgainstManaged(encap, size, flows, runs, corrupt: true);

    private static void CheckAgainstManaged(TrafficEncap encap, int size, int flows, int runs, bool corrupt)
    {
        var spec = new TrafficSpec
        {
            SourceMac = [2, 0, 0, 0, 0, 0xa],
            DestinationMac = [2, 0, 0, 0, 0, 0xb],
            Source = 0x0A01050A,
            Destination = 0x0A01080A,
            Size = size,
            Flows = flows,
            Encap = encap,
            Tunnel = encap is TrafficEncap.Ipip or TrafficEncap.Gre
                ? new TunnelSettings("t", encap == TrafficEncap.Gre ? TunnelMode.Gre : TunnelMode.Ipip, 0xAC0C010A, 0xAC0C010B, ttl: 64, key: encap == TrafficEncap.Gre ? 9u : null)
                : null,
            OuterSource = 0xAC0C010A,
            OuterDestination = 0xAC0C010B,
        };
        var template = XdpLiveTemplate.Build(spec);
        byte[]? input = null;
        if (corrupt)
        {
            input = (byte[])template.Frame.Clone();
            for (int i = 0; i < Math.Min(input.Length, 128); i++) input[i] ^= 0xFF;
        }
        byte[] kernel = XdpLiveGenerator.TestRun(template, runs, input);

        // Run k (from 0) is flow k % flows, and its sequence is how many earlier runs that flow had.
        int last = runs - 1;
        ushort flow = (ushort)(last % flows);
        ulong seq = (ulong)(last / flows);
        Assert.Equal(TrafficKind.Traffic, TrafficClassifier.Classify(kernel, out ushort gotFlow, out ulong gotSeq, out long ts));
        Assert.Equal(flow, gotFlow);
        Assert.Equal(seq, gotSeq);
        Assert.True(ts > 0);
        byte[] managed = (byte[])template.Frame.Clone();
        template.Patch(managed, flow, seq, ts);
        Assert.Equal(managed, kernel);
    }
}
