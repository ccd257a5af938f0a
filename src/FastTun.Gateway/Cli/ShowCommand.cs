using System.CommandLine;
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
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Build()
    {
        var show = new Command("show", "ask the running gateway and print aligned tables, or its JSON with --json");
        show.Subcommands.Add(What("interfaces", "ports: driver, queues, MAC, MTU, addresses, packet and byte counters"));
        show.Subcommands.Add(BuildTunnels());
        show.Subcommands.Add(What("routes", "the route table, and the runtime changes kept across reloads"));
        var neighbors = What("neighbors", "the neighbor (ARP) table");
        neighbors.Aliases.Add("neighbours");
        show.Subcommands.Add(neighbors);
        show.Subcommands.Add(BuildStats("stats"));
        show.SetAction(r =>
        {
            r.Err().WriteLine("fasttun show: show what? interfaces, tunnels, routes, neighbors or stats");
            r.Err().WriteLine("see 'fasttun show --help'");
            return CommandLine.ExitUsage;
        });
        return show;
    }

    private static Command What(string what, string description)
    {
        var socket = CliOptions.ControlSocket();
        var json = CliOptions.Json("print the gateway's JSON answer as is");
        var command = new Command(what, description) { json, socket };
        command.SetAction(r => Show(what, r.GetValue(socket)!, r.GetValue(json), r.Out(), r.Err()));
        return command;
    }

    /// <summary><c>show tunnels</c>, with paging and filters for hubs of thousands of tunnels.</summary>
    private static Command BuildTunnels()
    {
        var socket = CliOptions.ControlSocket();
        var json = CliOptions.Json("print the gateway's JSON answer as is");
        var name = new Option<string?>("--name") { Description = "only tunnels whose name matches GLOB (* and ?)", HelpName = "GLOB" };
        var remote = Address("--remote", "only tunnels towards this remote address");
        var local = Address("--local", "only tunnels from this local address");
        var mode = CliOptions.Completing(new Option<string?>("--mode") { Description = "only ipip or only gre tunnels", HelpName = "ipip|gre" }, "ipip", "gre");
        mode.AcceptOnlyFromAmong("ipip", "gre");
        var offset = CliOptions.Int("--offset", "skip the first N matching tunnels", 0, int.MaxValue, 0);
        var limit = CliOptions.Int("--limit", "show at most N tunnels (0: all)", 0, int.MaxValue, 0);
        var command = new Command("tunnels", "tunnels: mode, endpoints, MTU, TTL, TOS, key, PMTU discovery, counters, GRE sequence meter")
            { json, socket, name, remote, local, mode, offset, limit };
        command.SetAction(r =>
        {
            var request = new JsonObject { ["cmd"] = "show", ["what"] = "tunnels" };
            if (r.GetValue(name) is { } n) request["name"] = n;
            if (r.GetValue(remote) is { } rem) request["remote"] = rem;
            if (r.GetValue(local) is { } loc) request["local"] = loc;
            if (r.GetValue(mode) is { } m) request["mode"] = m;
            if (r.GetResult(offset) is { Implicit: false }) request["offset"] = r.GetValue(offset);
            if (r.GetResult(limit) is { Implicit: false } && r.GetValue(limit) > 0) request["limit"] = r.GetValue(limit);
            return Show("tunnels", r.GetValue(socket)!, r.GetValue(json), r.Out(), r.Err(), request);
        });
        return command;
    }

    private static Option<string?> Address(string name, string description)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = "A.B.C.D" };
        option.Validators.Add(r =>
        {
            string? text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
            if (text is not null && !(System.Net.IPAddress.TryParse(text, out var a)
                    && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') == 3))
                r.AddError($"{name}: '{text}' is not an IPv4 address");
        });
        return option;
    }

    /// <summary><c>stats</c> (top level) and <c>show stats</c>: counters, or rates with --watch.</summary>
    public static Command BuildStats(string name)
    {
        var socket = CliOptions.ControlSocket();
        var json = CliOptions.Json("JSON; with --watch one JSON object of rates per line (JSON lines)");
        var watch = new Option<bool>("--watch", "-w") { Description = "refresh pps/bps rates every interval until Ctrl-C" };
        var interval = CliOptions.Number("--interval", "seconds between --watch frames", "SECONDS", 0.1, 3600, false, 1);
        var count = CliOptions.Int("--count", "stop --watch after N frames (default: until Ctrl-C)", 1, int.MaxValue, 0);
        var command = new Command(name, "counters per interface, tunnel, drop reason and worker; --watch shows rates") { json, watch, interval, count, socket };
        command.Validators.Add(r =>
        {
            bool watching = r.GetResult(watch) is { Implicit: false } w && r.GetValue(watch);
            if (!watching && (r.GetResult(interval) is { Implicit: false } || r.GetResult(count) is { Implicit: false }))
                r.AddError("--interval and --count go with --watch");
        });
        command.SetAction(r => r.GetValue(watch)
            ? Watch(r.GetValue(socket)!, r.GetValue(interval), r.GetValue(count), r.GetValue(json), r.Out(), r.Err())
            : Show("stats", r.GetValue(socket)!, r.GetValue(json), r.Out(), r.Err()));
        return command;
    }

    private static int Watch(string socketPath, double interval, long count, bool json, TextWriter output, TextWriter error)
    {
        try
        {
            using var client = ControlClient.Connect(socketPath);
            return StatsWatch.Run(client, interval, count, json, output, error);
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun stats: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    public static int Show(string what, string socketPath, bool json, TextWriter output, TextWriter error, JsonObject? request = null)
    {
        try
        {
            using var client = ControlClient.Connect(socketPath);
            var data = client.Request(request ?? new JsonObject { ["cmd"] = "show", ["what"] = what });
            if (json)
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
            error.WriteLine($"fasttun show {what}: {e.Message}");
            return CommandLine.ExitError;
        }
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
            "SEQ-RX", "LOST", "REORD", "DUP", "OUT-WIN", "RESYNC", "LOSS", "KEEPALIVE", "KA-RTT(LAST/AVG)");
        foreach (var x in data["tunnels"]!.AsArray())
        {
            string key = x!["inputKey"] is null && x["outputKey"] is null ? "-"
                : S(x["inputKey"]) == S(x["outputKey"]) ? S(x["inputKey"]) : $"i{S(x["inputKey"])}/o{S(x["outputKey"])}";
            t.Add(S(x["name"]), S(x["mode"]), S(x["local"]), S(x["remote"]), string.Join(",", x["addresses"]!.AsArray().Select(S)),
                S(x["mtu"]), S(x["ttl"]), S(x["tos"]), key, x["pmtuDiscovery"]!.GetValue<bool>() ? "on" : "off",
                S(x["encapPackets"]), S(x["encapBytes"]), S(x["decapPackets"]), S(x["decapBytes"]),
                S(x["sequence"]?["received"]), S(x["sequence"]?["lost"]), S(x["sequence"]?["reordered"]),
                S(x["sequence"]?["duplicates"]), S(x["sequence"]?["outOfWindow"]), S(x["sequence"]?["resyncs"]),
                x["sequence"]?["lossRate"] is { } rate ? ((double)rate).ToString("0.####%", System.Globalization.CultureInfo.InvariantCulture) : "-",
                Control.KeepaliveViews.Columns(x["keepalive"]).State, Control.KeepaliveViews.Columns(x["keepalive"]).Rtt); // keepalive hook
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
