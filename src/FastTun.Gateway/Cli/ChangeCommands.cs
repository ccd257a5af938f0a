using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FastTun.Gateway.Cli;

/// <summary>
/// The commands that change a running gateway through its control socket:
/// <code>
/// fasttun route add|del PREFIX [via NEXTHOP]
/// fasttun neighbor add IP mac MAC [dev NAME]  |  fasttun neighbor del IP [dev NAME]
/// fasttun tunnel set NAME [ttl N|inherit] [tos XX|inherit] [key K] [pmtu-discovery on|off]
/// fasttun reload
/// </code>
/// Each prints one confirmation line (or the gateway's JSON answer with --json) and exits 0, or prints the
/// gateway's error and exits 1. Exit 2 is a usage error found before contacting the gateway.
/// </summary>
public static class ChangeCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private delegate string? RequestBuilder(List<string> words, out JsonObject request);

    public static IEnumerable<Command> Build()
    {
        yield return Change("route", "add|del", "add PREFIX via NEXTHOP | del PREFIX: add or delete a route on the running gateway", RouteRequest);
        var neighbor = Change("neighbor", "add|del", "add IP mac MAC [dev NAME] | del IP [dev NAME]: add or delete a static neighbor", NeighborRequest);
        neighbor.Aliases.Add("neighbour");
        yield return neighbor;
        yield return Change("tunnel", "set", "set NAME [ttl N|inherit] [tos XX|inherit] [key K] [pmtu-discovery on|off]: change a " +
            "tunnel's parameters on the running gateway", TunnelRequest);
        yield return Change("reload", null, "re-read the configuration file (as SIGHUP); prints the error if refused", ReloadRequest);
    }

    private static Command Change(string name, string? words, string description, RequestBuilder build)
    {
        var socket = CliOptions.ControlSocket();
        var json = CliOptions.Json("print the gateway's JSON answer instead of the confirmation line");
        var command = new Command(name, description) { json, socket };
        Argument<string[]>? argument = null;
        if (words is not null)
        {
            argument = CliOptions.Words(words, description, w => build([.. w], out _));
            command.Arguments.Add(argument);
        }
        command.SetAction(r =>
        {
            List<string> w = argument is null ? [] : [.. r.GetValue(argument) ?? []];
            string? problem = build(w, out var request);
            if (problem is not null) // an argument-less command (reload) checks here; the others were checked while parsing
            {
                r.Err().WriteLine($"fasttun {name}: {problem}");
                return CommandLine.ExitUsage;
            }
            return Send(name, request, r.GetValue(socket)!, r.GetValue(json), r.Out(), r.Err());
        });
        return command;
    }

    private static int Send(string command, JsonObject request, string socketPath, bool json, TextWriter output, TextWriter error)
    {
        try
        {
            using var client = ControlClient.Connect(socketPath);
            var data = client.Request(request);
            if (json) output.WriteLine(data?.ToJsonString(Indented) ?? "null");
            else output.WriteLine(Confirm(request, data));
            return CommandLine.ExitOk;
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun {command}: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    private static string? RouteRequest(List<string> w, out JsonObject request)
    {
        request = new JsonObject { ["cmd"] = "route" };
        if (w.Count >= 2 && !IsPrefix(w[1])) return $"'{w[1]}' is not a prefix A.B.C.D/LEN";
        if (w.Count == 4 && w[2] == "via" && !FastTun.Packets.Headers.Ipv4Address.TryParse(w[3], out _)) return $"'{w[3]}' is not an IPv4 address";
        if (w.Count == 4 && w[0] == "add" && w[2] == "via")
        {
            request["op"] = "add";
            request["prefix"] = w[1];
            request["via"] = w[3];
            return null;
        }
        if (w.Count == 2 && w[0] is "del" or "delete")
        {
            request["op"] = "del";
            request["prefix"] = w[1];
            return null;
        }
        if (w.Count == 4 && w[0] is "del" or "delete" && w[2] == "via")
        {
            request["op"] = "del"; // 'via' on delete is accepted like ip route does, and ignored
            request["prefix"] = w[1];
            return null;
        }
        return "expected: route add PREFIX via NEXTHOP, or route del PREFIX";
    }

    private static string? NeighborRequest(List<string> w, out JsonObject request)
    {
        request = new JsonObject { ["cmd"] = "neighbor" };
        if (w.Count < 2 || w[0] is not ("add" or "del" or "delete")) return "expected: neighbor add IP mac MAC [dev NAME], or neighbor del IP [dev NAME]";
        if (!FastTun.Packets.Headers.Ipv4Address.TryParse(w[1], out _)) return $"'{w[1]}' is not an IPv4 address";
        request["op"] = w[0] == "add" ? "add" : "del";
        request["ip"] = w[1];
        for (int i = 2; i < w.Count; i += 2)
        {
            if (i + 1 >= w.Count) return $"'{w[i]}' needs a value";
            switch (w[i])
            {
                case "mac" or "lladdr" when w[0] == "add": request["mac"] = w[i + 1]; break;
                case "dev": request["dev"] = w[i + 1]; break;
                default: return $"unexpected '{w[i]}'";
            }
        }
        if (w[0] == "add" && request["mac"] is null) return "neighbor add needs mac MAC";
        return null;
    }

    private static bool IsPrefix(string text)
    {
        int slash = text.IndexOf('/');
        return slash > 0 && FastTun.Packets.Headers.Ipv4Address.TryParse(text.AsSpan(0, slash), out _)
            && int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int length)
            && length <= 32;
    }

    private static string? TunnelRequest(List<string> w, out JsonObject request)
    {
        request = new JsonObject { ["cmd"] = "tunnel" };
        if (w.Count < 4 || w[0] != "set") return "expected: tunnel set NAME ttl|tos|key|pmtu-discovery VALUE ...";
        request["op"] = "set";
        request["name"] = w[1];
        for (int i = 2; i < w.Count; i += 2)
        {
            if (i + 1 >= w.Count) return $"'{w[i]}' needs a value";
            if (w[i] is not ("ttl" or "tos" or "key" or "pmtu-discovery")) return $"unknown tunnel parameter '{w[i]}': ttl, tos, key, pmtu-discovery";
            request[w[i]] = w[i + 1];
        }
        return null;
    }

    private static string? ReloadRequest(List<string> w, out JsonObject request)
    {
        request = new JsonObject { ["cmd"] = "reload" };
        return w.Count == 0 ? null : $"reload takes no arguments, not '{w[0]}'";
    }

    private static string Confirm(JsonObject request, JsonNode? data) => (string)request["cmd"]! switch
    {
        "route" when (string)request["op"]! == "add" => $"route {data?["prefix"]} via {data?["via"]} added ({data?["kind"]})",
        "route" => $"route {data?["prefix"]} deleted",
        "neighbor" when (string)request["op"]! == "add" => $"neighbor {data?["ip"]} lladdr {data?["mac"]} dev {data?["dev"]} static",
        "neighbor" => $"neighbor {data?["ip"]} dev {data?["dev"]} deleted",
        "tunnel" => $"tunnel {data?["name"]}: ttl {data?["ttl"]} tos {data?["tos"]} key {data?["outputKey"]?.ToString() ?? "none"} pmtu-discovery {((bool?)data?["pmtuDiscovery"] == true ? "on" : "off")}",
        _ => $"reloaded {data?["config"]}: {data?["tunnels"]} tunnel(s), {data?["routes"]} route(s), {data?["runtimeChanges"]} runtime change(s) kept",
    };
}
