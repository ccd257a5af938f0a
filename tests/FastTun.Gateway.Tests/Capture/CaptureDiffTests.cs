using System.Diagnostics;
using FastTun.Gateway.Capture;
using FastTun.Gateway.Control;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;

namespace FastTun.Gateway.Tests.Capture;

public sealed class CaptureDiffTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fasttun-diff-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A GRE (or IPIP) tunnel frame around an ICMP echo request, built with the production header writers.</summary>
    private static byte[] TunnelFrame(int seq, ushort outerId, byte outerTtl = 63, uint? key = 42, bool gre = true,
        ushort innerId = 0x1000, byte payloadByte = 0x61, bool breakOuterChecksum = false)
    {
        const int payload = 56;
        int innerLength = 20 + 8 + payload;
        int greLength = gre ? GreHeader.LengthOf((ushort)(GreHeader.FlagChecksum | (key.HasValue ? GreHeader.FlagKey : 0) | GreHeader.FlagSequence)) : 0;
        int outerLength = 20 + greLength + innerLength;
        var frame = new byte[14 + outerLength];
        Span<byte> f = frame;
        EthernetHeader.Write(f, [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1], 0x0800);
        Span<byte> outer = f.Slice(14);
        Ipv4Header.Write(outer, 0, (ushort)outerLength, outerId, dontFragment: true, outerTtl,
            gre ? Ipv4Header.ProtocolGre : Ipv4Header.ProtocolIpip, 0xAC0C010A, 0xAC0C010B);
        Span<byte> inner = outer.Slice(20 + greLength);
        Ipv4Header.Write(inner, 0, (ushort)innerLength, innerId, dontFragment: true, 63, Ipv4Header.ProtocolIcmp, 0x0A01050A, 0x0A01080A);
        Span<byte> icmp = inner.Slice(20);
        IcmpHeader.WriteEcho(icmp, request: true, identifier: 7, sequence: (ushort)seq);
        icmp.Slice(8, payload).Fill(payloadByte);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), InternetChecksum.Compute(icmp.Slice(0, 8 + payload)));
        if (gre)
        {
            Span<byte> g = outer.Slice(20);
            GreHeader.Write(g, GreHeader.ProtocolIPv4, checksum: true, key, (uint)seq);
            GreHeader.TryParse(g.Slice(0, greLength + innerLength), out var view);
            view.ComputeChecksum();
        }
        if (breakOuterChecksum) outer[10] ^= 0xFF;
        return frame;
    }

    private string Write(string name, IEnumerable<byte[]> frames)
    {
        string path = Path.Combine(_dir, name);
        using var stream = File.Create(path);
        var w = new PcapNgWriter(stream);
        w.WriteSectionHeader("fasttun test");
        w.WriteInterface(PcapNgWriter.LinkTypeEthernet, 65535, "eth2");
        long t = 1_700_000_000_000_000_000;
        foreach (var frame in frames) w.WritePacket(0, t += 1_000_000, frame, frame.Length, "tx");
        w.Flush();
        return path;
    }

    private static CaptureDiffResult Diff(string a, string b, params string[] ignore) =>
        CaptureDiff.Compare(CaptureFile.Read(a), CaptureFile.Read(b), ignore);

    private static IEnumerable<byte[]> Run(Func<int, byte[]> make, int count = 5) => Enumerable.Range(0, count).Select(make);

    [Fact]
    public void Compare_SameFramesDifferentTimestamps_NoDifference()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i))));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i))));
        var r = Diff(a, b);
        Assert.True(r.Same, string.Join("\n", r.Differences));
        Assert.Equal(5, r.Compared);
    }

    [Fact]
    public void Compare_IpIdsDifferButBothChange_NoDifference()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i))));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(9000 + 7 * i))));
        var r = Diff(a, b);
        Assert.True(r.Same, string.Join("\n", r.Differences));
    }

    [Fact]
    public void Compare_OneSideRepeatsIpId_ReportsTheFlow()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i))));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, 0)));
        var r = Diff(a, b);
        var d = Assert.Single(r.Differences);
        Assert.Null(d.Number);
        Assert.Contains("ipv4 172.12.1.10 > 172.12.1.11 proto 47", d.Field);
        Assert.StartsWith("changes", d.A);
        Assert.StartsWith("repeats (0x0000) 4 of 4", d.B);
    }

    [Fact]
    public void Compare_OuterTtlDiffers_ListsEveryPacketsOuterTtl()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), outerTtl: 63)));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), outerTtl: 255)));
        var r = Diff(a, b);
        Assert.Equal(5, r.Differences.Count);
        Assert.All(r.Differences, d => Assert.Equal(("ipv4.ttl", "63", "255"), (d.Field, d.A, d.B)));
        Assert.Equal(5, r.PacketsDiffering);
    }

    [Fact]
    public void Compare_GreKeyMissingOnOneSide_NamesFlagsAndKey()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), key: 42), 1));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), key: null), 1));
        var r = Diff(a, b);
        var fields = r.Differences.Select(d => d.Field).ToList();
        Assert.Contains("gre.flags", fields);
        Assert.Contains("gre.key", fields);
        Assert.Contains("ipv4.total-length", fields);
        Assert.Equal("(absent)", r.Differences.Single(d => d.Field == "gre.key").B);
        Assert.DoesNotContain("gre.checksum", fields); // both valid, though their values differ
    }

    [Fact]
    public void Compare_IpipAgainstGre_ReportsTheProtocolAndTheLayers()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), gre: false), 1));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), gre: true), 1));
        var r = Diff(a, b);
        Assert.Contains(r.Differences, d => d.Field == "ipv4.protocol" && d.A == "4" && d.B == "47");
        Assert.Contains(r.Differences, d => d.Field == "gre.version" && d.A == "(absent)");
        Assert.DoesNotContain(r.Differences, d => d.Field.StartsWith("ipv4(2)", StringComparison.Ordinal)); // the inner packet is the same
    }

    [Fact]
    public void Compare_BrokenOuterChecksum_ReportsValidity()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i)), 2));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), breakOuterChecksum: i == 1), 2));
        var d = Assert.Single(Diff(a, b).Differences);
        Assert.Equal((2, "ipv4.checksum", "valid", "invalid"), (d.Number!.Value, d.Field, d.A, d.B));
    }

    [Fact]
    public void Compare_InnerPayloadByteDiffers_NamesLayerAndOffset()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i)), 1));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i), payloadByte: 0x62), 1));
        var r = Diff(a, b);
        var payload = Assert.Single(r.Differences, d => d.Field == "icmp(2).payload");
        Assert.Equal("56 bytes, byte 0 = 0x61", payload.A);
        Assert.Equal("56 bytes, byte 0 = 0x62", payload.B);
        Assert.Single(r.Differences); // the checksums' values differ too, but both are valid: not a difference
    }

    [Fact]
    public void Compare_ExtraPacketOnOneSide_ReportsItMissing()
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i)), 3));
        string b = Write("b.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i)), 4));
        var d = Assert.Single(Diff(a, b).Differences);
        Assert.Equal((4, "packet", "(missing)"), (d.Number!.Value, d.Field, d.A));
        Assert.Equal("172.12.1.10 > 172.12.1.11 proto 47, 134 bytes", d.B);
    }

    [Fact]
    public void Compare_IgnoreEthernetLayer_SkipsMacDifferences()
    {
        var a = Run(i => TunnelFrame(i, (ushort)(100 + i)), 2).ToList();
        var b = Run(i => TunnelFrame(i, (ushort)(100 + i)), 2).ToList();
        foreach (var f in b) f[11] = 0x99; // another source MAC
        string pa = Write("a.pcapng", a), pb = Write("b.pcapng", b);
        Assert.Equal(2, Diff(pa, pb).Differences.Count(d => d.Field == "eth.src"));
        Assert.True(Diff(pa, pb, "eth").Same);
        Assert.True(Diff(pa, pb, "eth.src").Same);
        Assert.False(Diff(pa, pb, "eth.dst").Same);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(30)]
    public void Read_TruncatedFile_ThrowsCaptureFormatExceptionNamingTheFile(int cut)
    {
        string a = Write("a.pcapng", Run(i => TunnelFrame(i, (ushort)(100 + i)), 2));
        var bytes = File.ReadAllBytes(a);
        string broken = Path.Combine(_dir, "broken.pcapng");
        File.WriteAllBytes(broken, bytes.AsSpan(0, cut == 0 ? 2 : bytes.Length - cut).ToArray());
        var e = Assert.Throws<CaptureFormatException>(() => CaptureFile.Read(broken));
        Assert.Contains("broken.pcapng", e.Message);
    }

    [Fact]
    public void Read_NotACapture_ThrowsCaptureFormatException()
    {
        string path = Path.Combine(_dir, "text.pcap");
        File.WriteAllText(path, "hello, this is not a capture");
        Assert.Throws<CaptureFormatException>(() => CaptureFile.Read(path));
    }

    /// <summary>Decoders and writers nobody on the team wrote: tshark rewrites FastTun's pcapng as classic pcap, and
    /// scapy writes the same frames again; all three read back as the same packets.</summary>
    [Fact]
    public void Compare_FastTunPcapngAgainstTsharkAndScapyCopies_NoDifference()
    {
        var frames = Run(i => TunnelFrame(i, (ushort)(100 + i)), 4).ToList();
        string ours = Write("ours.pcapng", frames);
        string viaTshark = Path.Combine(_dir, "tshark.pcap");
        RunTool("editcap", $"-F pcap {ours} {viaTshark}");
        string hex = string.Join(",", frames.Select(f => $"bytes.fromhex('{Convert.ToHexString(f)}')"));
        string py = Path.Combine(_dir, "w.py");
        string viaScapy = Path.Combine(_dir, "scapy.pcap");
        File.WriteAllText(py, "import logging\nlogging.getLogger('scapy.runtime').setLevel(logging.ERROR)\nfrom scapy.all import *\n"
            + $"wrpcap('{viaScapy}', [Ether(b) for b in [{hex}]])\n");
        RunTool("/usr/bin/python3", py); // Debian's python3-scapy, not a pyenv interpreter on PATH
        Assert.True(Diff(ours, viaTshark).Same, string.Join("\n", Diff(ours, viaTshark).Differences));
        Assert.True(Diff(ours, viaScapy).Same, string.Join("\n", Diff(ours, viaScapy).Differences));
        Assert.Equal(4, CaptureFile.Read(viaScapy).Count);
    }

    private static void RunTool(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args}: {err}");
    }
}

