using FastTun.Gateway.Config;
using FastTun.Packets.Datapath;
using FastTun.Packets.Routing;
using PacketTunnels = FastTun.Packets.Tunnels;

namespace FastTun.Gateway.Dataplane;

/// <summary>Where an installed route came from, as <c>fasttun show routes</c> prints it.</summary>
public enum RouteOrigin { Local, Connected, Static, Runtime }

/// <summary>One route of the running table, kept beside the LPM table for listing.</summary>
/// <param name="Via">The next-hop address as configured (also for a route into a tunnel), or 0.</param>
/// <param name="Text">For an ECMP route, its members as <c>ip route</c> prints them (<c>nexthop via A dev X ...</c>).</param>
public readonly record struct InstalledRoute(uint Prefix, int Length, NextHop Hop, RouteOrigin Origin, uint Via = 0, string? Text = null);

/// <summary>What the gateway learned about a kernel interface it opened: its MAC and real MTU.</summary>
public readonly record struct PortFacts(string Name, ulong Mac, int Mtu);

/// <summary>
/// Turns a validated <see cref="GatewayConfig"/> plus the facts of the opened ports into the
/// <see cref="ForwardingState"/> workers read. Route table contents, in the kernel's terms:
/// own addresses as /32 "local" routes, connected subnets (ethernet or tunnel), then static routes, whose
/// next-hop is resolved through the connected subnet the validator named. Port ids are the order of
/// <see cref="GatewayConfig.Interfaces"/>; tunnel indices the order of <see cref="GatewayConfig.Tunnels"/>.
/// </summary>
public static class StateBuilder
{
    public static ForwardingState Build(GatewayConfig config, IReadOnlyList<PortFacts> ports,
        IReadOnlyDictionary<string, PacketTunnels.Tunnel>? previousTunnels = null) =>
        Build(config, ports, previousTunnels, out _);

