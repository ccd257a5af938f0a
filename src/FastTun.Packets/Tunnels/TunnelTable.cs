using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Receive-side tunnel lookup by the exact (outer source = remote, outer destination = local, protocol, key)
/// of Linux <c>ip_tunnel_lookup</c> without its wildcard passes: no catch-all, a keyed tunnel only matches
/// packets with its key and an unkeyed one only packets without a key. Open addressing with linear probing
/// over a power-of-two array kept at most half full: a lookup is one multiply-hash and usually one probe,
/// with no allocation.
/// <para>Adding copies the array and publishes the copy, so workers may look up while the control plane adds;
/// a configuration load builds the whole table at once (<see cref="TunnelTable(IReadOnlyCollection{Tunnel})"/>).</para>
/// </summary>
public sealed class TunnelTable
{
    /// <summary>
    /// One tunnel's receive key and everything its decapsulation needs before the tunnel object: the input flags and
    /// its per-worker counter lines. 32 bytes, two to a cache line, in one flat array: decapsulating an IPIP or keyed
    /// GRE packet of a hub with thousands of spokes touches this line and the worker's counter line, not the tunnel
    /// object (which only sequence checking needs).
    /// </summary>
    internal struct Slot
    {
        public uint Remote;
        public uint Local;
        public uint Key;
        public byte Protocol;
        public bool HasKey;
        /// <summary><see cref="Tunnel.InputChecksum"/>, <see cref="Tunnel.InputSequence"/>, copied at insertion.</summary>
        public bool InputChecksum;
        public bool InputSequence;
        public Tunnel? Tunnel;
        /// <summary>Worker 0's entry of the tunnel's decap counters (<see cref="DecapCounters.Worker0"/>, kept alive by
        /// <see cref="Tunnel"/>); worker w's is <see cref="DecapCounterStore.WorkerStride"/> × w further.</summary>
        public nint Counters;
    }

    /// <summary>One (remote, local, protocol) of some tunnel, whatever its key: tells a key mismatch from an
    /// unknown peer in constant time (a hub with thousands of spokes must not scan them per stray packet).</summary>
    private struct EndpointSlot
    {
        public uint Remote;
        public uint Local;
        public byte Protocol;
        public bool Used;
    }

    private Slot[] _slots = new Slot[8];
    private EndpointSlot[] _endpoints = new EndpointSlot[8];
    private readonly List<Tunnel> _tunnels = new();
    private int _counterWorkers = Tunnel.MaxWorkers;

    public TunnelTable() { }

    /// <summary>Workers every tunnel of the table has decap counter entries for (the smallest count; MaxWorkers when
    /// empty). A worker index at or above it would write an entry that no reader sums and no finalizer clears, and
    /// that a later tunnel renting the same counters would then start with.</summary>
    public int CounterWorkers => Volatile.Read(ref _counterWorkers);

