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
    public const string UsageText = """
        usage: fasttun route add PREFIX via NEXTHOP | route del PREFIX
               fasttun neighbor add IP mac MAC [dev NAME] | neighbor del IP [dev NAME]
               fasttun tunnel set NAME [ttl N|inherit] [tos XX|inherit] [key K] [pmtu-discovery on|off]
               fasttun reload
               (all take --control-socket PATH and --json)
        """;
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static int Run(string command, ReadOnlySpan<string> args, TextWriter output, TextWriter error)
    {
        var parsed = ClientArgs.Parse(args, [], [], out string? problem);
        if (parsed is null) return Usage(error, command, problem!);
        JsonObject request;
        string? usage = command switch
        {
            "route" => RouteRequest(parsed.Words, out request),
            "neighbor" or "neighbour" => NeighborRequest(parsed.Words, out request),
            "tunnel" => TunnelRequest(parsed.Words, out request),
            "reload" => ReloadRequest(parsed.Words, out request),
            _ => throw new ArgumentOutOfRangeException(nameof(command)),
        };
        if (usage is not null) return Usage(error, command, usage);
        try
        {
            using var client = ControlClient.Connect(parsed.SocketPath);
            var data = client.Request(request);
            if (parsed.Json) output.WriteLine(data?.ToJsonString(Indented) ?? "null");
            else output.WriteLine(Confirm(request, data));
            return CommandLine.ExitOk;
        }
        catch (ControlClientException e)
        {
            error.WriteLine($"fasttun {command}: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    private static int Usage(TextWriter error, string command, string message)
    {
        error.WriteLine($"fasttun {command}: {message}");
        error.Write(UsageText);
        return CommandLine.ExitUsage;
    }

    private static string? RouteRequest(List<string> w, out JsonObject request)
    {
        request = new JsonObject { ["cmd"] = "route" };
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