    /// <summary>As <see cref="Build(GatewayConfig, IReadOnlyList{PortFacts}, IReadOnlyDictionary{string, PacketTunnels.Tunnel}?)"/>,
    /// and also returns the installed routes with their origin, for <c>fasttun show routes</c> (the LPM table
    /// itself cannot be enumerated).</summary>
    public static ForwardingState Build(GatewayConfig config, IReadOnlyList<PortFacts> ports,
        IReadOnlyDictionary<string, PacketTunnels.Tunnel>? previousTunnels, out List<InstalledRoute> installed,
        IReadOnlySet<string>? downTunnels = null, int workers = PacketTunnels.Tunnel.MaxWorkers)
    {
        if (ports.Count != config.Interfaces.Length)
            throw new ArgumentException($"{ports.Count} ports opened for {config.Interfaces.Length} configured interfaces");

        var hops = new List<NextHop>();
        var hopIndex = new Dictionary<NextHop, uint>(); // a hub has a next hop per spoke: no linear search
        uint Hop(NextHop h)
        {
            if (hopIndex.TryGetValue(h, out uint i)) return i;
            hops.Add(h);
            return hopIndex[h] = (uint)(hops.Count - 1);
        }

        var portInfos = new PortInfo[ports.Count];
        var portIndex = new Dictionary<string, ushort>(StringComparer.Ordinal);
        for (int i = 0; i < ports.Count; i++)
        {
            var iface = config.Interfaces[i];
            if (iface.Name != ports[i].Name) throw new ArgumentException($"port {i} is {ports[i].Name}, expected {iface.Name}");
            int mtu = iface.MtuConfigured ? iface.Mtu : ports[i].Mtu;
            portInfos[i] = new PortInfo((ushort)i, iface.Name, ports[i].Mac, mtu, iface.Addresses.Select(a => a.Address).ToArray());
            portIndex[iface.Name] = (ushort)i;
        }

        var tunnels = new TunnelPath[config.Tunnels.Length];
        var tunnelIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var runtimes = new PacketTunnels.Tunnel[tunnels.Length];
        for (int i = 0; i < tunnels.Length; i++)
        {
            var t = config.Tunnels[i];
            var settings = ToSettings(t);
            // A reload keeps a tunnel's runtime state (IP ID, GRE sequence numbers, counters) when its wire
            // settings are unchanged, so a peer checking sequence numbers sees no reset. Changed wire settings
            // (`tunnel set`, a reload) make a new tunnel that goes on with all of the old one's running state, as
            // `ip tunnel change` does: counters, IP IDs, GRE output sequence, receive window and meter, learned
            // PMTU. Only deleting a tunnel restarts them.
            PacketTunnels.Tunnel? old = null;
            previousTunnels?.TryGetValue(t.Name, out old);
            PacketTunnels.Tunnel runtime = old is null ? new PacketTunnels.Tunnel(settings, workers)
                : SameWire(old.Settings, settings) ? old : new PacketTunnels.Tunnel(settings, old);
            int underlayMtu = portInfos[portIndex[t.Underlay]].Mtu;
            uint address = t.Addresses.Length > 0 ? t.Addresses[0].Address : 0;
            tunnels[i] = new TunnelPath(runtime, t.MtuFor(underlayMtu), address);
            tunnelIndex[t.Name] = i;
            runtimes[i] = runtime;
        }
        var decap = new PacketTunnels.TunnelTable(runtimes); // one build, not one copy of the table per tunnel

        var routes = new List<Route4>();
        var origins = new List<RouteOrigin>();
        var vias = new List<uint>();
        // Static routes first: a connected or local route for the same prefix replaces them below, as the
        // kernel prefers distance 0.
        var groups = new List<NextHop[]>();
        var texts = new Dictionary<int, string>();
        foreach (var r in InstalledStatic(config, downTunnels))
        {
            NextHop h = StaticHop(r, portIndex, tunnelIndex, groups);
            if (h.Kind == NextHopKind.Multipath) texts[routes.Count] = r.ToString();
            routes.Add(new Route4(r.Prefix, r.PrefixLength, Hop(h)));
            origins.Add(RouteOrigin.Static);
            vias.Add(r.Paths.Length == 1 ? r.Paths[0].Gateway : 0);
        }
        foreach (var c in config.ConnectedRoutes)
        {
            if (downTunnels is { Count: > 0 } && downTunnels.Contains(c.Interface)) continue; // keepalive: the tunnel is down
            NextHop h = tunnelIndex.TryGetValue(c.Interface, out int ti) ? NextHop.Into(ti) : NextHop.ConnectedTo(portIndex[c.Interface]);
            routes.Add(new Route4(c.Prefix, c.PrefixLength, Hop(h)));
            origins.Add(RouteOrigin.Connected);
            vias.Add(0);
        }
        uint local = Hop(NextHop.LocalDelivery);
        foreach (var iface in config.Interfaces)
            foreach (var a in iface.Addresses) { routes.Add(new Route4(a.Address, 32, local)); origins.Add(RouteOrigin.Local); vias.Add(0); }
        foreach (var t in config.Tunnels)
            foreach (var a in t.Addresses) { routes.Add(new Route4(a.Address, 32, local)); origins.Add(RouteOrigin.Local); vias.Add(0); }

        var table = new Lpm4Table();
        var byPrefix = new Dictionary<(uint, int), InstalledRoute>();
        for (int i = 0; i < routes.Count; i++)
        {
            var r = routes[i];
            table.AddOrReplace(r.Prefix, r.Length, r.NextHop); // later entries win
            byPrefix[(r.Prefix, r.Length)] = new InstalledRoute(r.Prefix, r.Length, hops[(int)r.NextHop], origins[i], vias[i], texts.GetValueOrDefault(i));
        }
        installed = byPrefix.Values.ToList();
        return new ForwardingState(table, hops.ToArray(), portInfos, tunnels, decap, [.. groups])
        {
            Sources = EdgePolicy.SourceCheckFor(config), // edge hook: martians and rp-filter
            UnknownTunnelUnreachable = config.UnknownTunnelUnreachable,
        };
    }

