using FastTun.Packets.Headers;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Config;

/// <summary>
/// The commit checks: turns a <see cref="ConfigDraft"/> into a <see cref="GatewayConfig"/>, adding every
/// error it finds (it does not stop at the first). Where VyOS 1.2 (vyatta-cfg-system, crux branch) or
/// <c>ip tunnel</c> has a rule, this follows it:
/// <list type="bullet">
/// <item>a tunnel needs an encapsulation and a local-ip ("Must configure ..."); remote-ip too, since FastTun
///   has no multipoint GRE; key (and FastTun's ikey/okey/checksum/sequence) only with gre.</item>
/// <item>defaults as VyOS 1.2 creates the tunnel: <c>ttl 255</c>, <c>tos inherit</c> (VyOS bug #467 made
///   inherit the default in 2015), PMTU discovery on; <c>nopmtudisc</c> needs ttl inherit, as ip tunnel insists.</item>
/// <item>a local-ip that is none of the gateway's addresses is a warning, as in VyOS ("Warning! IP address ...
///   does not exist on this system") and the kernel, which both accept it.</item>
/// <item>tunnel MTU: underlay MTU less the overhead (1480 ipip, 1476 gre, 4 less per GRE output option);
///   an explicit MTU must lie in 68..65535-overhead (the kernel's range); above underlay-overhead is a warning.</item>
/// <item>a static route's next-hop must lie in a connected subnet; the route leaves by that interface or tunnel.</item>
/// </list>
/// </summary>
internal sealed partial class ConfigValidator
{
    /// <summary>The TTL VyOS 1.2 passes to ip tunnel when parameters ip ttl is unset.</summary>
    public const byte DefaultTtl = 255;
    /// <summary>The TOS VyOS 1.2 passes when parameters ip tos is unset.</summary>
    public static readonly TunnelTos DefaultTos = TunnelTos.Inherited;
    /// <summary>The MTU assumed for an ethernet without mtu: the kernel's Ethernet default.</summary>
    public const int DefaultEthernetMtu = 1500;
    private const int MaxPacketSize = 65535;
    private const int MinIpv4Mtu = 68;

    private readonly string _source;
    private readonly ILogger _logger;
    private readonly List<ConfigDiagnostic> _errors;
    private readonly List<ConfigDiagnostic> _warnings = [];
    private readonly HashSet<string> _tunnelNames = new(StringComparer.Ordinal);

    private ConfigValidator(string source, ILogger logger, List<ConfigDiagnostic> errors)
    {
        _source = source;
        _logger = logger;
        _errors = errors;
    }

    /// <summary>Returns the configuration, or null when errors were added.</summary>
    public static GatewayConfig? Validate(ConfigDraft draft, string source, ILogger logger, List<ConfigDiagnostic> errors)
    {
        var v = new ConfigValidator(source, logger, errors);
        int before = errors.Count;
        var interfaces = v.Interfaces(draft);
        v.CheckAddresses(draft);
        var connected = Connected(draft);
        var routes = v.Routes(draft, connected);
        var tunnels = v.Tunnels(draft, interfaces, connected, routes);
        var neighbors = v.Neighbors(draft, interfaces);
        string? controlSocket = v.ControlSocket(draft);
        if (errors.Count > before) return null;
        return new GatewayConfig(source, interfaces, tunnels, routes, neighbors,
            draft.Workers.IsSet ? draft.Workers.Value : null, controlSocket, draft.IgnoredLines, [.. v._warnings])
        {
            UnknownTunnelUnreachable = !draft.UnknownTunnelUnreachable.IsSet || draft.UnknownTunnelUnreachable.Value,
        };
    }

    private ImmutableArray<EthernetInterface> Interfaces(ConfigDraft draft)
    {
        foreach (var port in draft.Ports)
            if (!draft.Ethernets.Exists(e => e.Name == port.Name))
                Error(port.FirstLine, $"fasttun interface {port.Name}: there is no 'interfaces ethernet {port.Name}'");
        var result = ImmutableArray.CreateBuilder<EthernetInterface>();
        foreach (var e in draft.Ethernets)
        {
            if (e.Addresses.Count == 0)
                Warn(e.FirstLine, $"ethernet {e.Name} has no address: FastTun will own it, but nothing can be routed through it");
            var port = draft.Ports.Find(p => p.Name == e.Name);
            result.Add(new EthernetInterface(
                e.Name,
                [.. e.Addresses.Select(a => a.Address)],
                e.Mtu.IsSet ? e.Mtu.Value : DefaultEthernetMtu,
                e.Mtu.IsSet,
                port is { Driver.IsSet: true } ? port.Driver.Value : PortDriver.AfPacket,
                port is { Queues.IsSet: true } ? port.Queues.Value : 1,
                e.Description.IsSet ? e.Description.Value : null,
                e.HwId.IsSet ? e.HwId.Value : null));
        }
        return result.ToImmutable();
    }

