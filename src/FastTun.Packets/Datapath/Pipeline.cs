using System.Runtime.CompilerServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;

namespace FastTun.Packets.Datapath;

/// <summary>
/// The worker's stage chain, run over a whole batch: classify (Ethernet, ARP, IPv4 checks) → local delivery
/// (ARP, ICMP echo, reassembly, tunnel decap) or forward (TTL, route, MTU/fragment, encap, neighbour, L2 rewrite).
/// One per worker, never shared: its pools, pending queue, reassembler and counters are single-threaded. The
/// neighbour table and the forwarding state are shared and read lock-free.
///
/// After <see cref="Process"/> every rx frame is in one of three states: forwarded (OutPort set, Drop None),
/// dropped (Drop set and counted), or consumed (OutPort NoPort, Drop None: an ARP reply learned, a fragment
/// stored, a packet parked or split into fragments). Frames the pipeline built (ICMP errors, ARP requests,
/// fragments, packets released from the pending queue) are in <see cref="Generated"/>, ready to send; the worker
/// transmits them and then calls <see cref="ReleaseGenerated"/>.
/// </summary>
public sealed partial class Pipeline : IDisposable
{
    public const ulong BroadcastMac = 0xFFFF_FFFF_FFFF;
    private const ushort EtherTypeIpv4 = 0x0800;
    private const ushort EtherTypeArp = 0x0806;

    private readonly Func<ForwardingState> _state;
    private readonly FramePool _pool;
    private readonly Ipv4Reassembler _reassembler;
    private readonly PendingQueue _pending;
    private readonly IcmpRateLimiter _icmpLimiter;
    private ForwardingState _s = null!;
    private NextHop[] _hops = [];
    private Lpm4Reader _routes;
    private long _now;
    private ushort _ipId;
    private long _nextTimerMs;

    // The capture tap: published by the control plane in _captureSlot, read once per batch into _tap.
    private CaptureTap? _captureSlot;
    private CaptureTap? _tap;

    // One-entry neighbour cache: packets of a batch mostly share a next hop.
    private NeighborEntry? _lastNeighbor;

    public Pipeline(Func<ForwardingState> state, NeighborTable neighbors, int poolFrames = 1024, int frameSize = 2048,
        int generatedCapacity = PacketBatch.MaxCapacity)
    {
        _state = state;
        Neighbors = neighbors;
        _pool = new FramePool(poolFrames, frameSize);
        _reassembler = new Ipv4Reassembler();
        _pending = new PendingQueue();
        _icmpLimiter = new IcmpRateLimiter();
        Generated = new PacketBatch(generatedCapacity);
        _ipId = (ushort)Random.Shared.Next(1, 0x10000);
    }

    public NeighborTable Neighbors { get; }
    public WorkerCounters Counters { get; } = new();
    public PacketBatch Generated { get; }
    public int PendingCount => _pending.Count;
    public int PoolAvailable => _pool.Available;

    /// <summary>The running capture's tap for this worker, or null. Control plane sets and clears it; the worker
    /// picks the change up at its next batch.</summary>
    public CaptureTap? Capture
    {
        get => Volatile.Read(ref _captureSlot); // acquire: pairs with the setter's release
        set => Volatile.Write(ref _captureSlot, value); // release: the tap and its ring are built before a worker sees them
    }

