using Ipv4Address = FastTun.Packets.Headers.Ipv4Address;
using System.Globalization;
using System.Text.Json.Nodes;
using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Control;

/// <summary>
/// The control socket's commands against a running gateway. Requests carry values as the user typed them
/// (prefixes, addresses, "inherit"), so every client gets the same validation and error texts:
/// <code>
/// {"cmd":"show","what":"interfaces|tunnels|routes|neighbors|stats"}
/// {"cmd":"route","op":"add","prefix":"10.9.0.0/16","via":"1.1.1.2"}     {"cmd":"route","op":"del","prefix":"10.9.0.0/16"}
/// {"cmd":"neighbor","op":"add","ip":"10.1.5.20","mac":"02:00:00:00:00:01","dev":"eth1"}   (dev optional)
/// {"cmd":"neighbor","op":"del","ip":"10.1.5.20"}
/// {"cmd":"tunnel","op":"set","name":"tun0","ttl":"64|inherit","tos":"b8|inherit","key":"7","pmtu-discovery":"on|off"}
/// {"cmd":"reload"}     {"cmd":"version"}     {"cmd":"config","format":"set|boot|iproute2"}
/// {"cmd":"capture","point":"rx|tx|drop|decap|encap","iface":"eth1","count":10,"duration":5}
/// </code>
/// </summary>
public sealed class ControlHandler
{
    private readonly GatewayRuntime _runtime;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;

    public ControlHandler(GatewayRuntime runtime, ILoggerFactory loggers)
    {
        _runtime = runtime;
        _loggers = loggers;
        _logger = loggers.CreateLogger("control");
        Capture = new CaptureHub(runtime);
    }

    public CaptureHub Capture { get; }

    public ControlReply Handle(JsonObject request)
    {
        string cmd = Text(request, "cmd");
        return cmd switch
        {
            "show" => Reply(Show(Text(request, "what"))),
            "route" => Reply(Route(request)),
            "neighbor" => Reply(Neighbor(request)),
            "tunnel" => Reply(Tunnel(request)),
            "reload" => Reply(Reload()),
            "version" => Reply(new JsonObject { ["version"] = Cli.CommandLine.Version, ["pid"] = Environment.ProcessId, ["config"] = _runtime.ConfigPath }),
            "capture" => Capture.Start(request),
            "config" => Reply(RunningConfig(Text(request, "format"))),
            _ => throw new ArgumentException($"unknown command '{cmd}': show, route, neighbor, tunnel, reload, capture, config, version"),
        };
    }

    private static ControlReply Reply(JsonNode data) => new(ControlProtocol.Ok(data));

    /// <summary>The running configuration (the file plus runtime tunnel changes) printed in <paramref name="format"/>.</summary>
    private JsonObject RunningConfig(string format)
    {
        if (!ConfigFormats.TryParse(format, out var f)) throw new ArgumentException($"config format '{format}' is not one of set, boot, iproute2");
        return new JsonObject { ["format"] = ConfigFormats.Name(f), ["text"] = ConfigPrinter.Print(_runtime.Config, f) };
    }

    private JsonObject Show(string what) => what switch
    {
        "interfaces" => GatewayViews.Interfaces(_runtime),
        "tunnels" => GatewayViews.Tunnels(_runtime),
        "routes" => GatewayViews.Routes(_runtime),
        "neighbors" or "neighbours" => GatewayViews.Neighbors(_runtime),
        "stats" => GatewayViews.Stats(_runtime, Capture),
        _ => throw new ArgumentException($"show what? '{what}' is not one of interfaces, tunnels, routes, neighbors, stats"),
    };

    private JsonObject Route(JsonObject request)
    {
        string op = Text(request, "op");
        string prefixText = Text(request, "prefix");
        if (!ConfigIpv4.TryParsePrefix(prefixText, out uint prefix, out int length))
        {
            if (!Ipv4Address.TryParse(prefixText, out prefix)) throw new ArgumentException($"'{prefixText}' is not an IPv4 prefix (A.B.C.D/N)");
            length = 32;
        }
        switch (op)
        {
            case "add":
            {
                uint via = Address(request, "via");
                var r = _runtime.AddRoute(prefix, length, via);
                return new JsonObject { ["prefix"] = ConfigIpv4.FormatPrefix(prefix, length), ["via"] = Ipv4Address.Format(via), ["kind"] = r.Hop.Kind.ToString().ToLowerInvariant() };
            }
            case "del" or "delete":
                _runtime.DeleteRoute(prefix, length);
                return new JsonObject { ["prefix"] = ConfigIpv4.FormatPrefix(prefix, length) };
            default:
                throw new ArgumentException($"route {op}? use add or del");
        }
    }

