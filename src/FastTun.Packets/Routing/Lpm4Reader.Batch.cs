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
    /// pointer and prefetches the chunk's first line (the root's bitmaps); stage 2 ranks every lookup's slot in its
    /// root without a branch and prefetches the line of its leaf (a 128-slot root's leaves spread over up to a few
    /// lines, and only the one holding the answer is fetched); stage 3 reads the leaves, and the few lookups whose
    /// slot is a child are walked after it. Every line is requested a whole pass (up to 63 lookups) before it is
    /// read, which covers the memory latency when neighbours on the shared L3 push the table out to DRAM
    /// (bench/RESULTS.md, sections lpm5, lpm6). Every entry names a chunk (a /17 without long prefixes the constant
    /// chunk of its answer), so no stage branches on the entry.
    /// </summary>
    [SkipLocalsInit]
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        uint** chunks = stackalloc uint*[BatchBlock];   // stage 1 → stage 2: each lookup's chunk
        uint** leaves = stackalloc uint*[BatchBlock];   // stage 2 → stage 3: each lookup's root leaf
        byte* deep = stackalloc byte[BatchBlock];       // stage 2's list of lookups that go below the root
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            for (int b = 0; b < n; b += BatchBlock)
            {
                int count = Math.Min(BatchBlock, n - b);
                LocateBlock(entries, pool, a + b, count, chunks);
                nuint deepCount = RankBlock(a + b, count, chunks, leaves, deep);
                uint* ob = o + b;
                for (nuint i = 0; i < (nuint)count; i++) ob[i] = *leaves[i];
                for (nuint k = 0; k < deepCount; k++)
                {
                    nuint i = deep[k];
                    ob[i] = WalkChunk(chunks[i], a[(nuint)b + i]);
                }
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>Stage 1: entry → chunk pointer; prefetch the chunk's first line (its root's bitmaps).</summary>
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

    /// <summary>
    /// Stage 2: each lookup's root leaf, without a branch, and a prefetch of its line. The root's leaves start right
    /// after it (<see cref="ChunkBuilder.RootLeafBase"/>); the shift count 63 − (v mod 64) is ~address &gt;&gt; 8
    /// taken mod 64, which the shift does by itself, and the upper bitmap word (v ≥ 64, address bit 14) adds the
    /// lower word's popcount, masked. A lookup whose slot is a child (bit 63 of the shifted child word) is listed
    /// for a walk from the root after stage 3 (about 1 % of lookups on a DFZ table); its "leaf" is a root leaf that
    /// the walk overwrites.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nuint RankBlock(uint* a, int count, uint** chunks, uint** leaves, byte* deep)
    {
        nuint deepCount = 0;
        for (nuint i = 0; i < (nuint)count; i++)
        {
            ulong* root = (ulong*)chunks[i];
            uint address = a[i];
            nuint w = (address >> 14) & 1;
            int s = (int)(~address >> 8);
            deep[deepCount] = (byte)i;
            deepCount += (nuint)((root[w] << s) >> 63);
            nuint rank = (nuint)ulong.PopCount(root[2 + w] << s) + (nuint)ulong.PopCount(root[2] & (0UL - (ulong)w));
            uint* leaf = (uint*)root + ChunkBuilder.RootLeafBase + rank;
            if (Sse.IsSupported) Sse.Prefetch0(leaf);
            leaves[i] = leaf;
        }
        return deepCount;
    }
}
