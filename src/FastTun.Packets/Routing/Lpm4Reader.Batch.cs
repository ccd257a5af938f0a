using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>Lookups per lock-step group of <see cref="LookupBatch"/>.</summary>
    internal const int BatchGroup = 16;

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]), in lock-step groups of <see cref="BatchGroup"/> addresses, software-pipelined:
    /// stage 1 reads the entries of group g + 1 (prefetched a group earlier), turns each into a chunk pointer,
    /// prefetches the chunk's line (two when its root needs them) and the entries of group g + 2; stage 2
    /// walks the root nodes of group g, whose lines were requested a whole group earlier, without a branch: the few
    /// lookups that go below the root are listed and walked after the group. The loads inside a stage are
    /// independent, so their misses overlap. Every entry names a chunk (a /18 without long prefixes the constant chunk
    /// of its answer), so no stage branches on the entry. The last n mod 16 addresses go through the same stages one group short.
    /// </summary>
    [SkipLocalsInit]
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        // Two stage buffers of chunk pointers, one group each: stage 1 of group g + 1 keeps group g's.
        uint** chunks = stackalloc uint*[2 * BatchGroup];
        byte* deep = stackalloc byte[BatchGroup];   // stage 2's list of lookups that go below the root
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            int full = n & -BatchGroup;
            if (full > 0)
            {
                // Group 0's stage 1 prefetches group 1's entries (its own, already being read, when there is no group 1).
                LocateGroup(entries, pool, a, BatchGroup, a + (BatchGroup < full ? BatchGroup : 0), chunks);
                for (int g = 0; g < full; g += BatchGroup)
                {
                    int current = g & BatchGroup, next = (g + BatchGroup) & BatchGroup;
                    if (g + BatchGroup < full)
                    {
                        // The entries two groups ahead, or (no such group) the next group's own again: already cached.
                        uint* ahead = a + g + (g + 2 * BatchGroup < full ? 2 : 1) * BatchGroup;
                        LocateGroup(entries, pool, a + g + BatchGroup, BatchGroup, ahead, chunks + next);
                    }
                    WalkGroup(a + g, BatchGroup, chunks + current, o + g, deep);
                }
            }
            if (full < n)
            {
                LocateGroup(entries, pool, a + full, n - full, a + full, chunks);
                WalkGroup(a + full, n - full, chunks, o + full, deep);
            }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>
    /// Stage 1: entry → chunk pointer; prefetch the chunk's line or two,
    /// and the entry of the address at the same place in <paramref name="ahead"/> (at least <paramref name="count"/> addresses).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]   // its own register allocation: inlined, the loop spilled
    private static void LocateGroup(uint* entries, uint* pool, uint* a, int count, uint* ahead, uint** chunks)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            if (Sse.IsSupported) Sse.Prefetch0(entries + (ahead[i] >> Lpm4Table.ChunkShift));
            // Acquire, as in Lookup: the chunk named by the entry was completely written before the entry.
            uint entry = Volatile.Read(ref entries[a[i] >> Lpm4Table.ChunkShift]);
            uint* data = pool + (entry & Lpm4Table.ChunkOffsetMask);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(data);
                Sse.Prefetch0(data + ((entry & Lpm4Table.TwoLines) << 4));   // the second line, if the root needs it
            }
            chunks[i] = data;
        }
    }

    /// <summary>
    /// Stage 2: each chunk's root node, without a branch. The root's leaves start right after it (leaf base 6,
    /// stored as 5); the shift count 63 − (address bits 18..23) is ~address &gt;&gt; 8 taken mod 64, which the shift
    /// does by itself. A lookup whose slot is a child (bit 63 of the shifted child bitmap) is listed and walked again
    /// from the root after the loop (about 1 % of lookups on a DFZ table).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WalkGroup(uint* a, int count, uint** chunks, uint* o, byte* deep)
    {
        nuint deepCount = 0;
        for (nuint i = 0; i < (nuint)count; i++)
        {
            uint* data = chunks[i];
            int s = (int)(~a[i] >> 8);
            deep[deepCount] = (byte)i;
            deepCount += (nuint)((*(ulong*)data << s) >> 63);
            // For a child slot this reads a leaf of the root (in the chunk) that the pass below overwrites.
            o[i] = (data + ChunkBuilder.RootLeafBase)[(nuint)ulong.PopCount(*(ulong*)(data + 2) << s)];
        }
        for (nuint k = 0; k < deepCount; k++)
        {
            nuint i = deep[k];
            o[i] = WalkChunk(chunks[i], a[i]);
        }
    }
}
