using Ipv4Address = FastTun.Packets.Headers.Ipv4Address;
using System.Collections.Immutable;
using FastTun.Gateway.Config;
using FastTun.Packets.Datapath;
using FastTun.Packets.Routing;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Dataplane;

/// <summary>New tunnel parameters from <c>fasttun tunnel set</c>; null fields keep their value.</summary>
/// <param name="Ttl">0 = inherit.</param>
/// <param name="Key">GRE only: sets the input and the output key.</param>
public sealed record TunnelChange(byte? Ttl = null, TunnelTos? Tos = null, uint? Key = null, bool? PmtuDiscovery = null)
{
    public TunnelChange Merge(TunnelChange later) => new(later.Ttl ?? Ttl, later.Tos ?? Tos, later.Key ?? Key, later.PmtuDiscovery ?? PmtuDiscovery);
}

/// <summary>
/// Live changes from the control socket. The rule: a runtime change overrides the configuration file until the
/// gateway restarts. The gateway keeps the last change per key (route prefix, neighbour, tunnel) and re-applies
/// them, in that order, on top of every rebuild of the state (SIGHUP or <c>fasttun reload</c>, <c>fasttun tunnel
/// set</c>) before the new state is published, so a reload never briefly forgets a runtime route. A change
/// that no longer fits the reloaded file (its next-hop left every connected subnet, its tunnel or interface
/// was removed) is dropped with a warning. A restart starts from the file alone.
///
/// All writers hold <c>_controlLock</c>: the LPM table has a single writer, and workers read it lock-free.
/// </summary>
public sealed partial class GatewayRuntime
{
    private readonly Dictionary<(uint Prefix, int Length), uint?> _routeChanges = new(); // via address; null = deleted
    private readonly Dictionary<(string Dev, uint Ip), ulong?> _neighborChanges = new(); // static MAC; null = deleted
    private readonly Dictionary<string, TunnelChange> _tunnelChanges = new(StringComparer.Ordinal);
    private Dictionary<(uint, int), InstalledRoute> _routes = new();
    private GatewayConfig _fileConfig = null!;

    /// <summary>The installed routes, sorted by prefix then length (a copy).</summary>
    public IReadOnlyList<InstalledRoute> Routes
    {
        get
        {
            lock (_controlLock)
                return _routes.Values.OrderBy(r => r.Prefix).ThenBy(r => r.Length).ToArray();
        }
    }

    /// <summary>The runtime changes in force, one line each, for <c>fasttun show routes --json</c> and the log.</summary>
    public IReadOnlyList<string> RuntimeChanges
    {
        get
        {
            lock (_controlLock)
            {
                var lines = new List<string>();
                foreach (var (k, via) in _routeChanges)
                    lines.Add(via is uint v ? $"route add {ConfigIpv4.FormatPrefix(k.Prefix, k.Length)} via {Ipv4Address.Format(v)}"
                        : $"route del {ConfigIpv4.FormatPrefix(k.Prefix, k.Length)}");
                foreach (var (k, mac) in _neighborChanges)
                    lines.Add(mac is ulong m ? $"neighbor add {Ipv4Address.Format(k.Ip)} mac {NeighborEntry.FormatMac(m)} dev {k.Dev}"
                        : $"neighbor del {Ipv4Address.Format(k.Ip)} dev {k.Dev}");
                foreach (var (name, c) in _tunnelChanges) lines.Add($"tunnel set {name} {Describe(c)}");
                return lines;
            }
        }
    }

    /// <summary><c>fasttun route add PREFIX via NEXTHOP</c>: adds or replaces a route, lock-free for workers.
    /// Returns the route as installed. Throws <see cref="InvalidOperationException"/> with the reason.</summary>
    public InstalledRoute AddRoute(uint prefix, int length, uint via)
    {
        CheckPrefix(prefix, length);
        lock (_controlLock)
        {
            if (IntoDownTunnel(State, Config, via))
            {
                // Keepalive holds that tunnel down: kept as a change, installed when the tunnel comes back.
                var hop = ResolveNextHop(State, Config, via);
                _routeChanges[(prefix, length)] = via;
                _logger.LogInformation("route add {Prefix} via {Via}: into a tunnel keepalive holds down; installed when it is up", ConfigIpv4.FormatPrefix(prefix, length), Ipv4Address.Format(via));
                return new InstalledRoute(prefix, length, hop, RouteOrigin.Runtime, via);
            }
            var route = InstallRoute(State, Config, prefix, length, via);
            State.RefreshAdjacencies(); // a tunnel's remote may route differently now
            _routeChanges[(prefix, length)] = via;
            _logger.LogInformation("route add {Prefix} via {Via}: {Hop}", ConfigIpv4.FormatPrefix(prefix, length), Ipv4Address.Format(via), route.Hop);
            return route;
        }
    }

