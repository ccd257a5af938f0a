using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;

namespace FastTun.Packets.Datapath;

/// <summary>
/// The worker's stage chain, run over a whole batch in passes, as VPP's graph nodes run over a vector:
/// <list type="number">
/// <item>parse and classify every frame (Ethernet, ARP, IPv4 checks; each header parsed once, the destination
/// kept in a side array);</item>
/// <item>one <see cref="Lpm4Reader.LookupBatch"/> for the batch;</item>
/// <item>local delivery (tunnel decap, ICMP, ARP) or forwarding (TTL, MTU, L2 rewrite) in arrival order;</item>
/// <item>one more batched lookup for the packets decapsulation uncovered, then their forwarding;</item>
/// <item>encapsulation in runs per tunnel through the tunnel's prebuilt outer path (its midchain adjacency), in
/// wire order.</item>
/// </list>
/// One per worker, never shared: its pools, pending queue, reassembler and counters are single-threaded. The
/// neighbour table and the forwarding state are shared and read lock-free.
///
/// After <see cref="Process"/> every rx frame is in one of three states: forwarded (OutPort set, Drop None),
/// dropped (Drop set and counted), or consumed (OutPort NoPort, Drop None: an ARP reply learned, a fragment
/// stored, a packet parked or split into fragments). Frames the pipeline built while processing the batch
/// (ICMP errors, ARP requests, fragments, packets released from the pending queue) take the place of the packet
/// they come from: <see cref="Process"/> returns the batch to transmit, which is the rx batch itself when it
/// built nothing, or the pipeline's ordered output batch. The worker transmits it and then calls
/// <see cref="Transmitted"/>. Frames built by <see cref="Tick"/> are in <see cref="Generated"/>; the worker sends
/// them and calls <see cref="ReleaseGenerated"/>.
/// </summary>
public sealed partial class Pipeline : IDisposable
{
    public const ulong BroadcastMac = 0xFFFF_FFFF_FFFF;
    private const ushort EtherTypeIpv4 = 0x0800;
    private const ushort EtherTypeArp = 0x0806;
    /// <summary>Anchor of frames built outside <see cref="Process"/> (timers): not part of a batch's order.</summary>
    private const int Unanchored = -1;

    private readonly Func<ForwardingState> _state;
    private readonly FramePool _pool;
    private readonly Ipv4Reassembler _reassembler;
    private readonly PendingQueue _pending;
    private readonly IcmpRateLimiter _icmpLimiter;
    private ForwardingState _s = null!;
    private NextHop[] _hops = [];
    private Lpm4Reader _routes;
    private long _now;
    private int _ipId;
    private long _nextTimerMs;

    // The capture tap: published by the control plane in _captureSlot, read once per batch into _tap.
    private CaptureTap? _captureSlot;
    private CaptureTap? _tap;

    // One-entry neighbour cache for connected destinations: packets of a batch mostly share a next hop.
    private NeighborEntry? _lastNeighbor;
    // Per tunnel (index into the state's tunnels): the neighbour entry of its adjacency, looked up once and then
    // read in place. Dropped when the state or the neighbour table's set of entries changes.
    private NeighborEntry?[] _tunnelNeighbor = [];
    private TunnelAdjacency?[] _tunnelNeighborFor = [];
    private int _neighborGeneration;

    // Side arrays of the batch passes: destination and lookup result of every routed packet.
    private readonly uint[] _dst = new uint[PacketBatch.MaxCapacity];
    private readonly uint[] _hop = new uint[PacketBatch.MaxCapacity];
    // Per routed packet of pass 1: its frame index and the copies pass 3 works from (RouteItem).
    private readonly RouteItem[] _routeItems = new RouteItem[PacketBatch.MaxCapacity];
    // The same for packets decapsulation uncovered in pass 3, routed in pass 4.
    private readonly uint[] _innerDst = new uint[PacketBatch.MaxCapacity];
    private readonly uint[] _innerHop = new uint[PacketBatch.MaxCapacity];
    private readonly int[] _innerFrameOf = new int[PacketBatch.MaxCapacity];
    private readonly Tunnels.Tunnel?[] _innerTunnel = new Tunnels.Tunnel?[PacketBatch.MaxCapacity];
    private int _innerCount;
    private readonly uint[] _uniqueDst = new uint[PacketBatch.MaxCapacity];
    private readonly uint[] _uniqueHop = new uint[PacketBatch.MaxCapacity];

