using System.Text.Json;
using System.Text.Json.Nodes;
using FastTun.Gateway.Config;
using FastTun.Packets.Headers;

namespace FastTun.Gateway.Cli;

/// <summary><c>fasttun check --json</c>: the same facts as the text report, as one JSON document.</summary>
public static class CheckJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Valid(GatewayConfig config)
    {
        var interfaces = new JsonArray();
        foreach (var e in config.Interfaces)
            interfaces.Add(new JsonObject
            {
                ["name"] = e.Name,
                ["addresses"] = Strings(e.Addresses.Select(a => a.ToString())),
                ["mtu"] = e.Mtu,
                ["mtuConfigured"] = e.MtuConfigured,
                ["driver"] = e.Driver == PortDriver.AfXdp ? "af_xdp" : "af_packet",
                ["queues"] = e.Queues,
            });
        var tunnels = new JsonArray();
        foreach (var t in config.Tunnels)
            tunnels.Add(new JsonObject
            {
                ["name"] = t.Name,
                ["mode"] = t.Mode == TunnelMode.Ipip ? "ipip" : "gre",
                ["local"] = Ipv4Address.Format(t.Local),
                ["remote"] = Ipv4Address.Format(t.Remote),
                ["underlay"] = t.Underlay,
                ["underlayNextHop"] = Ipv4Address.Format(t.UnderlayNextHop),
                ["addresses"] = Strings(t.Addresses.Select(a => a.ToString())),
                ["mtu"] = t.Mtu,
                ["ttl"] = t.Ttl == 0 ? "inherit" : t.Ttl.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["tos"] = t.Tos.ToString(),
                ["pmtuDiscovery"] = t.PathMtuDiscovery,
                ["inputKey"] = t.InputKey,
                ["outputKey"] = t.OutputKey,
                ["inputChecksum"] = t.InputChecksum,
                ["outputChecksum"] = t.OutputChecksum,
                ["inputSequence"] = t.InputSequence,
                ["outputSequence"] = t.OutputSequence,
                ["keepalive"] = t.Keepalive is { } k ? new JsonObject { ["interval"] = k.IntervalSeconds, ["retries"] = k.Retries } : null, // keepalive hook
            });
        var routes = Strings(config.ConnectedRoutes.OrderBy(c => c.Prefix).Select(c => c.ToString())
            .Concat(config.StaticRoutes.OrderBy(r => r.Prefix).Select(r => $"{r} proto static distance {r.Distance}")));
        var neighbors = new JsonArray();
        foreach (var n in config.Neighbors)
            neighbors.Add(new JsonObject
            {
                ["ip"] = Ipv4Address.Format(n.Address),
                ["dev"] = n.Interface,
                ["mac"] = StaticNeighbor.FormatMac(n.Mac),
            });
        var doc = new JsonObject
        {
            ["source"] = config.Source,
            ["valid"] = true,
            ["interfaces"] = interfaces,
            ["tunnels"] = tunnels,
            ["routes"] = routes,
            ["standbyRoutes"] = Strings(config.StandbyRoutes.Select(r => $"{r} proto static distance {r.Distance}")), // keepalive hook: floating routes
            ["neighbors"] = neighbors,
            ["workers"] = config.Workers,
            ["controlSocket"] = config.ControlSocket,
            ["ignoredLines"] = config.IgnoredLines,
            ["warnings"] = Strings(config.Warnings.Select(w => w.ToString())),
        };
        return doc.ToJsonString(Indented);
    }

    public static string Invalid(string source, IReadOnlyList<ConfigDiagnostic> errors)
    {
        var list = new JsonArray();
        foreach (var e in errors) list.Add(new JsonObject { ["line"] = e.Line, ["message"] = e.Message });
        return new JsonObject { ["source"] = source, ["valid"] = false, ["errors"] = list }.ToJsonString(Indented);
    }

    private static JsonArray Strings(IEnumerable<string> items)
    {
        var a = new JsonArray();
        foreach (var s in items) a.Add(s);
        return a;
    }
}