public sealed class CaptureDiffReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fasttun-diffreport-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Capture(string name, params byte[][] frames)
    {
        string path = Path.Combine(_dir, name);
        using var stream = File.Create(path);
        var w = new PcapNgWriter(stream);
        w.WriteSectionHeader("t");
        w.WriteInterface(PcapNgWriter.LinkTypeRaw, 65535, "tun0");
        foreach (var f in frames) w.WritePacket(0, 1, f, f.Length, null);
        return path;
    }

    private static byte[] Ip(byte ttl, ushort id)
    {
        var p = new byte[28];
        Ipv4Header.Write(p, 0, 28, id, dontFragment: false, ttl, Ipv4Header.ProtocolUdp, 0x01010101, 0x02020202);
        return p;
    }

    [Fact]
    public void Run_SameCaptures_ExitsZeroAndSaysSame()
    {
        string a = Capture("a.pcapng", Ip(64, 1), Ip(64, 2));
        string b = Capture("b.pcapng", Ip(64, 7), Ip(64, 9));
        var o = new StringWriter();
        Assert.Equal(CaptureDiffReport.ExitSame, CaptureDiffReport.Run(a, b, [], json: false, o, TextWriter.Null));
        Assert.Contains("same: 2 packets compared", o.ToString());
    }

    [Fact]
    public void Run_DifferentTtlAsJson_ExitsOneWithTheField()
    {
        string a = Capture("a.pcapng", Ip(64, 1));
        string b = Capture("b.pcapng", Ip(63, 1));
        var o = new StringWriter();
        Assert.Equal(CaptureDiffReport.ExitDifferent, CaptureDiffReport.Run(a, b, [], json: true, o, TextWriter.Null));
        using var doc = System.Text.Json.JsonDocument.Parse(o.ToString());
        Assert.False(doc.RootElement.GetProperty("same").GetBoolean());
        var d = doc.RootElement.GetProperty("differences")[0];
        Assert.Equal("ipv4.ttl", d.GetProperty("field").GetString());
        Assert.Equal(("64", "63"), (d.GetProperty("a").GetString(), d.GetProperty("b").GetString()));
    }

    [Fact]
    public void Run_MissingFile_ExitsTwoWithTheName()
    {
        var e = new StringWriter();
        Assert.Equal(CaptureDiffReport.ExitUnreadable,
            CaptureDiffReport.Run(Path.Combine(_dir, "nope.pcapng"), Path.Combine(_dir, "nope2.pcapng"), [], false, TextWriter.Null, e));
        Assert.Contains("nope.pcapng", e.ToString());
    }
}