    private PacketBatch _batch = null!;
    /// <summary>Order key of the frames built now: 0 before every rx frame, i + 1 right after rx frame i.</summary>
    private int _anchor = Unanchored;
    private readonly int[] _genKey;
    private int _genLimit;

    public Pipeline(Func<ForwardingState> state, NeighborTable neighbors, int poolFrames = 1024, int frameSize = 2048,
        int generatedCapacity = PacketBatch.MaxCapacity, int worker = 0, int workers = 1, TunnelHandoff? handoff = null)
    {
        if (workers is < 1 or > Tunnels.Tunnel.MaxWorkers) throw new ArgumentOutOfRangeException(nameof(workers));
        if ((uint)worker >= (uint)workers) throw new ArgumentOutOfRangeException(nameof(worker));
        if (handoff is not null && handoff.Workers != workers) throw new ArgumentException("handoff built for another worker count", nameof(handoff));
        _state = state;
        Neighbors = neighbors;
        _handoff = workers > 1 ? handoff : null;
        Worker = worker;
        Workers = workers;
        _pool = new FramePool(poolFrames, frameSize);
        _reassembler = new Ipv4Reassembler();
        _pending = new PendingQueue();
        _icmpLimiter = new IcmpRateLimiter();
        Generated = new PacketBatch(generatedCapacity);
        _genKey = new int[generatedCapacity];
        _genLimit = generatedCapacity;
        _output = new PacketBatch(PacketBatch.MaxCapacity);
        _outputSource = new int[PacketBatch.MaxCapacity];
        int perWorker = (0xFFFF - worker - 1) / workers + 1;
        _ipId = 1 + worker + workers * Random.Shared.Next(perWorker);
        _encap = new EncapItem[PacketBatch.MaxCapacity + generatedCapacity];
    }

    public NeighborTable Neighbors { get; }
    /// <summary>This pipeline's worker index and the number of workers: tunnel counters and IP IDs are kept per
    /// worker, and a sequenced tunnel is encapsulated by one of them.</summary>
    public int Worker { get; }
    public int Workers { get; }
    public WorkerCounters Counters { get; } = new();
    public PacketBatch Generated { get; }
    public int PendingCount => _pending.Count;
    /// <summary>True when other workers handed this one packets it has not sent yet: the worker must not sleep.</summary>
    public bool HasHandoffWork => _handoff is not null && _handoff.HasInbound(Worker);
    public int PoolAvailable => _pool.Available;

    /// <summary>The running capture's tap for this worker, or null. Control plane sets and clears it; the worker
    /// picks the change up at its next batch.</summary>
    public CaptureTap? Capture
    {
        get => Volatile.Read(ref _captureSlot); // acquire: pairs with the setter's release
        set => Volatile.Write(ref _captureSlot, value); // release: the tap and its ring are built before a worker sees them
    }