    /// <summary><c>fasttun route del PREFIX</c>: removes a static or runtime route. Local and connected routes
    /// belong to the interfaces and are refused.</summary>
    public void DeleteRoute(uint prefix, int length)
    {
        CheckPrefix(prefix, length);
        lock (_controlLock)
        {
            if (!_routes.TryGetValue((prefix, length), out var r))
                throw new InvalidOperationException($"no route {ConfigIpv4.FormatPrefix(prefix, length)}");
            if (r.Origin is RouteOrigin.Local or RouteOrigin.Connected)
                throw new InvalidOperationException($"{ConfigIpv4.FormatPrefix(prefix, length)} is a {r.Origin.ToString().ToLowerInvariant()} route of an interface address; change the configuration instead");
            State.Routes.Delete(prefix, length);
            State.RefreshAdjacencies(); // a tunnel's remote may route differently now
            _routes.Remove((prefix, length));
            bool fromFile = _fileConfig.StaticRoutes.Any(s => s.Prefix == prefix && s.PrefixLength == length);
            if (fromFile) _routeChanges[(prefix, length)] = null;
            else _routeChanges.Remove((prefix, length));
            _logger.LogInformation("route del {Prefix}", ConfigIpv4.FormatPrefix(prefix, length));
        }
    }

    /// <summary><c>fasttun neighbor add IP mac MAC [dev NAME]</c>: a static entry. Without a device, the
    /// ethernet interface whose connected subnet holds the address. Returns the device name.</summary>
    public string AddNeighbor(uint ip, ulong mac, string? dev)
    {
        lock (_controlLock)
        {
            var (port, name) = NeighborPort(ip, dev);
            Neighbors.AddStatic(port, ip, mac, Environment.TickCount64);
            _neighborChanges[(name, ip)] = mac;
            _logger.LogInformation("neighbor add {Ip} mac {Mac} dev {Dev}", Ipv4Address.Format(ip), NeighborEntry.FormatMac(mac), name);
            return name;
        }
    }

    /// <summary><c>fasttun neighbor del IP [dev NAME]</c>: removes the entry (static or learned).</summary>
    public string DeleteNeighbor(uint ip, string? dev)
    {
        lock (_controlLock)
        {
            var (port, name) = NeighborPort(ip, dev);
            if (!Neighbors.Remove(port, ip))
                throw new InvalidOperationException($"no neighbour {Ipv4Address.Format(ip)} on {name}");
            bool fromFile = _fileConfig.Neighbors.Any(n => n.Address == ip && n.Interface == name);
            if (fromFile) _neighborChanges[(name, ip)] = null;
            else _neighborChanges.Remove((name, ip));
            _logger.LogInformation("neighbor del {Ip} dev {Dev}", Ipv4Address.Format(ip), name);
            return name;
        }
    }

    /// <summary><c>fasttun tunnel set NAME ...</c>: rebuilds the state with the new tunnel parameters and
    /// publishes it whole; runtime routes and neighbours are kept. Returns the tunnel as now configured.</summary>
    public Config.Tunnel SetTunnel(string name, TunnelChange change)
    {
        lock (_controlLock)
        {
            if (_fileConfig.FindTunnel(name) is null) throw new InvalidOperationException($"no tunnel {name}");
            var merged = _tunnelChanges.TryGetValue(name, out var earlier) ? earlier.Merge(change) : change;
            var candidate = new Dictionary<string, TunnelChange>(_tunnelChanges, StringComparer.Ordinal) { [name] = merged };
            var effective = ApplyTunnelChanges(_fileConfig, candidate, strict: true);
            _tunnelChanges[name] = merged;
            Rebuild(_fileConfig, effective);
            _logger.LogInformation("tunnel set {Tunnel} {Change}", name, Describe(change));
            return effective.FindTunnel(name)!;
        }
    }

