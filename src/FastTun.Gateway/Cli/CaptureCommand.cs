using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json.Nodes;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun capture --point rx|tx|drop|decap|encap [--iface X] [--count N] [--duration S] -w FILE.pcapng</c>:
/// asks the running gateway to capture at a processing point and writes the pcapng it streams to FILE
/// (<c>-w -</c> for stdout). Ends after N frames or S seconds, or on Ctrl-C; then prints how many frames were
/// captured and how many copies the gateway lost to full capture rings.
/// </summary>
public static class CaptureCommand
{
    public const string UsageText = "usage: fasttun capture --point rx|tx|drop|decap|encap [--iface NAME] [--count N] [--duration S] -w FILE.pcapng [--control-socket PATH]";

    public static int Run(ReadOnlySpan<string> args, TextWriter output, TextWriter error)
    {
        var parsed = ClientArgs.Parse(args, ["--point", "--iface", "--count", "--duration", "-w", "--write"], [], out string? problem);
        if (parsed is null || parsed.Words.Count > 0) return Usage(error, problem ?? $"unexpected '{parsed!.Words[0]}'");
        if (!parsed.Options.TryGetValue("--point", out var point)) return Usage(error, "--point is required");
        string? file = parsed.Options.GetValueOrDefault("-w") ?? parsed.Options.GetValueOrDefault("--write");
        if (file is null) return Usage(error, "-w FILE is required");
        var request = new JsonObject { ["cmd"] = "capture", ["point"] = point };
        if (parsed.Options.TryGetValue("--iface", out var iface)) request["iface"] = iface;
        if (parsed.Options.TryGetValue("--count", out var c))
        {
            if (!long.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out long count) || count < 1) return Usage(error, "--count wants a number ≥ 1");
            request["count"] = count;
        }
        if (parsed.Options.TryGetValue("--duration", out var d))
        {
            if (!double.TryParse(d, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || seconds <= 0) return Usage(error, "--duration wants seconds > 0");
            request["duration"] = seconds;
        }

        try
        {
            using var client = ControlClient.Connect(parsed.SocketPath);
            client.Request(request); // the ok line; pcapng follows
            using var sink = file == "-" ? Console.OpenStandardOutput() : new FileStream(file, FileMode.Create, FileAccess.Write);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                client.ShutdownSend(); // the gateway sees end of stream, finishes the file and closes
            };
            Console.CancelKeyPress += onCancel;
            var summary = new PcapNgSummary();
            try
            {
                var buffer = new byte[64 * 1024];
                int n;
                while ((n = client.Stream.Read(buffer)) > 0)
                {
                    sink.Write(buffer, 0, n);
                    summary.Feed(buffer.AsSpan(0, n));
                }
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            var where = file == "-" ? error : output;
            where.WriteLine($"{summary.Packets} frame(s) captured at {point}{(iface is null ? "" : $" on {iface}")}, " +
                $"{summary.Lost} lost to full capture rings{(file == "-" ? "" : $", written to {file}")}");
            return CommandLine.ExitOk;
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun capture: {e.Message}");
            return CommandLine.ExitError;
        }
        catch (IOException e)
        {
            error.WriteLine($"fasttun capture: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine($"fasttun capture: {message}");
        error.WriteLine(UsageText);
        return CommandLine.ExitUsage;
    }

    /// <summary>Counts Enhanced Packet Blocks and reads isb_osdrop from the streamed pcapng (little-endian, as
    /// the gateway writes it) without keeping the packets.</summary>
    public sealed class PcapNgSummary
    {
        private byte[] _pending = new byte[64 * 1024];
        private int _length;
        public long Packets { get; private set; }
        public long Lost { get; private set; }

        public void Feed(ReadOnlySpan<byte> bytes)
        {
            if (_length + bytes.Length > _pending.Length) Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _length + bytes.Length));
            bytes.CopyTo(_pending.AsSpan(_length));
            _length += bytes.Length;
            int at = 0;
            while (_length - at >= 12)
            {
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(_pending.AsSpan(at));
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(_pending.AsSpan(at + 4));
                if (length < 12 || _length - at < length) break;
                if (type == 6) Packets++;
                else if (type == 5) Lost += OsDrop(_pending.AsSpan(at, length));
                at += length;
            }
            _pending.AsSpan(at, _length - at).CopyTo(_pending); // keep the partial block
            _length -= at;
        }

        private static long OsDrop(ReadOnlySpan<byte> block)
        {
            int at = 20; // type, length, interface id, timestamp (2 × 32 bits)
            while (at + 4 <= block.Length - 4)
            {
                ushort code = BinaryPrimitives.ReadUInt16LittleEndian(block[at..]);
                ushort len = BinaryPrimitives.ReadUInt16LittleEndian(block[(at + 2)..]);
                if (code == 0) break;
                if (code == 7 && len == 8) return (long)BinaryPrimitives.ReadUInt64LittleEndian(block[(at + 4)..]);
                at += 4 + ((len + 3) & ~3);
            }
            return 0;
        }
    }
}
