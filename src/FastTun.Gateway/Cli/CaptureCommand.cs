using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun capture --point rx|tx|drop|decap|encap [--iface X] [--count N] [--duration S] -w FILE.pcapng</c>:
/// asks the running gateway to capture at a processing point and writes the pcapng it streams to FILE
/// (<c>-w -</c> for stdout). Ends after N frames or S seconds, or on SIGINT (Ctrl-C) or SIGTERM; then prints how many frames were
/// captured and how many copies the gateway lost to full capture rings.
/// </summary>
public static class CaptureCommand
{
    public static Command Build()
    {
        var point = new Option<string>("--point") { Description = "where to capture", HelpName = "POINT", Required = true };
        point.AcceptOnlyFromAmong("rx", "tx", "drop", "decap", "encap");
        var iface = new Option<string?>("--iface") { Description = "only frames of this interface", HelpName = "NAME" };
        var count = CliOptions.Int("--count", "stop after N frames", 1, int.MaxValue, 0);
        var duration = CliOptions.Number("--duration", "stop after SECONDS", "SECONDS", 0, 86400, true, 0);
        var write = new Option<string>("--write", "-w") { Description = "pcapng file to write ('-' for stdout)", HelpName = "FILE", Required = true };
        var json = CliOptions.Json("print the closing summary as JSON");
        var socket = CliOptions.ControlSocket();
        var command = new Command("capture", "live capture at a processing point of the running gateway, written as pcapng; " +
            "drops carry their reason; ends after --count, --duration, Ctrl-C or SIGTERM") { point, iface, count, duration, write, json, socket };
        command.SetAction(r => Run(r.GetValue(point)!, r.GetValue(iface), r.GetValue(count), r.GetValue(duration), r.GetValue(write)!,
            r.GetValue(json), r.GetValue(socket)!, r.Out(), r.Err()));
        return command;
    }

    public static int Run(string point, string? iface, long count, double duration, string file, bool json, string socketPath,
        TextWriter output, TextWriter error)
    {
        var request = new JsonObject { ["cmd"] = "capture", ["point"] = point };
        if (iface is not null) request["iface"] = iface;
        if (count > 0) request["count"] = count;
        if (duration > 0) request["duration"] = duration;
        try
        {
            using var client = ControlClient.Connect(socketPath);
            client.Request(request); // the ok line; pcapng follows
            // Ctrl-C, kill -INT or kill -TERM (a script's background capture: CommandSignals takes an inherited ignore back)
            // end the capture cleanly: the gateway sees end of stream, finishes the file and closes; the loop then ends.
            // Registered before the file is created, so a script that waits for the file and then signals ends the capture
            // cleanly instead of meeting the runtime's default SIGTERM.
            using var signals = CommandSignals.Register(client.ShutdownSend);
            using var sink = file == "-" ? Console.OpenStandardOutput() : new FileStream(file, FileMode.Create, FileAccess.Write);
            var summary = new PcapNgSummary();
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = client.Stream.Read(buffer)) > 0)
            {
                sink.Write(buffer, 0, n);
                summary.Feed(buffer.AsSpan(0, n));
            }
            var where = file == "-" ? error : output;
            if (json)
                where.WriteLine(new JsonObject { ["point"] = point, ["iface"] = iface, ["captured"] = summary.Packets, ["lost"] = summary.Lost,
                    ["file"] = file }.ToJsonString());
            else
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
