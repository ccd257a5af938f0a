using System.Buffers.Binary;
using System.Diagnostics;

namespace FastTun.Packets.Tests;

/// <summary>Classic libpcap file writer (microsecond timestamps, LINKTYPE_ETHERNET = 1).</summary>
public static class PcapWriter
{
    public const uint Magic = 0xA1B2C3D4;
    public const uint LinkTypeEthernet = 1;

    public static void Write(string path, IEnumerable<byte[]> frames)
    {
        using var stream = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header.Slice(4), 2);  // version 2.4
        BinaryPrimitives.WriteUInt16LittleEndian(header.Slice(6), 4);
        BinaryPrimitives.WriteInt32LittleEndian(header.Slice(8), 0);   // thiszone
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(12), 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(16), 65535); // snaplen
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(20), LinkTypeEthernet);
        stream.Write(header);
        uint second = 1_700_000_000;
        Span<byte> record = stackalloc byte[16];
        foreach (byte[] frame in frames)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(record, second++);
            BinaryPrimitives.WriteUInt32LittleEndian(record.Slice(4), 0);
            BinaryPrimitives.WriteUInt32LittleEndian(record.Slice(8), (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record.Slice(12), (uint)frame.Length);
            stream.Write(record);
            stream.Write(frame);
        }
    }
}

/// <summary>Decodes frames with tshark (an independent dissector) with IP, TCP and UDP checksum validation on;
/// GRE and ICMP checksums are validated by default. Status fields: 1 good, 0 bad, 2 unverified.</summary>
public static class Tshark
{
    public static readonly string? Path = Find();

    private static string? Find()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            string candidate = System.IO.Path.Combine(dir, "tshark");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Writes <paramref name="frames"/> to a pcap named after <paramref name="testName"/> and returns one
    /// line per frame: the requested fields joined by '|' (multi-occurrence fields comma-separated, outer first).</summary>
    public static string[] Decode(string testName, IEnumerable<byte[]> frames, params string[] fields)
    {
        if (Path is null) throw new InvalidOperationException("tshark not installed");
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fasttun-golden");
        Directory.CreateDirectory(dir);
        string file = System.IO.Path.Combine(dir, $"{testName}-{Environment.ProcessId}.pcap");
        PcapWriter.Write(file, frames);
        try
        {
            var psi = new ProcessStartInfo(Path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string a in new[] { "-n", "-r", file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                         "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|" })
                psi.ArgumentList.Add(a);
            foreach (string f in fields) { psi.ArgumentList.Add("-e"); psi.ArgumentList.Add(f); }
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tshark");
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(60_000))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("tshark did not finish in 60 s");
            }
            if (p.ExitCode != 0) throw new InvalidOperationException($"tshark exited {p.ExitCode}: {stderr.Result}");
            return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>A fact that runs only where tshark is installed (make deps installs it).</summary>
public sealed class TsharkFactAttribute : FactAttribute
{
    public TsharkFactAttribute()
    {
        if (Tshark.Path is null) Skip = "tshark not installed (make deps installs it)";
    }
}

public sealed class TsharkTheoryAttribute : TheoryAttribute
{
    public TsharkTheoryAttribute()
    {
        if (Tshark.Path is null) Skip = "tshark not installed (make deps installs it)";
    }
}