    private JsonObject Neighbor(JsonObject request)
    {
        string op = Text(request, "op");
        uint ip = Address(request, "ip");
        string? dev = request["dev"]?.GetValue<string>();
        switch (op)
        {
            case "add":
            {
                string macText = Text(request, "mac");
                if (!NeighborEntry.TryParseMac(macText, out ulong mac) || mac == 0 || (mac >> 40 & 1) != 0)
                    throw new ArgumentException($"'{macText}' is not a unicast MAC address (aa:bb:cc:dd:ee:ff)");
                string name = _runtime.AddNeighbor(ip, mac, dev);
                return new JsonObject { ["ip"] = Ipv4Address.Format(ip), ["mac"] = NeighborEntry.FormatMac(mac), ["dev"] = name, ["state"] = "static" };
            }
            case "del" or "delete":
                return new JsonObject { ["ip"] = Ipv4Address.Format(ip), ["dev"] = _runtime.DeleteNeighbor(ip, dev) };
            default:
                throw new ArgumentException($"neighbor {op}? use add or del");
        }
    }

    private JsonObject Tunnel(JsonObject request)
    {
        string op = Text(request, "op");
        if (op != "set") throw new ArgumentException($"tunnel {op}? use set");
        string name = Text(request, "name");
        byte? ttl = null;
        TunnelTos? tos = null;
        uint? key = null;
        bool? pmtu = null;
        if (request["ttl"]?.GetValue<string>() is string t)
            ttl = t == "inherit" ? (byte)0
                : byte.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out byte v) && v > 0 ? v
                : throw new ArgumentException($"ttl must be 1-255 or inherit, not '{t}'");
        if (request["tos"]?.GetValue<string>() is string s)
        {
            if (s == "inherit") tos = TunnelTos.Inherited;
            else if (s.Length is 1 or 2 && byte.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                tos = (b & 1) != 0 ? throw new ArgumentException($"tos {s} has bit 0 set, which the kernel reads as inherit; write inherit") : TunnelTos.Fixed(b);
            else throw new ArgumentException($"tos must be 00-ff (hexadecimal, as ip tunnel reads it) or inherit, not '{s}'");
        }
        if (request["key"]?.GetValue<string>() is string k)
            key = uint.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out uint kv) ? kv : throw new ArgumentException($"key must be 0-4294967295, not '{k}'");
        if (request["pmtu-discovery"]?.GetValue<string>() is string p)
            pmtu = p switch { "on" or "enable" => true, "off" or "disable" => false, _ => throw new ArgumentException($"pmtu-discovery on|off, not '{p}'") };
        if (ttl is null && tos is null && key is null && pmtu is null)
            throw new ArgumentException("tunnel set NAME needs at least one of ttl, tos, key, pmtu-discovery");
        var tunnel = _runtime.SetTunnel(name, new TunnelChange(ttl, tos, key, pmtu));
        return new JsonObject
        {
            ["name"] = tunnel.Name,
            ["ttl"] = tunnel.Ttl == 0 ? "inherit" : tunnel.Ttl.ToString(CultureInfo.InvariantCulture),
            ["tos"] = tunnel.Tos.ToString(),
            ["inputKey"] = tunnel.InputKey,
            ["outputKey"] = tunnel.OutputKey,
            ["pmtuDiscovery"] = tunnel.PathMtuDiscovery,
        };
    }

    private JsonObject Reload()
    {
        try
        {
            _runtime.Reload(_loggers);
        }
        catch (ConfigException e)
        {
            _logger.LogError("reload refused, keeping the running configuration: {Errors}", string.Join("; ", e.Errors));
            throw new InvalidOperationException("reload refused, the running configuration stays: " + string.Join("; ", e.Errors));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or ArgumentException)
        {
            _logger.LogError("reload refused, keeping the running configuration: {Error}", e.Message);
            throw new InvalidOperationException("reload refused, the running configuration stays: " + e.Message);
        }
        var s = _runtime.State;
        return new JsonObject { ["config"] = _runtime.ConfigPath, ["tunnels"] = s.Tunnels.Length, ["routes"] = s.Routes.Count, ["runtimeChanges"] = _runtime.RuntimeChanges.Count };
    }

    private static string Text(JsonObject request, string field)
    {
        var node = request[field] ?? throw new ArgumentException($"request has no \"{field}\"");
        return node.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>()
            : throw new ArgumentException($"\"{field}\" must be a string");
    }

    private static uint Address(JsonObject request, string field)
    {
        string text = Text(request, field);
        return Ipv4Address.TryParse(text, out uint a) ? a : throw new ArgumentException($"'{text}' is not an IPv4 address");
    }
}
