using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>Forwards a packet whose data starts at its valid IPv4 header towards <paramref name="routed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Forward(ref Frame f, in NextHop routed, bool locallyOriginated)
    {
        // config's ECMP hook: the route's next hop, or for a group the member this flow hashes to.
        ref readonly NextHop hop = ref Multipath.Select(_s, in routed, f.Data);
        if (hop.Kind == NextHopKind.Blackhole) { f.Drop = DropReason.Blackhole; return; } // config's blackhole hook
        Span<byte> packet = f.Data;
        if (!locallyOriginated)
        {
            // TTL − 1 with the header checksum patched incrementally (RFC 1624); false when TTL ≤ 1.
            if (!IncrementalChecksum.TryDecrementTtl(packet))
            {
                TimeExceeded(ref f);
                return;
            }
        }
        _ttlDecremented = !locallyOriginated; // read by a frag-needed error further down this call
        if (hop.Kind == NextHopKind.Tunnel) ForwardIntoTunnel(ref f, hop.Tunnel);
        else SendOnPort(ref f, hop.Port, hop.Kind == NextHopKind.Gateway ? hop.Gateway : ReadDestination(packet));
        _ttlDecremented = false;
    }

    /// <summary>True while the packet <see cref="Forward"/> handles has had its TTL decremented: an ICMP error
    /// about it must quote it as received (the kernel checks the MTU before ip_decrease_ttl).</summary>
    private bool _ttlDecremented;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TimeExceeded(ref Frame f)
    {
        SendIcmpError(f.Data, IcmpTimeExceeded, 0, 0);
        f.Drop = DropReason.TtlExceeded;
    }

    /// <summary>Routes a packet the gateway itself originated (echo reply, ICMP error): no TTL decrement.</summary>
    private void RouteLocallyOriginated(ref Frame f)
    {
        uint dst = ReadDestination(f.Data);
        uint hopIndex = _routes.Lookup(dst);
        if (hopIndex >= (uint)_hops.Length) _hops = _s.NextHops;
        if (hopIndex >= (uint)_hops.Length) { f.Drop = DropReason.NoRoute; return; }
        ref readonly NextHop hop = ref _hops[hopIndex];
        if (hop.Kind == NextHopKind.Local) { f.Drop = DropReason.NotForUs; return; } // to ourselves: nothing to send
        Forward(ref f, in hop, locallyOriginated: true);
    }

    /// <summary>Into a tunnel: MTU check (fragment or frag-needed), then queued for pass 5, which encapsulates
    /// through the tunnel's adjacency. A tunnel whose remote routes into a tunnel is unresolved (no nesting).</summary>
    private void ForwardIntoTunnel(ref Frame f, int tunnelIndex)
    {
        var path = _s.Tunnels[tunnelIndex];
        int mtu = path.Mtu(_now);
        if (f.Length > mtu && !FitOrFragment(ref f, mtu, tunnelIndex | TunnelMark)) return;
        QueueEncap(ref f, tunnelIndex);
    }

    private const int TunnelMark = 1 << 30;

    /// <summary>
    /// The packet is larger than the egress MTU. DF set: ICMP frag-needed carrying the MTU, drop. DF clear:
    /// split it into fragments that each continue down the same path from <see cref="Generated"/>; the original
    /// is consumed. Returns false when the caller should stop (always: the original never continues).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool FitOrFragment(ref Frame f, int mtu, int egress)
    {
        Span<byte> packet = f.Data;
        Ipv4Header.TryParse(packet, out var ip);
        if (ip.DontFragment)
        {
            // The packet is dropped: its bytes can go back to what was received, which the error quotes.
            if (_ttlDecremented) IncrementalChecksum.IncrementTtl(packet);
            SendIcmpError(packet, IcmpDestUnreachable, CodeFragNeeded, (uint)mtu);
            f.Drop = DropReason.FragNeeded;
            return false;
        }
        int start = Generated.Count;
        Frame template = default;
        template.InPort = f.InPort;
        var reason = Ipv4Fragmenter.Fragment(packet, mtu, _pool, Generated, in template, _genLimit);
        if (reason != DropReason.None) { f.Drop = DropReason.PoolExhausted; return false; }
        KeyGenerated(start); // in place of the original, in offset order
        int end = Generated.Count;
        for (int i = start; i < end; i++)
        {
            ref Frame piece = ref Generated[i];
            piece.Flags = FrameFlags.Generated;
            if ((egress & TunnelMark) != 0) ForwardIntoTunnel(ref piece, egress & ~TunnelMark);
            else SendOnPort(ref piece, (ushort)egress, (uint)f.Scratch);
        }
        return false; // consumed: the fragments carry it on
    }

    /// <summary>Sends an IPv4 packet (data at its header) out of an Ethernet port to the neighbour
    /// <paramref name="neighborIp"/>: MTU check, ARP resolution, Ethernet header.</summary>
    private void SendOnPort(ref Frame f, ushort portId, uint neighborIp)
    {
        var port = _s.Ports[portId];
        if (f.Length > port.Mtu)
        {
            f.Scratch = neighborIp; // the fragments need it
            FitOrFragment(ref f, port.Mtu, portId);
            return;
        }
        var entry = _lastNeighbor;
        if (entry is null || entry.Ip != neighborIp || entry.Port != portId)
        {
            entry = Neighbors.FindForUse(portId, neighborIp); // edge hook: a learned entry used for sending is kept
            _lastNeighbor = entry;
        }
        if (entry is null || !entry.TryGetUsable(out ulong mac, out var state))
        {
            Park(ref f, portId, neighborIp, entry);
            return;
        }
        if (state == NeighborState.Stale && _now >= entry.ProbeDueMs) ReprobeStale(entry, port);
        if (f.Offset < 14) { f.Drop = DropReason.NoHeadroom; return; }
        WriteEthernet(ref f, mac, port.SourceAndType);
        f.OutPort = portId;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReprobeStale(NeighborEntry entry, PortInfo port)
    {
        entry.ProbeDueMs = _now + NeighborTable.RetransMs;
        SendArpRequest(port, entry.Ip);
    }

    /// <summary>No usable MAC yet: copy the packet into the pending queue and ask with ARP.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Park(ref Frame f, ushort portId, uint neighborIp, NeighborEntry? entry)
    {
        entry ??= Neighbors.GetOrCreate(portId, neighborIp, _now);
        if (entry is null) { f.Drop = DropReason.NeighborQueueFull; return; }
        if (entry.State == NeighborState.Failed && !Neighbors.RestartFailed(entry, _now))
        {
            f.Drop = DropReason.NeighborUnresolved;
            return;
        }
        if (!_pending.TryPark(ref f, portId, neighborIp, _now, _pool))
        {
            f.Drop = DropReason.NeighborQueueFull;
            return;
        }
        if (entry.Probes == 0 && _now >= entry.ProbeDueMs)
        {
            entry.Probes = 1;
            entry.ProbeDueMs = _now + NeighborTable.RetransMs;
            SendArpRequest(_s.Ports[portId], neighborIp);
        }
    }

    /// <summary>Releases parked packets whose neighbour answered, retransmits ARP, and gives up on neighbours
    /// that stayed silent for <see cref="NeighborTable.MaxProbes"/> requests (Linux then reports
    /// host-unreachable to the sender, and so do we).</summary>
    private void ServicePending()
    {
        if (_pending.Count == 0) return;
        _pending.Service(this);
    }

    internal void ReleaseParked(ref Frame parked, ushort portId, uint neighborIp)
    {
        if (GeneratedFull) { Counters.Drop(DropReason.PoolExhausted); ReleaseOwned(in parked); return; }
        ref Frame g = ref AddGenerated();
        g = parked;
        g.OutPort = PacketBatch.NoPort;
        g.Drop = DropReason.None;
        SendOnPort(ref g, portId, neighborIp);
    }

    internal void DropParked(ref Frame parked, bool unreachable)
    {
        if (unreachable) SendIcmpError(parked.Data, IcmpDestUnreachable, CodeHostUnreachable, 0);
        Counters.Drop(DropReason.NeighborUnresolved);
        ReleaseOwned(in parked);
    }

    internal bool ProbeIfDue(NeighborEntry entry)
    {
        if (_now < entry.ProbeDueMs) return true;
        if (entry.Probes >= NeighborTable.MaxProbes)
        {
            if (entry.State == NeighborState.Incomplete) Neighbors.MarkFailed(entry, _now);
            return false;
        }
        entry.Probes++;
        entry.ProbeDueMs = _now + NeighborTable.RetransMs;
        SendArpRequest(_s.Ports[entry.Port], entry.Ip);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SendArpRequest(PortInfo port, uint targetIp)
    {
        if (GeneratedFull) { Counters.Drop(DropReason.PoolExhausted); return; }
        ref Frame g = ref AddGenerated();
        if (!_pool.TryRent(ref g)) { Generated.Count--; Counters.Drop(DropReason.PoolExhausted); return; }
        g.Flags = FrameFlags.Generated;
        Span<byte> buffer = g.Data.Length == 0 ? GetTail(ref g, 14 + ArpPacket.Length) : default;
        Span<byte> ourMac = stackalloc byte[6];
        NeighborEntry.WriteMac(port.Mac, ourMac);
        Span<byte> broadcast = stackalloc byte[6];
        broadcast.Fill(0xFF);
        EthernetHeader.Write(buffer, broadcast, ourMac, EtherTypeArp);
        ArpPacket.WriteRequest(buffer.Slice(14), ourMac, port.PrimaryAddress, targetIp);
        g.OutPort = port.Id;
        Counters.ArpSent++;
    }

    /// <summary>Grows an empty pool frame to <paramref name="length"/> bytes and returns them.</summary>
    private static Span<byte> GetTail(ref Frame g, int length)
    {
        g.Length = length;
        return g.Data;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadDestination(ReadOnlySpan<byte> packet) =>
        BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.DestinationOffset));
}
