using FastTun.Packets.Routing;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public enum NextHopKind : byte
{
    /// <summary>One of the gateway's own addresses: deliver locally (ARP, ICMP echo, tunnel decap).</summary>
    Local,
    /// <summary>A connected subnet on an Ethernet port: the neighbour is the destination itself.</summary>
    Connected,
    /// <summary>Via a gateway on an Ethernet port.</summary>
    Gateway,
    /// <summary>Into a tunnel (point-to-point, NOARP): encapsulate towards its remote.</summary>
    Tunnel,
    /// <summary>ECMP: one of the members of <see cref="ForwardingState.Multipath"/> group <see cref="NextHop.Group"/>,
    /// chosen per flow by <see cref="Multipath.Select"/>.</summary>
    Multipath,
    /// <summary>A blackhole route: dropped silently, as the kernel's <c>blackhole</c> route type.</summary>
    Blackhole,
}

/// <summary>What a route's next-hop index means. The LPM table stores indices into
/// <see cref="ForwardingState.NextHops"/>.</summary>
public readonly record struct NextHop(NextHopKind Kind, ushort Port, uint Gateway, int Tunnel, int Group = -1)
{
    public static NextHop LocalDelivery => new(NextHopKind.Local, PacketBatch.NoPort, 0, -1);
    public static NextHop ConnectedTo(ushort port) => new(NextHopKind.Connected, port, 0, -1);
    public static NextHop Via(ushort port, uint gateway) => new(NextHopKind.Gateway, port, gateway, -1);
    public static NextHop Into(int tunnel) => new(NextHopKind.Tunnel, PacketBatch.NoPort, 0, tunnel);
    public static NextHop OneOf(int group) => new(NextHopKind.Multipath, PacketBatch.NoPort, 0, -1, group);
    public static NextHop Discard => new(NextHopKind.Blackhole, PacketBatch.NoPort, 0, -1);
}

/// <summary>An Ethernet port as the data path sees it.</summary>
public sealed class PortInfo
{
    public PortInfo(ushort id, string name, ulong mac, int mtu, uint[] addresses)
    {
        Id = id;
        Name = name;
        Mac = mac;
        Mtu = mtu;
        Addresses = addresses;
        ulong word = (mac << 16) | 0x0800;
        SourceAndType = BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(word) : word;
    }

    /// <summary>Ethernet bytes 6..13 of an IPv4 frame leaving by this port (source MAC, EtherType) as one
    /// native 64-bit store; tunnel adjacencies through the port reuse it.</summary>
    internal ulong SourceAndType { get; }

    public ushort Id { get; }
    public string Name { get; }
    /// <summary>MAC in the low 48 bits, first octet highest.</summary>
    public ulong Mac { get; }
    public int Mtu { get; }
    /// <summary>Own IPv4 addresses on this port; the first is the source of ICMP errors leaving by it.</summary>
    public uint[] Addresses { get; }
    public uint PrimaryAddress => Addresses.Length > 0 ? Addresses[0] : 0;

    public bool Owns(uint address)
    {
        foreach (uint a in Addresses) if (a == address) return true;
        return false;
    }
}

/// <summary>A tunnel as the data path sees it: the encap/decap state plus its MTU and own address.</summary>
public sealed class TunnelPath
{
    /// <summary>How long a learned path MTU holds (Linux net.ipv4.route.mtu_expires: 600 s).</summary>
    public const long PmtuExpiresMs = 600_000;
    /// <summary>Lowest tunnel MTU PMTU learning may set (Linux min_pmtu 552 less the tunnel overhead).</summary>
    public const int MinPmtu = 552;

    public TunnelPath(Tunnel tunnel, int mtu, uint address)
    {
        Tunnel = tunnel;
        ConfiguredMtu = mtu;
        Address = address;
    }

    public Tunnel Tunnel { get; }
    public int ConfiguredMtu { get; }

    private TunnelAdjacency _adjacency = TunnelAdjacency.Unresolved;

    /// <summary>The tunnel's outer path (VPP's midchain adjacency), resolved when the state is built and again
    /// whenever a route changes (<see cref="ForwardingState.RefreshAdjacencies"/>). Acquire: pairs with the
    /// release in <see cref="SetAdjacency"/>, so a worker sees a fully built adjacency.</summary>
    public TunnelAdjacency Adjacency => Volatile.Read(ref _adjacency);

