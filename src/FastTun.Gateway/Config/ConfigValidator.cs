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
/// <item>a static route's next-hop must lie in a connected subnet; the route leaves by that interface or tunnel.
///   The lowest distance among a prefix's next-hops, next-hop-interfaces and blackhole is installed; several
///   paths at that distance are ECMP; a blackhole cannot share its distance with a path.</item>
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
    private readonly HashSet<string> _draftTunnels = new(StringComparer.Ordinal);

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
        foreach (var t in draft.Tunnels) v._draftTunnels.Add(t.Name);
        int before = errors.Count;
        var interfaces = v.Interfaces(draft);
        v.CheckAddresses(draft);
        var connected = Connected(draft);
        var standby = ImmutableArray.CreateBuilder<StaticRoute>();
        var routes = v.Routes(draft, connected, standby);
        var tunnels = v.Tunnels(draft, interfaces, connected, routes);
        var neighbors = v.Neighbors(draft, interfaces);
        string? controlSocket = v.ControlSocket(draft);
        if (errors.Count > before) return null;
        return new GatewayConfig(source, interfaces, tunnels, routes, neighbors,
            draft.Workers.IsSet ? draft.Workers.Value : null, controlSocket, draft.IgnoredLines, [.. v._warnings])
        {
            RpFilter = draft.RpFilter.IsSet ? draft.RpFilter.Value : Packets.Datapath.RpFilterMode.Loose,
            User = draft.User.IsSet ? draft.User.Value : null,
            UnknownTunnelUnreachable = !draft.UnknownTunnelUnreachable.IsSet || draft.UnknownTunnelUnreachable.Value,
            StandbyRoutes = standby.ToImmutable(),
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
            else if (a.HasPeer && (a.Peer >> 24 is 0 or 127 or >= 224))
                Error(line, $"{name}: peer {Ipv4Address.Format(a.Peer)} is not a usable unicast address");
            else if (!a.HasPeer && a.PrefixLength <= 30 && (a.Address == a.Network || a.Address == (a.Network | ~ConfigIpv4.Mask(a.PrefixLength))))
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

    private ImmutableArray<StaticRoute> Routes(ConfigDraft draft, List<ConnectedRoute> connected, ImmutableArray<StaticRoute>.Builder standby)
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
            if (r.MaskedFrom is not null)
                Warn(r.FirstLine, $"route {r.MaskedFrom}: host bits are set; the kernel refuses this (\"Invalid prefix for given prefix length\"), FastTun installs {prefix}");
            if (r.NextHops.Count == 0 && r.Interfaces.Count == 0 && r.BlackholeLine == 0)
            {
                Error(r.FirstLine, $"route {prefix} has no next-hop");
                continue;
            }
            // Every candidate with its distance; a blackhole is a candidate without a path.
            var candidates = new List<(RoutePath? Path, int Distance, int Line, string Text)>();
            foreach (var h in r.NextHops)
            {
                var path = GatewayPath(prefix, h, connected);
                if (path is { } p) candidates.Add((p, h.Distance.IsSet ? h.Distance.Value : 1, h.FirstLine, $"next-hop {Ipv4Address.Format(h.Address)}"));
            }
            foreach (var h in r.Interfaces)
            {
                if (!draft.Ethernets.Exists(e => e.Name == h.Name) && !draft.Tunnels.Exists(t => t.Name == h.Name))
                {
                    Error(h.FirstLine, $"route {prefix}: next-hop-interface {h.Name} is neither an ethernet interface nor a tunnel");
                    continue;
                }
                candidates.Add((new RoutePath(0, h.Name), h.Distance.IsSet ? h.Distance.Value : 1, h.FirstLine, $"next-hop-interface {h.Name}"));
            }
            if (r.BlackholeLine != 0)
                candidates.Add((null, r.BlackholeDistance.IsSet ? r.BlackholeDistance.Value : 1, r.BlackholeLine, "blackhole"));
            if (candidates.Count == 0) continue;
            var shadow = connected.Find(c => c.Prefix == r.Prefix && c.PrefixLength == r.Length);
            if (shadow is not null)
            {
                Warn(r.FirstLine, $"route {prefix} is not installed: it is the connected subnet of {shadow.Interface}, and the connected route wins, as in the kernel");
                continue;
            }
            int best = candidates.Min(c => c.Distance);
            var installed = candidates.Where(c => c.Distance == best).ToList();
            var hole = installed.Find(c => c.Path is null);
            if (hole.Text is not null && installed.Count > 1)
            {
                var other = installed.First(c => c.Path is not null);
                Error(hole.Line, $"route {prefix}: blackhole and {other.Text} have the same distance {best}; a route is either a blackhole or has next-hops, so give one a higher distance");
                continue;
            }
            // A floating route matters when keepalive can withdraw the preferred paths: say so, and through which tunnels.
            var watched = installed.Where(c => c.Path is { } p && draft.Tunnels.Exists(t => t.Name == p.Interface && t.Keepalive.IsSet))
                .Select(c => c.Path!.Value.Interface).Distinct().ToList();
            string standbyNote = watched.Count == 0 ? "" : $"; it takes over while keepalive holds {string.Join(" and ", watched)} down";
            foreach (var c in candidates.Where(c => c.Distance != best))
                Warn(c.Line, $"route {prefix}: {c.Text} (distance {c.Distance}) is not installed; distance {best} is preferred{standbyNote}");
            result.Add(hole.Text is not null
                ? new StaticRoute(r.Prefix, r.Length, [], best, Blackhole: true)
                : new StaticRoute(r.Prefix, r.Length, [.. installed.Select(c => c.Path!.Value)], best));
            // Floating static routes: every higher distance, grouped, for when keepalive withdraws the preferred paths.
            foreach (var group in candidates.Where(c => c.Distance != best).GroupBy(c => c.Distance).OrderBy(g => g.Key))
            {
                var paths = group.Where(c => c.Path is not null).Select(c => c.Path!.Value).ToList();
                standby.Add(paths.Count == 0
                    ? new StaticRoute(r.Prefix, r.Length, [], group.Key, Blackhole: true)
                    : new StaticRoute(r.Prefix, r.Length, [.. paths], group.Key));
            }
        }
        return result.ToImmutable();
    }

    /// <summary>The path of a gateway next-hop: out of the interface or tunnel whose connected subnet holds it.</summary>
    private RoutePath? GatewayPath(string prefix, NextHopDraft h, List<ConnectedRoute> connected)
    {
        string hop = Ipv4Address.Format(h.Address);
        var own = connected.Find(c => c.Source == h.Address);
        if (own is not null)
        {
            // iproute2: "via" one of our own tunnel addresses is a route into that tunnel (the kernel resolves the
            // gateway to the device holding it, and a tunnel is point-to-point).
            if (h.OwnTunnelAddressMeansTunnel && _draftTunnels.Contains(own.Interface)) return new RoutePath(0, own.Interface);
            Error(h.FirstLine, $"route {prefix}: next-hop {hop} is one of this gateway's own addresses");
            return null;
        }
        var via = ConnectedFor(connected, h.Address);
        if (via is null)
        {
            Error(h.FirstLine, $"route {prefix}: next-hop {hop} is not on any connected subnet (an interface or tunnel address)");
            return null;
        }
        if (h.Dev.IsSet && h.Dev.Value != via.Interface)
        {
            Error(h.Dev.Line, $"route {prefix}: next-hop {hop} is on {via.Interface}, not on dev {h.Dev.Value} (the kernel: \"Nexthop has invalid gateway\")");
            return null;
        }
        return new RoutePath(h.Address, via.Interface);
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
