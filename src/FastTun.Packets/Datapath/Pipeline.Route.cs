using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Routing;

namespace FastTun.Packets.Datapath;

/// <summary>Routing: the batched lookups of passes 2 and 4 and the dispatch after them.</summary>
public sealed partial class Pipeline
{
    /// <summary>An IPv4 packet whose data starts at its valid header, routed one at a time: reassembled
    /// datagrams and packets decapsulated from them (rare paths).</summary>
    private void ReceiveIpv4(ref Frame f)
    {
        if (!ParseIpv4(ref f)) return;
        Route(ref f, _routes.Lookup(ReadDestination(f.Data)), -1);
    }

    /// <summary>After the route lookup: to ourselves, or onwards. <paramref name="rxIndex"/> is the frame's
    /// index in the batch while pass 3 runs (decapsulation then queues the inner packet for pass 4), else −1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Route(ref Frame f, uint hopIndex, int rxIndex)
    {
        if (hopIndex >= (uint)_hops.Length) { RouteMiss(ref f, hopIndex, rxIndex); return; }
        ref readonly NextHop hop = ref _hops[hopIndex];
        // Hooks: ECMP next-hop selection (config) and the martian / rp-filter check (edge) go here, once per
        // routed packet (forwarded or decapsulated), before the packet is delivered or forwarded.
        if (hop.Kind == NextHopKind.Local) DeliverLocal(ref f, rxIndex);
        else Forward(ref f, in hop, locallyOriginated: false);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RouteMiss(ref Frame f, uint hopIndex, int rxIndex)
    {
        if (hopIndex != Lpm4Table.NoRoute)
        {
            // A route added after this batch's next-hop snapshot: take the newer array and retry once.
            _hops = _s.NextHops;
            if (hopIndex < (uint)_hops.Length)
            {
                Route(ref f, hopIndex, rxIndex);
                return;
            }
        }
        SendIcmpError(f.Data, IcmpDestUnreachable, CodeNetUnreachable, 0);
        f.Drop = DropReason.NoRoute;
    }

    /// <summary>
    /// hop[k] = the route of dst[k] for k &lt; count, with one <see cref="Lpm4Reader.LookupBatch"/> over the
    /// destinations that differ from the one before: a run of packets to one address (every tunnel packet to our
    /// endpoint address, a burst of one flow) is looked up once. Same table snapshot for the whole batch, so the
    /// answer is the one each lookup would have given.
    /// </summary>
    private void LookupRuns(uint[] dst, uint[] hop, int count)
    {
        if (count == 0) return;
        // Every array here holds PacketBatch.MaxCapacity entries and count is at most that: no bounds checks.
        if ((uint)count > (uint)dst.Length || hop.Length < count) throw new ArgumentOutOfRangeException(nameof(count));
        uint[] unique = _uniqueDst;
        ref uint d0 = ref MemoryMarshal.GetArrayDataReference(dst);
        ref uint u0 = ref MemoryMarshal.GetArrayDataReference(unique);
        int u = 0;
        uint previous = ~d0;
        for (int k = 0; k < count; k++)
        {
            uint d = Unsafe.Add(ref d0, k);
            Unsafe.Add(ref u0, u) = d; // written always, kept only when it differs from the one before
            u += d != previous ? 1 : 0;
            previous = d;
        }
        LookupAndExpand(dst, hop, count, u);
    }

    /// <summary>Pass 2: <see cref="LookupRuns"/> over pass 1's destinations, whose runs pass 1 already collapsed into
    /// the first <paramref name="unique"/> entries of _uniqueDst. Without any run (a batch of many flows), the batch
    /// is looked up straight into _hop.</summary>
    private void LookupUnique(int count, int unique)
    {
        if (count == 0) return;
        if ((uint)count > (uint)_dst.Length || (uint)unique > (uint)count) throw new ArgumentOutOfRangeException(nameof(count));
        if (unique == count) _routes.LookupBatch(_dst.AsSpan(0, count), _hop);
        else LookupAndExpand(_dst, _hop, count, unique);
    }

    /// <summary>Looks up the first <paramref name="u"/> entries of _uniqueDst (the runs of <paramref name="dst"/>) and
    /// gives every entry of each run its run's answer.</summary>
    private void LookupAndExpand(uint[] dst, uint[] hop, int count, int u)
    {
        if ((uint)count > (uint)dst.Length || hop.Length < count) throw new ArgumentOutOfRangeException(nameof(count));
        ref uint d0 = ref MemoryMarshal.GetArrayDataReference(dst);
        uint previous;
        _routes.LookupBatch(_uniqueDst.AsSpan(0, u), _uniqueHop);
        ref uint uh = ref MemoryMarshal.GetArrayDataReference(_uniqueHop);
        ref uint h0 = ref MemoryMarshal.GetArrayDataReference(hop);
        int j = -1;
        previous = ~d0;
        for (int k = 0; k < count; k++)
        {
            uint d = Unsafe.Add(ref d0, k);
            j += d != previous ? 1 : 0;
            previous = d;
            Unsafe.Add(ref h0, k) = Unsafe.Add(ref uh, j);
        }
    }

    /// <summary>edge hook (SourceCheck): martian sources and rp-filter for a packet from a port
    /// (<paramref name="inTunnel"/> null) or out of a tunnel. False when the frame was dropped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe bool SourceAllowed(ref Frame f, Tunnels.Tunnel? inTunnel) =>
        // Every caller passes a packet whose IPv4 header was checked (at least 20 bytes): a fixed-size load.
        SourceAllowed(ref f, LoadBigEndian((byte*)f.Buffer + f.Offset + Headers.Ipv4Header.SourceOffset), inTunnel);

    /// <summary><see cref="SourceAllowed(ref Frame, Tunnels.Tunnel?)"/> with the packet's source address read
    /// already (pass 1's copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool SourceAllowed(ref Frame f, uint source, Tunnels.Tunnel? inTunnel)
    {
        // Packets of a batch mostly come from one flow: the verdict for the last (source, port, tunnel) holds for
        // the rest of the batch (same route snapshot), which saves the reverse-path lookup. The tunnel counts only
        // under strict rp-filter (hub6 hook): a hub's inner packets from many spokes share one lookup per source.
        if (!_sourceCacheValid || source != _sourceCacheAddress || f.InPort != _sourceCachePort
            || (!ReferenceEquals(inTunnel, _sourceCacheTunnel) && _s.Sources.DependsOnTunnel))
        {
            _sourceCacheVerdict = _s.Sources.Check(source, f.InPort, inTunnel, _s, in _routes, _hops);
            _sourceCacheAddress = source;
            _sourceCachePort = f.InPort;
            _sourceCacheTunnel = inTunnel;
            _sourceCacheValid = true;
        }
        if (_sourceCacheVerdict == DropReason.None) return true;
        f.Drop = _sourceCacheVerdict;
        return false;
    }

    /// <summary>
    /// The decap run's outer source check (pass 3's, for a packet of the tunnel whose per-worker decap entry is
    /// <paramref name="tunnelEntry"/>): the same verdict as <see cref="SourceAllowed(ref Frame, uint, Tunnels.Tunnel?)"/>
    /// with no tunnel, cached per tunnel and worker. <see cref="SourceCheck.Check"/> without a tunnel reads the source,
    /// the in-port (strict), the state's check (mode, own addresses), its multipath groups, the next hops (append-only)
    /// and the route table's answers: the entry keeps the (source, port) it was made for and the epoch it was made in,
    /// and the epoch changes with the state or the table's <see cref="Routing.Lpm4Table.Version"/>
    /// (<see cref="RefreshSourceEpoch"/>). A hub's packets change tunnel (and outer source) at nearly every packet:
    /// this replaces a reverse-path LPM lookup per packet by a compare on the decap counter line it writes anyway.
    /// A packet whose source is not the one cached (another tunnel's entry, a tunnel rebuilt with a new remote)
    /// gets the full check, which then caches its own answer. False when the frame was dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // once per change of spoke: out of the run's loop (its registers)
    private unsafe bool SourceAllowedOuter(ref Frame f, uint source, nint tunnelEntry)
    {
        long* e = (long*)tunnelEntry;
        ulong key = Tunnels.DecapCounters.VerdictKey(source, f.InPort);
        ulong cached = (ulong)e[Tunnels.DecapCounters.VerdictKeyField];
        DropReason verdict = e[Tunnels.DecapCounters.VerdictEpochField] == _sourceEpoch && (cached & ~0xFFFFUL) == key
            ? (DropReason)(ushort)cached
            : OuterSourceVerdict(e, source, f.InPort, key);
        if (verdict == DropReason.None) return true;
        f.Drop = verdict;
        return false;
    }

    /// <summary><see cref="SourceAllowedOuter(ref Frame, uint, nint)"/>'s miss: the full check, cached in the entry.</summary>
    private unsafe DropReason OuterSourceVerdict(long* entry, uint source, ushort inPort, ulong key)
    {
        DropReason verdict = _s.Sources.Check(source, inPort, null, _s, in _routes, _hops);
        // Only this worker reads or writes its entry (the finalizer runs when no worker can reach it): plain stores.
        entry[Tunnels.DecapCounters.VerdictEpochField] = _sourceEpoch;
        entry[Tunnels.DecapCounters.VerdictKeyField] = (long)(key | (ushort)verdict);
        return verdict;
    }

    /// <summary>Once per batch (BeginBatch, hub7s hook): a new source-verdict epoch when the state or the route table's
    /// version changed since the last batch. Epochs come from one process-wide counter, so no two pipelines (tests run
    /// several over the same tunnels, with different states) ever share one; 0 is never an epoch (a fresh entry).
    /// A route change that lands during a batch is seen by the next batch's epoch, as the one-entry cache below.</summary>
    private void RefreshSourceEpoch(ForwardingState s)
    {
        long version = s.Routes.Version;
        if (ReferenceEquals(s, _epochState) && version == _epochRoutesVersion) return;
        _epochState = s;
        _epochRoutesVersion = version;
        _sourceEpoch = Interlocked.Increment(ref s_sourceEpochs); // unique across pipelines; no ordering needed
    }

    private static long s_sourceEpochs;
    private long _sourceEpoch;
    private ForwardingState? _epochState;
    private long _epochRoutesVersion;

    // One-entry cache of the source check, valid for one batch (cleared in BeginBatch).
    private bool _sourceCacheValid;
    private uint _sourceCacheAddress;
    private ushort _sourceCachePort;
    private Tunnels.Tunnel? _sourceCacheTunnel;
    private DropReason _sourceCacheVerdict;
}
