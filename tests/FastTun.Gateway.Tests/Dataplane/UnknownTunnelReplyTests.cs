using System.Buffers.Binary;
using System.Diagnostics;
using FastTun.Gateway.Control;
using FastTun.Gateway.Dataplane;
using FastTun.Gateway.Tests.Control;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests.Dataplane;

/// <summary><c>set fasttun icmp-unreachable-for-unknown-tunnels</c> from the configuration text to the wire: a GRE
/// packet from tun0's remote with a wrong key gets port unreachable (decoded by tshark), or nothing when disabled.</summary>
public sealed class UnknownTunnelReplyTests : IDisposable
{
    private const uint Remote = 0xAC0C010B, Local = 0xAC0C010A; // 172.12.1.11 → 172.12.1.10
    private const ulong Eth2Mac = 0x020000000002, RemoteMac = 0x02aabbccdd0b;
    private static readonly PortFacts[] Ports = [new("eth1", 0x020000000001, 1500), new("eth2", Eth2Mac, 1500)];
    private readonly string _dir = Directory.CreateTempSubdirectory("fasttun-unknown-tunnel-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>An Ethernet frame to gw1's eth2: GRE from the remote with key 43, inner ping 10.1.8.10 → 10.1.5.10.</summary>
    private static byte[] WrongKeyFrame()
    {
        var frame = new byte[14 + 20 + 8 + 28];
        BinaryPrimitives.WriteUInt64BigEndian(frame, Eth2Mac << 16);
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(6), (RemoteMac << 16) | 0x0800);
        Span<byte> ip = frame.AsSpan(14);
        Ipv4Header.Write(ip, 0, (ushort)ip.Length, 99, true, 64, Ipv4Header.ProtocolGre, Remote, Local);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(20), GreHeader.FlagKey);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(22), GreHeader.ProtocolIPv4);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(24), 43);
        Span<byte> inner = ip.Slice(28);
        Ipv4Header.Write(inner, 0, 28, 5, true, 64, Ipv4Header.ProtocolIcmp, 0x0A01080A, 0x0A01050A);
        inner[20] = 8; // echo request, zero checksum field then the sum
        BinaryPrimitives.WriteUInt16BigEndian(inner.Slice(22), Packets.Checksum.InternetChecksum.Compute(inner.Slice(20, 8)));
        return frame;
    }

    /// <summary>Runs the frame through a pipeline on the state built from <paramref name="extra"/> configuration
    /// lines; returns the frames sent and the counters.</summary>
    private static (List<byte[]> Sent, WorkerCounters Counters) Run(string extra)
    {
        var state = StateBuilder.Build(Parse(Gw1Gre + "set interfaces tunnel tun0 parameters ip key 42\n" + extra), Ports);
        var neighbors = new NeighborTable();
        neighbors.AddStatic(1, Remote, RemoteMac, 0);
        using var pipeline = new Pipeline(() => state, neighbors);
        using var pool = new FramePool(8);
        var batch = new PacketBatch(8);
        byte[] bytes = WrongKeyFrame();
        ref Frame f = ref batch.Add();
        Assert.True(pool.TryRent(ref f));
        f.Length = bytes.Length;
        bytes.CopyTo(f.Data);
        f.InPort = 1;
        var sent = new List<byte[]>();
        foreach (ref Frame o in pipeline.Process(batch, 1_000).Frames)
            if (o.Drop == DropReason.None && o.OutPort != PacketBatch.NoPort) sent.Add(o.Data.ToArray());
        Assert.Equal(DropReason.GreKeyMismatch, batch[0].Drop);
        pipeline.Transmitted(batch);
        foreach (ref Frame o in batch.Frames) pool.Return(o);
        pipeline.ReleaseGenerated();
        return (sent, pipeline.Counters);
    }

    [CaptureTsharkFact]
    public void Process_GreWithWrongKeyFromRemote_TsharkDecodesPortUnreachableQuotingKey()
    {
        var (sent, counters) = Run("");
        Assert.Equal(1, counters.Drops[(int)DropReason.GreKeyMismatch]);
        byte[] reply = Assert.Single(sent);
        string pcap = Path.Combine(_dir, "reply.pcapng");
        using (var stream = File.Create(pcap))
        {
            var w = new PcapNgWriter(stream);
            w.WriteSectionHeader("test");
            w.WriteInterface(PcapNgWriter.LinkTypeEthernet, 65535, "eth2");
            w.WritePacket(0, 0, reply, reply.Length, null);
        }
        string fields = Tshark($"-r {pcap} -T fields -E separator=; -e ip.src -e ip.dst -e icmp.type -e icmp.code -e icmp.checksum.status -e gre.key");
        // Each IP field lists the error's header, then the quoted outer and inner headers; the quoted GRE header
        // carries key 43; the error's ICMP checksum is good (status 1; tshark leaves the quoted echo unverified, 2).
        Assert.Equal("172.12.1.10,172.12.1.11,10.1.8.10;172.12.1.11,172.12.1.10,10.1.5.10;3,8;3,0;1,2;0x0000002b", fields.Trim());
    }

    [Fact]
    public void Process_RepliesDisabledInConfiguration_NothingSentDropCounted()
    {
        var (sent, counters) = Run("set fasttun icmp-unreachable-for-unknown-tunnels disable\n");
        Assert.Empty(sent);
        Assert.Equal(1, counters.Drops[(int)DropReason.GreKeyMismatch]);
        Assert.Equal(0, counters.IcmpSent);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("set fasttun icmp-unreachable-for-unknown-tunnels enable\n", true)]
    [InlineData("set fasttun icmp-unreachable-for-unknown-tunnels disable\n", false)]
    public void Parse_UnknownTunnelOption_Read(string line, bool expected) =>
        Assert.Equal(expected, Parse(Gw1Gre + line).UnknownTunnelUnreachable);

    [Theory]
    [InlineData(Config.ConfigFormat.Set)]
    [InlineData(Config.ConfigFormat.Boot)]
    [InlineData(Config.ConfigFormat.Iproute2)]
    public void Print_RepliesDisabled_LoadsBackDisabled(Config.ConfigFormat format)
    {
        var config = Parse(Gw1Gre + "set fasttun icmp-unreachable-for-unknown-tunnels disable\n");
        string text = Config.ConfigPrinter.Print(config, format);
        Assert.Contains("icmp-unreachable-for-unknown-tunnels", text, StringComparison.Ordinal);
        var back = Config.GatewayConfig.Parse(text, "printed", new CapturingLogger(), format);
        Assert.False(back.UnknownTunnelUnreachable);
        Assert.True(back.SameModel(config));
        Assert.False(back.SameModel(Parse(Gw1Gre)));
    }

    [Fact]
    public void Parse_UnknownTunnelOptionBadValue_ErrorNamesLine() =>
        SingleError(Gw1Gre + "set fasttun icmp-unreachable-for-unknown-tunnels off\n", 7, "must be 'enable' or 'disable'");

    private static string Tshark(string args)
    {
        using var p = Process.Start(new ProcessStartInfo("/usr/bin/tshark", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, err);
        return output;
    }
}