    /// <summary>Runs every stage over <paramref name="batch"/>. Reads the forwarding state once.</summary>
    public void Process(PacketBatch batch, long nowMs)
    {
        BeginBatch(nowMs);
        var tap = _tap;
        if (tap is not null) tap.BeforeStages(batch);
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            Classify(ref f);
            // edge hook (exact accounting): every rx frame lands in exactly one of Forwarded, Consumed, RxDropped.
            if (f.Drop != DropReason.None) { Counters.Drop(f.Drop); Counters.RxDropped++; }
            else if (f.OutPort != PacketBatch.NoPort) Counters.Forwarded++;
            else Counters.Consumed++;
        }
        if (tap is not null) tap.AfterStages(batch, Generated);
        Counters.Packets += batch.Count;
        Counters.Batches++;
    }

    /// <summary>Timers: ARP retransmissions, pending-queue release and expiry, reassembly expiry. Cheap when
    /// nothing is due; the worker calls it every loop.</summary>
    public void Tick(long nowMs)
    {
        if (nowMs < _nextTimerMs && _pending.Count == 0) return;
        BeginBatch(nowMs);
        _nextTimerMs = nowMs + 10;
        ServicePending();
        if (_tap is not null && Generated.Count > 0) _tap.Generated(Generated);
        int expired = _reassembler.Expire(nowMs);
        Counters.Drops[(int)DropReason.ReassemblyTimeout] += expired;
    }

    /// <summary>Returns the generated frames to their pools after the worker has transmitted them.</summary>
    public void ReleaseGenerated()
    {
        for (int i = 0; i < Generated.Count; i++) ReleaseOwned(in Generated[i]);
        Generated.Clear();
    }

    private void BeginBatch(long nowMs)
    {
        _now = nowMs;
        var s = _state();
        if (!ReferenceEquals(s, _s))
        {
            _s = s;
            _lastNeighbor = null;
        }
        _hops = s.NextHops;
        _routes = s.Routes.GetReader(); // one route-table snapshot per batch
        _tap = Volatile.Read(ref _captureSlot); // acquire, once per batch: pairs with the Capture setter
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Classify(ref Frame f)
    {
        Span<byte> data = f.Data;
        if (data.Length < 14) { f.Drop = DropReason.Truncated; return; }
        if ((uint)f.InPort >= (uint)_s.Ports.Length) { f.Drop = DropReason.NotForUs; return; }
        var port = _s.Ports[f.InPort];
        ulong dstMac = NeighborEntry.ReadMac(data);
        ushort etherType = (ushort)((data[12] << 8) | data[13]);
        if (etherType == EtherTypeIpv4)
        {
            if (dstMac != port.Mac) { f.Drop = DropReason.NotForUs; return; }
            f.TrimFront(14);
            ReceiveIpv4(ref f);
            return;
        }
        if (dstMac != port.Mac && dstMac != BroadcastMac) { f.Drop = DropReason.NotForUs; return; }
        if (etherType == EtherTypeArp) { ReceiveArp(ref f, port); return; }
        f.Drop = DropReason.UnsupportedEtherType; // 802.1Q-tagged and non-IPv4 frames included
    }

    /// <summary>An IPv4 packet whose data starts at its header: from a port, or out of <paramref name="inTunnel"/>.</summary>
    private void ReceiveIpv4(ref Frame f, Tunnels.Tunnel? inTunnel = null)
    {
        if (!Ipv4Header.TryParse(f.Data, out var ip, out var reason)) { f.Drop = reason; return; }
        if (!ip.IsChecksumValid()) { f.Drop = DropReason.BadIpChecksum; return; }
        // edge hook (SourceCheck): martian sources and rp-filter, once per packet received from a port or a tunnel.
        var sourceDrop = _s.Sources.Check(ip.Source, f.InPort, inTunnel, _s, in _routes, _hops);
        if (sourceDrop != DropReason.None) { f.Drop = sourceDrop; return; }
        f.Length = ip.TotalLength; // drop Ethernet padding
        if (inTunnel is null && !CompleteOffloadedChecksum(ref f)) return; // edge hook: partial (offloaded) checksums
        uint hopIndex = _routes.Lookup(ip.Destination);
        if (hopIndex >= (uint)_hops.Length) { RouteMiss(ref f, hopIndex); return; }
        Dispatch(ref f, in _hops[hopIndex]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RouteMiss(ref Frame f, uint hopIndex)
    {
        if (hopIndex != Lpm4Table.NoRoute)
        {
            // A route added after this batch's next-hop snapshot: take the newer array and retry once.
            _hops = _s.NextHops;
            if (hopIndex < (uint)_hops.Length)
            {
                Dispatch(ref f, in _hops[hopIndex]);
                return;
            }
        }
        SendIcmpError(f.Data, IcmpDestUnreachable, CodeNetUnreachable, 0);
        f.Drop = DropReason.NoRoute;
    }

    /// <summary>After the route lookup: to ourselves, or onwards.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Dispatch(ref Frame f, in NextHop hop)
    {
        if (hop.Kind == NextHopKind.Local) DeliverLocal(ref f);
        else Forward(ref f, in hop, locallyOriginated: false);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReceiveArp(ref Frame f, PortInfo port)
    {
        Span<byte> data = f.Data;
        if (!ArpPacket.TryParse(data.Slice(14), out var arp)) { f.Drop = DropReason.BadArp; return; }
        uint target = arp.TargetIp;
        uint sender = arp.SenderIp;
        ulong senderMac = NeighborEntry.ReadMac(arp.SenderMac);
        bool forUs = port.Owns(target);
        // Like Linux: a request or reply aimed at us creates or confirms the sender's entry; other ARP traffic
        // only refreshes an entry we already have (no cache poisoning by strangers' chatter).
        // edge hook (NeighborTable.LearnFromArp): learning rules (connected subnet, per-port cap) live in the table.
        Neighbors.LearnFromArp(port.Id, sender, senderMac, _now, aimedAtUs: forUs);
        if (!forUs) { f.Drop = DropReason.NotForUs; return; }
        if (arp.Operation != ArpPacket.OperationRequest) return; // a reply: learned, consumed

        // Turn the request into the reply in place and send it back out of the same port.
        Span<byte> ourMac = stackalloc byte[6];
        NeighborEntry.WriteMac(port.Mac, ourMac);
        Span<byte> requesterMac = stackalloc byte[6];
        NeighborEntry.WriteMac(senderMac, requesterMac);
        EthernetHeader.Write(data, requesterMac, ourMac, EtherTypeArp);
        int len = ArpPacket.WriteReply(data.Slice(14), ourMac, target, requesterMac, sender);
        f.Length = 14 + len;
        f.OutPort = port.Id;
    }

    private void ReleaseOwned(in Frame f)
    {
        if ((f.Flags & FrameFlags.Reassembled) != 0) _reassembler.Return(f);
        else if ((f.Flags & FrameFlags.Generated) != 0) _pool.Return(f);
    }

    public void Dispose()
    {
        _pending.Clear(this);
        ReleaseGenerated();
        _reassembler.Dispose();
        _pool.Dispose();
    }
}