    /// <summary>Builds the state for <paramref name="fileConfig"/>, re-applies the runtime changes and publishes.
    /// Caller holds <c>_controlLock</c>.</summary>
    private void Rebuild(GatewayConfig fileConfig, GatewayConfig? effective = null)
    {
        effective ??= ApplyTunnelChanges(fileConfig, _tunnelChanges, strict: false);
        var previous = _state is null ? null : State.Tunnels.ToDictionary(t => t.Tunnel.Name, t => t.Tunnel, StringComparer.Ordinal);
        var state = StateBuilder.Build(effective, _facts, previous, out var installed, _downTunnels, _workerSlots);
        _routes = installed.ToDictionary(r => (r.Prefix, r.Length));
        // Runtime routes go into the new table before it is published: workers never see it without them.
        foreach (var (key, via) in _routeChanges.ToArray())
        {
            try
            {
                if (via is uint v)
                {
                    if (IntoDownTunnel(state, effective, v)) continue; // keepalive: back when the tunnel is up
                    InstallRoute(state, effective, key.Prefix, key.Length, v);
                }
                else if (_routes.TryGetValue(key, out var r) && r.Origin is RouteOrigin.Static)
                {
                    state.Routes.Delete(key.Prefix, key.Length);
                    _routes.Remove(key);
                }
            }
            catch (InvalidOperationException e)
            {
                _routeChanges.Remove(key);
                _logger.LogWarning("runtime route {Prefix} dropped: {Reason}", ConfigIpv4.FormatPrefix(key.Prefix, key.Length), e.Message);
            }
        }
        state.RefreshAdjacencies(); // after the runtime routes: the outer paths see the table workers will see
        Publish(state);
        Neighbors.SetConnected(EdgePolicy.ConnectedSubnets(effective)); // edge hook: ARP learns on connected subnets only
        Config = effective;
        _fileConfig = fileConfig;
        Keepalive?.ConfigChanged(); // the monitor polls only while some tunnel has keepalive
        ApplyStaticNeighbors(fileConfig);
        long now = Environment.TickCount64;
        foreach (var (key, mac) in _neighborChanges.ToArray())
        {
            int port = effective.Interfaces.IndexOf(effective.FindInterface(key.Dev)!);
            if (effective.FindInterface(key.Dev) is null || port < 0)
            {
                _neighborChanges.Remove(key);
                _logger.LogWarning("runtime neighbour {Ip} dropped: {Dev} is gone", Ipv4Address.Format(key.Ip), key.Dev);
                continue;
            }
            if (mac is ulong m) Neighbors.AddStatic((ushort)port, key.Ip, m, now);
            else Neighbors.Remove((ushort)port, key.Ip);
        }
    }

    private bool IntoDownTunnel(ForwardingState state, GatewayConfig config, uint via)
    {
        if (_downTunnels.Count == 0) return false;
        var hop = ResolveNextHop(state, config, via);
        return hop.Kind == NextHopKind.Tunnel && _downTunnels.Contains(state.Tunnels[hop.Tunnel].Tunnel.Name);
    }

    private InstalledRoute InstallRoute(ForwardingState state, GatewayConfig config, uint prefix, int length, uint via)
    {
        if (_routes.TryGetValue((prefix, length), out var existing) && existing.Origin is RouteOrigin.Local or RouteOrigin.Connected)
            throw new InvalidOperationException($"{ConfigIpv4.FormatPrefix(prefix, length)} is a {existing.Origin.ToString().ToLowerInvariant()} route of an interface address");
        var hop = ResolveNextHop(state, config, via);
        uint index = state.AddNextHop(hop); // published before the route that names it
        state.Routes.AddOrReplace(prefix, length, index);
        var route = new InstalledRoute(prefix, length, hop, RouteOrigin.Runtime, via);
        _routes[(prefix, length)] = route;
        return route;
    }

    /// <summary>A next-hop inside a tunnel's subnet goes into the tunnel (point-to-point, NOARP); inside an
    /// ethernet subnet it is a gateway on that port. The longest matching connected subnet wins.</summary>
    private static NextHop ResolveNextHop(ForwardingState state, GatewayConfig config, uint via)
    {
        ConnectedRoute? best = null;
        foreach (var c in config.ConnectedRoutes)
            if (ConfigIpv4.Contains(c.Prefix, c.PrefixLength, via) && (best is null || c.PrefixLength > best.PrefixLength)) best = c;
        if (best is null)
            throw new InvalidOperationException($"next-hop {Ipv4Address.Format(via)} is not on a connected subnet (no interface or tunnel address covers it)");
        if (config.Interfaces.Any(i => i.Addresses.Any(a => a.Address == via)) || config.Tunnels.Any(t => t.Addresses.Any(a => a.Address == via)))
            throw new InvalidOperationException($"next-hop {Ipv4Address.Format(via)} is one of this gateway's own addresses");
        for (int t = 0; t < state.Tunnels.Length; t++)
            if (state.Tunnels[t].Tunnel.Name == best.Interface) return NextHop.Into(t);
        for (int p = 0; p < state.Ports.Length; p++)
            if (state.Ports[p].Name == best.Interface) return NextHop.Via((ushort)p, via);
        throw new InvalidOperationException($"next-hop {Ipv4Address.Format(via)}: {best.Interface} is not running");
    }