    /// <summary>
    /// Runs every stage over <paramref name="batch"/>, reading the forwarding state once, and returns the frames
    /// to transmit in wire order: <paramref name="batch"/> itself when the pipeline built no frame for it, else
    /// the pipeline's output batch, where built frames sit in the place of the packets they come from. Transmit
    /// it (every port's TxBurst), then call <see cref="Transmitted"/> before returning the rx frames to their port.
    /// </summary>
    public unsafe PacketBatch Process(PacketBatch batch, long nowMs)
    {
        BeginBatch(nowMs);
        var tap = _tap;
        if (tap is not null) tap.BeforeStages(batch);
        _batch = batch;
        int n = batch.Count;
        // Built frames join the batch's output, which must stay a batch a port can take.
        _genLimit = Math.Min(Generated.Capacity, PacketBatch.MaxCapacity - n);
        int genStart = Generated.Count;

        // Pass 1: parse and classify. Each frame's IPv4 header is checked once; its destination goes to _dst.
        int m = 0;
        PortInfo[] ports = _s.Ports;
        ref uint dst = ref MemoryMarshal.GetArrayDataReference(_dst);
        ref RouteItem item0 = ref MemoryMarshal.GetArrayDataReference(_routeItems);
        ref uint unique = ref MemoryMarshal.GetArrayDataReference(_uniqueDst);
        int u = 0; // destinations that differ from the one before: pass 2 looks up only these
        uint previous = 0;
        Tunnels.TunnelTable.Slot[]? prefetchSlots = _prefetchSlots; // null: a table of 1–4 tunnels (no hints)
        uint prefetchedSource = 0; // the outer source whose tunnel-table line the last hint asked for
        int home = -1; // its home slot (−1: none), kept in RouteItem.TunnelSlot for pass 3
        Span<Frame> frames = batch.Frames;
        for (int i = 0; i < frames.Length; i++)
        {
            ref Frame f = ref frames[i];
            PrefetchHeaders(frames, i + PrefetchAhead);
            // The common frame (untagged IPv4 to our MAC, 20-byte header, valid) in a few loads; anything else, or
            // any check that fails, takes the general path from the start, which names the reason.
            // Header bytes 8–11, 12–15 and 16–19 as native loads: the common path's checks read them anyway.
            int common = ClassifyCommon(ref f, ports, out uint ttlWord, out uint sourceWord, out uint destinationWord);
            if (common < 0)
            {
                _anchor = i + 1; // the general path may build frames (an ARP reply): they go after this one
                if (!Classify(ref f)) continue;
                byte* header = (byte*)f.Buffer + f.Offset;
                ttlWord = Unsafe.ReadUnaligned<uint>(header + Ipv4Header.TtlOffset);
                sourceWord = Unsafe.ReadUnaligned<uint>(header + Ipv4Header.SourceOffset);
                destinationWord = Unsafe.ReadUnaligned<uint>(header + Ipv4Header.DestinationOffset);
            }
            else if (common == 0) continue;
            byte* ip = (byte*)f.Buffer + f.Offset; // the packet's IPv4 header (for the decap hook's reads)
            // What pass 3 needs of the header, kept now while its line is in the L1: the frames' header lines share
            // few L1 sets (2 KiB buffers, same headroom), so by pass 3 most of a 64-frame batch has left it.
            uint d = BigEndianOf(destinationWord);
            Unsafe.Add(ref dst, m) = d;
            ref RouteItem item = ref Unsafe.Add(ref item0, m);
            item.Source = BigEndianOf(sourceWord);
            item.TtlWord = ttlWord;
            item.Frame = i;
            Unsafe.Add(ref unique, u) = d; // written always, kept only when it differs from the one before
            u += d != previous || m == 0 ? 1 : 0;
            previous = d;
            m++;
            // Decap prefetch (one stage, from the words loaded above): a run of one spoke's packets asks once.
            // Each tunnel packet's home slot is kept for pass 3 (hub7c): its probe then loads the line without waiting
            // for the header, which by then has mostly left the L1.
            // A run of one source's packets hashes once and keeps that slot (a hint only: pass 3's memo serves the run).
            if (prefetchSlots is not null)
            {
                if (item.Source != prefetchedSource)
                {
                    prefetchedSource = item.Source;
                    home = -1;
                    if (TryReadTunnelKey(ip, f.Length, ttlWord, out byte tunnelProtocol, out uint tunnelKey))
                    {
                        home = Tunnels.TunnelTable.HomeSlot(prefetchSlots, item.Source, d, tunnelProtocol, tunnelKey);
                        Tunnels.TunnelTable.PrefetchSlot(prefetchSlots, home);
                    }
                }
                item.TunnelSlot = home;
            }
        }

        // Packets parked for a neighbour that answered leave before this batch's: they are older. So do the
        // packets other workers handed over for the sequenced tunnels this worker owns.
        _anchor = 0;
        if (_pending.Count > 0) ServicePending();
        if (_handoff is not null) TakeHandoffs();

        // Pass 2: one lookup for the whole batch (the tunnel-table lines pass 1 asked for arrive meanwhile).
        LookupUnique(m, u);

        // Pass 3: local delivery or forwarding, in arrival order. Decapsulated packets are queued for pass 4.
        _innerCount = 0;
        int portForwarded = RoutePass(frames, m);

        // Pass 4: the packets that came out of tunnels, with one more batched lookup.
        if (_innerCount > 0) RouteDecapsulated();

        // Pass 5: encapsulation, in runs per tunnel, in wire order.
        _encapRxForwarded = 0;
        if (_encapCount > 0) RunEncap();
        _anchor = Unanchored;

        var counters = Counters;
        int forwarded = 0, consumed = 0, dropped = 0;
        if (portForwarded + _encapRxForwarded == n)
        {
            // Pass 3's port fast path and the encap fast run forwarded every rx frame between them (each frame by one
            // of them, once), and nothing after them touches those frames.
            forwarded = n;
        }
        else
        {
            for (int i = 0; i < frames.Length; i++)
            {
                ref Frame f = ref frames[i];
                // edge hook (exact accounting): every rx frame lands in exactly one of Forwarded, Consumed, RxDropped.
                if (f.Drop != DropReason.None) { counters.Drop(f.Drop); dropped++; }
                else if (f.OutPort != PacketBatch.NoPort) forwarded++;
                else consumed++;
            }
        }
        counters.Forwarded += forwarded;
        counters.Consumed += consumed;
        counters.RxDropped += dropped;
        CountGenerated(genStart);
        if (tap is not null) tap.AfterStages(batch, Generated);
        Counters.Packets += n;
        Counters.Batches++;
        _genLimit = Generated.Capacity;
        if (_handedTo != 0) NotifyOwners();
        return BuildOutput(batch, genStart);
    }

