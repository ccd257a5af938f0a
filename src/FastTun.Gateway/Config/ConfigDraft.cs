namespace FastTun.Gateway.Config;

/// <summary>
/// One single-valued configuration leaf as read, with the line that set it. A VyOS leaf holds one value:
/// setting it again to the same value is harmless, to a different one is an error (a file of set lines is
/// a description of one configuration, not a sequence of edits).
/// </summary>
internal struct Leaf<T>
{
    public T Value;
    public string Text;
    public int Line;
    public bool IsSet;
}

internal sealed class EthernetDraft(string name, int firstLine)
{
    public string Name { get; } = name;
    public int FirstLine { get; } = firstLine;
    public List<(InterfaceAddress Address, int Line)> Addresses { get; } = [];
    public Leaf<int> Mtu;
    public Leaf<string> Description;
    public Leaf<ulong> HwId;
}

/// <summary>The <c>fasttun interface NAME ...</c> settings, kept apart until NAME is matched to an ethernet.</summary>
internal sealed class PortDraft(string name, int firstLine)
{
    public string Name { get; } = name;
    public int FirstLine { get; } = firstLine;
    public Leaf<PortDriver> Driver;
    public Leaf<int> Queues;
}

internal sealed class TunnelDraft(string name, int firstLine)
{
    public string Name { get; } = name;
    public int FirstLine { get; } = firstLine;
    public List<(InterfaceAddress Address, int Line)> Addresses { get; } = [];
    public Leaf<TunnelMode> Encapsulation;
    /// <summary>An encapsulation line was present but named an unsupported mode (already reported).</summary>
    public bool EncapsulationRejected;
    public Leaf<uint> Local;
    public Leaf<uint> Remote;
    public Leaf<byte> Ttl;
    public Leaf<TunnelTos> Tos;
    public Leaf<uint> Key;
    public Leaf<uint> InputKey;
    public Leaf<uint> OutputKey;
    public Leaf<bool> Checksum;
    public Leaf<bool> InputChecksum;
    public Leaf<bool> OutputChecksum;
    public Leaf<bool> Sequence;
    public Leaf<bool> InputSequence;
    public Leaf<bool> OutputSequence;
    public Leaf<bool> PathMtuDiscovery;
    /// <summary><c>parameters keepalive INTERVAL RETRIES</c> (GRE only).</summary>
    public Leaf<KeepaliveSettings> Keepalive;
    public Leaf<int> Mtu;
    public Leaf<bool> Multicast;
    public Leaf<string> Description;
    /// <summary>iproute2's <c>ip tunnel add ... dev IF</c>: the outer packets must leave by IF.</summary>
    public Leaf<string> Dev;
}

internal sealed class RouteDraft(uint prefix, int length, int firstLine)
{
    public uint Prefix { get; } = prefix;
    public int Length { get; } = length;
    public int FirstLine { get; } = firstLine;
    public List<NextHopDraft> NextHops { get; } = [];
    /// <summary><c>interface-route P next-hop-interface IF</c> (iproute2: <c>dev IF</c> without <c>via</c>).</summary>
    public List<InterfaceHopDraft> Interfaces { get; } = [];
    /// <summary>Line of the <c>blackhole</c> node, 0 when there is none.</summary>
    public int BlackholeLine;
    public Leaf<int> BlackholeDistance;
    /// <summary>The prefix was written with host bits set and masked (iproute2, which warns); the text as written.</summary>
    public string? MaskedFrom;
}

internal sealed class NextHopDraft(uint address, int firstLine)
{
    public uint Address { get; } = address;
    public int FirstLine { get; } = firstLine;
    public Leaf<int> Distance;
    /// <summary>iproute2's <c>via G dev IF</c>: G must be on IF.</summary>
    public Leaf<string> Dev;
    /// <summary>iproute2 semantics: a gateway that is the gateway's own address on a tunnel means "into that
    /// tunnel" (the kernel resolves such a gateway to the device holding it, and a tunnel is point-to-point).</summary>
    public bool OwnTunnelAddressMeansTunnel;
}

internal sealed class InterfaceHopDraft(string name, int firstLine)
{
    public string Name { get; } = name;
    public int FirstLine { get; } = firstLine;
    public Leaf<int> Distance;
}

internal sealed class NeighborDraft(uint address, int firstLine)
{
    public uint Address { get; } = address;
    public int FirstLine { get; } = firstLine;
    public Leaf<ulong> Mac;
    public Leaf<string> Interface;
}

/// <summary>Everything read from a file before the commit checks.</summary>
internal sealed class ConfigDraft
{
    public List<EthernetDraft> Ethernets { get; } = [];
    public List<PortDraft> Ports { get; } = [];
    public List<TunnelDraft> Tunnels { get; } = [];
    public List<RouteDraft> Routes { get; } = [];
    public List<NeighborDraft> Neighbors { get; } = [];
    public Leaf<int> Workers;
    public Leaf<string> ControlSocket;
    public Leaf<FastTun.Packets.Datapath.RpFilterMode> RpFilter; // edge: set fasttun rp-filter
    public Leaf<string> User; // edge: set fasttun user
    public Leaf<bool> UnknownTunnelUnreachable;
    public int IgnoredLines;

    public EthernetDraft Ethernet(string name, int line) => Find(Ethernets, e => e.Name == name) ?? Add(Ethernets, new EthernetDraft(name, line));
    public PortDraft Port(string name, int line) => Find(Ports, p => p.Name == name) ?? Add(Ports, new PortDraft(name, line));
    public TunnelDraft Tunnel(string name, int line)
    {
        if (!_tunnelIndex.TryGetValue(name, out var tunnel))
            _tunnelIndex.Add(name, tunnel = Add(Tunnels, new TunnelDraft(name, line)));
        return tunnel;
    }
    // Routes, neighbours and tunnels can be many (a generated table, a hub's 10,000 spokes), so they are indexed;
    // ethernet interfaces are few.
    private readonly Dictionary<string, TunnelDraft> _tunnelIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<(uint, int), RouteDraft> _routeIndex = [];
    private readonly Dictionary<uint, NeighborDraft> _neighborIndex = [];

    public NeighborDraft Neighbor(uint address, int line)
    {
        if (!_neighborIndex.TryGetValue(address, out var neighbor))
            _neighborIndex.Add(address, neighbor = Add(Neighbors, new NeighborDraft(address, line)));
        return neighbor;
    }

    public RouteDraft Route(uint prefix, int length, int line)
    {
        if (!_routeIndex.TryGetValue((prefix, length), out var route))
            _routeIndex.Add((prefix, length), route = Add(Routes, new RouteDraft(prefix, length, line)));
        return route;
    }

    public static NextHopDraft NextHop(RouteDraft route, uint address, int line) =>
        Find(route.NextHops, h => h.Address == address) ?? Add(route.NextHops, new NextHopDraft(address, line));

    public static InterfaceHopDraft InterfaceHop(RouteDraft route, string name, int line) =>
        Find(route.Interfaces, h => h.Name == name) ?? Add(route.Interfaces, new InterfaceHopDraft(name, line));

    private static T? Find<T>(List<T> list, Predicate<T> match) where T : class => list.Find(match);

    private static T Add<T>(List<T> list, T item)
    {
        list.Add(item);
        return item;
    }
}
