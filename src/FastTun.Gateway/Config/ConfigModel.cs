using FastTun.Packets.Headers;
using System.Collections.Immutable;
using System.Globalization;

namespace FastTun.Gateway.Config;

/// <summary>
/// An address on an interface or tunnel: host-order address plus prefix length (10.1.5.1/24). With a
/// <see cref="Peer"/> (iproute2's <c>ip addr add 172.0.0.2 peer 172.0.0.3 dev tun0</c>) the local address stands
/// alone and the connected subnet is the peer's: <see cref="PrefixLength"/> is then the peer's length, as the kernel
/// keeps it (ifa_prefixlen), and <see cref="Network"/> is the peer's subnet.
/// </summary>
public readonly record struct InterfaceAddress(uint Address, int PrefixLength, uint Peer = 0)
{
    public bool HasPeer => Peer != 0;
    /// <summary>The connected subnet: the address's own, or the peer's.</summary>
    public uint Network => (HasPeer ? Peer : Address) & ConfigIpv4.Mask(PrefixLength);
    public bool Contains(uint address) => ConfigIpv4.Contains(Network, PrefixLength, address);
    public override string ToString() => HasPeer
        ? $"{Ipv4Address.Format(Address)} peer {ConfigIpv4.FormatPrefix(Peer, PrefixLength)}"
        : ConfigIpv4.FormatPrefix(Address, PrefixLength);
}

/// <summary>How a port reaches the wire: the Linux mechanism, chosen per interface.</summary>
public enum PortDriver { AfPacket, AfXdp }

public enum TunnelMode { Ipip, Gre }

/// <summary>
/// Outer TOS: <see cref="Inherit"/> copies the whole inner TOS (<c>tos inherit</c>); otherwise
/// <see cref="Value"/> is the fixed DSCP byte and the ECN bits still come from the inner packet (RFC 6040),
/// so <c>tos 0</c> copies only ECN.
/// </summary>
public readonly record struct TunnelTos(bool Inherit, byte Value)
{
    public static TunnelTos Inherited => new(true, 0);
    public static TunnelTos Fixed(byte value) => new(false, value);
    public override string ToString() => Inherit ? "inherit" : string.Create(CultureInfo.InvariantCulture, $"0x{Value:x2}");
}

/// <summary>A kernel interface FastTun owns (an <c>interfaces ethernet</c> node).</summary>
/// <param name="Mtu">The configured MTU, or 1500 when <paramref name="MtuConfigured"/> is false: VyOS 1.2 then
/// leaves the kernel's MTU alone, so the gateway should use the kernel interface's real MTU at run time.</param>
public sealed record EthernetInterface(
    string Name,
    ImmutableArray<InterfaceAddress> Addresses,
    int Mtu,
    bool MtuConfigured,
    PortDriver Driver,
    int Queues,
    string? Description,
    ulong? HwId)
{
    // Value equality over the addresses too (a record compares an ImmutableArray by reference): two files that
    // describe the same gateway build equal models, whatever their format.
    public bool Equals(EthernetInterface? other) =>
        other is not null && Name == other.Name && Addresses.SequenceEqual(other.Addresses) && Mtu == other.Mtu
        && MtuConfigured == other.MtuConfigured && Driver == other.Driver && Queues == other.Queues
        && Description == other.Description && HwId == other.HwId;

    public override int GetHashCode() => HashCode.Combine(Name, Addresses.Length, Mtu, Driver, Queues);
}

/// <summary>A point-to-point IPIP or GRE tunnel (an <c>interfaces tunnel tunN</c> node).</summary>
/// <param name="Ttl">Outer TTL; 0 means inherit the inner TTL.</param>
/// <param name="Mtu">Configured MTU, or the underlay MTU less <see cref="Overhead"/>.</param>
/// <param name="Underlay">The ethernet interface the outer packets leave by (routing <see cref="Remote"/>).</param>
/// <param name="UnderlayNextHop">Where outer packets go on <see cref="Underlay"/>: <see cref="Remote"/> when it is
/// on a connected subnet, else the next-hop of the static route that reaches it.</param>
public sealed record Tunnel(
    string Name,
    TunnelMode Mode,
    uint Local,
    uint Remote,
    ImmutableArray<InterfaceAddress> Addresses,
    byte Ttl,
    TunnelTos Tos,
    bool PathMtuDiscovery,
    uint? InputKey,
    uint? OutputKey,
    bool InputChecksum,
    bool OutputChecksum,
    bool InputSequence,
    bool OutputSequence,
    int Mtu,
    bool MtuConfigured,
    string Underlay,
    uint UnderlayNextHop,
    bool Multicast,
    string? Description)
{
    /// <summary>Bytes added in front of the inner packet: 20 (IPv4) for IPIP; 20 + 4 + 4 per GRE output option
    /// (key, checksum, sequence) for GRE. Input-only options cost nothing on transmit, as in the kernel
    /// (ip_gre computes tun_hlen from the output flags).</summary>
    public int Overhead => Mode == TunnelMode.Ipip ? 20 : 24 + (OutputKey.HasValue ? 4 : 0) + (OutputChecksum ? 4 : 0) + (OutputSequence ? 4 : 0);

    /// <summary><c>parameters keepalive INTERVAL RETRIES</c>, or null when the tunnel sends no keepalives (GRE only).</summary>
    public KeepaliveSettings? Keepalive { get; init; }

    /// <summary>The MTU the kernel would give this tunnel over an underlay of <paramref name="underlayMtu"/>.</summary>
    public int MtuFor(int underlayMtu) => MtuConfigured ? Mtu : underlayMtu - Overhead;

    public bool Equals(Tunnel? other) =>
        other is not null && Name == other.Name && Mode == other.Mode && Local == other.Local && Remote == other.Remote
        && Addresses.SequenceEqual(other.Addresses) && Ttl == other.Ttl && Tos == other.Tos
        && PathMtuDiscovery == other.PathMtuDiscovery && InputKey == other.InputKey && OutputKey == other.OutputKey
        && InputChecksum == other.InputChecksum && OutputChecksum == other.OutputChecksum
        && InputSequence == other.InputSequence && OutputSequence == other.OutputSequence && Mtu == other.Mtu
        && MtuConfigured == other.MtuConfigured && Underlay == other.Underlay && UnderlayNextHop == other.UnderlayNextHop
        && Multicast == other.Multicast && Description == other.Description && Keepalive == other.Keepalive;

    public override int GetHashCode() => HashCode.Combine(Name, Mode, Local, Remote, Mtu);
}

