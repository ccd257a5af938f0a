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
    /// Every entry names a chunk (a /18 without longer prefixes names the shared constant chunk of its answer), so
    /// there is no "direct answer" case: entry, then the chunk's root line (and the next one when the entry says so).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Lookup(uint address)
    {
        // Acquire, pairing with the writer's Volatile.Write in Lpm4Table.PublishEntry: the chunk the entry names was
        // completely written before the entry (a plain mov on x64; the chunk load depends on it).
        uint entry = Volatile.Read(ref _entries[address >> Lpm4Table.ChunkShift]);
        uint* chunk = _pool + (entry & Lpm4Table.ChunkOffsetMask);
        // When the root's leaves run into the next cache line, ask for it now, in parallel with the node's line,
        // instead of after the node has been read (one memory latency instead of two in a dependent chain).
        if (Sse.IsSupported) Sse.Prefetch0(chunk + ((entry & Lpm4Table.TwoLines) << 4));
        uint leaf = WalkChunk(chunk, address);
        GC.KeepAlive(_owner);   // no code: keeps the mapping alive until the chunk has been read
        return leaf;
    }

    /// <summary>
    /// The leaf for <paramref name="address"/> in a chunk. With s = 63 − v (v = the 6 address bits of this level),
    /// <c>bitmap &lt;&lt; s</c> keeps bits 0..v of the bitmap: its sign bit is bit v, its popcount the rank of slot v.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint WalkChunk(uint* data, uint address)
    {
        uint* node = data;
        int shift = ChunkBuilder.RootShift;
        while (true)
        {
            int s = (int)((address << shift) >> 26) ^ 63;
            ulong children = *(ulong*)node << s;
            if ((long)children >= 0)   // bit v clear: slot v is a leaf
                return data[node[5] + (uint)BitOperations.PopCount(*(ulong*)(node + 2) << s)];
            node = data + node[4] + ChunkBuilder.NodeSize * (uint)BitOperations.PopCount(children);
            shift += 6;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShortOutput() =>
        throw new ArgumentException("nextHops is shorter than addresses", "nextHops");
}
