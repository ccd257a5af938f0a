using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>Addresses per block of <see cref="LookupBatch"/>: stage 1 runs over a whole block before stage 2.</summary>
    internal const int BatchBlock = 64;

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]), in blocks of <see cref="BatchBlock"/> addresses and two passes per block:
    /// stage 1 reads every entry of the block (independent loads, so their misses overlap), turns each into a chunk
    /// pointer and prefetches the chunk's line (two when its root needs them); stage 2 then walks the root nodes of
    /// the block without a branch, the few lookups that go below the root listed and walked after it. Every chunk line
    /// is requested a whole pass (up to 63 lookups) before it is read: when neighbours on the shared L3 push the
    /// table out to DRAM, that lead still covers the memory latency, where the earlier lock-step groups of 16 (one
    /// group of lead, none for the first group of a call) did not (bench/RESULTS.md, section lpm5). Every entry names
    /// a chunk (a /18 without long prefixes the constant chunk of its answer), so no stage branches on the entry.
    /// </summary>
    [SkipLocalsInit]
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        uint** chunks = stackalloc uint*[BatchBlock];   // stage 1 → stage 2: each lookup's chunk
        byte* deep = stackalloc byte[BatchBlock];       // stage 2's list of lookups that go below the root
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            for (int b = 0; b < n; b += BatchBlock)
            {
                int count = Math.Min(BatchBlock, n - b);
                LocateBlock(entries, pool, a + b, count, chunks);
                WalkBlock(a + b, count, chunks, o + b, deep);
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>Stage 1: entry → chunk pointer; prefetch the chunk's line, or its two lines when the root needs both.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]   // its own register allocation: inlined, the loop spilled
    private static void LocateBlock(uint* entries, uint* pool, uint* a, int count, uint** chunks)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            // Acquire, as in Lookup: the chunk named by the entry was completely written before the entry.
            uint entry = Volatile.Read(ref entries[a[i] >> Lpm4Table.ChunkShift]);
            uint* data = pool + (entry & Lpm4Table.ChunkOffsetMask);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(data);
                PrefetchExtraLines(data, entry);   // the second and third lines, if the root needs them
            }
            chunks[i] = data;
        }
    }

    /// <summary>
    /// Stage 2: each chunk's root node, without a branch. The root's leaves start right after it (leaf base 9,
    /// stored as 8); the shift count 63 − (v mod 64) is ~address &gt;&gt; 8 taken mod 64, which the shift does by
    /// itself, and the upper bitmap word (v ≥ 64, address bit 14) adds the lower word's popcount, masked. A lookup
    /// whose slot is a child (bit 63 of the shifted child word) is listed and walked again from the root after the
    /// loop (about 1 % of lookups on a DFZ table).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WalkBlock(uint* a, int count, uint** chunks, uint* o, byte* deep)
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
            // For a child slot this reads a leaf of the root (in the chunk) that the pass below overwrites.
            nuint rank = (nuint)ulong.PopCount(root[2 + w] << s) + (nuint)ulong.PopCount(root[2] & (0UL - (ulong)w));
            o[i] = ((uint*)root + ChunkBuilder.RootLeafBase)[rank];
        }
        for (nuint k = 0; k < deepCount; k++)
        {
            nuint i = deep[k];
            o[i] = WalkChunk(chunks[i], a[i]);
        }
    }
}
