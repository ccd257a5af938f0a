using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastTun.Gateway.Bench;

namespace FastTun.Gateway.Cli;

/// <summary><c>fasttun bench worker</c>: argument parsing and output around <see cref="WorkerBench"/>.</summary>
public static class WorkerBenchCommand
{
    public static Command Build()
    {
        var mode = CliOptions.Completing(CliOptions.Validated<WorkerBenchMode?>("--mode", "what the worker does to each frame " +
            "(gre = key, checksum and sequence numbers)", "ipip|gre|decap|forward", (string t, out WorkerBenchMode? m) =>
            {
                m = t switch { "ipip" => WorkerBenchMode.Ipip, "gre" => WorkerBenchMode.Gre, "decap" => WorkerBenchMode.Decap, "forward" => WorkerBenchMode.Forward, _ => null };
                return m is not null;
            }, "one of ipip, gre, decap, forward", null), "ipip", "gre", "decap", "forward");
        mode.Required = true;
        var routes = CliOptions.Int("--routes", "prefixes of the seeded DFZ-like synthetic table", 1, 4_000_000, 1_000_000);
        var frame = CliOptions.Int("--frame", "frame size in bytes", 64, 1518, 64);
        var seconds = CliOptions.Number("--seconds", "measured time", "SECONDS", 0.5, 600, false, 5);
        var warmup = CliOptions.Number("--warmup", "warm-up time before measuring", "SECONDS", 0, 60, false, 2);
        var json = CliOptions.Json("print the result as JSON");
        var tunnels = CliOptions.Int("--tunnels", "decap only: a hub of N spokes (one tunnel each, IPIP or with --hub-gre keyed GRE), every frame from a random spoke; 0 = the single tun0", 0, WorkerBenchHub.MaxSpokes, 0); // hub6 hook
        var tunnelMode = new Option<bool>("--hub-gre") { Description = "with --tunnels: keyed GRE frames instead of IPIP" }; // hub6 hook
        var perSpoke = CliOptions.Int("--tunnels-per-spoke", "with --tunnels: 1 (the frames' kind) or 2 (an IPIP and a keyed GRE tunnel each: twice the table)", 1, 2, 1);
        var active = CliOptions.Int("--active-spokes", "with --tunnels: frames from the first K spokes only (a few hot spokes in a large table); 0 = all", 0, WorkerBenchHub.MaxSpokes, 0); // hub7p hook
        var command = new Command("worker", "the real worker loop on one thread over two memory-ring ports (zero-copy NIC queues " +
            "over one UMEM): FastTun's CPU time per packet without the NIC's DMA, and the Mpps one core sustains at that cost; " +
            "pin it for stable figures: taskset -c 1 fasttun bench worker ...") { mode, routes, frame, seconds, warmup, json, tunnels, tunnelMode, active, perSpoke };
        command.SetAction(r => Run(r.GetValue(mode)!.Value, r.GetValue(routes), r.GetValue(frame), r.GetValue(seconds), r.GetValue(warmup),
            r.GetValue(json), r.GetValue(tunnels), r.GetValue(tunnelMode), r.GetValue(active), r.GetValue(perSpoke)));
        return command;
    }

    public static int Run(WorkerBenchMode mode, int routes, int frame, double seconds, double warmup, bool json, int tunnels = 0, bool hubGre = false, int activeSpokes = 0, int tunnelsPerSpoke = 1)
    {
        WorkerBenchResult r;
        try
        {
            if (!json) Console.Error.WriteLine($"bench worker: building the {routes}-route table and {mode} frames of {frame} bytes…");
            if ((tunnels > 0 || hubGre) && mode != WorkerBenchMode.Decap) throw new ArgumentException("--tunnels and --hub-gre need --mode decap"); // hub6 hook
            var setup = WorkerBenchSetup.Create(mode, routes, frame, hubSpokes: tunnels, hubGre: hubGre, hubActive: activeSpokes, hubTunnelsPerSpoke: tunnelsPerSpoke); // hub7p hook
            r = WorkerBench.Run(setup, mode, frame, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"fasttun bench worker: {e.Message}");
            return CommandLine.ExitError;
        }
        Console.Out.WriteLine(json ? Json(r, tunnels, hubGre, tunnelsPerSpoke) : Text(r));
        return CommandLine.ExitOk;
    }

    private static string Text(WorkerBenchResult r) => string.Create(CultureInfo.InvariantCulture,
        $"""
        worker {r.Mode.ToString().ToLowerInvariant()}, {r.Routes} routes, {r.FrameBytes}-byte frames, {r.Seconds:F1} s: {r.Packets} packets, {r.Dropped} dropped, {r.TxCopied} copied
          FastTun: {r.NsPerPacket:F1} ns/packet = {r.Mpps:F2} Mpps on one core (without the memory NIC)
          memory NIC: {r.NicNsPerPacket:F1} ns/packet; worker thread total {r.TotalNsPerPacket:F1} ns/packet, {r.WallMpps:F2} Mpps wall, {r.CpuShare:P0} of a core
        """);

    private static string Json(WorkerBenchResult r, int tunnels, bool hubGre, int tunnelsPerSpoke)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("command", "bench worker");
            w.WriteString("mode", r.Mode.ToString().ToLowerInvariant());
            w.WriteNumber("routes", r.Routes);
            if (tunnels > 0) { w.WriteNumber("spokes", tunnels); w.WriteString("hub_frames", hubGre ? "gre-key" : "ipip"); w.WriteNumber("tunnels_per_spoke", tunnelsPerSpoke); } // hub6 hook
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
