using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>Off: every tunnel packet takes the general decap path (<see cref="Route"/> → <see cref="DeliverLocal"/>
    /// → <see cref="Decapsulate"/>), and pass 4 routes each packet by the per-packet steps alone. Tests turn it off to
    /// use the general path as the fast paths' oracle.</summary>
    internal bool DecapFastEnabled { get; set; } = true;

    /// <summary>Tunnel packets the fast path decapsulated (or dropped as an old GRE sequence), for tests: that the
    /// oracle comparisons exercised it.</summary>
    internal long DecapFastPackets { get; private set; }

    /// <summary>
    /// Pass 3's decapsulation for the packet almost every tunnel packet is, in runs: from pass 3's item
    /// <paramref name="k"/> (whose outer source check pass 3 has made, and which <see cref="TryForwardFast"/> declined),
    /// every following item with a local next hop that is an IPIP or GRE packet (version 0, type IPv4, any of C/K/S)
    /// with a 20-byte outer header that is neither a fragment nor CE, from a tunnel of the table whose checksum and
    /// sequence flags it matches, carrying a valid 20-byte inner IPv4 header that is not GRE (a keepalive); no capture
    /// running. The outer and inner headers are read once with fixed-size loads, the outer headers are stripped by
    /// moving the frame start (no copy), and the inner packet is queued for pass 4 as
    /// <see cref="Decapsulate"/> queues it (its tunnel only when the source check depends on it), with the same tunnel counters (added per packet into the worker's entry).
    /// Every check that can send a packet elsewhere runs before anything of it changes (the GRE sequence meter is
    /// the only state touched, and only once the packet is sure to end here); a sequence the iseq window refuses is
    /// dropped as the general path drops it. The run stops at the first item it cannot take; when that is item
    /// <paramref name="k"/> itself, this returns false with nothing changed and pass 3 goes on with the general
    /// path, which decides, names the drop and answers strangers. Else <paramref name="k"/> moves to the run's last
    /// item and the result is true.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryDecapFast(ref int k, int m, uint hopIndex)
    {
        NextHop[] hops = _hops;
        if (hopIndex >= (uint)hops.Length
            || Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(hops), (nint)hopIndex).Kind != NextHopKind.Local
            || _tap is not null || !DecapFastEnabled)
            return false;
        int done = DecapRunFast(k, m);
        if (done == 0) return false;
        k += done - 1;
        return true;
    }

    /// <summary><see cref="TryDecapFast"/>'s run: returns how many of pass 3's items from <paramref name="start"/> on it
    /// handled. The run is of one outer protocol, the first packet's: a type argument, so that the IPIP loop carries no
    /// GRE code (fewer registers live, fewer spills), as the encap run's.</summary>
    private unsafe int DecapRunFast(int start, int m)
    {
        if ((uint)start >= (uint)m || (uint)m > (uint)_hop.Length || (uint)m > (uint)_routeItems.Length) return 0;
        ref Frame first = ref _batch[_routeItems[start].Frame];
        byte protocol = ((byte*)first.Buffer + first.Offset)[Ipv4Header.ProtocolOffset]; // a valid IPv4 header (pass 1)
        // The run's one table snapshot. Pass 1 kept each tunnel packet's home slot in it when it is the batch's hint table
        // (TunnelTable.HintSlots; a table published since then gets no hints): the hinted loop (hub8e). The loop of a table
        // of 1–4 tunnels carries none of the hint code.
        TunnelTable.Slot[] slots = _s.Decap.Snapshot;
        bool hinted = ReferenceEquals(slots, _prefetchSlots);
        if (protocol == Ipv4Header.ProtocolIpip) return DecapRunFast<IpipShape>(start, m, slots, hinted);
        if (protocol == Ipv4Header.ProtocolGre) return DecapRunFast<GreShape>(start, m, slots, hinted);
        return 0;
    }

    /// <summary>The run's loop shape for this table: no hints, or hints with the entry stage, or hints without it. A table
    /// of fewer than PrefetchSlots slots (up to 1,024 tunnels) keeps its decap entries in the core's cache: its hinted loop
    /// asks for none (hub10: one spoke's packets on a 100-tunnel table cost 1.4–1.9 ns more with the stage).</summary>
    private int DecapRunFast<TShape>(int start, int m, TunnelTable.Slot[] slots, bool hinted) where TShape : struct, IEncapShape =>
        !hinted ? DecapRunFast<TShape, NotHinted>(start, m, slots)
        : slots.Length >= TunnelTable.PrefetchSlots ? DecapRunFast<TShape, Hinted>(start, m, slots)
        : DecapRunFast<TShape, HintedInCache>(start, m, slots);

    /// <summary>Whether the decap run's items carry pass 1's home slots in the table it probes (a type argument, as
    /// <see cref="IEncapShape"/>: the unhinted loop holds no hint code and no registers for it).</summary>
    private interface IHintShape
    {
        static abstract bool On { get; }
        /// <summary>Whether the loop asks for each item's decap entry <see cref="EntryAhead"/> items ahead.</summary>
        static abstract bool Entries { get; }
    }

    private struct Hinted : IHintShape
    {
        public static bool On => true;
        public static bool Entries => true;
    }

    /// <summary>Hints, and no entry stage: a table small enough that its decap entries stay in the cache.</summary>
    private struct HintedInCache : IHintShape
    {
        public static bool On => true;
        public static bool Entries => false;
    }

    private struct NotHinted : IHintShape
    {
        public static bool On => false;
        public static bool Entries => false;
    }

    /// <summary>How many items ahead the decap run asks for a hinted item's decap entry (hub8e: 2, 4, 8 measured at 10,000
    /// spokes, two tunnels each, in separate processes: 4 best. hub9, one tunnel each, the ratio measured in one process:
    /// IPIP 8 gives 1.214/1.216 against 4's 1.252/1.247 and 12's 1.239, 5 of 7 sittings better; GRE key the same, 1.257 against
    /// 1.248, its longer iteration covering the latency at 4 already).</summary>
    private const int EntryAhead = 8;

    private unsafe int DecapRunFast<TShape, THint>(int start, int m, TunnelTable.Slot[] slots) where TShape : struct, IEncapShape where THint : struct, IHintShape
    {
        ref uint hop0 = ref MemoryMarshal.GetArrayDataReference(_hop);
        ref RouteItem items0 = ref MemoryMarshal.GetArrayDataReference(_routeItems);
        Span<Frame> frames = _batch.Frames;
        NextHop[] hops = _hops;
        ref NextHop hops0 = ref MemoryMarshal.GetArrayDataReference(hops);
        nint workerOffset = Worker * (nint)DecapCounterStore.WorkerStride;

        // The last packet's table key and slot: a run of one tunnel's packets probes the table once.
        uint lastSource = 0, lastDestination = 0, lastKey = 0, lastProtocolAndKeyFlag = uint.MaxValue;
        int slotIndex = -1;

        ref int innerFrameOf0 = ref MemoryMarshal.GetArrayDataReference(_innerFrameOf);
        ref uint innerDst0 = ref MemoryMarshal.GetArrayDataReference(_innerDst);
        ref uint innerSource0 = ref MemoryMarshal.GetArrayDataReference(_innerSource);
        ref uint innerTtl0 = ref MemoryMarshal.GetArrayDataReference(_innerTtlWord);
        Tunnel?[] innerTunnel = _innerTunnel;
        int innerCount = _innerCount;
        int innerRuns = _innerRuns;
        int innerLimit = Math.Min(Math.Min(innerTunnel.Length, _innerSource.Length), Math.Min(Math.Min(_innerDst.Length, _innerTtlWord.Length), _innerFrameOf.Length));
        int tunnelAt = _innerTunnelAt;
        // Pass 4 reads an inner packet's tunnel for a strict source check only (loose and off look at the source
        // alone): otherwise a hub's run of many spokes stores none (a GC write barrier per spoke change saved).
        bool storeTunnels = _s.Sources.DependsOnTunnel;
        int handled = 0;
        uint allowedSource = 0;
        ushort allowedPort = 0;
        long sourceEpoch = _sourceEpoch; // BeginBatch's: no change within a batch

        int j = start;
        // The worker's decap entry (counters and cached verdict) of the item EntryAhead places ahead, from its hinted slot,
        // whose line pass 1 asked for: the entry load below no longer waits for a miss per spoke (hub8e).
        if (THint.Entries)
            for (int a = start; a < m && a < start + EntryAhead; a++)
                TunnelTable.PrefetchEntry(slots, Unsafe.Add(ref items0, a).TunnelSlot, workerOffset);
        for (; j < m; j++)
        {
            if (THint.Entries && j + EntryAhead < m) TunnelTable.PrefetchEntry(slots, Unsafe.Add(ref items0, j + EntryAhead).TunnelSlot, workerOffset);
            uint hopIndex = Unsafe.Add(ref hop0, j);
            if (hopIndex >= (uint)hops.Length || Unsafe.Add(ref hops0, (nint)hopIndex).Kind != NextHopKind.Local) break;
            if (innerCount >= innerLimit) break; // never: at most one entry per rx frame
            int i = Unsafe.Add(ref items0, j).Frame;
            ref Frame f = ref frames[i];
            byte* ip = (byte*)f.Buffer + f.Offset;
            uint source = LoadBigEndian(ip + Ipv4Header.SourceOffset);
            int outerTotal = f.Length; // pass 1 trimmed the frame to the outer total length
            if (ip[Ipv4Header.VersionIhlOffset] != 0x45 || (ip[Ipv4Header.TosOffset] & Ipv4Header.EcnMask) == Ipv4Header.EcnCe
                || (Unsafe.ReadUnaligned<ushort>(ip + Ipv4Header.FlagsFragmentOffset) & FragmentBitsInMemory) != 0) break;
            uint protocol = ip[Ipv4Header.ProtocolOffset];
            if (protocol != (TShape.Gre ? Ipv4Header.ProtocolGre : Ipv4Header.ProtocolIpip)) break;
            uint destination = LoadBigEndian(ip + Ipv4Header.DestinationOffset);
            int header = Ipv4Header.MinLength;
            uint flags = 0, key = 0;
            if (TShape.Gre)
            {
                if (outerTotal < Ipv4Header.MinLength + GreHeader.BaseLength) break;
                uint word = LoadBigEndian(ip + Ipv4Header.MinLength); // flags and version, protocol type
                // Version 0, reserved bits clear, type IPv4; anything else (a keepalive reply's type 0 included) is general.
                if ((word & 0x4FFF_FFFFu) != GreHeader.ProtocolIPv4) break;
                flags = word >> 16;
                header = Ipv4Header.MinLength + GreHeader.LengthOf((ushort)flags);
                if (outerTotal < header) break;
                if ((flags & GreHeader.FlagChecksum) != 0
                    && !Checksum.InternetChecksum.Verify(new ReadOnlySpan<byte>(ip + Ipv4Header.MinLength, outerTotal - Ipv4Header.MinLength)))
                    break;
                if ((flags & GreHeader.FlagKey) != 0)
                    key = LoadBigEndian(ip + Ipv4Header.MinLength + GreHeader.OptionsOffset + ((flags & GreHeader.FlagChecksum) != 0 ? 4 : 0));
            }

            // The inner header as ParseInner checks it, before anything changes; a keepalive (inner GRE) goes the general way.
            int innerAvailable = outerTotal - header;
            if (innerAvailable < Ipv4Header.MinLength) break;
            byte* inner = ip + header;
            if (inner[Ipv4Header.VersionIhlOffset] != 0x45 || inner[Ipv4Header.ProtocolOffset] == Ipv4Header.ProtocolGre
                || !CommonHeaderValid(inner, innerAvailable, out int innerTotal)) break;

            // The tunnel: the run's last answer, or one probe.
            int found;
            uint protocolAndKeyFlag = protocol | (flags & GreHeader.FlagKey);
            if (source == lastSource && destination == lastDestination && key == lastKey && protocolAndKeyFlag == lastProtocolAndKeyFlag)
                found = slotIndex;
            else
            {
                // Pass 1's home slot, when it computed one in this table: the slot's line is loaded without waiting for
                // the header's (hub7c).
                found = slotIndex = THint.On // pass 1 kept each tunnel packet's home slot in slots
                    ? TunnelTable.IndexOf(slots, Unsafe.Add(ref items0, j).TunnelSlot, source, destination, (byte)protocol, (flags & GreHeader.FlagKey) != 0, key)
                    : TunnelTable.IndexOf(slots, source, destination, (byte)protocol, (flags & GreHeader.FlagKey) != 0, key);
                lastSource = source;
                lastDestination = destination;
                lastKey = key;
                lastProtocolAndKeyFlag = protocolAndKeyFlag;
            }
            if ((uint)found >= (uint)slots.Length) break; // no tunnel: the general path answers strangers
            ref TunnelTable.Slot slot = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(slots), found);
            // Pass 3's outer source check (made for the first item), before anything changes (hub7s hook): the run's last
            // allowed (source, port), else the tunnel's cached verdict; an item that breaks above gets pass 3's own check.
            // The cached verdict's hit (epoch and key match, verdict None) is tested here, without a call (hub7c): a hub's
            // run of many spokes meets it once per packet; a miss or a cached drop goes to SourceAllowedOuter.
            long* entry = (long*)(slot.Counters + workerOffset);
            if (j > start && (source != allowedSource || f.InPort != allowedPort)
                && (entry[DecapCounters.VerdictEpochField] != sourceEpoch
                    || (ulong)entry[DecapCounters.VerdictKeyField] != DecapCounters.VerdictKey(source, f.InPort))
                && !SourceAllowedOuter(ref f, source, (nint)entry))
            {
                lastProtocolAndKeyFlag = uint.MaxValue; // dropped (as pass 3 drops it): the next packet probes again
                continue;
            }
            allowedSource = source;
            allowedPort = f.InPort;
            if (TShape.Gre)
            {
                if (((flags & GreHeader.FlagChecksum) != 0) != slot.InputChecksum) break;
                if ((flags & GreHeader.FlagSequence) == 0)
                {
                    if (slot.InputSequence) break;
                }
                else
                {
                    // From here the packet ends in this run: the meter books its number once, as the general path does.
                    SequenceVerdict verdict = slot.Tunnel!.SequenceMeter.Observe(LoadBigEndian(ip + header - 4));
                    if (slot.InputSequence && !GreSequenceMeter.Accepts(verdict))
                    {
                        f.Drop = DropReason.GreSequenceOld;
                        lastProtocolAndKeyFlag = uint.MaxValue; // the next packet probes again
                        handled++;
                        continue;
                    }
                }
            }

            // Straight into this worker's entry (at a change of spoke the verdict above has read its line): no flush per change of
            // tunnel and no accumulators held in registers across the loop (hub7c).
            entry[0]++;
            entry[1] += innerAvailable; // as the general path: the outer payload after the tunnel header
            f.Offset += header;
            f.Length = innerTotal;

            // QueueInner, with the queue in locals: the tunnel stored once per run of one tunnel.
            uint innerDestination = LoadBigEndian(inner + Ipv4Header.DestinationOffset);
            if (innerCount == 0 || innerDestination != Unsafe.Add(ref innerDst0, innerCount - 1)) innerRuns++;
            Unsafe.Add(ref innerDst0, innerCount) = innerDestination;
            Unsafe.Add(ref innerSource0, innerCount) = LoadBigEndian(inner + Ipv4Header.SourceOffset);
            Unsafe.Add(ref innerTtl0, innerCount) = Unsafe.ReadUnaligned<uint>(inner + Ipv4Header.TtlOffset);
            Unsafe.Add(ref innerFrameOf0, innerCount) = i;
            if (storeTunnels)
            {
                Tunnel tunnel = slot.Tunnel!;
                if (innerCount == 0 || !ReferenceEquals(tunnel, innerTunnel[tunnelAt]))
                {
                    innerTunnel[innerCount] = tunnel;
                    tunnelAt = innerCount;
                }
            }
            innerCount++;
            handled++;
        }
        _innerCount = innerCount;
        _innerRuns = innerRuns;
        _innerTunnelAt = tunnelAt;
        DecapFastPackets += handled;
        return j - start;
    }

    /// <summary>
    /// Pass 4: the inner packets of pass 3's decapsulations, looked up together and routed in order. Two verdicts are
    /// kept in locals for the pass, each exactly the one the per-packet code would reach again: the last (source, port,
    /// and under strict rp-filter tunnel) that passed the source check (same route snapshot), and the last gateway next hop that
    /// <see cref="TryForwardFast"/> sent out of a port (its port, MTU, Ethernet source and the neighbour entry the
    /// one-entry cache held; the entry's MAC and state are still read per packet). The hop is forgotten whenever the
    /// general path runs, since that may change the cached neighbour or the next-hop array.
    /// </summary>
    private unsafe void RouteDecapsulated()
    {
        int count = _innerCount;
        // The same answers either way (one route snapshot); without runs to collapse, one batch lookup and no copies.
        if (_innerRuns == count) _routes.LookupBatch(_innerDst.AsSpan(0, count), _innerHop);
        else LookupRuns(_innerDst, _innerHop, count);
        if ((uint)count > (uint)_innerFrameOf.Length || (uint)count > (uint)_innerHop.Length || (uint)count > (uint)_innerTunnel.Length
            || (uint)count > (uint)_innerSource.Length || (uint)count > (uint)_innerTtlWord.Length)
            throw new ArgumentOutOfRangeException(nameof(count));
        ref uint source0 = ref MemoryMarshal.GetArrayDataReference(_innerSource);
        ref uint ttl0 = ref MemoryMarshal.GetArrayDataReference(_innerTtlWord);
        ref int frameOf0 = ref MemoryMarshal.GetArrayDataReference(_innerFrameOf);
        ref uint hop0 = ref MemoryMarshal.GetArrayDataReference(_innerHop);
        Tunnel?[] tunnels = _innerTunnel;
        Span<Frame> frames = _batch.Frames;
        Tunnel? tunnel = null;
        const ulong NoSource = ulong.MaxValue; // never a (port, source) key
        ulong okSource = NoSource;
        Tunnel? okTunnel = null;
        // The cached gateway hop; none while cachedEntry is null (uint.MaxValue is a hop index too: Lpm4Table.NoRoute).
        uint cachedHop = 0;
        int cachedMtu = 0;
        ushort cachedPort = 0;
        ulong cachedSourceAndType = 0;
        NeighborEntry? cachedEntry = null;
        bool shortcuts = DecapFastEnabled; // off: the per-packet steps alone (the oracle of these two verdicts)
        // The tunnel is part of the source verdict under strict rp-filter only (SourceCheck.DependsOnTunnel); then pass
        // 3's fast run stored every run's tunnel, else none, and a change of tunnel alone does not re-run the check.
        bool tunnelMatters = _s.Sources.DependsOnTunnel;
        for (int k = 0; k < count; k++)
        {
            int i = Unsafe.Add(ref frameOf0, k);
            // QueueInner stored each run's tunnel once; the entries are cleared: no reference kept past the batch.
            Tunnel? first = tunnels[k];
            if (first is not null)
            {
                tunnel = first;
                tunnels[k] = null;
            }
            ref Frame f = ref frames[i];
            // edge hook (SourceCheck): the inner source, checked against the tunnel it came out of.
            ulong sourceKey = ((ulong)f.InPort << 32) | Unsafe.Add(ref source0, k);
            if (!shortcuts || sourceKey != okSource || (tunnelMatters && !ReferenceEquals(tunnel, okTunnel)))
            {
                if (!SourceAllowed(ref f, tunnel)) continue;
                okSource = sourceKey;
                okTunnel = tunnel;
            }
            uint hopIndex = Unsafe.Add(ref hop0, k);
            uint ttlWord = Unsafe.Add(ref ttl0, k);
            if (shortcuts && hopIndex == cachedHop && cachedEntry is not null && IncrementalChecksum.TtlOfWord(ttlWord) > 1
                && f.Length <= cachedMtu && f.Offset >= 14 && cachedEntry.TryGetUsable(out ulong mac, out var state) && state != NeighborState.Stale)
            {
                Unsafe.WriteUnaligned((byte*)f.Buffer + f.Offset + Ipv4Header.TtlOffset, IncrementalChecksum.DecrementTtlWord(ttlWord));
                WriteEthernet(ref f, mac, cachedSourceAndType);
                f.OutPort = cachedPort;
                continue;
            }
            if (TryForwardFast(ref f, hopIndex, i, ttlWord))
            {
                // A port hop: TryForwardFast checked it against the one-entry neighbour cache. A gateway hop's neighbour
                // does not depend on the packet, so the next packet to it takes the checks above.
                NextHop[] hops = _hops;
                if (f.OutPort != PacketBatch.NoPort && hopIndex < (uint)hops.Length && hops[hopIndex].Kind == NextHopKind.Gateway)
                {
                    ushort portId = hops[hopIndex].Port;
                    PortInfo port = _s.Ports[portId];
                    cachedHop = hopIndex;
                    cachedMtu = port.Mtu;
                    cachedPort = portId;
                    cachedSourceAndType = port.SourceAndType;
                    cachedEntry = _lastNeighbor;
                }
                continue;
            }
            cachedEntry = null; // the general path may change the cached neighbour or the next hops
            _anchor = i + 1;
            Route(ref f, hopIndex, -1);
        }
        _innerCount = 0;
        _innerRuns = 0;
    }

    /// <summary>Queues a decapsulated rx frame (pass 3's general path) for pass 4: at most one entry per rx frame. A run
    /// of one tunnel's packets stores the tunnel once (a null entry: the tunnel of the entry before), which saves a
    /// GC write barrier per packet. The inner header is valid (20 bytes at least).</summary>
    private unsafe void QueueInner(ref Frame f, int rxIndex, Tunnel tunnel)
    {
        byte* ip = (byte*)f.Buffer + f.Offset;
        int k = _innerCount++;
        uint destination = LoadBigEndian(ip + Ipv4Header.DestinationOffset);
        if (k == 0 || destination != _innerDst[k - 1]) _innerRuns++;
        _innerDst[k] = destination;
        _innerSource[k] = LoadBigEndian(ip + Ipv4Header.SourceOffset);
        _innerTtlWord[k] = Unsafe.ReadUnaligned<uint>(ip + Ipv4Header.TtlOffset);
        _innerFrameOf[k] = rxIndex;
        Tunnel?[] tunnels = _innerTunnel;
        if (k == 0 || !ReferenceEquals(tunnel, tunnels[_innerTunnelAt]))
        {
            tunnels[k] = tunnel;
            _innerTunnelAt = k;
        }
    }

    /// <summary>The entry of <see cref="_innerTunnel"/> that holds the tunnel of the last queued inner packet.</summary>
    private int _innerTunnelAt;
    /// <summary>Runs of one destination among the queued inner packets: when every packet starts one (many flows), pass 4
    /// looks them up straight, without collapsing runs.</summary>
    private int _innerRuns;
    // Per queued inner packet, read while its header line is in the L1 (pass 3): its source address and its header
    // bytes 8–11 (TTL, protocol, checksum) as a native-order load. Pass 4 works from these copies, so a packet that
    // leaves by its fast path is only written there, never read (its line may have left the L1 since).
    private readonly uint[] _innerSource = new uint[PacketBatch.MaxCapacity];
    private readonly uint[] _innerTtlWord = new uint[PacketBatch.MaxCapacity];

    /// <summary>The MF flag and fragment offset bits of the flags/fragment field as a little- or big-endian load sees them.</summary>
    private static readonly ushort FragmentBitsInMemory = BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReverseEndianness((ushort)(Ipv4Header.FlagMoreFragments | Ipv4Header.FragmentOffsetMask))
        : (ushort)(Ipv4Header.FlagMoreFragments | Ipv4Header.FragmentOffsetMask);
}
