using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>Lookups per lock-step group of <see cref="LookupBatch"/>.</summary>
    internal const int BatchGroup = 16;
    private const int MaxGroup = 64;

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]), in lock-step groups of <see cref="BatchGroup"/> addresses, software-pipelined
    /// one group deep: stage 1 reads the entries of group g + 1 (the 1 MiB entry array is L2-resident), turns each into
    /// a chunk offset without a branch and prefetches the chunk's first two lines; stage 2 walks the chunks of group g,
    /// whose lines were requested a whole group earlier. The loads inside a stage are independent, so their misses
    /// overlap. A /18 without a chunk walks the empty chunk (its leaf is all ones) and takes its entry through a mask,
    /// so there is no branch on "has a chunk".
    /// </summary>
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops) => LookupBatchLockstep(addresses, nextHops, BatchGroup);

    [SkipLocalsInit]
    internal void LookupBatchLockstep(ReadOnlySpan<uint> addresses, Span<uint> nextHops, int group)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        if ((uint)(group - 1) >= MaxGroup) ThrowBadGroup();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        // Two sets of stage buffers (chunk offset, answer mask) so stage 1 of group g + 1 keeps group g's intact.
        uint* chunks = stackalloc uint[2 * MaxGroup];
        uint* masks = stackalloc uint[2 * MaxGroup];
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            if (n > 0) Locate(entries, pool, a, Math.Min(group, n), chunks, masks);
            int buffer = 0;
            for (int g = 0; g < n; g += group)
            {
                int next = g + group;
                if (next < n) Locate(entries, pool, a + next, Math.Min(group, n - next), chunks + (buffer ^ MaxGroup), masks + (buffer ^ MaxGroup));
                Walk(pool, a + g, Math.Min(group, n - g), chunks + buffer, masks + buffer, o + g);
                buffer ^= MaxGroup;
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>Stage 1: entry → chunk offset (the empty chunk for a next hop), prefetch its first two lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Locate(uint* entries, uint* pool, uint* a, int count, uint* chunks, uint* masks)
    {
        for (int j = 0; j < count; j++)
        {
            // Acquire, as in Lookup: the chunk named by the entry was completely written before the entry.
            uint entry = Volatile.Read(ref entries[a[j] >> Lpm4Table.ChunkShift]);
            uint isChunk = (uint)((int)entry >> 31);   // all ones when the entry names a chunk
            uint chunk = entry & (isChunk >> 1);       // its offset, or 0 (the empty chunk) for a next hop
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(pool + chunk);
                Sse.Prefetch0(pool + chunk + 16);
            }
            chunks[j] = chunk;
            masks[j] = entry | isChunk;   // leaf & mask: the leaf for a chunk, the entry (empty chunk's leaf is ~0)
        }
    }

    /// <summary>Stage 2: walk each chunk and apply the mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Walk(uint* pool, uint* a, int count, uint* chunks, uint* masks, uint* o)
    {
        for (int j = 0; j < count; j++) o[j] = WalkChunk(pool + chunks[j], a[j]) & masks[j];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadGroup() => throw new ArgumentOutOfRangeException("group", "group must be 1..64");
}
