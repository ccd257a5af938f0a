using FastTun.Packets.Headers;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Routing;

/// <summary>
/// IPv4 longest-prefix-match table: prefixes /0–/32 → next-hop index (0..<see cref="MaxNextHop"/>), one writer,
/// any number of lock-free readers. Layout and reasoning: Routing/README.md.
///
/// <para><b>Lookup structure (native memory, 2 MiB huge pages).</b> A 2^17-entry array of 32-bit entries
/// (512 KiB, so it mostly stays in a core's 1 MiB L2 beside the chunk lines passing through) indexed by the top 17
/// address bits. Every entry names a chunk: <see cref="ChunkTag"/> + the chunk's offset in the pool, plus in bits 0–1
/// how many lines after the first the chunk's root and its leaves reach (<see cref="ExtraLinesMask"/>). A /17 with
/// prefixes longer than /17 has its own chunk; any other /17 names the shared constant chunk (one leaf) of the answer
/// of its longest prefix of /17 or shorter ("painted" over the entries it covers), offset 0 (the empty chunk) for
/// <see cref="NoRoute"/>. A chunk is a small Poptrie: a root over address bits 17–23 (a 128-bit leaf-run bitmap and a
/// leaf base per 64-bit word, its leaves right after it), then nodes of 2 uints (a 64-bit leaf-run bitmap, its leaves right after it) over bits 24–29
/// and 30–31, a slot's leaf found at <c>node + PopCount(bitmap &amp; bits-up-to-v)</c>. A leaf is a final answer (the
/// /17's direct answer where no longer prefix covers a slot) or a child leaf, ChunkTag + the offset of the node below
/// (<see cref="ChunkBuilder.IsChild"/>). A /24 costs the entry, then the root and its leaf (same or a following line,
/// which a
/// lookup prefetches together with the first).</para>
///
/// <para><b>Concurrency.</b> Readers never lock. The writer never modifies a published chunk: it builds a new one
/// in a free block, then publishes it with one 32-bit store of the entry.
/// The old block is retired under a <see cref="Qsbr"/> token and reused only after every registered reader has
/// passed a quiescent point. Readers of a table that is changed in place must be registered with its
/// <see cref="Qsbr"/> domain (workers use <see cref="Qsbr.Shared"/>). The table's memory as a whole is unmapped by
/// the GC once no table or reader references it.</para>
///
/// <para><b>Control plane.</b> The authoritative route set is kept apart from the lookup arrays: short prefixes in
/// a dictionary plus the painted length per direct entry, long prefixes in a sorted (address, length) list per
/// /17. An update touches one list and rebuilds one chunk from it (a short prefix's change relabels the chunks of the /17s
/// it paints where it can, Lpm4Table.Relabel.cs); <see cref="AddRange"/> defers chunk builds to the end so a 1M-prefix
/// load builds each chunk once.</para>
/// </summary>
public sealed partial class Lpm4Table
{
    /// <summary>Lookup answer when no prefix covers the address.</summary>
    public const uint NoRoute = uint.MaxValue;
    /// <summary>Largest storable next-hop index (2^31 next hops; leaves could hold more, the API keeps this bound).</summary>
    public const uint MaxNextHop = 0x7FFF_FFFF;
    /// <summary>
    /// Set in every entry: ChunkTag + the chunk's offset in the pool (+ the extra lines, <see cref="ExtraLinesMask"/>). Offset 0 is the empty
    /// chunk, whose only leaf is <see cref="NoRoute"/>: a /17 without any route is ChunkTag + 0.
    /// </summary>
    internal const uint ChunkTag = 0x8000_0000;
    /// <summary>
    /// Entry bits 0–1 (chunk offsets are multiples of 4 uints): how many lines after the first the chunk's root node
    /// and leaves reach, 0–2 (<see cref="ChunkBuilder.RootExtraLines"/>); a lookup prefetches them with the first.
    /// </summary>
    internal const uint ExtraLinesMask = 3;
    /// <summary>The chunk offset in an entry that names a chunk.</summary>
    internal const uint ChunkOffsetMask = 0x7FFF_FFFC;
    /// <summary>Pool offset of the chunk without prefixes (one leaf, NoRoute).</summary>
    internal const uint EmptyChunk = 0;
    internal const int DirectBits = 17;
    internal const int DirectSize = 1 << DirectBits;
    internal const int ChunkShift = 32 - DirectBits;