    private (ushort Port, string Name) NeighborPort(uint ip, string? dev)
    {
        if (dev is not null)
        {
            var iface = Config.FindInterface(dev);
            if (iface is null)
                throw new InvalidOperationException(Config.FindTunnel(dev) is not null
                    ? $"{dev} is a tunnel: tunnels are point-to-point and have no neighbours"
                    : $"no ethernet interface {dev}");
            return ((ushort)Config.Interfaces.IndexOf(iface), dev);
        }
        foreach (var c in Config.ConnectedRoutes)
        {
            if (!ConfigIpv4.Contains(c.Prefix, c.PrefixLength, ip)) continue;
            var iface = Config.FindInterface(c.Interface);
            if (iface is not null) return ((ushort)Config.Interfaces.IndexOf(iface), iface.Name);
        }
        throw new InvalidOperationException($"{Ipv4Address.Format(ip)} is on no ethernet subnet; name the interface with dev NAME");
    }

    private static void CheckPrefix(uint prefix, int length)
    {
        if (length is < 0 or > 32) throw new InvalidOperationException($"prefix length {length} is not 0..32");
        if ((prefix & ~Route4.Mask(length)) != 0)
            throw new InvalidOperationException($"{Ipv4Address.Format(prefix)}/{length} has host bits set; did you mean {ConfigIpv4.FormatPrefix(prefix & Route4.Mask(length), length)}?");
    }

    /// <summary>The file's configuration with the tunnel changes applied. <paramref name="strict"/> throws on a
    /// change that breaks a commit rule (the request is refused); otherwise such a change is dropped and logged.</summary>
    private GatewayConfig ApplyTunnelChanges(GatewayConfig file, Dictionary<string, TunnelChange> changes, bool strict)
    {
        if (changes.Count == 0) return file;
        var tunnels = file.Tunnels.ToBuilder();
        foreach (var (name, c) in changes.ToArray())
        {
            int i = -1;
            for (int k = 0; k < tunnels.Count; k++) if (tunnels[k].Name == name) i = k;
            string? error = i < 0 ? $"tunnel {name} is no longer configured" : null;
            Config.Tunnel? changed = null;
            if (error is null)
            {
                var t = tunnels[i];
                changed = t with
                {
                    Ttl = c.Ttl ?? t.Ttl,
                    Tos = c.Tos ?? t.Tos,
                    PathMtuDiscovery = c.PmtuDiscovery ?? t.PathMtuDiscovery,
                    InputKey = c.Key ?? t.InputKey,
                    OutputKey = c.Key ?? t.OutputKey,
                };
                if (c.Key is not null && t.Mode == TunnelMode.Ipip)
                    error = $"{name} is ipip: a key needs gre encapsulation";
                else if (!changed.PathMtuDiscovery && changed.Ttl != 0)
                    error = $"{name}: pmtu-discovery off needs ttl inherit (ip tunnel: \"ttl != 0 and nopmtudisc are incompatible\"); the ttl is {changed.Ttl}";
            }
            if (error is not null)
            {
                if (strict) throw new InvalidOperationException(error);
                changes.Remove(name);
                _logger.LogWarning("runtime tunnel change dropped: {Reason}", error);
                continue;
            }
            tunnels[i] = changed!;
        }
        return new GatewayConfig(file.Source, file.Interfaces, tunnels.ToImmutable(), file.StaticRoutes, file.Neighbors,
            file.Workers, file.ControlSocket, file.IgnoredLines, file.Warnings) { RpFilter = file.RpFilter, User = file.User };
    }

    private static string Describe(TunnelChange c)
    {
        var parts = new List<string>();
        if (c.Ttl is byte ttl) parts.Add(ttl == 0 ? "ttl inherit" : $"ttl {ttl}");
        if (c.Tos is TunnelTos tos) parts.Add($"tos {tos}");
        if (c.Key is uint key) parts.Add($"key {key}");
        if (c.PmtuDiscovery is bool p) parts.Add($"pmtu-discovery {(p ? "on" : "off")}");
        return string.Join(' ', parts);
    }
}