    /// <summary>Timers: ARP retransmissions, pending-queue release and expiry, reassembly expiry. Cheap when
    /// nothing is due; the worker calls it every loop.</summary>
    public void Tick(long nowMs)
    {
        bool inbound = _handoff is not null && _handoff.HasInbound(Worker);
        if (nowMs < _nextTimerMs && _pending.Count == 0 && !inbound) return;
        BeginBatch(nowMs);
        if (nowMs >= _nextTimerMs) _nextTimerMs = nowMs + 10;
        int genStart = Generated.Count;
        ServicePending();
        if (inbound) TakeHandoffs();
        if (Keepalives is { HasWork: true }) SendKeepalives(); // keepalive hook: probes the control plane posted
        if (_encapCount > 0) RunEncap();
        CountGenerated(genStart);
        if (_handedTo != 0) NotifyOwners();
        if (_tap is not null && Generated.Count > 0) _tap.Generated(Generated);
        int expired = _reassembler.Expire(nowMs);
        Counters.Drops[(int)DropReason.ReassemblyTimeout] += expired;
    }

    /// <summary>Returns the generated frames to their pools after the worker has transmitted them.</summary>
    public void ReleaseGenerated()
    {
        for (int i = 0; i < Generated.Count; i++) ReleaseOwned(in Generated[i]);
        Generated.Clear();
        if (_handoffTaken) ReleaseHandoffs();
    }

    private void BeginBatch(long nowMs)
    {
        _now = nowMs;
        var s = _state();
        if (!ReferenceEquals(s, _s))
        {
            // A state whose tunnels keep counters for fewer workers than run would index past them: refuse it here,
            // once per state, rather than fault inside the encap or decap path.
            if (s.WorkerSlots < Workers)
                throw new InvalidOperationException($"forwarding state built for {s.WorkerSlots} worker(s), this gateway runs {Workers}");
            _s = s;
            _lastNeighbor = null;
            _tunnelNeighbor = new NeighborEntry?[s.Tunnels.Length];
            _tunnelNeighborFor = new TunnelAdjacency?[s.Tunnels.Length];
        }
        int generation = Neighbors.Generation;
        if (generation != _neighborGeneration)
        {
            // An entry was added or removed: a cached one may be gone from the table (and no longer updated).
            _neighborGeneration = generation;
            _lastNeighbor = null;
            Array.Clear(_tunnelNeighbor);
        }
        _hops = s.NextHops;
        _routes = s.Routes.GetReader(); // one route-table snapshot per batch
        var decapSlots = s.Decap.Snapshot;
        _prefetchSlots = decapSlots.Length >= Tunnels.TunnelTable.HintSlots ? decapSlots : null; // the size from which hints pay
        _tap = Volatile.Read(ref _captureSlot); // acquire, once per batch: pairs with the Capture setter
        _sourceCacheValid = false; // a new route snapshot: the last source verdict may no longer hold
        RefreshSourceEpoch(s); // hub7s hook: the decap run's cached outer source verdicts (after _routes)
    }

    /// <summary>The batch's tunnel-table snapshot when it is large enough for the decap hints (<see cref="Tunnels.TunnelTable.HintSlots"/>), else null. Only
    /// hints come from it: pass 3 probes the table it reads itself, so a table published in between costs a wasted hint.</summary>
    private Tunnels.TunnelTable.Slot[]? _prefetchSlots;

    // The decap prefetch (as VPP's ipip-input, in one stage): an IPIP or GRE packet asks for its tunnel-table line in
    // pass 1, from the header words pass 1 loaded, and pass 3's probe finds it there, starting from the home slot pass 1
    // kept (RouteItem.TunnelSlot); pass 2's lookup runs in between. A packet not addressed to us only wastes the hint.