    internal void SetAdjacency(TunnelAdjacency adjacency) => Volatile.Write(ref _adjacency, adjacency); // release: see Adjacency
    /// <summary>The tunnel interface's own address (1.1.1.1 on gw1): the source of ICMP errors leaving by it.</summary>
    public uint Address { get; }

    /// <summary>The MTU in force: the configured one, or a lower one learned from an underlay frag-needed. The
    /// learned value lives in the tunnel's running state, so a changed tunnel (<c>tunnel set</c>, reload) keeps it.</summary>
    public int Mtu(long nowMs)
    {
        var learned = Tunnel.Pmtu;
        int underlay = Volatile.Read(ref learned.UnderlayMtu); // pairs with the writes in LearnPmtu; a stale read only delays the change
        if (underlay == 0 || nowMs >= Volatile.Read(ref learned.UntilMs)) return ConfiguredMtu;
        int overhead = Tunnel.HeaderLength;
        return Math.Min(Math.Max(underlay - overhead, MinPmtu - overhead), ConfiguredMtu);
    }

    /// <summary>Applies an underlay ICMP frag-needed that quoted one of our tunnel packets.</summary>
    public void LearnPmtu(int underlayMtu, long nowMs)
    {
        int overhead = Tunnel.HeaderLength;
        int mtu = Math.Max(underlayMtu - overhead, MinPmtu - overhead);
        if (mtu >= ConfiguredMtu) return;
        var learned = Tunnel.Pmtu;
        Volatile.Write(ref learned.UntilMs, nowMs + PmtuExpiresMs); // expiry first: a reader seeing the new MTU sees a live expiry
        Volatile.Write(ref learned.UnderlayMtu, Math.Max(underlayMtu, MinPmtu));
    }
}

/// <summary>
/// Where a tunnel's encapsulated packets go: the egress port, the neighbour to send them to (the route's
/// gateway or, on a connected subnet, the remote itself), the port's MTU and the constant half of the Ethernet
/// header (source MAC and EtherType, as the 8 bytes at offset 6 in wire order). Immutable: a route change builds
/// a new one. The neighbour's MAC is not in here: it changes in place in its <see cref="NeighborEntry"/>, which
/// each worker caches per adjacency, so the per-packet path never looks a route or a neighbour up again.
/// </summary>
public sealed class TunnelAdjacency
{
    /// <summary>No route to the remote, or one that leads into a tunnel or to ourselves (no nesting).</summary>
    public static readonly TunnelAdjacency Unresolved = new(false, PacketBatch.NoPort, 0, 0, 0);

    /// <summary>A usable outer path out of <paramref name="port"/> towards <paramref name="neighbor"/>.</summary>
    public TunnelAdjacency(PortInfo port, uint neighbor) : this(true, port.Id, neighbor, port.Mtu, port.SourceAndType) { }

    private TunnelAdjacency(bool usable, ushort port, uint neighbor, int portMtu, ulong sourceAndType)
    {
        Usable = usable;
        Port = port;
        Neighbor = neighbor;
        PortMtu = portMtu;
        SourceAndType = sourceAndType;
    }

    public bool Usable { get; }
    public ushort Port { get; }
    /// <summary>The IPv4 address whose MAC the outer frame goes to.</summary>
    public uint Neighbor { get; }
    public int PortMtu { get; }
    /// <summary>Ethernet bytes 6..13 (source MAC, EtherType IPv4) as one native 64-bit store.</summary>
    internal ulong SourceAndType { get; }
}

/// <summary>
/// Everything a worker needs to forward, published as one reference: a reload builds a new state and swaps it
/// in, and a worker reads it once per batch, so a batch never mixes two configurations. The route table inside
/// is itself lock-free for single-route changes (`fasttun route add|del`); next hops are append-only for that.
/// </summary>
public sealed class ForwardingState
{
    private NextHop[] _nextHops;