    /// <summary>Address space reserved for chunks (committed only as touched): 1M prefixes use about 6.5 MiB.</summary>
    internal const long PoolReserve = 1L << 30;

    // Data plane: read by any thread without locks.
    private readonly NativeRegion _region;
    private readonly unsafe uint* _entries;   // 2^17 × (direct answer, or ChunkTag + chunk offset), in _region
    private readonly ChunkPool _pool;

    // Control plane: touched by the single writer only.
    private readonly byte[] _directLength = new byte[DirectSize];   // 1 + length painted there; 0 = no prefix
    private readonly Dictionary<ulong, uint> _short = new();           // (length << 32 | prefix) → next hop, length ≤ 17
    private readonly int[] _shortOfLength = new int[DirectBits + 1];   // prefixes in _short per length: a delete's fallback search skips empty lengths
    private readonly ChunkState[] _state = new ChunkState[DirectSize];   // writer-side state of each /17, one array: one miss per update
    private readonly ChunkBuilder _builder = new();
    private readonly List<int> _dirty = new();
    private readonly bool[] _isDirty = new bool[DirectSize];
    private bool _deferBuilds;
    private int _chunkCount;

    /// <summary>A table whose in-place updates wait for the readers registered with <see cref="Qsbr.Shared"/>.</summary>
    public Lpm4Table() : this(Qsbr.Shared) { }

    /// <summary>A table whose in-place updates wait for the readers registered with <paramref name="readers"/>.</summary>
    public unsafe Lpm4Table(Qsbr readers)
    {
        ArgumentNullException.ThrowIfNull(readers);
        Readers = readers;
        _region = new NativeRegion(NativeRegion.HugePage + (nuint)PoolReserve);
        _entries = (uint*)_region.Base;
        new Span<uint>(_entries, DirectSize).Fill(ChunkTag + EmptyChunk);
        for (int e = 0; e < DirectSize; e++)
        {
            _state[e].Direct = NoRoute;
            _state[e].Entry = ChunkTag + EmptyChunk;
        }
        // The pool starts on the next huge page; the 512 KiB of entries have the first one to themselves.
        _pool = new ChunkPool((uint*)(_region.Base + NativeRegion.HugePage), (nuint)PoolReserve, readers);
        ReadOnlySpan<uint> empty = _builder.Build([], 0, NoRoute);
        uint emptyAt = _pool.Allocate(empty.Length);
        if (emptyAt != EmptyChunk) throw new InvalidOperationException("the empty chunk must be the pool's first block");
        empty.CopyTo(new Span<uint>(_pool.Base + emptyAt, empty.Length));
    }

    /// <summary>The QSBR domain whose readers may hold chunks of this table.</summary>
    public Qsbr Readers { get; }

    /// <summary>hub7s hook: bumped after every change of the table's answers (acquire here, release in the writer), so a
    /// reader that caches what it derived from lookups (the pipeline's source verdicts) knows when to derive it again.</summary>
    public long Version => Volatile.Read(ref _version);
    private long _version;

    /// <summary>True when the kernel accepted the huge-page advice for the table's memory.</summary>
    public bool HugePages => _region.HugePages;

    /// <summary>
    /// True when, after the last <see cref="AddRange"/>, every page the table had touched was a 2 MiB page
    /// (collapsed synchronously if the first touch got 4 KiB pages; see NativeRegion).
    /// </summary>
    public bool OnHugePages => _region.TouchedOnHugePages;

    /// <summary>Replaced chunks still waiting for readers to pass a quiescent point.</summary>
    public int RetiredChunks => _pool.RetiredCount;

