using System.Runtime.CompilerServices;
using FastTun.Packets.Routing;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

/// <summary>Reverse-path filtering, with Linux's meanings (net.ipv4.conf.*.rp_filter).</summary>
public enum RpFilterMode : byte
{
    /// <summary>0: no reverse-path check (martian sources are still dropped).</summary>
    Off = 0,
    /// <summary>1 (RFC 3704 strict): the route back to the source must leave by the interface the packet came in on.</summary>
    Strict = 1,
    /// <summary>2 (RFC 3704 loose): some route back to the source must exist. The default, as systemd ships it.</summary>
    Loose = 2,
}

/// <summary>
/// The source-address check Linux makes on every packet it receives (ip_route_input_slow and
/// fib_validate_source): a martian source (0/8, 127/8, 224/4 multicast, 240/4 reserved, 255.255.255.255, or one
/// of the gateway's own addresses) is dropped and counted as <see cref="DropReason.MartianSource"/>; then, unless
/// rp-filter is off, the route back to the source decides (<see cref="DropReason.RpFilter"/>).
///
/// The pipeline calls <see cref="Check"/> exactly once per IPv4 packet it receives, from a port or out of a
/// tunnel (the inner packet), before routing it: every forwarded and every decapsulated packet passes here.
/// Cost: two compares for the martian ranges, and one LPM lookup of the source unless rp-filter is off. The
/// instance is immutable and published inside the <see cref="ForwardingState"/>.
/// </summary>
public sealed class SourceCheck
{
    /// <summary>No reverse-path filter and no own addresses: martian ranges only.</summary>
    public static readonly SourceCheck MartiansOnly = new(RpFilterMode.Off, []);

    private readonly uint[] _own;

    public SourceCheck(RpFilterMode mode, IEnumerable<uint> ownAddresses)
    {
        Mode = mode;
        _own = ownAddresses.Distinct().Order().ToArray();
    }

    public RpFilterMode Mode { get; }

    /// <summary>True when <see cref="Check"/>'s verdict can depend on the tunnel a packet came out of (and on its
    /// port): strict rp-filter only. Loose and off look at the source alone, so a verdict cached for one tunnel's
    /// packet holds for another's with the same source (a hub's spokes all carrying one inner source).</summary>
    public bool DependsOnTunnel => Mode == RpFilterMode.Strict;
    public IReadOnlyList<uint> OwnAddresses => _own;

    /// <summary>0/8, 127/8, 224/4 and 240/4 (which holds 255.255.255.255): never a valid source on the wire.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsMartianRange(uint source)
    {
        uint first = source >> 24;
        return first == 0 || first == 127 || first >= 224;
    }

    /// <summary>
    /// Checks the source of a received packet. <paramref name="inTunnel"/> is the tunnel it came out of, or null
    /// when it arrived on port <paramref name="inPort"/>. <paramref name="routes"/> and <paramref name="hops"/>
    /// are the caller's snapshot of <paramref name="state"/>'s table.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DropReason Check(uint source, ushort inPort, Tunnel? inTunnel, ForwardingState state, in Lpm4Reader routes, NextHop[] hops)
    {
        if (IsMartianRange(source)) return DropReason.MartianSource;
        if (Mode == RpFilterMode.Off) return IsOwn(source) ? DropReason.MartianSource : DropReason.None;
        return CheckReversePath(source, inPort, inTunnel, state, in routes, hops);
    }

    private DropReason CheckReversePath(uint source, ushort inPort, Tunnel? inTunnel, ForwardingState state, in Lpm4Reader routes, NextHop[] hops)
    {
        uint index = routes.Lookup(source);
        if (index == Lpm4Table.NoRoute) return DropReason.RpFilter;
        if (index >= (uint)hops.Length)
        {
            hops = state.NextHops; // a route added after the caller's snapshot
            if (index >= (uint)hops.Length) return DropReason.RpFilter;
        }
        ref readonly NextHop hop = ref hops[index];
        // Own addresses are /32 local routes (and nothing else is), so the lookup finds them too.
        if (hop.Kind == NextHopKind.Local) return DropReason.MartianSource;
        // The way back is a blackhole: no usable route, as fib_validate_source sees a non-unicast route.
        if (hop.Kind == NextHopKind.Blackhole) return DropReason.RpFilter;
        if (Mode == RpFilterMode.Loose) return DropReason.None;
        if (hop.Kind == NextHopKind.Multipath)
        {
            // Strict with ECMP (Linux, fib_validate_source): any path of the group leaving by the arrival interface.
            if ((uint)hop.Group >= (uint)state.Multipath.Length) return DropReason.RpFilter;
            foreach (ref readonly NextHop member in state.Multipath[hop.Group].AsSpan())
                if (LeavesBy(in member, inPort, inTunnel, state)) return DropReason.None;
            return DropReason.RpFilter;
        }
        return LeavesBy(in hop, inPort, inTunnel, state) ? DropReason.None : DropReason.RpFilter;
    }

    private static bool LeavesBy(in NextHop hop, ushort inPort, Tunnel? inTunnel, ForwardingState state) => inTunnel is null
        ? hop.Kind is NextHopKind.Connected or NextHopKind.Gateway && hop.Port == inPort
        : hop.Kind == NextHopKind.Tunnel && (uint)hop.Tunnel < (uint)state.Tunnels.Length
          && ReferenceEquals(state.Tunnels[hop.Tunnel].Tunnel, inTunnel);

    /// <summary>Binary search over the (few) own addresses.</summary>
    public bool IsOwn(uint address) => Array.BinarySearch(_own, address) >= 0;
}
