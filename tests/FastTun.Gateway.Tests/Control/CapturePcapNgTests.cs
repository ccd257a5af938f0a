using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Control;

namespace FastTun.Gateway.Tests.Control;

public sealed class CapturePcapNgTests
{
    private static byte[] IcmpFrame()
    {
        // Ethernet + IPv4 (10.1.5.10 → 10.1.8.10, ICMP) + echo request: a frame tshark decodes.
        var f = new byte[14 + 20 + 8];
        f[12] = 0x08;
        f[14] = 0x45; f[17] = 28; f[22] = 64; f[23] = 1;
        new byte[] { 10, 1, 5, 10, 10, 1, 8, 10 }.CopyTo(f, 26);
        f[34] = 8;
        return f;
    }

    private static byte[] Write(Action<PcapNgWriter> body)
    {
        var ms = new MemoryStream();
        var w = new PcapNgWriter(ms);
        body(w);
        w.Flush();
        return ms.ToArray();
    }

    /// <summary>A slow, independent reader of the block structure: (type, body) per block, checking that both
    /// length fields agree and that every block is a multiple of 4 bytes.</summary>
    private static List<(uint Type, byte[] Block)> Blocks(byte[] file)
    {
        var blocks = new List<(uint, byte[])>();
        for (int at = 0; at < file.Length;)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4));
            Assert.Equal(0, length % 4);
            Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + length - 4)));
            blocks.Add((type, file.AsSpan(at, length).ToArray()));
            at += length;
        }
        return blocks;
    }

    [Fact]
    public void Write_SectionInterfacesPacketsStatistics_BlocksWellFormed()
    {
        var frame = IcmpFrame();
        var file = Write(w =>
        {
            w.WriteSectionHeader("fasttun test");
            w.WriteInterface(PcapNgWriter.LinkTypeEthernet, 2048, "eth1");
            w.WriteInterface(PcapNgWriter.LinkTypeRaw, 2048, "tun0");
            w.WritePacket(0, 1_700_000_000_123_456_789, frame, frame.Length, "drop: no-route");
            w.WritePacket(1, 1_700_000_000_123_456_790, frame.AsSpan(14), 28, null);
            w.WriteStatistics(0, 1, 2, 5, "lost");
        });
        var blocks = Blocks(file);
        Assert.Equal(new uint[] { 0x0A0D0D0A, 1, 1, 6, 6, 5 }, blocks.Select(b => b.Type).ToArray());
        Assert.Equal(0x1A2B3C4Du, BinaryPrimitives.ReadUInt32LittleEndian(blocks[0].Block.AsSpan(8)));
        Assert.Equal(101, BinaryPrimitives.ReadUInt16LittleEndian(blocks[2].Block.AsSpan(8)));
        var epb = blocks[3].Block;
        ulong ts = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(12)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(16));
        Assert.Equal(1_700_000_000_123_456_789UL, ts);
        Assert.Equal((uint)frame.Length, BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(20)));
        Assert.Contains("drop: no-route", Encoding.UTF8.GetString(epb));
        Assert.Equal(32 + 28, blocks[4].Block.Length); // no options: no end-of-options marker either

        var summary = new CaptureCommand.PcapNgSummary();
        foreach (var chunk in file.Chunk(7)) summary.Feed(chunk); // split at awkward places, as a socket may
        Assert.Equal(2, summary.Packets);
        Assert.Equal(5, summary.Lost);
    }

    [CaptureTsharkFact]
    public void Write_ReadByTshark_DecodesPacketsInterfaceNamesAndComments()
    {
        var frame = IcmpFrame();
        string path = Path.Combine(Path.GetTempPath(), $"fasttun-pcapng-{Environment.ProcessId}.pcapng");
        File.WriteAllBytes(path, Write(w =>
        {
            w.WriteSectionHeader("fasttun test");
            w.WriteInterface(PcapNgWriter.LinkTypeEthernet, 2048, "eth1");
            w.WriteInterface(PcapNgWriter.LinkTypeRaw, 2048, "tun0");
            w.WritePacket(0, 1_700_000_000_000_000_000, frame, frame.Length, "drop: no-tunnel");
            w.WritePacket(1, 1_700_000_000_000_001_000, frame.AsSpan(14), 28, null);
            w.WriteStatistics(0, 1_700_000_000_000_000_000, 1_700_000_000_000_002_000, 3, null);
        }));
        try
        {
            var psi = new ProcessStartInfo("tshark", $"-r {path} -T fields -e frame.interface_name -e ip.src -e ip.dst -e icmp.type -e frame.comment -e frame.time_epoch")
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            string err = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(30_000));
            Assert.True(p.ExitCode == 0, err);
            var lines = output.Trim().Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.Matches(@"^eth1\t10\.1\.5\.10\t10\.1\.8\.10\t8\tdrop: no-tunnel\t1700000000\.000000000", lines[0]);
            Assert.Matches(@"^tun0\t10\.1\.5\.10\t10\.1\.8\.10\t8\t\t1700000000\.000001000", lines[1]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
