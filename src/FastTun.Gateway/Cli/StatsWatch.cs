using System.Text.Json.Nodes;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun stats --watch</c>: polls the gateway every interval on one connection and prints rates from the
/// difference of two snapshots: pps and bps per interface and tunnel, drops per second by reason, and each
/// worker's busy share of the interval. Clears the terminal between frames when stdout is a terminal; stops
/// on SIGINT (Ctrl-C) or SIGTERM, or after <c>--count N</c> frames.
/// </summary>
public static class StatsWatch
{
    /// <summary>Polls every <paramref name="interval"/> seconds; <paramref name="count"/> 0 runs until Ctrl-C. With
    /// <paramref name="json"/> each frame is one compact JSON object on one line (JSON lines), never cleared.</summary>
    public static int Run(ControlClient client, double interval, long count, bool json, TextWriter output, TextWriter error)
    {
        using var stop = new ManualResetEventSlim();
        // Ctrl-C, kill -INT or kill -TERM end the watch with exit 0, also when a script runs it in the background
        // (`fasttun stats --watch --json > rates.jsonl &`: SIGINT inherited as ignored, taken back by CommandSignals).
        using var signals = CommandSignals.Register(stop.Set);
        try
        {
            bool clear = !json && !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
            var request = new JsonObject { ["cmd"] = "show", ["what"] = "stats" };
            var previous = (JsonObject)client.Request((JsonObject)request.DeepClone())!;
            for (long frame = 0; count == 0 || frame < count; frame++)
            {
                if (stop.Wait(TimeSpan.FromSeconds(interval))) break;
                var current = (JsonObject)client.Request((JsonObject)request.DeepClone())!;
                if (json) output.WriteLine(FrameJson(previous, current).ToJsonString());
                else
                {
                    if (clear) output.Write("\u001b[H\u001b[2J");
                    else if (frame > 0) output.WriteLine();
                    Frame(previous, current, output);
                }
                output.Flush();
                previous = current;
            }
            return CommandLine.ExitOk;
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun stats: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    /// <summary>One screen of rates between two stats snapshots.</summary>
    public static void Frame(JsonObject before, JsonObject after, TextWriter output)
    {
        double seconds = Math.Max(0.001, (after["timestampMs"]!.GetValue<long>() - before["timestampMs"]!.GetValue<long>()) / 1000.0);
        output.WriteLine($"fasttun stats  {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z  interval {seconds:0.00}s  uptime {after["uptimeSeconds"]}s");
        output.WriteLine();
        var i = new TableWriter("INTERFACE", "RX-PPS", "RX-BPS", "TX-PPS", "TX-BPS", "RX-DROP/S", "TX-DROP/S");
        foreach (var (a, b) in Pairs(before["interfaces"]!, after["interfaces"]!))
            i.Add(Name(a), Rate(b, a, "rxPackets", seconds), Bits(b, a, "rxBytes", seconds), Rate(b, a, "txPackets", seconds),
                Bits(b, a, "txBytes", seconds), Rate(b, a, "rxDropped", seconds), Rate(b, a, "txDropped", seconds));
        i.Write(output);
        output.WriteLine();
        var t = new TableWriter("TUNNEL", "ENCAP-PPS", "ENCAP-BPS", "DECAP-PPS", "DECAP-BPS");
        foreach (var (a, b) in Pairs(before["tunnels"]!, after["tunnels"]!))
            t.Add(Name(a), Rate(b, a, "encapPackets", seconds), Bits(b, a, "encapBytes", seconds), Rate(b, a, "decapPackets", seconds), Bits(b, a, "decapBytes", seconds));
        t.Write(output);
        output.WriteLine();
        var d = new TableWriter("DROP-REASON", "PER-SECOND", "TOTAL");
        foreach (var (reason, value) in after["drops"]!.AsObject())
        {
            long now = value!.GetValue<long>(), then = before["drops"]![reason]?.GetValue<long>() ?? 0;
            if (now != then) d.Add(reason, TableWriter.Si((now - then) / seconds), now);
        }
        if (d.Count == 0) output.WriteLine("no drops in this interval");
        else d.Write(output);
        output.WriteLine();
        var w = new TableWriter("WORKER", "BATCHES/S", "PPS", "BUSY");
        foreach (var (a, b) in Pairs(before["workers"]!, after["workers"]!))
        {
            double busy = (b["busySeconds"]!.GetValue<double>() - a["busySeconds"]!.GetValue<double>()) / seconds;
            w.Add(b["index"]!.ToString(), Rate(b, a, "batches", seconds), Rate(b, a, "packets", seconds), $"{Math.Clamp(busy, 0, 1) * 100:0.0}%");
        }
        w.Write(output);
    }

    /// <summary>One frame of rates as JSON: per-second values between two snapshots, field names as in
    /// <c>show stats --json</c> with a unit suffix (rxPps, rxBps, encapPps, dropsPerSecond, busyRatio).</summary>
    public static JsonObject FrameJson(JsonObject before, JsonObject after)
    {
        double seconds = Math.Max(0.001, (after["timestampMs"]!.GetValue<long>() - before["timestampMs"]!.GetValue<long>()) / 1000.0);
        double PerSecond(JsonNode b, JsonNode a, string field) =>
            Math.Round(Math.Max(0, a[field]!.GetValue<long>() - b[field]!.GetValue<long>()) / seconds, 1);
        var interfaces = new JsonArray();
        foreach (var (a, b) in Pairs(before["interfaces"]!, after["interfaces"]!))
            interfaces.Add(new JsonObject
            {
                ["name"] = Name(b),
                ["rxPps"] = PerSecond(a, b, "rxPackets"),
                ["rxBps"] = PerSecond(a, b, "rxBytes") * 8,
                ["txPps"] = PerSecond(a, b, "txPackets"),
                ["txBps"] = PerSecond(a, b, "txBytes") * 8,
                ["rxDroppedPerSecond"] = PerSecond(a, b, "rxDropped"),
                ["txDroppedPerSecond"] = PerSecond(a, b, "txDropped"),
            });
        var tunnels = new JsonArray();
        foreach (var (a, b) in Pairs(before["tunnels"]!, after["tunnels"]!))
            tunnels.Add(new JsonObject
            {
                ["name"] = Name(b),
                ["encapPps"] = PerSecond(a, b, "encapPackets"),
                ["encapBps"] = PerSecond(a, b, "encapBytes") * 8,
                ["decapPps"] = PerSecond(a, b, "decapPackets"),
                ["decapBps"] = PerSecond(a, b, "decapBytes") * 8,
            });
        var drops = new JsonObject();
        foreach (var (reason, value) in after["drops"]!.AsObject())
        {
            long now = value!.GetValue<long>(), then = before["drops"]![reason]?.GetValue<long>() ?? 0;
            if (now != then) drops[reason] = Math.Round((now - then) / seconds, 1);
        }
        var workers = new JsonArray();
        foreach (var (a, b) in Pairs(before["workers"]!, after["workers"]!))
        {
            double busy = (b["busySeconds"]!.GetValue<double>() - a["busySeconds"]!.GetValue<double>()) / seconds;
            workers.Add(new JsonObject
            {
                ["index"] = b["index"]!.DeepClone(),
                ["batchesPerSecond"] = PerSecond(a, b, "batches"),
                ["pps"] = PerSecond(a, b, "packets"),
                ["busyRatio"] = Math.Round(Math.Clamp(busy, 0, 1), 4),
            });
        }
        return new JsonObject
        {
            ["timestampMs"] = after["timestampMs"]!.GetValue<long>(),
            ["intervalSeconds"] = Math.Round(seconds, 3),
            ["uptimeSeconds"] = after["uptimeSeconds"]!.DeepClone(),
            ["interfaces"] = interfaces,
            ["tunnels"] = tunnels,
            ["dropsPerSecond"] = drops,
            ["workers"] = workers,
        };
    }

    private static IEnumerable<(JsonNode Before, JsonNode After)> Pairs(JsonNode before, JsonNode after)
    {
        var a = before.AsArray();
        var b = after.AsArray();
        for (int k = 0; k < Math.Min(a.Count, b.Count); k++) yield return (a[k]!, b[k]!);
    }

    private static string Name(JsonNode n) => n["name"]?.ToString() ?? "-";

    private static string Rate(JsonNode after, JsonNode before, string field, double seconds) =>
        TableWriter.Si(Math.Max(0, after[field]!.GetValue<long>() - before[field]!.GetValue<long>()) / seconds);

    private static string Bits(JsonNode after, JsonNode before, string field, double seconds) =>
        TableWriter.Si(Math.Max(0, after[field]!.GetValue<long>() - before[field]!.GetValue<long>()) * 8 / seconds);
}
