using System.Globalization;
using System.Text;
using System.Text.Json;
using FastTun.Gateway.Traffic;

namespace FastTun.Gateway.Cli;

/// <summary><c>fasttun bench worker</c>: argument parsing and output around <see cref="WorkerBench"/>.</summary>
public static class WorkerBenchCommand
{
    public static int Run(ReadOnlySpan<string> args)
    {
        WorkerBenchMode? mode = null;
        int routes = 1_000_000, frame = 64;
        double seconds = 5, warmup = 2;
        bool json = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? v = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = true;
            switch (a)
            {
                case "--mode" when v is not null:
                    mode = v switch { "ipip" => WorkerBenchMode.Ipip, "gre" => WorkerBenchMode.Gre, "decap" => WorkerBenchMode.Decap, "forward" => WorkerBenchMode.Forward, _ => null };
                    ok = mode is not null; i++; break;
                case "--routes" when v is not null: ok = TrafficArgs.TryInt(v, 1, 4_000_000, out routes); i++; break;
                case "--frame" when v is not null: ok = TrafficArgs.TryInt(v, 64, 1518, out frame); i++; break;
                case "--seconds" when v is not null: ok = double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) && seconds is >= 0.5 and <= 600; i++; break;
                case "--warmup" when v is not null: ok = double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out warmup) && warmup is >= 0 and <= 60; i++; break;
                case "--json": json = true; break;
                default: return BenchCommand.Usage($"unknown or incomplete argument '{a}' for bench worker");
            }
            if (!ok) return BenchCommand.Usage($"bad value '{v}' for {a}");
        }
        if (mode is null) return BenchCommand.Usage("bench worker needs --mode ipip|gre|decap|forward");

        WorkerBenchResult r;
        try
        {
            if (!json) Console.Error.WriteLine($"bench worker: building the {routes}-route table and {mode} frames of {frame} bytes…");
            var setup = WorkerBenchSetup.Create(mode.Value, routes, frame);
            r = WorkerBench.Run(setup, mode.Value, frame, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"fasttun bench worker: {e.Message}");
            return CommandLine.ExitError;
        }
        Console.Out.WriteLine(json ? Json(r) : Text(r));
        return CommandLine.ExitOk;
    }

    private static string Text(WorkerBenchResult r) => string.Create(CultureInfo.InvariantCulture,
        $"""
        worker {r.Mode.ToString().ToLowerInvariant()}, {r.Routes} routes, {r.FrameBytes}-byte frames, {r.Seconds:F1} s: {r.Packets} packets, {r.Dropped} dropped, {r.TxCopied} copied
          FastTun: {r.NsPerPacket:F1} ns/packet = {r.Mpps:F2} Mpps on one core (without the memory NIC)
          memory NIC: {r.NicNsPerPacket:F1} ns/packet; worker thread total {r.TotalNsPerPacket:F1} ns/packet, {r.WallMpps:F2} Mpps wall, {r.CpuShare:P0} of a core
        """);

    private static string Json(WorkerBenchResult r)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("command", "bench worker");
            w.WriteString("mode", r.Mode.ToString().ToLowerInvariant());
            w.WriteNumber("routes", r.Routes);
            w.WriteNumber("frame", r.FrameBytes);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteNumber("packets", r.Packets);
            w.WriteNumber("dropped", r.Dropped);
            w.WriteNumber("tx_copied", r.TxCopied);
            w.WriteNumber("ns_per_packet", Math.Round(r.NsPerPacket, 2));
            w.WriteNumber("mpps", Math.Round(r.Mpps, 3));
            w.WriteNumber("nic_ns_per_packet", Math.Round(r.NicNsPerPacket, 2));
            w.WriteNumber("total_ns_per_packet", Math.Round(r.TotalNsPerPacket, 2));
            w.WriteNumber("wall_mpps", Math.Round(r.WallMpps, 3));
            w.WriteNumber("cpu_share", Math.Round(r.CpuShare, 3));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
