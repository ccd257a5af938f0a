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
/// (address &gt;&gt; 15) is always within the 2^17 entries.</para>
/// </summary>
public readonly unsafe partial struct Lpm4Reader
{
    private readonly uint* _entries;
    private readonly uint* _pool;
    private readonly object _owner;   // keeps the native region mapped while this reader exists

    internal uint* Entries => _entries;
    internal uint* Pool => _pool;

    internal Lpm4Reader(uint* entries, uint* pool, object owner)
    {
        _entries = entries;
        _pool = pool;
        _owner = owner;
    }

    /// <summary>Longest-prefix match; <see cref="Lpm4Table.NoRoute"/> when nothing covers the address.</summary>
    /// <remarks>
    /// Every entry names a chunk (a /17 without longer prefixes names the shared constant chunk of its answer), so
    /// there is no "direct answer" case: entry, then the chunk's root line(s) (the entry says how many).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Lookup(uint address)
    {
        // Acquire, pairing with the writer's Volatile.Write in Lpm4Table.PublishEntry: the chunk the entry names was
        // completely written before the entry (a plain mov on x64; the chunk load depends on it).
        uint entry = Volatile.Read(ref _entries[address >> Lpm4Table.ChunkShift]);
        uint* chunk = _pool + (entry & Lpm4Table.ChunkOffsetMask);
        // When the root's leaves run into the next cache line(s), ask for them now, in parallel with the node's line,
        // instead of after the node has been read (one memory latency instead of two in a dependent chain).
        if (Sse.IsSupported) PrefetchExtraLines(chunk, entry);
        uint leaf = WalkChunk(chunk, address);
        GC.KeepAlive(_owner);   // no code: keeps the mapping alive until the chunk has been read
        return leaf;
    }

    /// <summary>
    /// Prefetches the lines after a chunk's first that its entry names (<see cref="Lpm4Table.ExtraLinesMask"/>: 0–2):
    /// line min(extra, 1) and line extra, so 0 → the first line twice, 1 → the second twice, 2 → the second and third.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PrefetchExtraLines(uint* chunk, uint entry)
    {
        uint extra = entry & Lpm4Table.ExtraLinesMask;
        Sse.Prefetch0(chunk + (((extra + 1) >> 1) << 4));
        Sse.Prefetch0(chunk + (extra << 4));
    }

    /// <summary>
    /// The answer for <paramref name="address"/> in a chunk. At the root (address bits 17–23, v = 0..127, a 128-bit
    /// leaf-run bitmap in two 64-bit words, each with a stored leaf base) word w = v / 64 is read; with
    /// s = 63 − (v mod 64), <c>word &lt;&lt; s</c> keeps bits 0..v of it, whose popcount is the rank of slot v's leaf
    /// from the word's base. A child leaf continues in <see cref="WalkBelow"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint WalkChunk(uint* data, uint address)
    {
        uint leaf = *RootLeafCounted(data, address);
        return ChunkBuilder.IsChild(leaf) ? WalkBelow(data, address, leaf) : leaf;
    }

    /// <summary>
    /// <see cref="RootLeaf"/> without the stored base: the upper word adds the lower word's popcount, masked with −w
    /// (one more popcount, but no load on the path from the root's bitmap to the leaf's address: <see cref="Lookup"/>'s
    /// latency; the batch, bound by instructions, takes the stored base).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint* RootLeafCounted(uint* data, uint address)
    {
        ulong* root = (ulong*)data;
        nuint w = (address >> 14) & 1;
        int s = (int)(~address >> 8);
        nuint rank = (nuint)ulong.PopCount(root[w] << s) + (nuint)ulong.PopCount(root[0] & (0UL - (ulong)w));
        return data + ChunkBuilder.RootLeafBase + rank;
    }

    /// <summary>The root leaf of <paramref name="address"/>'s slot (an answer, or a child leaf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint* RootLeaf(uint* data, uint address)
    {
        nuint w = (address >> 14) & 1;            // address bit 14 = bit 6 of v
        int s = (int)(~address >> 8);             // 63 − (v mod 64), taken mod 64 by the shift
        return (uint*)((byte*)data + data[4 + w]) + (nuint)ulong.PopCount(((ulong*)data)[w] << s);   // base in bytes
    }

    /// <summary>
    /// The answer below a child leaf (ChunkTag + the child node's offset): each 6-bit level ranks its slot in the node's
    /// 64-bit leaf-run bitmap and reads the leaf right after it, until the leaf is an answer.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]   // about 1 % of lookups: kept out of the callers' loops
    private static uint WalkBelow(uint* data, uint address, uint leaf)
    {
        int shift = ChunkBuilder.RootShift + ChunkBuilder.RootBits;
        do
        {
            uint* node = data + (leaf - Lpm4Table.ChunkTag);
            int s = (int)((address << shift) >> 26) ^ 63;
            leaf = node[ChunkBuilder.NodeLeafBase + (nuint)ulong.PopCount(*(ulong*)node << s)];
            shift += 6;
        }
        while (ChunkBuilder.IsChild(leaf));
        return leaf;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShortOutput() =>
        throw new ArgumentException("nextHops is shorter than addresses", "nextHops");
}