    /// <summary>
    /// Builds the table for many tunnels at once (a configuration load): the arrays are sized once and every
    /// tunnel inserted once, O(n), where <see cref="Add"/> copies the table per tunnel, O(n²) for a hub's
    /// 10,000 spokes. Throws, as <see cref="Add"/>, when two tunnels receive the same packets.
    /// </summary>
    public TunnelTable(IReadOnlyCollection<Tunnel> tunnels)
    {
        ArgumentNullException.ThrowIfNull(tunnels);
        var slots = new Slot[SlotsFor(tunnels.Count)];
        var endpoints = new EndpointSlot[EndpointSlotsFor(tunnels.Count)];
        foreach (Tunnel t in tunnels)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tunnels));
            TunnelSettings s = t.Settings;
            if (Find(slots, s.Remote, s.Local, s.Protocol, s.InputKey.HasValue, s.InputKey ?? 0) is { } existing)
                throw new ArgumentException($"tunnel {s.Name} receives the same packets as tunnel {existing.Name}", nameof(tunnels));
            Insert(slots, t);
            InsertEndpoint(endpoints, s);
            _tunnels.Add(t);
            _counterWorkers = Math.Min(_counterWorkers, t.DecapCounters.Workers);
        }
        _slots = slots;
        _endpoints = endpoints;
    }

    public int Count => _tunnels.Count;

    /// <summary>The tunnels in the order added (control plane).</summary>
    public IReadOnlyList<Tunnel> Tunnels => _tunnels;

    /// <summary>Adds a tunnel; throws when another one already receives the same (remote, local, mode, key).
    /// Control plane only, one writer at a time.</summary>
    public void Add(Tunnel tunnel)
    {
        ArgumentNullException.ThrowIfNull(tunnel);
        TunnelSettings s = tunnel.Settings;
        if (Lookup(s.Remote, s.Local, s.Protocol, s.InputKey) is { } existing)
            throw new ArgumentException($"tunnel {s.Name} receives the same packets as tunnel {existing.Name}", nameof(tunnel));
        var slots = new Slot[Math.Max(_slots.Length, SlotsFor(_tunnels.Count + 1))];
        var endpoints = new EndpointSlot[Math.Max(_endpoints.Length, EndpointSlotsFor(_tunnels.Count + 1))];
        foreach (Tunnel t in _tunnels) { Insert(slots, t); InsertEndpoint(endpoints, t.Settings); }
        Insert(slots, tunnel);
        InsertEndpoint(endpoints, s);
        _tunnels.Add(tunnel);
        // Lowered before the slots are published, so no worker can reach the new tunnel with an index it lacks.
        Volatile.Write(ref _counterWorkers, Math.Min(_counterWorkers, tunnel.DecapCounters.Workers));
        // Publishes the fully built arrays: a worker's Volatile.Read in Lookup sees either the old table or the
        // new one with every slot written.
        Volatile.Write(ref _endpoints, endpoints);
        Volatile.Write(ref _slots, slots);
    }

    /// <summary>Slots for <paramref name="count"/> tunnels: a power of two at most half full, and at most a quarter full
    /// from <see cref="HintSlots"/> slots on (a table whose decap probes from pass 1's home slot: a key off its home
    /// slot costs a mispredicted compare and a walk; hub9 measured 2,000 spokes in 4,096 slots, 19 % of them off home,
    /// 49.7 ns per packet, and in 16,384 slots 45.8 ns).</summary>
    internal static int SlotsFor(int count)
    {
        int size = EndpointSlotsFor(count);
        if (size >= HintSlots)
            while (count * 4 > size) size *= 2;
        return size;
    }

    /// <summary>Endpoint slots for <paramref name="count"/> tunnels: a power of two (at least 8) at most half full (the
    /// drop path's table; no hint), and where <see cref="SlotsFor"/> starts.</summary>
    private static int EndpointSlotsFor(int count)
    {
        int size = 8;
        while (count * 2 > size) size *= 2;
        return size;
    }

    private static void InsertEndpoint(EndpointSlot[] endpoints, TunnelSettings s)
    {
        int mask = endpoints.Length - 1;
        int i = Index(s.Remote, s.Local, s.Protocol, 0, mask);
        while (endpoints[i].Used)
        {
            if (endpoints[i].Remote == s.Remote && endpoints[i].Local == s.Local && endpoints[i].Protocol == s.Protocol) return;
            i = (i + 1) & mask;
        }
        endpoints[i] = new EndpointSlot { Remote = s.Remote, Local = s.Local, Protocol = s.Protocol, Used = true };
    }

    private static void Insert(Slot[] slots, Tunnel tunnel)
    {
        TunnelSettings s = tunnel.Settings;
        int mask = slots.Length - 1;
        int i = Index(s.Remote, s.Local, s.Protocol, s.InputKey ?? 0, mask);
        while (slots[i].Tunnel is not null) i = (i + 1) & mask;
        slots[i] = new Slot
        {
            Remote = s.Remote, Local = s.Local, Protocol = s.Protocol,
            HasKey = s.InputKey.HasValue, Key = s.InputKey ?? 0, Tunnel = tunnel, Counters = tunnel.DecapCounters.Worker0,
            InputChecksum = tunnel.InputChecksum, InputSequence = tunnel.InputSequence,
        };
    }

    /// <summary>The slot of a key in a table of <paramref name="mask"/> + 1 slots. A small table (fewer than
    /// <see cref="PrefetchSlots"/> slots) mixes the fields' products with murmur3's 32-bit finalizer (hub8c): it indexes
    /// by a few low bits, where a hub's numbered spokes (consecutive remotes, GRE keys numbered as the spokes) clustered
    /// (100 spokes in 512 slots: 0.9 slots walked past the home slot per tunnel, up to 11; with it 0.37, linear probing's
    /// ideal at that load 0.32) and decap paid for the probe loop's mispredicted exits. A large table keeps the shorter
    /// mix, which spreads such keys as well as a random hash there (10,000 spokes: 0.19 vs 0.22) and is shorter on pass
    /// 1's path to the decap prefetch, once per packet of a hub.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Index(uint remote, uint local, byte protocol, uint key, int mask)
    {
        uint h = (remote * 0x9E3779B1u) ^ (local * 0x85EBCA77u) ^ (key * 0xC2B2AE3Du) ^ protocol;
        if (mask < PrefetchSlots - 1)
        {
            h ^= h >> 16;
            h *= 0x85EBCA6Bu;
            h ^= h >> 13;
            h *= 0xC2B2AE35u;
            h ^= h >> 16;
        }
        else h ^= h >> 15;
        return (int)h & mask;
    }

    /// <summary>The tunnel that receives a packet from <paramref name="outerSource"/> to
    /// <paramref name="outerDestination"/> with IP <paramref name="protocol"/> and GRE <paramref name="key"/>
    /// (null when the packet has none), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Tunnel? Lookup(uint outerSource, uint outerDestination, byte protocol, uint? key)
    {
        // Pairs with the Volatile.Write in Add: the array read here is completely built.
        return Find(Volatile.Read(ref _slots), outerSource, outerDestination, protocol, key.HasValue, key.GetValueOrDefault());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Tunnel? Find(Slot[] slots, uint outerSource, uint outerDestination, byte protocol, bool hasKey, uint k)
    {
        int i = IndexOf(slots, outerSource, outerDestination, protocol, hasKey, k);
        return i < 0 ? null : slots[i].Tunnel;
    }

    /// <summary>The published slot array, for a caller that looks up several packets and then reads their slots
    /// (<see cref="IndexOf"/>): one snapshot, so an index stays valid while <see cref="Add"/> publishes a new one.</summary>
    internal Slot[] Snapshot => Volatile.Read(ref _slots); // pairs with the Volatile.Write in Add

    /// <summary>The index in <paramref name="slots"/> of the tunnel that receives the packet, or −1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IndexOf(Slot[] slots, uint outerSource, uint outerDestination, byte protocol, bool hasKey, uint k)
    {
        int mask = slots.Length - 1;
        int i = Index(outerSource, outerDestination, protocol, k, mask);
        while (true)
        {
            ref Slot s = ref slots[i];
            if (s.Tunnel is null) return -1;
            if (Holds(in s, outerSource, outerDestination, protocol, hasKey, k)) return i;
            i = (i + 1) & mask;
        }
    }

    /// <summary>True when slot <paramref name="s"/> carries this table key (whether it is in use is the caller's test).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Holds(in Slot s, uint outerSource, uint outerDestination, byte protocol, bool hasKey, uint k) =>
        s.Remote == outerSource && s.Local == outerDestination && s.Protocol == protocol && s.HasKey == hasKey && s.Key == k;

    /// <summary><see cref="IndexOf(Slot[], uint, uint, byte, bool, uint)"/> given a slot to try first (hub7c: the
    /// home slot pass 1 computed while the header was in the L1): its line is loaded without waiting for the caller's
    /// key, and it is the answer when it holds the full key, since no two tunnels share one. Any hint is safe: one out of
    /// range, of another table or an empty slot only costs the full probe.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IndexOf(Slot[] slots, int hint, uint outerSource, uint outerDestination, byte protocol, bool hasKey, uint k)
    {
        if ((uint)hint < (uint)slots.Length)
        {
            ref Slot s = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(slots), hint);
            if (Holds(in s, outerSource, outerDestination, protocol, hasKey, k) && s.Tunnel is not null) return hint;
        }
        return IndexOf(slots, outerSource, outerDestination, protocol, hasKey, k);
    }

    /// <summary>The slot where <see cref="IndexOf(Slot[], uint, uint, byte, bool, uint)"/>'s probe for this key starts
    /// (<paramref name="key"/> is 0 for a packet without one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int HomeSlot(Slot[] slots, uint outerSource, uint outerDestination, byte protocol, uint key) =>
        Index(outerSource, outerDestination, protocol, key, slots.Length - 1);

    /// <summary>Asks for the line of slot <paramref name="index"/> (<see cref="HomeSlot"/>'s answer). Only a hint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchSlot(Slot[] slots, int index)
    {
        // A pointer into a movable array, used only as a hint: if the GC moves the array, the prefetch is wasted.
        if (Sse.IsSupported && (uint)index < (uint)slots.Length) Sse.Prefetch0(Unsafe.AsPointer(ref slots[index]));
    }

    /// <summary>Asks for the decap entry line (<see cref="DecapCounters"/>, at <paramref name="workerOffset"/> from worker 0's)
    /// of the tunnel in slot <paramref name="hint"/>, whose slot line the caller asked for earlier (hub8e: the decap run, a
    /// few packets ahead of the one it decapsulates). Only a hint, loads and prefetches alone: a hint out of range or an
    /// empty slot asks for nothing; a hint naming another tunnel's slot (a displaced key, another table's home slot)
    /// only asks for a line that is not needed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchEntry(Slot[] slots, int hint, nint workerOffset)
    {
        if (!Sse.IsSupported || (uint)hint >= (uint)slots.Length) return;
        nint counters = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(slots), hint).Counters;
        if (counters != 0) Sse.Prefetch0((void*)(counters + workerOffset));
    }

    /// <summary>Slots from which <see cref="TunnelDecap.DecapsulateBatch"/>'s prefetch stages pay, and from which
    /// <see cref="Index"/> keeps the short mix: a smaller table (a few hundred tunnels) stays in the core's cache.</summary>
    internal const int PrefetchSlots = 4096;

    /// <summary>
    /// Slots from which the pipeline's decap run takes pass 1's home slots (hints): pass 1 hashes each tunnel packet's key
    /// and asks for its slot line while the header is in the L1, and pass 3 compares the key at that slot without
    /// hashing on its own path (hub7c, hub8e). Every table of 5 tunnels or more (<see cref="SlotsFor"/>: 32 slots and
    /// up). A table of 1–4 tunnels (8 slots) keeps the loop without hints: with one tunnel (or a few) its run's
    /// memo answers nearly every packet, and the hint code would only add work.
    /// <para>hub10: the hints began at 4,096 slots (1,025 tunnels and more), as the batch prefetch does, on the reasoning that
    /// a smaller table stays in the cache. With a random spoke per packet the hash on pass 3's own path cost more than the
    /// misses: 1,000 spokes (2,048 slots) took 54.1 ns per packet where 10,000 took 47.4, keyed GRE 70.1 against 54.9, and
    /// 16 spokes 52.2. From 16 slots: 1,000 spokes 48.5 ns (GRE 59.9), 16 spokes 47.9, 10,000 unchanged, one spoke's
    /// packets on a 100-tunnel table 40.2 against 39.6 (bench/RESULTS.md, hub10).</para>
    /// </summary>
    internal const int HintSlots = 16;

    /// <summary>
    /// Prefetch stage 1 straight from a packet whose data starts at an IPv4 header (a batch's loop asking for the line
    /// of the packet a few places ahead): <see cref="TryReadKey"/>, the hash, and a prefetch of the slot's line.
    /// Does nothing for a packet that is not IPIP or GRE or too short to tell.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchPacket(Slot[] slots, ReadOnlySpan<byte> packet)
    {
        if (!Sse.IsSupported || !TryReadKey(packet, out uint source, out uint destination, out byte protocol, out _, out uint key)) return;
        PrefetchSlot(slots, HomeSlot(slots, source, destination, protocol, key));
    }

    /// <summary>
    /// The table key of a packet whose data starts at an IPv4 header, read with fixed-size loads: protocol (4 or 47),
    /// outer source and destination, and the GRE key (<paramref name="hasKey"/> false and 0 when there is none). False
    /// when the packet is not IPIP or GRE or too short to tell. The same key as
    /// the receive path and the tests' span-based oracle (TunnelDecapBatchTests.TryReadEndpoints), without spans and
    /// out-parameter stores: with one spoke active of a 10,000-spoke table the span-based stage cost the batch 4.5–6.3 ns
    /// per packet, this one 2.7–5.2 (hub5 section of bench/RESULTS.md). No receive check: those come later, in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryReadKey(ReadOnlySpan<byte> packet, out uint source, out uint destination, out byte protocol,
        out bool hasKey, out uint key)
    {
        key = 0;
        hasKey = false;
        source = destination = 0;
        protocol = 0;
        if (packet.Length < Ipv4Header.MinLength) return false;
        ref byte p = ref MemoryMarshal.GetReference(packet);
        protocol = Unsafe.Add(ref p, Ipv4Header.ProtocolOffset);
        ulong addresses = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, Ipv4Header.SourceOffset));
        if (protocol == Ipv4Header.ProtocolGre)
        {
            if (!TryReadGreKey(ref p, packet.Length, out hasKey, out key)) return false;
        }
        else if (protocol != Ipv4Header.ProtocolIpip) return false;
        source = BinaryPrimitives.ReverseEndianness((uint)addresses);
        destination = BinaryPrimitives.ReverseEndianness((uint)(addresses >> 32));
        return true;
    }

    /// <summary>The GRE key of the GRE packet whose IPv4 header starts at <paramref name="ip"/>, <paramref name="length"/>
    /// bytes in all (after the checksum word when C is set; <paramref name="hasKey"/> false and 0 without K). False when
    /// the packet is too short to tell. <see cref="TryReadKey"/>'s GRE part, and the pipeline's pass 1 reads it here too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryReadGreKey(ref byte ip, int length, out bool hasKey, out uint key)
    {
        key = 0;
        hasKey = false;
        int gre = (ip & 0x0F) << 2;
        if (length < gre + GreHeader.OptionsOffset) return false;
        int flags = Unsafe.Add(ref ip, gre) << 8; // C and K are in the first byte
        if ((flags & GreHeader.FlagKey) == 0) return true;
        int offset = gre + GreHeader.OptionsOffset + ((flags & GreHeader.FlagChecksum) != 0 ? 4 : 0);
        if (length < offset + 4) return false;
        key = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref ip, offset)));
        hasKey = true;
        return true;
    }

    /// <summary>True when some tunnel of this protocol has these endpoints, whatever its key: tells a key
    /// mismatch from an unknown peer. One hash probe, as <see cref="Lookup"/>; for the drop path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool HasEndpoints(uint outerSource, uint outerDestination, byte protocol)
    {
        EndpointSlot[] endpoints = Volatile.Read(ref _endpoints); // pairs with the Volatile.Write in Add
        int mask = endpoints.Length - 1;
        int i = Index(outerSource, outerDestination, protocol, 0, mask);
        while (endpoints[i].Used)
        {
            ref EndpointSlot e = ref endpoints[i];
            if (e.Remote == outerSource && e.Local == outerDestination && e.Protocol == protocol) return true;
            i = (i + 1) & mask;
        }
        return false;
    }
}