    /// <summary>Each address must be a usable host address, held by one interface, on a subnet no other interface has.</summary>
    private void CheckAddresses(ConfigDraft draft)
    {
        var all = new List<(string Interface, InterfaceAddress Address, int Line)>();
        foreach (var e in draft.Ethernets) all.AddRange(e.Addresses.Select(a => (e.Name, a.Address, a.Line)));
        foreach (var t in draft.Tunnels) all.AddRange(t.Addresses.Select(a => (t.Name, a.Address, a.Line)));
        for (int i = 0; i < all.Count; i++)
        {
            var (name, a, line) = all[i];
            uint first = a.Address >> 24;
            if (first == 0 || first == 127 || first >= 224)
                Error(line, $"{name}: address {a} is not a usable unicast address");
            else if (a.PrefixLength <= 30 && (a.Address == a.Network || a.Address == (a.Network | ~ConfigIpv4.Mask(a.PrefixLength))))
                Error(line, $"{name}: address {a} is the {(a.Address == a.Network ? "network" : "broadcast")} address of its subnet");
            for (int j = 0; j < i; j++)
            {
                var (otherName, b, otherLine) = all[j];
                if (a.Address == b.Address)
                    Error(line, $"{name}: address {Ipv4Address.Format(a.Address)} is already on {otherName} (line {otherLine})");
                else if (a.Network == b.Network && a.PrefixLength == b.PrefixLength && name != otherName)
                    Error(line, $"{name}: subnet {ConfigIpv4.FormatPrefix(a.Network, a.PrefixLength)} is already connected on {otherName} (line {otherLine})");
                else if (name != otherName && (b.Contains(a.Address) || a.Contains(b.Address)))
                    Warn(line, $"{name}: subnet {ConfigIpv4.FormatPrefix(a.Network, a.PrefixLength)} overlaps {ConfigIpv4.FormatPrefix(b.Network, b.PrefixLength)} on {otherName} (line {otherLine}); the longer prefix wins");
            }
        }
    }

    private static List<ConnectedRoute> Connected(ConfigDraft draft)
    {
        var list = new List<ConnectedRoute>();
        foreach (var e in draft.Ethernets)
            list.AddRange(e.Addresses.Select(a => new ConnectedRoute(a.Address.Network, a.Address.PrefixLength, a.Address.Address, e.Name)));
        foreach (var t in draft.Tunnels)
            list.AddRange(t.Addresses.Select(a => new ConnectedRoute(a.Address.Network, a.Address.PrefixLength, a.Address.Address, t.Name)));
        return list;
    }

    /// <summary>The longest connected subnet that holds <paramref name="address"/>, or null.</summary>
    private static ConnectedRoute? ConnectedFor(List<ConnectedRoute> connected, uint address)
    {
        ConnectedRoute? best = null;
        foreach (var c in connected)
            if (ConfigIpv4.Contains(c.Prefix, c.PrefixLength, address) && (best is null || c.PrefixLength > best.PrefixLength))
                best = c;
        return best;
    }

    private ImmutableArray<StaticRoute> Routes(ConfigDraft draft, List<ConnectedRoute> connected)
    {
        var result = ImmutableArray.CreateBuilder<StaticRoute>();
        foreach (var r in draft.Routes)
        {
            string prefix = ConfigIpv4.FormatPrefix(r.Prefix, r.Length);
            if ((r.Prefix & ~ConfigIpv4.Mask(r.Length)) != 0)
            {
                Error(r.FirstLine, $"route {prefix}: host bits are set; did you mean {ConfigIpv4.FormatPrefix(r.Prefix & ConfigIpv4.Mask(r.Length), r.Length)}?");
                continue;
            }
            if (r.NextHops.Count == 0)
            {
                Error(r.FirstLine, $"route {prefix} has no next-hop");
                continue;
            }
            var usable = new List<StaticRoute>();
            foreach (var h in r.NextHops)
            {
                string hop = Ipv4Address.Format(h.Address);
                if (connected.Exists(c => c.Source == h.Address))
                {
                    Error(h.FirstLine, $"route {prefix}: next-hop {hop} is one of this gateway's own addresses");
                    continue;
                }
                var via = ConnectedFor(connected, h.Address);
                if (via is null)
                {
                    Error(h.FirstLine, $"route {prefix}: next-hop {hop} is not on any connected subnet (an interface or tunnel address)");
                    continue;
                }
                usable.Add(new StaticRoute(r.Prefix, r.Length, h.Address, h.Distance.IsSet ? h.Distance.Value : 1, via.Interface));
            }
            if (usable.Count == 0) continue;
            var shadow = connected.Find(c => c.Prefix == r.Prefix && c.PrefixLength == r.Length);
            if (shadow is not null)
            {
                Warn(r.FirstLine, $"route {prefix} is not installed: it is the connected subnet of {shadow.Interface}, and the connected route wins, as in the kernel");
                continue;
            }
            usable.Sort((a, b) => a.Distance.CompareTo(b.Distance));
            if (usable.Count > 1 && usable[1].Distance == usable[0].Distance)
            {
                Error(r.FirstLine, $"route {prefix}: next-hops {Ipv4Address.Format(usable[0].NextHop)} and {Ipv4Address.Format(usable[1].NextHop)} have the same distance {usable[0].Distance}; FastTun does not do ECMP");
                continue;
            }
            for (int i = 1; i < usable.Count; i++)
                Warn(r.FirstLine, $"route {prefix}: next-hop {Ipv4Address.Format(usable[i].NextHop)} (distance {usable[i].Distance}) is not installed; {Ipv4Address.Format(usable[0].NextHop)} (distance {usable[0].Distance}) is preferred");
            result.Add(usable[0]);
        }
        return result.ToImmutable();
    }

    private string? ControlSocket(ConfigDraft draft)
    {
        if (!draft.ControlSocket.IsSet) return null;
        string path = draft.ControlSocket.Value;
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        if (path.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(path) > 107 || path.Contains('\0'))
            Error(draft.ControlSocket.Line, $"control-socket '{path}' must be a path of 1 to 107 bytes");
        return path;
    }

    internal void Error(int line, string message) => _errors.Add(new ConfigDiagnostic(_source, line, message));

    internal void Warn(int line, string message)
    {
        var w = new ConfigDiagnostic(_source, line, message);
        _warnings.Add(w);
        _logger.LogWarning("{Warning}", w.ToString());
    }
}