    /// <summary>Number of distinct prefixes in the table.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Bytes of the lookup structure (the 512 KiB entry array and the live chunks, 16-byte granules) — what readers
    /// touch. The writer's route set is reported by <see cref="ControlMemoryBytes"/>.
    /// </summary>
    public long MemoryBytes => (long)DirectSize * sizeof(uint) + _pool.LiveBytes;

    /// <summary>Bytes the chunk pool has touched: live, free and retired blocks (the resident-memory cost).</summary>
    public long PoolTouchedBytes => _pool.TouchedBytes;

    /// <summary>Number of /17s that currently hold a chunk.</summary>
    public int ChunkCount => _chunkCount;

    /// <summary>Approximate bytes of the writer-only route set (not read on the lookup path).</summary>
    public long ControlMemoryBytes
    {
        get
        {
            long bytes = DirectSize * (1L + IntPtr.Size + 1) + _short.Count * 24L;
            foreach (ChunkState state in _state)
                if (state.Routes is ulong[] items) bytes += 24 + items.Length * 8L;
            return bytes;
        }
    }

    /// <summary>A reader over the live table; take one per batch and use it for the whole batch.</summary>
    public unsafe Lpm4Reader GetReader() => new(_entries, _pool.Base, _region);

    /// <summary>Longest-prefix match; <see cref="NoRoute"/> when no prefix covers the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Lookup(uint address) => GetReader().Lookup(address);

