using System.CommandLine;
using System.Globalization;
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

    /// <summary>The show command with all its subcommands, or, when <paramref name="only"/> names one of them, with
    /// that one alone (what <c>fasttun show stats</c> needs: its siblings' options cost start-up time).</summary>
    public static Command Build(string? only = null)
    {
        var show = new Command("show", "ask the running gateway and print aligned tables, or its JSON with --json");
        bool all = only is not ("interfaces" or "tunnels" or "routes" or "neighbors" or "neighbours" or "stats");
        if (all || only == "interfaces")
            show.Subcommands.Add(What("interfaces", "ports: driver, queues, MAC, MTU, addresses, packet and byte counters"));
        if (all || only == "tunnels") show.Subcommands.Add(BuildTunnels());
        if (all || only == "routes") show.Subcommands.Add(What("routes", "the route table, and the runtime changes kept across reloads"));
        if (all || only is "neighbors" or "neighbours")
        {
            var neighbors = What("neighbors", "the neighbor (ARP) table");
            neighbors.Aliases.Add("neighbours");
            show.Subcommands.Add(neighbors);
        }
        if (all || only == "stats") show.Subcommands.Add(BuildStats("stats"));
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
            var request = new System.Text.StringBuilder("{\"cmd\":\"show\",\"what\":\"tunnels\"");
            void Add(string key, string value) => request.Append(",\"").Append(key).Append("\":").Append(value);
            if (r.GetValue(name) is { } n) Add("name", AnswerJson.Quote(n));
            if (r.GetValue(remote) is { } rem) Add("remote", AnswerJson.Quote(rem));
            if (r.GetValue(local) is { } loc) Add("local", AnswerJson.Quote(loc));
            if (r.GetValue(mode) is { } m) Add("mode", AnswerJson.Quote(m));
            if (r.GetResult(offset) is { Implicit: false }) Add("offset", r.GetValue(offset).ToString(CultureInfo.InvariantCulture));
            if (r.GetResult(limit) is { Implicit: false } && r.GetValue(limit) > 0) Add("limit", r.GetValue(limit).ToString(CultureInfo.InvariantCulture));
            return Show("tunnels", r.GetValue(socket)!, r.GetValue(json), r.Out(), r.Err(), request.Append('}').ToString());
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
        var watch = new Option<bool>("--watch", "-w") { Description = "refresh pps/bps rates every interval until Ctrl-C or SIGTERM" };
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

    /// <summary>Asks the gateway (<paramref name="request"/>: JSON text, default <c>{"cmd":"show","what":WHAT}</c>) and prints
    /// a table, or the answer's data as indented JSON. The table path reads the answer with <see cref="AnswerJson"/>, not
    /// System.Text.Json: that keeps <c>fasttun show stats</c> about 10 ms of CPU shorter (RESULTS, startup section).</summary>
    public static int Show(string what, string socketPath, bool json, TextWriter output, TextWriter error, string? request = null)
    {
        request ??= $"{{\"cmd\":\"show\",\"what\":{AnswerJson.Quote(what)}}}";
        try
        {
            using var client = ControlClient.Connect(socketPath);
            if (json)
            {
                output.WriteLine(JsonAnswer(client, request)?.ToJsonString(Indented) ?? "null");
                return CommandLine.ExitOk;
            }
            var data = client.Ask(request);
            if (data is not { Kind: AnswerNode.NodeKind.Object }) throw new ControlClientException("the gateway answered without data");
            switch (what)
            {
                case "interfaces": Interfaces(data, output); break;
                case "tunnels": Tunnels(data, output); break;
                case "routes": Routes(data, output); break;
                case "neighbors": Neighbors(data, output); break;
                default: Stats(data, output); break;
            }
            return CommandLine.ExitOk;
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun show {what}: {e.Message}");
            return CommandLine.ExitError;
        }
        catch (FormatException e) // a member of the wrong type in the answer
        {
            error.WriteLine($"fasttun show {what}: unreadable answer: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    private static JsonNode? JsonAnswer(ControlClient client, string request)
    {
        string line = client.RequestLine(System.Text.Encoding.UTF8.GetBytes(request + "\n"));
        JsonObject answer;
        try { answer = JsonNode.Parse(line) as JsonObject ?? throw new ControlClientException($"unreadable answer: {line}"); }
        catch (JsonException) { throw new ControlClientException($"unreadable answer: {line}"); }
        if (answer["ok"] is JsonValue ok && ok.TryGetValue(out bool yes) && yes) return answer["data"];
        throw new ControlClientException(answer["error"] is JsonValue why && why.TryGetValue(out string? text) ? text
            : "the gateway answered without ok or error");
    }

    private static string S(AnswerNode? n) => n?.ToString() ?? "-";

    /// <summary>An array member's items; a missing or null member is an empty list.</summary>
    private static IReadOnlyList<AnswerNode?> Items(AnswerNode? n) => n?.Items ?? [];

    public static void Interfaces(AnswerNode data, TextWriter output)
    {
        var t = new TableWriter("NAME", "DRIVER", "QUEUES", "MAC", "MTU", "ADDRESSES", "RX-PKTS", "RX-BYTES", "TX-PKTS", "TX-BYTES", "RX-DROP", "TX-DROP");
        foreach (var i in Items(data["interfaces"]))
            t.Add(S(i!["name"]), S(i["driver"]), S(i["queues"]), S(i["mac"]), S(i["mtu"]),
                string.Join(",", Items(i["addresses"]).Select(S)), S(i["rxPackets"]), S(i["rxBytes"]),
                S(i["txPackets"]), S(i["txBytes"]), S(i["rxDropped"]), S(i["txDropped"]));
        t.Write(output);
    }

    public static void Tunnels(AnswerNode data, TextWriter output)
    {
        var t = new TableWriter("NAME", "MODE", "LOCAL", "REMOTE", "ADDRESS", "MTU", "TTL", "TOS", "KEY", "PMTUD", "ENCAP-PKTS", "ENCAP-BYTES", "DECAP-PKTS", "DECAP-BYTES",
            "SEQ-RX", "LOST", "REORD", "DUP", "OUT-WIN", "RESYNC", "LOSS", "KEEPALIVE", "KA-RTT(LAST/AVG)");
        foreach (var x in Items(data["tunnels"]))
        {
            string key = x!["inputKey"] is null && x["outputKey"] is null ? "-"
                : S(x["inputKey"]) == S(x["outputKey"]) ? S(x["inputKey"]) : $"i{S(x["inputKey"])}/o{S(x["outputKey"])}";
            t.Add(S(x["name"]), S(x["mode"]), S(x["local"]), S(x["remote"]), string.Join(",", Items(x["addresses"]).Select(S)),
                S(x["mtu"]), S(x["ttl"]), S(x["tos"]), key, x["pmtuDiscovery"]?.GetBool() == true ? "on" : "off",
                S(x["encapPackets"]), S(x["encapBytes"]), S(x["decapPackets"]), S(x["decapBytes"]),
                S(x["sequence"]?["received"]), S(x["sequence"]?["lost"]), S(x["sequence"]?["reordered"]),
                S(x["sequence"]?["duplicates"]), S(x["sequence"]?["outOfWindow"]), S(x["sequence"]?["resyncs"]),
                x["sequence"]?["lossRate"] is { } rate ? rate.GetDouble().ToString("0.####%", System.Globalization.CultureInfo.InvariantCulture) : "-",
                KeepaliveColumns(x["keepalive"]).State, KeepaliveColumns(x["keepalive"]).Rtt); // keepalive hook
        }
        t.Write(output);
        if (data["matched"] is { } matched && data["total"] is { } total)
        {
            long shown = Items(data["tunnels"]).Count, offset = data["offset"]?.GetLong() ?? 0;
            if (shown != total.GetLong())
                output.WriteLine(shown == 0 ? $"no tunnels shown: {S(matched)} of {S(total)} match"
                    : $"tunnels {offset + 1}-{offset + shown} of {S(matched)} matching ({S(total)} in all)");
        }
    }

    /// <summary>The keepalive columns (KeepaliveViews.Columns, which reads a JsonNode): the tunnel's keepalive object is
    /// converted only when it has a state to show, so tunnels without keepalive never load System.Text.Json.</summary>
    private static (string State, string Rtt) KeepaliveColumns(AnswerNode? keepalive) =>
        keepalive?["state"]?.ToString() is "up" or "down" ? Control.KeepaliveViews.Columns(AnswerJson.ToJsonNode(keepalive)) : ("-", "-");

    public static void Routes(AnswerNode data, TextWriter output)
    {
        var t = new TableWriter("PREFIX", "VIA", "DEV", "KIND", "ORIGIN");
        foreach (var r in Items(data["routes"]))
            t.Add(S(r!["prefix"]), S(r["via"]), S(r["dev"]), S(r["kind"]), S(r["origin"]));
        t.Write(output);
        var changes = Items(data["runtimeChanges"]);
        if (changes.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("runtime changes (kept across reloads until restart):");
            foreach (var c in changes) output.WriteLine($"  {S(c)}");
        }
    }

    public static void Neighbors(AnswerNode data, TextWriter output)
    {
        var t = new TableWriter("IP", "DEV", "MAC", "STATE", "AGE");
        foreach (var n in Items(data["neighbors"]))
            t.Add(S(n!["ip"]), S(n["dev"]), S(n["mac"]), S(n["state"]), $"{S(n["ageSeconds"])}s");
        t.Write(output);
    }

    public static void Stats(AnswerNode data, TextWriter output)
    {
        output.WriteLine($"uptime {S(data["uptimeSeconds"])}s");
        output.WriteLine();
        var i = new TableWriter("INTERFACE", "RX-PKTS", "RX-BYTES", "TX-PKTS", "TX-BYTES", "RX-DROP", "TX-DROP");
        foreach (var x in Items(data["interfaces"]))
            i.Add(S(x!["name"]), S(x["rxPackets"]), S(x["rxBytes"]), S(x["txPackets"]), S(x["txBytes"]), S(x["rxDropped"]), S(x["txDropped"]));
        i.Write(output);
        output.WriteLine();
        var t = new TableWriter("TUNNEL", "ENCAP-PKTS", "ENCAP-BYTES", "DECAP-PKTS", "DECAP-BYTES");
        foreach (var x in Items(data["tunnels"]))
            t.Add(S(x!["name"]), S(x["encapPackets"]), S(x["encapBytes"]), S(x["decapPackets"]), S(x["decapBytes"]));
        t.Write(output);
        output.WriteLine();
        var d = new TableWriter("DROP-REASON", "PACKETS");
        foreach (var (reason, value) in data["drops"]?.Members ?? [])
            if (value is not null && value.GetLong() != 0) d.Add(reason, S(value));
        if (d.Count == 0) output.WriteLine("no drops");
        else d.Write(output);
        output.WriteLine();
        var w = new TableWriter("WORKER", "BATCHES", "PACKETS", "FORWARDED", "DROPS", "BUSY");
        foreach (var x in Items(data["workers"]))
            w.Add(S(x!["index"]), S(x["batches"]), S(x["packets"]), S(x["forwarded"]), S(x["drops"]),
                $"{(x["busyRatio"]?.GetDouble() ?? 0) * 100:0.00}%");
        w.Write(output);
        if (data["capture"] is { Kind: AnswerNode.NodeKind.Object } c && c["sessions"]?.GetLong() > 0)
        {
            output.WriteLine();
            output.WriteLine($"capture: {(c["active"]?.GetBool() == true ? "running" : "idle")}, last {S(c["lastCaptured"])} captured, {S(c["lastLost"])} lost");
        }
    }
}