    public ForwardingState(Lpm4Table routes, NextHop[] nextHops, PortInfo[] ports, TunnelPath[] tunnels, TunnelTable decap,
        NextHop[][]? multipath = null)
    {
        Routes = routes;
        _nextHops = nextHops;
        Ports = ports;
        Tunnels = tunnels;
        int slots = Tunnel.MaxWorkers;
        foreach (var t in tunnels) slots = Math.Min(slots, t.Tunnel.WorkerSlots);
        WorkerSlots = Math.Min(slots, decap.CounterWorkers); // the decap table's tunnels count per worker too
        Decap = decap;
        Multipath = multipath ?? [];
        RefreshAdjacencies();
    }

    /// <summary>ECMP groups: the members of a <see cref="NextHopKind.Multipath"/> next hop, each a plain hop
    /// (connected, gateway or tunnel), never another group. Immutable with the state.</summary>
    public NextHop[][] Multipath { get; }

    public Lpm4Table Routes { get; }
    /// <summary>Martian and reverse-path checks with the own addresses of this state (see <see cref="SourceCheck"/>).</summary>
    public SourceCheck Sources { get; init; } = SourceCheck.MartiansOnly;
    public PortInfo[] Ports { get; }
    public TunnelPath[] Tunnels { get; }
    /// <summary>The fewest workers any tunnel here keeps counters for (<see cref="Tunnel.WorkerSlots"/>, and the decap
    /// table's <see cref="TunnelTable.CounterWorkers"/>): the pipeline refuses a state with fewer than it runs.</summary>
    public int WorkerSlots { get; }
    public TunnelTable Decap { get; }
    /// <summary>Whether an IPIP/GRE packet to us that matches no tunnel (wrong or missing GRE key included) gets
    /// ICMP port unreachable to its outer source, as Linux answers; false: silent drop. Counted either way.</summary>
    public bool UnknownTunnelUnreachable { get; init; } = true;

    /// <summary>Acquire: pairs with <see cref="AddNextHop"/>'s release so a route that names a new index is only
    /// visible after the array holding that index.</summary>
    public NextHop[] NextHops => Volatile.Read(ref _nextHops);

    /// <summary>Control plane: returns the index of <paramref name="hop"/>, appending it when new. Call before
    /// adding a route that uses the index.</summary>
    public uint AddNextHop(NextHop hop)
    {
        lock (this)
        {
            var current = _nextHops;
            int found = Array.IndexOf(current, hop);
            if (found >= 0) return (uint)found;
            var grown = new NextHop[current.Length + 1];
            current.CopyTo(grown, 0);
            grown[^1] = hop;
            Volatile.Write(ref _nextHops, grown); // release: publish the entry before any route refers to it
            return (uint)current.Length;
        }
    }

    /// <summary>
    /// Control plane: resolves every tunnel's outer path again from the current routes. Call after a route
    /// change (the state's constructor calls it once); workers pick each new adjacency up at their next packet.
    /// A remote that routes into a tunnel or to one of our own addresses is unresolved (no nested encapsulation),
    /// and its packets are dropped as no-route, as before.
    /// </summary>
    public void RefreshAdjacencies()
    {
        var hops = NextHops;
        foreach (var path in Tunnels)
        {
            uint remote = path.Tunnel.Settings.Remote;
            uint index = Routes.Lookup(remote);
            TunnelAdjacency adjacency = TunnelAdjacency.Unresolved;
            if (index < (uint)hops.Length)
            {
                NextHop hop = hops[index];
                if (hop.Kind is NextHopKind.Connected or NextHopKind.Gateway && hop.Port < Ports.Length)
                {
                    adjacency = new TunnelAdjacency(Ports[hop.Port], hop.Kind == NextHopKind.Gateway ? hop.Gateway : remote);
                }
            }
            path.SetAdjacency(adjacency);
        }
    }

    /// <summary>The own address an ICMP error should come from when it leaves through <paramref name="hop"/>.</summary>
    public uint EgressAddress(in NextHop hop) => hop.Kind switch
    {
        NextHopKind.Connected or NextHopKind.Gateway => Ports[hop.Port].PrimaryAddress,
        NextHopKind.Tunnel => Tunnels[hop.Tunnel].Address,
        NextHopKind.Multipath => EgressAddress(in Multipath[hop.Group][0]), // members share the route; the first speaks for it
        _ => 0,
    };
}