    /// <summary>
    /// The static routes to install while <paramref name="downTunnels"/> are down (keepalive): paths through a down
    /// tunnel are left out; a prefix left with no path falls back to its floating routes
    /// (<see cref="GatewayConfig.StandbyRoutes"/>, lowest distance first), or is not installed at all when none is
    /// usable, so a less specific route takes its traffic, as a Cisco static route whose interface is down.
    /// </summary>
    public static IEnumerable<StaticRoute> InstalledStatic(GatewayConfig config, IReadOnlySet<string>? downTunnels)
    {
        if (downTunnels is null || downTunnels.Count == 0)
        {
            foreach (var r in config.StaticRoutes) yield return r;
            yield break;
        }
        var standby = config.StandbyRoutes.ToLookup(r => (r.Prefix, r.PrefixLength));
        foreach (var primary in config.StaticRoutes)
        {
            foreach (var candidate in standby[(primary.Prefix, primary.PrefixLength)].Prepend(primary))
            {
                if (candidate.Blackhole) { yield return candidate; break; }
                var up = candidate.Paths.Where(p => !downTunnels.Contains(p.Interface)).ToArray();
                if (up.Length == 0) continue;
                yield return up.Length == candidate.Paths.Length ? candidate : candidate with { Paths = [.. up] };
                break;
            }
        }
    }

    /// <summary>A static route's next hop: a blackhole, one path, or an ECMP group of paths (added to
    /// <paramref name="groups"/>; an identical group is shared).</summary>
    private static NextHop StaticHop(StaticRoute r, Dictionary<string, ushort> portIndex, Dictionary<string, int> tunnelIndex, List<NextHop[]> groups)
    {
        if (r.Blackhole) return NextHop.Discard;
        NextHop PathHop(RoutePath p) =>
            tunnelIndex.TryGetValue(p.Interface, out int ti) ? NextHop.Into(ti)
            : p.Gateway == 0 ? NextHop.ConnectedTo(portIndex[p.Interface]) : NextHop.Via(portIndex[p.Interface], p.Gateway);
        if (r.Paths.Length == 1) return PathHop(r.Paths[0]);
        var members = r.Paths.Select(PathHop).ToArray();
        int found = groups.FindIndex(g => g.AsSpan().SequenceEqual(members));
        if (found < 0)
        {
            groups.Add(members);
            found = groups.Count - 1;
        }
        return NextHop.OneOf(found);
    }

    public static PacketTunnels.TunnelSettings ToSettings(Config.Tunnel t) => new(
        t.Name,
        t.Mode == Config.TunnelMode.Gre ? PacketTunnels.TunnelMode.Gre : PacketTunnels.TunnelMode.Ipip,
        t.Local, t.Remote,
        ttl: t.Ttl,
        tos: t.Tos.Inherit ? PacketTunnels.TunnelTos.InheritFromInner : PacketTunnels.TunnelTos.Fixed(t.Tos.Value),
        pmtuDiscovery: t.PathMtuDiscovery,
        inputKey: t.InputKey, outputKey: t.OutputKey,
        inputChecksum: t.InputChecksum, outputChecksum: t.OutputChecksum,
        inputSequence: t.InputSequence, outputSequence: t.OutputSequence);

    private static bool SameWire(PacketTunnels.TunnelSettings a, PacketTunnels.TunnelSettings b) =>
        a.Mode == b.Mode && a.Local == b.Local && a.Remote == b.Remote && a.Ttl == b.Ttl && a.Tos == b.Tos
        && a.PmtuDiscovery == b.PmtuDiscovery && a.InputKey == b.InputKey && a.OutputKey == b.OutputKey
        && a.InputChecksum == b.InputChecksum && a.OutputChecksum == b.OutputChecksum
        && a.InputSequence == b.InputSequence && a.OutputSequence == b.OutputSequence;
}
