using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>Lookups per lock-step group of <see cref="LookupBatch"/>.</summary>
    

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]), in lock-step groups of <see cref="BatchGroup"/> addresses, software-pipelined:
    /// stage 0 prefetches the entries of group g + 2; stage 1 reads the entries of group g + 1, turns each into
    /// a chunk offset without a branch and prefetches the chunk's first two lines; stage 2 walks the chunks of group g,
    /// whose lines were requested a whole group earlier. The loads inside a stage are independent, so their misses
    /// overlap. A /18 without a chunk walks the empty chunk (its leaf is all ones) and takes its entry through a mask,
    /// so there is no branch on "has a chunk". The last n mod 16 addresses go through the same stages one group short.
    /// </summary>
    [SkipLocalsInit]
    internal void LookupBatchGroups(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        // Two stage buffers of (answer mask << 32 | chunk offset) per lookup: stage 1 of group g + 1 keeps group g's.
        ulong* stage = stackalloc ulong[2 * BatchGroup];
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            int full = n & -BatchGroup;
            if (full > 0)
            {
                if (BatchGroup < full) PrefetchEntriesOld(entries, a + BatchGroup);
                LocateOld(entries, pool, a, BatchGroup, stage);
                for (int g = 0; g < full; g += BatchGroup)
                {
                    ulong* current = stage + (g & BatchGroup);
                    ulong* next = stage + ((g + BatchGroup) & BatchGroup);
                    if (g + 2 * BatchGroup < full) PrefetchEntriesOld(entries, a + g + 2 * BatchGroup);
                    if (g + BatchGroup < full) LocateOld(entries, pool, a + g + BatchGroup, BatchGroup, next);
                    WalkOld(pool, a + g, BatchGroup, current, o + g);
                }
            }
            if (full < n)
            {
                LocateOld(entries, pool, a + full, n - full, stage);
                WalkOld(pool, a + full, n - full, stage, o + full);
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>Stage 0, a group before stage 1: the entries drop out of L2 behind the chunk lines (measured 5-15 % faster).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PrefetchEntriesOld(uint* entries, uint* a)
    {
        if (!Sse.IsSupported) return;
        for (uint* end = a + BatchGroup; a < end; a++) Sse.Prefetch0(entries + (*a >> Lpm4Table.ChunkShift));
    }

    /// <summary>Stage 1: entry → chunk offset (the empty chunk for a next hop), prefetch its first two lines.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]   // its own register allocation: inlined, the loop spilled
    private static void LocateOld(uint* entries, uint* pool, uint* a, int count, ulong* stage)
    {
        for (uint* end = a + count; a < end; a++, stage++)
        {
            // Acquire, as in Lookup: the chunk named by the entry was completely written before the entry.
            uint entry = Volatile.Read(ref entries[*a >> Lpm4Table.ChunkShift]);
            uint isChunk = (uint)((int)entry >> 31);   // all ones when the entry names a chunk
            uint chunk = entry & isChunk & Lpm4Table.ChunkOffsetMask;      // its offset, or 0 (the empty chunk) for a next hop
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(pool + chunk);
                Sse.Prefetch0(pool + chunk + 16);
            }
            // leaf & mask: the leaf for a chunk; for a next hop, the entry (the empty chunk's leaf is all ones).
            *stage = ((ulong)(entry | isChunk) << 32) | chunk;
        }
    }

    /// <summary>Stage 2: walk each chunk and apply the mask. The root level is peeled: most lookups end there.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WalkOld(uint* pool, uint* a, int count, ulong* stage, uint* o)
    {
        for (uint* end = a + count; a < end; a++, stage++, o++)
        {
            ulong st = *stage;
            uint* data = pool + (uint)st;
            int s = (int)(~*a >> 8) & 63;   // 63 − (address bits 18..23)
            ulong children = *(ulong*)data << s;
            uint leaf = (long)children < 0
                ? WalkBelowRootOld(data, *a, children)
                : data[data[5] + (uint)BitOperations.PopCount(*(ulong*)(data + 2) << s)];
            *o = leaf & (uint)(st >> 32);
        }
    }

    /// <summary>The rest of <see cref="WalkChunk"/> once the root says "descend" (rank of the child in <paramref name="children"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint WalkBelowRootOld(uint* data, uint address, ulong children)
    {
        uint* node = data + data[4] + ChunkBuilder.NodeSize * (uint)BitOperations.PopCount(children);
        int shift = ChunkBuilder.RootShift + 6;
        while (true)
        {
            int s = (int)((address << shift) >> 26) ^ 63;
            children = *(ulong*)node << s;
            if ((long)children >= 0) return data[node[5] + (uint)BitOperations.PopCount(*(ulong*)(node + 2) << s)];
            node = data + node[4] + ChunkBuilder.NodeSize * (uint)BitOperations.PopCount(children);
            shift += 6;
        }
    }
}
