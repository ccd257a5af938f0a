using System.Text.Json;
using System.Text.Json.Nodes;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun show interfaces|tunnels|routes|neighbors|stats [--json] [--control-socket PATH]</c> and
/// <c>fasttun stats [--watch [--interval S] [--count N]]</c>: asks the running gateway and prints aligned
/// tables, or the gateway's JSON as is with <c>--json</c>.
/// </summary>
public static class ShowCommand
{
    public const string UsageText = "usage: fasttun show interfaces|tunnels|routes|neighbors|stats [--json] [--watch [--interval S] [--count N]] [--control-socket PATH]\n"
        + "       fasttun show tunnels [--name GLOB] [--remote A.B.C.D] [--local A.B.C.D] [--mode ipip|gre] [--offset N] [--limit N]";
    private static readonly string[] TunnelOptions = ["--name", "--remote", "--local", "--mode", "--offset", "--limit"];
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static int Run(ReadOnlySpan<string> args, TextWriter output, TextWriter error)
    {
        var parsed = ClientArgs.Parse(args, ["--interval", "--count", .. TunnelOptions], ["--watch"], out string? problem);
        if (parsed is null || parsed.Words.Count != 1) return Usage(error, problem ?? "show what?");
        string what = parsed.Words[0] == "neighbours" ? "neighbors" : parsed.Words[0];
        if (what is not ("interfaces" or "tunnels" or "routes" or "neighbors" or "stats"))
            return Usage(error, $"cannot show '{parsed.Words[0]}'");
        bool watch = parsed.Options.ContainsKey("--watch");
        if (watch && what != "stats") return Usage(error, "--watch goes with stats");
        var request = new JsonObject { ["cmd"] = "show", ["what"] = what };
        foreach (string option in TunnelOptions)
        {
            if (!parsed.Options.TryGetValue(option, out string? value)) continue;
            if (what != "tunnels") return Usage(error, $"{option} goes with tunnels");
            if (option is "--offset" or "--limit")
            {
                if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
                    return Usage(error, $"{option} must be a whole number, not '{value}'");
                request[option[2..]] = n;
            }
            else request[option[2..]] = value;
        }
        try
        {
            using var client = ControlClient.Connect(parsed.SocketPath);
            if (watch) return StatsWatch.Run(client, parsed, output, error);
            var data = client.Request(request);
            if (parsed.Json)
            {
                output.WriteLine(data?.ToJsonString(Indented) ?? "null");
                return CommandLine.ExitOk;
            }
            var obj = data as JsonObject ?? throw new ControlClientException("the gateway answered without data");
            switch (what)
            {
                case "interfaces": Interfaces(obj, output); break;
                case "tunnels": Tunnels(obj, output); break;
                case "routes": Routes(obj, output); break;
                case "neighbors": Neighbors(obj, output); break;
                default: Stats(obj, output); break;
            }
            return CommandLine.ExitOk;
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine($"fasttun show: {message}");
        error.WriteLine(UsageText);
        return CommandLine.ExitUsage;
    }

    private static string S(JsonNode? n) => n?.ToString() ?? "-";

    public static void Interfaces(JsonObject data, TextWriter output)
    {
        var t = new TableWriter("NAME", "DRIVER", "QUEUES", "MAC", "MTU", "ADDRESSES", "RX-PKTS", "RX-BYTES", "TX-PKTS", "TX-BYTES", "RX-DROP", "TX-DROP");
        foreach (var i in data["interfaces"]!.AsArray())
            t.Add(S(i!["name"]), S(i["driver"]), S(i["queues"]), S(i["mac"]), S(i["mtu"]),
                string.Join(",", i["addresses"]!.AsArray().Select(S)), S(i["rxPackets"]), S(i["rxBytes"]),
                S(i["txPackets"]), S(i["txBytes"]), S(i["rxDropped"]), S(i["txDropped"]));
        t.Write(output);
    }

    public static void Tunnels(JsonObject data, TextWriter output)
    {
        var t = new TableWriter("NAME", "MODE", "LOCAL", "REMOTE", "ADDRESS", "MTU", "TTL", "TOS", "KEY", "PMTUD", "ENCAP-PKTS", "ENCAP-BYTES", "DECAP-PKTS", "DECAP-BYTES",
            "SEQ-RX", "LOST", "REORD", "DUP", "OUT-WIN", "RESYNC", "LOSS");
        foreach (var x in data["tunnels"]!.AsArray())
        {
            string key = x!["inputKey"] is null && x["outputKey"] is null ? "-"
                : S(x["inputKey"]) == S(x["outputKey"]) ? S(x["inputKey"]) : $"i{S(x["inputKey"])}/o{S(x["outputKey"])}";
            t.Add(S(x["name"]), S(x["mode"]), S(x["local"]), S(x["remote"]), string.Join(",", x["addresses"]!.AsArray().Select(S)),
                S(x["mtu"]), S(x["ttl"]), S(x["tos"]), key, x["pmtuDiscovery"]!.GetValue<bool>() ? "on" : "off",
                S(x["encapPackets"]), S(x["encapBytes"]), S(x["decapPackets"]), S(x["decapBytes"]),
                S(x["sequence"]?["received"]), S(x["sequence"]?["lost"]), S(x["sequence"]?["reordered"]),
                S(x["sequence"]?["duplicates"]), S(x["sequence"]?["outOfWindow"]), S(x["sequence"]?["resyncs"]),
                x["sequence"]?["lossRate"] is { } rate ? ((double)rate).ToString("0.####%", System.Globalization.CultureInfo.InvariantCulture) : "-");
        }
        t.Write(output);
        if (data["matched"] is { } matched && data["total"] is { } total)
        {
            int shown = data["tunnels"]!.AsArray().Count, offset = (int?)data["offset"] ?? 0;
            if (shown != (int)total)
                output.WriteLine(shown == 0 ? $"no tunnels shown: {S(matched)} of {S(total)} match"
                    : $"tunnels {offset + 1}-{offset + shown} of {S(matched)} matching ({S(total)} in all)");
        }
    }

    public static void Routes(JsonObject data, TextWriter output)
    {
        var t = new TableWriter("PREFIX", "VIA", "DEV", "KIND", "ORIGIN");
        foreach (var r in data["routes"]!.AsArray())
            t.Add(S(r!["prefix"]), S(r["via"]), S(r["dev"]), S(r["kind"]), S(r["origin"]));
        t.Write(output);
        var changes = data["runtimeChanges"]?.AsArray();
        if (changes is { Count: > 0 })
        {
            output.WriteLine();
            output.WriteLine("runtime changes (kept across reloads until restart):");
            foreach (var c in changes) output.WriteLine($"  {S(c)}");
        }
    }

    public static void Neighbors(JsonObject data, TextWriter output)
    {
        var t = new TableWriter("IP", "DEV", "MAC", "STATE", "AGE");
        foreach (var n in data["neighbors"]!.AsArray())
            t.Add(S(n!["ip"]), S(n["dev"]), S(n["mac"]), S(n["state"]), $"{S(n["ageSeconds"])}s");
        t.Write(output);
    }

    public static void Stats(JsonObject data, TextWriter output)
    {
        output.WriteLine($"uptime {S(data["uptimeSeconds"])}s");
        output.WriteLine();
        var i = new TableWriter("INTERFACE", "RX-PKTS", "RX-BYTES", "TX-PKTS", "TX-BYTES", "RX-DROP", "TX-DROP");
        foreach (var x in data["interfaces"]!.AsArray())
            i.Add(S(x!["name"]), S(x["rxPackets"]), S(x["rxBytes"]), S(x["txPackets"]), S(x["txBytes"]), S(x["rxDropped"]), S(x["txDropped"]));
        i.Write(output);
        output.WriteLine();
        var t = new TableWriter("TUNNEL", "ENCAP-PKTS", "ENCAP-BYTES", "DECAP-PKTS", "DECAP-BYTES");
        foreach (var x in data["tunnels"]!.AsArray())
            t.Add(S(x!["name"]), S(x["encapPackets"]), S(x["encapBytes"]), S(x["decapPackets"]), S(x["decapBytes"]));
        t.Write(output);
        output.WriteLine();
        var d = new TableWriter("DROP-REASON", "PACKETS");
        foreach (var (reason, value) in data["drops"]!.AsObject())
            if (value!.GetValue<long>() != 0) d.Add(reason, S(value));
        if (d.Count == 0) output.WriteLine("no drops");
        else d.Write(output);
        output.WriteLine();
        var w = new TableWriter("WORKER", "BATCHES", "PACKETS", "FORWARDED", "DROPS", "BUSY");
        foreach (var x in data["workers"]!.AsArray())
            w.Add(S(x!["index"]), S(x["batches"]), S(x["packets"]), S(x["forwarded"]), S(x["drops"]),
                $"{x["busyRatio"]!.GetValue<double>() * 100:0.00}%");
        w.Write(output);
        if (data["capture"] is JsonObject c && c["sessions"]!.GetValue<long>() > 0)
        {
            output.WriteLine();
            output.WriteLine($"capture: {(c["active"]!.GetValue<bool>() ? "running" : "idle")}, last {S(c["lastCaptured"])} captured, {S(c["lastLost"])} lost");
        }
    }
}