    /// <summary>Batch lookup: nextHops[i] = Lookup(addresses[i]); independent lookups overlap.</summary>
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops) => GetReader().LookupBatch(addresses, nextHops);

    /// <summary>Exact-match query of the route set (control plane).</summary>
    public bool TryGet(uint prefix, int length, out uint nextHop)
    {
        Validate(prefix, length);
        if (length <= DirectBits) return _short.TryGetValue(Key(prefix, length), out nextHop);
        ref ChunkState state = ref _state[prefix >> ChunkShift];
        int at = state.Routes is null ? -1 : ChunkRoutes.IndexOf(state.Routes, state.Count, LongKey(prefix, length));
        nextHop = at >= 0 ? ChunkRoutes.NextHop(state.Routes![at]) : NoRoute;
        return at >= 0;
    }

    /// <summary>Adds the route or replaces its next hop; returns true when the prefix was new. Writer only.</summary>
    public bool AddOrReplace(uint prefix, int length, uint nextHop)
    {
        Validate(prefix, length);
        if (nextHop > MaxNextHop) throw new ArgumentOutOfRangeException(nameof(nextHop), "next hop above MaxNextHop");
        bool added = length <= DirectBits ? SetShort(prefix, length, nextHop) : SetLong(prefix, length, nextHop);
        if (added) Count++;
        Volatile.Write(ref _version, _version + 1); // release: after the change (single writer); see Version
        return added;
    }

    /// <summary>Adds or replaces every route, building each touched chunk once at the end. Writer only.</summary>
    public void AddRange(ReadOnlySpan<Route4> routes)
    {
        foreach (Route4 r in routes)
            if (!r.IsValid) throw new ArgumentException($"invalid route {r}", nameof(routes));
        _deferBuilds = true;
        try
        {
            foreach (Route4 r in routes) AddOrReplace(r.Prefix, r.Length, r.NextHop);
        }
        finally
        {
            _deferBuilds = false;
            foreach (int chunk in _dirty)
            {
                _isDirty[chunk] = false;
                Rebuild(chunk);
            }
            _dirty.Clear();
            Volatile.Write(ref _version, _version + 1); // release: after the deferred chunk builds; see Version
            // A bulk load has touched its pages now: make sure they are huge ones before lookups start, rather than
            // lookups warming up over the next seconds while khugepaged collapses them (or never).
            _region.CollapseTouched(NativeRegion.HugePage + (nuint)_pool.TouchedBytes);
        }
    }

    /// <summary>Builds a table from a route list (later duplicates replace earlier ones).</summary>
    public static Lpm4Table Build(ReadOnlySpan<Route4> routes)
    {
        var table = new Lpm4Table();
        table.AddRange(routes);
        return table;
    }

    /// <summary>Removes the route; returns false when it was not present. Writer only.</summary>
    public bool Delete(uint prefix, int length)
    {
        Validate(prefix, length);
        bool removed = length <= DirectBits ? DeleteShort(prefix, length) : DeleteLong(prefix, length);
        if (removed) Count--;
        Volatile.Write(ref _version, _version + 1); // release: after the change (single writer); see Version
        return removed;
    }

    private bool SetShort(uint prefix, int length, uint nextHop)
    {
        ulong key = Key(prefix, length);
        bool added = !_short.ContainsKey(key);
        _short[key] = nextHop;
        if (added) _shortOfLength[length]++;
        // A new prefix takes every entry whose current best is no longer than itself; a replaced one only the
        // entries it already owns (same test, since nothing else of equal length covers them).
        Paint(prefix, length, nextHop, (byte)(length + 1), ownerAtMost: (byte)(length + 1));
        return added;
    }

    private bool DeleteShort(uint prefix, int length)
    {
        if (!_short.Remove(Key(prefix, length))) return false;
        _shortOfLength[length]--;
        // Entries this prefix owned fall back to the longest shorter prefix that covers it (the same one for
        // the whole range, because the range lies inside this prefix).
        uint fallback = NoRoute;
        byte fallbackLength = 0;
        for (int l = length - 1; l >= 0; l--)
        {
            if (_shortOfLength[l] > 0 && _short.TryGetValue(Key(prefix & Route4.Mask(l), l), out uint nh))
            {
                fallback = nh;
                fallbackLength = (byte)(l + 1);
                break;
            }
        }
        int start = (int)(prefix >> ChunkShift), count = 1 << (DirectBits - length);
        byte own = (byte)(length + 1);
        for (int e = start; e < start + count; e++)
        {
            if (_directLength[e] != own) continue;
            _directLength[e] = fallbackLength;
            SetDirect(e, fallback);
        }
        return true;
    }

    private void Paint(uint prefix, int length, uint nextHop, byte own, byte ownerAtMost)
    {
        int start = (int)(prefix >> ChunkShift), count = 1 << (DirectBits - length);
        for (int e = start; e < start + count; e++)
        {
            if (_directLength[e] > ownerAtMost) continue;   // a longer short prefix owns this entry
            _directLength[e] = own;
            SetDirect(e, nextHop);
        }
    }

    private bool SetLong(uint prefix, int length, uint nextHop)
    {
        int chunk = (int)(prefix >> ChunkShift);
        ref ChunkState state = ref _state[chunk];
        bool added = ChunkRoutes.Upsert(ref state.Routes, ref state.Count, LongKey(prefix, length), nextHop);
        Changed(chunk);
        return added;
    }

    private bool DeleteLong(uint prefix, int length)
    {
        int chunk = (int)(prefix >> ChunkShift);
        ref ChunkState state = ref _state[chunk];
        if (state.Routes is null || !ChunkRoutes.Remove(state.Routes, ref state.Count, LongKey(prefix, length))) return false;
        if (state.Count == 0) state.Routes = null;
        Changed(chunk);
        return true;
    }

    private void Changed(int chunk)
    {
        if (!_deferBuilds)
        {
            Rebuild(chunk);
        }
        else if (!_isDirty[chunk])
        {
            _isDirty[chunk] = true;
            _dirty.Add(chunk);
        }
    }

    /// <summary>
    /// Sets the direct answer of /17 number <paramref name="e"/> and republishes the /17: a /17 without longer prefixes
    /// points at the shared constant chunk of its answer, a /17 with some gets its chunk rebuilt (its leaves carry the
    /// direct answer wherever no longer prefix covers them, so a lookup never needs a second answer).
    /// </summary>
    private void SetDirect(int e, uint nextHop)
    {
        ref ChunkState state = ref _state[e];
        uint old = state.Direct;
        if (old == nextHop) return;   // same answers: nothing to republish
        state.Direct = nextHop;
        if (!_deferBuilds && state.Uints > 0 && !ChunkRoutes.HasNextHop(state.Routes!, state.Count, old, nextHop))
            Relabel(e, old, nextHop);
        else
            Changed(e);
    }

    private unsafe void PublishEntry(int e, uint entry) => Volatile.Write(ref _entries[e], entry);

    /// <summary>Publishes /17 number <paramref name="chunk"/>: its own chunk built from its long prefixes, or the constant chunk of its answer.</summary>
    private unsafe void Rebuild(int chunk)
    {
        ref ChunkState state = ref _state[chunk];
        ulong[]? routes = state.Routes;
        uint entry;
        int uints = 0;
        if (routes is null)
        {
            entry = AcquireConstant(state.Direct);
        }
        else
        {
            ReadOnlySpan<uint> built = _builder.Build(routes, state.Count, state.Direct);
            uints = built.Length;
            uint offset = _pool.Allocate(uints);
            built.CopyTo(new Span<uint>(_pool.Base + offset, uints));
            entry = ChunkTag + offset + (uint)_builder.RootExtraLines;
            _chunkCount++;
        }
        uint old = state.Entry;
        // Release: the chunk's contents, written above, are visible before the entry that publishes them; a reader
        // reaches the chunk only through this entry (a data-dependent load), so it never sees a partial chunk.
        PublishEntry(chunk, entry);
        state.Entry = entry;
        if (state.Uints > 0)
        {
            _chunkCount--;
            _pool.Retire(old & ChunkOffsetMask, state.Uints);   // reused after every registered reader is quiescent
        }
        else
        {
            ReleaseConstant(old);
        }
        state.Uints = uints;
    }

    /// <summary>The writer's view of one /17 (never read by lookups): its long prefixes, direct answer, published entry,
    /// chunk size; 24 bytes, and the route array is named here directly (an update on a random /17 misses here, then on
    /// the array).</summary>
    private struct ChunkState
    {
        public ulong[]? Routes;       // prefixes longer than /17 (ChunkRoutes items, sorted), null when none
        public int Count;             // items in use in Routes
        public uint Direct;           // answer from prefixes of /17 or shorter
        public uint Entry;            // what the entry array holds for this /17 (the writer's copy)
        public int Uints;             // size of the /17's own chunk, 0 = it names a constant chunk
    }

    /// <summary>The uints of the chunk /17 number <paramref name="e"/> names (a constant chunk: its root and one leaf); tests compare layouts.</summary>
    internal unsafe ReadOnlySpan<uint> ChunkOf(int e)
    {
        uint entry = Volatile.Read(ref _entries[e]);
        int uints = _state[e].Uints > 0 ? _state[e].Uints : ChunkBuilder.RootNodeSize + 1;
        return new ReadOnlySpan<uint>(_pool.Base + (entry & ChunkOffsetMask), uints);
    }

    /// <summary>Frees retired chunks that every registered reader has stopped using (also done every ChunkPool.ReclaimBatch retired chunks).</summary>
    public void Reclaim() => _pool.Reclaim();

    private static ulong Key(uint prefix, int length) => ((ulong)length << 32) | prefix;

    /// <summary>Sort key (address, then length): a covering prefix always sorts before what it covers.</summary>
    internal static ulong LongKey(uint prefix, int length) => ((ulong)prefix << 8) | (uint)length;

    private static void Validate(uint prefix, int length)
    {
        if (length is < 0 or > 32) throw new ArgumentOutOfRangeException(nameof(length), "length must be 0..32");
        if ((prefix & ~Route4.Mask(length)) != 0)
            throw new ArgumentException($"{Ipv4Address.Format(prefix)}/{length} has host bits set", nameof(prefix));
    }
}
