using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>Addresses per block of <see cref="LookupBatch"/>: stage 1 runs over a whole block before stage 2.</summary>
    internal const int BatchBlock = 64;

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]), in blocks of <see cref="BatchBlock"/> addresses and three passes per block:
    /// stage 1 reads every entry of the block (independent loads, so their misses overlap), turns each into a chunk
    /// pointer and prefetches the chunk's first line (the root's bitmap); stage 2 ranks every lookup's slot in its
    /// root without a branch and prefetches the line of its leaf (a 128-slot root's leaves spread over up to a few
    /// lines, and only the one holding the answer is fetched); stage 3 reads the leaves, and walks the few that are
    /// child leaves (about 1 % on a DFZ table). Every line is requested a whole pass (up to 63 lookups) before it is
    /// read, which covers the memory latency when neighbours on the shared L3 push the table out to DRAM
    /// (bench/RESULTS.md, sections lpm5, lpm6). Every entry names a chunk (a /17 without long prefixes the constant
    /// chunk of its answer), so no stage branches on the entry.
    /// </summary>
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (VectorBatchAccelerated) LookupBatchVector(addresses, nextHops);   // lpm7v hook: Lpm4Reader.Vector.cs
        else LookupBatchScalar(addresses, nextHops);
    }

    /// <summary>The three-pass batch in scalar code: <see cref="LookupBatch"/> without AVX2, and the reference the
    /// vector path is measured against (lpm-ab).</summary>
    [SkipLocalsInit]
    internal void LookupBatchScalar(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        uint** chunks = stackalloc uint*[BatchBlock];   // stage 1 → stage 2 (and stage 3's walks): each lookup's chunk
        uint** leaves = stackalloc uint*[BatchBlock];   // stage 2 → stage 3: each lookup's root leaf
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            for (int b = 0; b < n; b += BatchBlock)
            {
                int count = Math.Min(BatchBlock, n - b);
                LocateBlock(entries, pool, a + b, count, chunks);
                RankBlock(a + b, count, chunks, leaves);
                ReadBlock(a + b, count, chunks, leaves, o + b);
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>Stage 1: entry → chunk pointer; prefetch the chunk's first line (its root's bitmap).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]   // its own register allocation: inlined, the loop spilled
    private static void LocateBlock(uint* entries, uint* pool, uint* a, int count, uint** chunks)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            // Acquire, as in Lookup: the chunk named by the entry was completely written before the entry.
            uint entry = Volatile.Read(ref entries[a[i] >> Lpm4Table.ChunkShift]);
            uint* data = pool + (entry & Lpm4Table.ChunkOffsetMask);
            if (Sse.IsSupported) Sse.Prefetch0(data);
            chunks[i] = data;
        }
    }

    /// <summary>Stage 2: each lookup's root leaf (<see cref="RootLeaf"/>, no branch) and a prefetch of its line.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RankBlock(uint* a, int count, uint** chunks, uint** leaves)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            uint* leaf = RootLeaf(chunks[i], a[i]);
            if (Sse.IsSupported) Sse.Prefetch0(leaf);
            leaves[i] = leaf;
        }
    }

    /// <summary>Stage 3: read each root leaf; a child leaf is walked from there (<see cref="WalkBelow"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReadBlock(uint* a, int count, uint** chunks, uint** leaves, uint* o)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            uint leaf = *leaves[i];
            if (ChunkBuilder.IsChild(leaf)) leaf = WalkBelow(chunks[i], a[i], leaf);
            o[i] = leaf;
        }
    }
}