    /// <summary>The protocol and GRE key (<see cref="Tunnels.TunnelTable.TryReadGreKey"/>) of the tunnel-table key
    /// (<see cref="Tunnels.TunnelTable.TryReadKey"/>, its oracle in the tests) of the valid IPv4 packet at <paramref name="ip"/>, <paramref name="length"/> bytes, whose
    /// header bytes 8–11 pass 1 loaded natively into <paramref name="ttlWord"/>: the key is 0 without one. False when
    /// the packet is not IPIP or GRE or too short to tell.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe bool TryReadTunnelKey(byte* ip, int length, uint ttlWord, out byte protocol, out uint key)
    {
        protocol = BitConverter.IsLittleEndian ? (byte)(ttlWord >> 8) : (byte)(ttlWord >> 16);
        key = 0;
        if (protocol == Ipv4Header.ProtocolGre) return Tunnels.TunnelTable.TryReadGreKey(ref *ip, length, out _, out key);
        return protocol == Ipv4Header.ProtocolIpip;
    }

    /// <summary>How many frames ahead pass 1 asks for a frame's headers: their loads overlap with the work on the
    /// frames before (a NIC writes them to memory, not to this core's cache).</summary>
    private const int PrefetchAhead = 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchHeaders(Span<Frame> frames, int i)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported || (uint)i >= (uint)frames.Length) return;
        ref Frame f = ref frames[i];
        System.Runtime.Intrinsics.X86.Sse.Prefetch0((byte*)f.Buffer + f.Offset);
    }

    /// <summary>Layer 2 and the IPv4 header checks. True when the frame is now a valid IPv4 packet (data at
    /// its header, length its total length) to route; false when it was dropped or consumed (ARP). The general path
    /// behind <see cref="ClassifyCommon"/>: not inlined, so that the pass-1 loop stays small.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Classify(ref Frame f)
    {
        Span<byte> data = f.Data;
        if (data.Length < 14) { f.Drop = DropReason.Truncated; return false; }
        if ((uint)f.InPort >= (uint)_s.Ports.Length) { f.Drop = DropReason.NotForUs; return false; }
        var port = _s.Ports[f.InPort];
        ulong dstMac = NeighborEntry.ReadMac(data);
        ushort etherType = (ushort)((data[12] << 8) | data[13]);
        if (etherType == EtherTypeIpv4)
        {
            if (dstMac != port.Mac) { f.Drop = DropReason.NotForUs; return false; }
            f.TrimFront(14);
            // edge hook (offload): a partial checksum a sender's offload left is completed here, or the frame dropped.
            return ParseIpv4(ref f) && CompleteOffloadedChecksum(ref f);
        }
        if (dstMac != port.Mac && dstMac != BroadcastMac) { f.Drop = DropReason.NotForUs; return false; }
        if (etherType == EtherTypeArp) { ReceiveArp(ref f, port); return false; }
        f.Drop = DropReason.UnsupportedEtherType; // 802.1Q-tagged and non-IPv4 frames included
        return false;
    }

    /// <summary>
    /// <see cref="Classify"/> for the frame almost every frame is: an untagged IPv4 frame to the port's MAC whose
    /// 20-byte header is valid, read with fixed-size loads instead of per-field bounds-checked reads. When the frame
    /// passes every check <see cref="Classify"/> makes, it is trimmed to the IPv4 packet exactly as Classify would,
    /// the offload edge hook runs, and the result is 1 (route it) or 0 (the hook dropped it); the header's bytes 8–11,
    /// 12–15 and 16–19 are then in <paramref name="ttlWord"/>, <paramref name="sourceWord"/> and
    /// <paramref name="destinationWord"/> as native loads. When any check does not pass, the frame is untouched and
    /// the result is −1: Classify then decides (and names the drop reason) from the start.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe int ClassifyCommon(ref Frame f, PortInfo[] ports, out uint ttlWord, out uint sourceWord, out uint destinationWord)
    {
        int length = f.Length;
        ttlWord = sourceWord = destinationWord = 0;
        if (length < 14 + Ipv4Header.MinLength || (uint)f.InPort >= (uint)ports.Length) return -1;
        byte* p = (byte*)f.Buffer + f.Offset;
        ulong word = Unsafe.ReadUnaligned<ulong>(p);
        ulong dstMac = (BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(word) : word) >> 16;
        uint typeAndVersion = Unsafe.ReadUnaligned<uint>(p + 12); // EtherType, version/IHL, TOS
        uint expected = BitConverter.IsLittleEndian ? 0x0045_0008u : 0x0800_4500u;
        if ((typeAndVersion & (BitConverter.IsLittleEndian ? 0x00FF_FFFFu : 0xFFFF_FF00u)) != expected) return -1;
        if (dstMac != ports[f.InPort].Mac) return -1;
        byte* ip = p + 14;
        uint w0 = Unsafe.ReadUnaligned<uint>(ip);
        uint w4 = Unsafe.ReadUnaligned<uint>(ip + 4);
        ttlWord = Unsafe.ReadUnaligned<uint>(ip + Ipv4Header.TtlOffset);
        sourceWord = Unsafe.ReadUnaligned<uint>(ip + Ipv4Header.SourceOffset);
        destinationWord = Unsafe.ReadUnaligned<uint>(ip + Ipv4Header.DestinationOffset);
        int total = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)(w0 >> 16)) : (ushort)w0;
        if (total < Ipv4Header.MinLength || total > length - 14
            || !Checksum.Ipv4HeaderChecksum.IsValid20(w0, w4, ttlWord, sourceWord, destinationWord)) return -1;
        f.Offset += 14;
        f.Length = total; // drop Ethernet padding
        // edge hook (offload), as in Classify: from here the frame is Classify's, success or drop alike. The hook
        // only acts on a TCP/UDP packet whose checksum field holds the bare pseudo-header sum; any other packet is
        // told apart here with a few loads, and a candidate goes through the hook itself.
        return !MaybePartialChecksum(ip, total, sourceWord, destinationWord) || CompleteOffloadedChecksum(ref f) ? 1 : 0;
    }

    /// <summary>The checks of a 20-byte IPv4 header whose version/IHL byte the caller has seen to be 0x45: a total length
    /// from 20 to <paramref name="available"/> bytes and a valid checksum, with fixed-size loads (the inner header of a
    /// decapsulated packet, local delivery). False sends the packet to the general checks, which name the drop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool CommonHeaderValid(byte* ip, int available, out int total)
    {
        uint w0 = Unsafe.ReadUnaligned<uint>(ip);
        total = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)(w0 >> 16)) : (ushort)w0;
        return total >= Ipv4Header.MinLength && total <= available
            && Checksum.Ipv4HeaderChecksum.IsValid20(w0, Unsafe.ReadUnaligned<uint>(ip + 4), Unsafe.ReadUnaligned<uint>(ip + 8),
                Unsafe.ReadUnaligned<uint>(ip + 12), Unsafe.ReadUnaligned<uint>(ip + 16));
    }

    /// <summary>False when <see cref="PartialChecksum.CompleteIfPartial"/> would find nothing to do for the IPv4 packet
    /// (20-byte header, <paramref name="total"/> bytes) at <paramref name="ip"/>: not TCP/UDP, no room for the
    /// checksum field, or a field that is not the folded pseudo-header sum. True: ask it. <paramref name="sourceWord"/>
    /// and <paramref name="destinationWord"/> are the header's addresses as native loads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool MaybePartialChecksum(byte* ip, int total, uint sourceWord, uint destinationWord)
    {
        byte protocol = ip[Ipv4Header.ProtocolOffset];
        int field;
        if (protocol == Ipv4Header.ProtocolUdp) field = 6;
        else if (protocol == Ipv4Header.ProtocolTcp) field = 16;
        else return false;
        int segment = total - Ipv4Header.MinLength;
        if (segment < field + 2) return false;
        ushort stored = Unsafe.ReadUnaligned<ushort>(ip + Ipv4Header.MinLength + field);
        return Checksum.PartialChecksum.MatchesPseudoHeader(sourceWord, destinationWord, protocol, segment, stored);
    }

    /// <summary>Checks an IPv4 header once (lengths, version, checksum) and trims link padding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ParseIpv4(ref Frame f)
    {
        if (!Ipv4Header.TryParse(f.Data, out var ip, out var reason)) { f.Drop = reason; return false; }
        if (!ip.IsChecksumValid()) { f.Drop = DropReason.BadIpChecksum; return false; }
        f.Length = ip.TotalLength; // drop Ethernet padding
        return true;
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