/// <summary>Cisco-style GRE keepalive (<c>parameters keepalive INTERVAL RETRIES</c>): a probe every
/// <paramref name="IntervalSeconds"/>; <paramref name="Retries"/> unanswered in a row take the tunnel down and its
/// routes out of the forwarding state; the first answer brings it back.</summary>
public readonly record struct KeepaliveSettings(int IntervalSeconds, int Retries)
{
    public override string ToString() => $"{IntervalSeconds} {Retries}";
}

/// <summary>One path of a static route: out of <paramref name="Interface"/> (an ethernet or a tunnel) to
/// <paramref name="Gateway"/>, or with Gateway 0 straight out of the interface (VyOS <c>interface-route ...
/// next-hop-interface</c>, iproute2 <c>dev IF</c>): the destination itself is then the neighbour.</summary>
public readonly record struct RoutePath(uint Gateway, string Interface)
{
    public override string ToString() => Gateway == 0 ? $"dev {Interface}" : $"via {Ipv4Address.Format(Gateway)} dev {Interface}";
}

/// <summary>
/// A static route as installed: the lowest-distance candidates of one prefix (<c>protocols static route</c>
/// next-hops, <c>interface-route</c> next-hop-interfaces, <c>blackhole</c>). Several paths of equal distance are
/// ECMP: flows are spread over them by a hash of the inner 5-tuple. A blackhole has no path and drops silently,
/// as the kernel's blackhole route does.
/// </summary>
public sealed record StaticRoute(uint Prefix, int PrefixLength, ImmutableArray<RoutePath> Paths, int Distance, bool Blackhole = false)
{
    /// <summary>A route over one path.</summary>
    public StaticRoute(uint prefix, int prefixLength, uint gateway, int distance, string @interface)
        : this(prefix, prefixLength, [new RoutePath(gateway, @interface)], distance) { }

    public bool Equals(StaticRoute? other) =>
        other is not null && Prefix == other.Prefix && PrefixLength == other.PrefixLength && Distance == other.Distance
        && Blackhole == other.Blackhole && Paths.SequenceEqual(other.Paths);

    public override int GetHashCode() => HashCode.Combine(Prefix, PrefixLength, Distance, Blackhole, Paths.Length);

    /// <summary>As <c>ip route</c> prints it: <c>P via G dev I</c>, <c>P dev I</c>, <c>P nexthop via .. nexthop via ..</c>
    /// or <c>blackhole P</c>.</summary>
    public override string ToString()
    {
        string prefix = ConfigIpv4.FormatPrefix(Prefix, PrefixLength);
        if (Blackhole) return $"blackhole {prefix}";
        if (Paths.Length == 1) return $"{prefix} {Paths[0]}";
        return $"{prefix} " + string.Join(' ', Paths.Select(p => $"nexthop {p}"));
    }
}

/// <summary>A permanent neighbour entry (<c>fasttun neighbor A mac M</c>); MAC in the low 48 bits, first octet highest.</summary>
public sealed record StaticNeighbor(uint Address, ulong Mac, string Interface)
{
    public static string FormatMac(ulong mac) => FastTun.Packets.Datapath.NeighborEntry.FormatMac(mac);
}

/// <summary>A subnet reachable directly on an interface or tunnel, derived from its addresses.</summary>
public sealed record ConnectedRoute(uint Prefix, int PrefixLength, uint Source, string Interface)
{
    public override string ToString() =>
        $"{ConfigIpv4.FormatPrefix(Prefix, PrefixLength)} dev {Interface} proto kernel scope link src {Ipv4Address.Format(Source)}";
}

/// <summary>A configuration problem with the place it was found.</summary>
public sealed record ConfigDiagnostic(string Source, int Line, string Message)
{
    public override string ToString() => $"{Source}:{Line}: {Message}";
}

/// <summary>Thrown by <see cref="GatewayConfig.Load"/> and <see cref="GatewayConfig.Parse"/> with every error found.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigDiagnostic> errors)
        : base(errors.Count == 1 ? errors[0].ToString() : $"{errors.Count} configuration errors:{Environment.NewLine}" + string.Join(Environment.NewLine, errors))
    {
        Errors = errors;
    }

    public IReadOnlyList<ConfigDiagnostic> Errors { get; }
}
