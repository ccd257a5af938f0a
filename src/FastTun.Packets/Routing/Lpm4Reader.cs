using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

/// <summary>
/// Lock-free read handle on an <see cref="Lpm4Table"/>. A worker takes one per batch
/// (<see cref="Lpm4Table.GetReader"/>). Every answer is the table's answer for that address at some instant during
/// the lookup (old or new, never torn); different addresses of one batch may straddle an update. A reader of a
/// table that is updated in place must be registered with the table's <see cref="Qsbr"/> domain and report a
/// quiescent state between batches; the handle also keeps the table's memory mapped while it exists.
///
/// <para>Chunks are read without bounds checks: they are immutable while published and every offset in them was
/// produced by <see cref="ChunkBuilder"/> within the chunk (checked by the oracle tests). The entry index
/// (address &gt;&gt; 14) is always within the 2^18 entries.</para>
/// </summary>
public readonly unsafe struct Lpm4Reader
{
    /// <summary>How many lookups ahead <see cref="LookupBatch"/> prefetches the chunk (entries: twice as far).</summary>
    private const int Distance = 8;
    private readonly uint* _entries;
    private readonly uint* _pool;
    private readonly object _owner;   // keeps the native region mapped while this reader exists

    internal Lpm4Reader(uint* entries, uint* pool, object owner)
    {
        _entries = entries;
        _pool = pool;
        _owner = owner;
    }

    /// <summary>Longest-prefix match; <see cref="Lpm4Table.NoRoute"/> when nothing covers the address.</summary>
    /// <remarks>
    /// Branches on "does this /18 have a chunk": for one lookup whose result feeds the next (latency), a predicted
    /// branch lets the CPU run ahead, which measured faster than the branch-free form (chain 94 vs 141 ns in an
    /// interleaved A/B). <see cref="LookupBatch"/> uses the branch-free form, which wins on throughput.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Lookup(uint address)
    {
        // Acquire, pairing with the writer's Volatile.Write in Lpm4Table.Rebuild/SetDirect: the chunk the entry names
        // was completely written before the entry (a plain mov on x64; the chunk load depends on it).
        uint entry = Volatile.Read(ref _entries[address >> Lpm4Table.ChunkShift]);
        if (entry - Lpm4Table.ChunkTag >= Lpm4Table.ChunkLimit) return entry;   // a next hop or NoRoute
        uint* chunk = _pool + (entry - Lpm4Table.ChunkTag);
        // The root's leaves usually run into the next cache line; ask for it now, in parallel with the node's line,
        // instead of after the node has been read (one memory latency instead of two in a dependent chain).
        if (Sse.IsSupported) Sse.Prefetch0(chunk + 16);
        uint leaf = WalkChunk(chunk, address);
        // The chunk's direct answer sits right after the root node, on the line the walk has just read.
        leaf = leaf != Lpm4Table.DeferToDirect ? leaf : Volatile.Read(ref chunk[ChunkBuilder.DirectSlot]);
        GC.KeepAlive(_owner);   // no code: keeps the mapping alive until the chunk has been read
        return leaf;
    }

    /// <summary>
    /// The same answer as <see cref="Lookup"/> without a branch on "has a chunk" (about half the /18s of a full
    /// table do, so it mispredicts often when lookups are independent): an entry without a chunk walks the table's
    /// empty chunk, whose only leaf defers to the direct answer, and the selects compile to conditional moves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint LookupBranchFree(uint address)
    {
        uint entry = Volatile.Read(ref _entries[address >> Lpm4Table.ChunkShift]);   // acquire, as in Lookup
        uint offset = entry - Lpm4Table.ChunkTag;
        bool isChunk = offset < Lpm4Table.ChunkLimit;
        uint* chunk = _pool + (isChunk ? offset : Lpm4Table.EmptyChunk);
        if (Sse.IsSupported) Sse.Prefetch0(chunk + 16);
        uint leaf = WalkChunk(chunk, address);
        uint header = Volatile.Read(ref chunk[ChunkBuilder.DirectSlot]);
        uint direct = isChunk ? header : entry;
        return leaf != Lpm4Table.DeferToDirect ? leaf : direct;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint WalkChunk(uint* data, uint address)
    {
        uint* node = data;
        int shift = ChunkBuilder.RootShift;
        while (true)
        {
            ulong childBits = *(ulong*)node;
            int v = (int)((address << shift) >> 26);
            ulong upTo = ~0UL >> (63 - v);
            if ((childBits & upTo) > (upTo >> 1))   // bit v set: descend
            {
                node = data + (int)node[4] + ChunkBuilder.NodeSize * BitOperations.PopCount(childBits & upTo);
                shift += 6;
                continue;
            }
            ulong runBits = *(ulong*)(node + 2);
            return data[(int)node[5] + BitOperations.PopCount(runBits & upTo)];
        }
    }

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]), software-pipelined: while looking up address i it prefetches the entry
    /// of address i + 16 and, from the entry of address i + 8 (already in cache by then), that address's chunk
    /// root, so the two cache misses of independent lookups overlap instead of queueing one after the other.
    /// </summary>
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        ref uint a = ref MemoryMarshal.GetReference(addresses);
        ref uint o = ref MemoryMarshal.GetReference(nextHops);
        int i = 0;
        if (Sse.IsSupported && n > 2 * Distance)
        {
            for (int j = 0; j < 2 * Distance; j++) PrefetchEntry(Unsafe.Add(ref a, j));
            for (int j = 0; j < Distance; j++) PrefetchChunk(Unsafe.Add(ref a, j));
            for (; i + 2 * Distance < n; i++)
            {
                PrefetchEntry(Unsafe.Add(ref a, i + 2 * Distance));
                PrefetchChunk(Unsafe.Add(ref a, i + Distance));
                Unsafe.Add(ref o, i) = LookupBranchFree(Unsafe.Add(ref a, i));
            }
            for (; i + Distance < n; i++)
            {
                PrefetchChunk(Unsafe.Add(ref a, i + Distance));
                Unsafe.Add(ref o, i) = LookupBranchFree(Unsafe.Add(ref a, i));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref o, i) = LookupBranchFree(Unsafe.Add(ref a, i));
        GC.KeepAlive(_owner);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchEntry(uint address) => Sse.Prefetch0(_entries + (address >> Lpm4Table.ChunkShift));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchChunk(uint address)
    {
        // Only a hint: a stale entry prefetches a block that may be reused by then, which is harmless. No branch on
        // "has a chunk" (about half the /18s of a full table do, so it would mispredict often): a next hop prefetches
        // some line of the pool, which costs a little bandwidth and no stall.
        Sse.Prefetch0(_pool + (_entries[address >> Lpm4Table.ChunkShift] & 0x7FFF_FFFF));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShortOutput() =>
        throw new ArgumentException("nextHops is shorter than addresses", "nextHops");
}
