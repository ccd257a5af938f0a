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
        var ratioRounds = CliOptions.Int("--ratio-rounds", "with --tunnels N: the hub ratio (#15 item 5) in this process: K rounds of 1 spoke then N spokes, each --seconds after --warmup, the two setups built once; prints every round and the median of the per-round ratios", 0, 1000, 0);
        var burst = CliOptions.Int("--spoke-burst", "with --tunnels: frames in a row from one spoke (1 = a random spoke every frame, the worst case)", 1, 4096, 1);
        var perSpoke = CliOptions.Int("--tunnels-per-spoke", "with --tunnels: 1 (the frames' kind) or 2 (an IPIP and a keyed GRE tunnel each: twice the table)", 1, 2, 1);
        var active = CliOptions.Int("--active-spokes", "with --tunnels: frames from the first K spokes only (a few hot spokes in a large table); 0 = all", 0, WorkerBenchHub.MaxSpokes, 0); // hub7p hook
        var command = new Command("worker", "the real worker loop on one thread over two memory-ring ports (zero-copy NIC queues " +
            "over one UMEM): FastTun's CPU time per packet without the NIC's DMA, and the Mpps one core sustains at that cost; " +
            "pin it for stable figures: taskset -c 1 fasttun bench worker ...") { mode, routes, frame, seconds, warmup, json, tunnels, tunnelMode, active, perSpoke, ratioRounds, burst };
        command.SetAction(r => r.GetValue(ratioRounds) > 0
            ? RunRatio(r.GetValue(mode)!.Value, r.GetValue(routes), r.GetValue(frame), r.GetValue(seconds), r.GetValue(warmup), r.GetValue(json),
                r.GetValue(tunnels), r.GetValue(tunnelMode), r.GetValue(active), r.GetValue(perSpoke), r.GetValue(ratioRounds), r.GetValue(burst))
            : Run(r.GetValue(mode)!.Value, r.GetValue(routes), r.GetValue(frame), r.GetValue(seconds), r.GetValue(warmup),
                r.GetValue(json), r.GetValue(tunnels), r.GetValue(tunnelMode), r.GetValue(active), r.GetValue(perSpoke), r.GetValue(burst)));
        return command;
    }

    public static int Run(WorkerBenchMode mode, int routes, int frame, double seconds, double warmup, bool json, int tunnels = 0, bool hubGre = false, int activeSpokes = 0, int tunnelsPerSpoke = 1, int spokeBurst = 1)
    {
        WorkerBenchResult r;
        try
        {
            if (!json) Console.Error.WriteLine($"bench worker: building the {routes}-route table and {mode} frames of {frame} bytes…");
            if ((tunnels > 0 || hubGre) && mode != WorkerBenchMode.Decap) throw new ArgumentException("--tunnels and --hub-gre need --mode decap"); // hub6 hook
            var setup = WorkerBenchSetup.Create(mode, routes, frame, hubSpokes: tunnels, hubGre: hubGre, hubActive: activeSpokes,
                hubTunnelsPerSpoke: tunnelsPerSpoke, hubBurst: spokeBurst); // hub7p hook
            r = WorkerBench.Run(setup, mode, frame, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"fasttun bench worker: {e.Message}");
            return CommandLine.ExitError;
        }
        Console.Out.WriteLine(json ? Json(r, tunnels, hubGre, tunnelsPerSpoke, spokeBurst) : Text(r));
        return CommandLine.ExitOk;
    }

    /// <summary><c>--ratio-rounds K</c>: the hub ratio measured as #15 item 5 defines it (decap cost per packet with N
    /// spokes over the cost with one), both setups in one process and interleaved in time, so that the host's drift
    /// between runs (±10 % here) falls on both sides of every round's ratio.</summary>
    public static int RunRatio(WorkerBenchMode mode, int routes, int frame, double seconds, double warmup, bool json, int tunnels,
        bool hubGre, int activeSpokes, int tunnelsPerSpoke, int rounds, int spokeBurst = 1)
    {
        var ones = new List<double>();
        var many = new List<double>();
        try
        {
            if (mode != WorkerBenchMode.Decap || tunnels < 2) throw new ArgumentException("--ratio-rounds needs --mode decap and --tunnels 2 or more");
            var one = WorkerBenchSetup.Create(mode, routes, frame, hubSpokes: 1, hubGre: hubGre, hubTunnelsPerSpoke: tunnelsPerSpoke);
            var hub = WorkerBenchSetup.Create(mode, routes, frame, hubSpokes: tunnels, hubGre: hubGre, hubActive: activeSpokes,
                hubTunnelsPerSpoke: tunnelsPerSpoke, hubBurst: spokeBurst);
            for (int round = 1; round <= rounds; round++)
            {
                double a = WorkerBench.Run(one, mode, frame, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup)).NsPerPacket;
                double b = WorkerBench.Run(hub, mode, frame, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup)).NsPerPacket;
                ones.Add(a);
                many.Add(b);
                if (!json) Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: 1 spoke {a:F2} ns, {tunnels} spokes {b:F2} ns, ratio {b / a:F3}"));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            Console.Error.WriteLine($"fasttun bench worker: {e.Message}");
            return CommandLine.ExitError;
        }
        var ratios = ones.Zip(many, (a, b) => b / a).ToList();
        if (json)
            Console.Out.WriteLine(JsonObject(w =>
            {
                w.WriteString("command", "bench worker --ratio-rounds");
                w.WriteNumber("routes", routes);
                w.WriteNumber("spokes", tunnels);
                w.WriteNumber("active_spokes", activeSpokes);
                w.WriteString("hub_frames", hubGre ? "gre-key" : "ipip");
                w.WriteNumber("tunnels_per_spoke", tunnelsPerSpoke);
                w.WriteNumber("spoke_burst", spokeBurst);
                w.WriteNumber("frame", frame);
                w.WriteNumber("seconds_each", seconds);
                WriteArray(w, "one_spoke_ns", ones);
                WriteArray(w, "hub_ns", many);
                WriteArray(w, "ratios", ratios);
                w.WriteNumber("one_spoke_median_ns", Math.Round(Median(ones), 2));
                w.WriteNumber("hub_median_ns", Math.Round(Median(many), 2));
                w.WriteNumber("ratio_median", Math.Round(Median(ratios), 4));
            }));
        else
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"hub ratio ({tunnels} spokes over 1, bursts of {spokeBurst}, {rounds} rounds): median {Median(ratios):F3}; 1 spoke median {Median(ones):F2} ns, {tunnels} spokes median {Median(many):F2} ns"));
        return CommandLine.ExitOk;
    }

    private static void WriteArray(Utf8JsonWriter w, string name, List<double> values)
    {
        w.WriteStartArray(name);
        foreach (double v in values) w.WriteNumberValue(Math.Round(v, 3));
        w.WriteEndArray();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static string Text(WorkerBenchResult r) => string.Create(CultureInfo.InvariantCulture,
        $"""
        worker {r.Mode.ToString().ToLowerInvariant()}, {r.Routes} routes, {r.FrameBytes}-byte frames, {r.Seconds:F1} s: {r.Packets} packets, {r.Dropped} dropped, {r.TxCopied} copied
          FastTun: {r.NsPerPacket:F1} ns/packet = {r.Mpps:F2} Mpps on one core (without the memory NIC)
          memory NIC: {r.NicNsPerPacket:F1} ns/packet; worker thread total {r.TotalNsPerPacket:F1} ns/packet, {r.WallMpps:F2} Mpps wall, {r.CpuShare:P0} of a core
        """);

    /// <summary>One JSON object, its members written by <paramref name="members"/>, as a string.</summary>
    private static string JsonObject(Action<Utf8JsonWriter> members)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            members(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string Json(WorkerBenchResult r, int tunnels, bool hubGre, int tunnelsPerSpoke, int spokeBurst) => JsonObject(w =>
        {
            w.WriteString("command", "bench worker");
            w.WriteString("mode", r.Mode.ToString().ToLowerInvariant());
            w.WriteNumber("routes", r.Routes);
            if (tunnels > 0) { w.WriteNumber("spokes", tunnels); w.WriteString("hub_frames", hubGre ? "gre-key" : "ipip"); w.WriteNumber("tunnels_per_spoke", tunnelsPerSpoke); w.WriteNumber("spoke_burst", spokeBurst); } // hub6 hook
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
        });
}
