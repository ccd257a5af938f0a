using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

// Batch-lookup variants measured against LookupBatch by `FastTun.Benchmarks lpm-ab` (not used by the datapath).
public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>LookupBatch with stage 1 prefetching the first two root lines only (line 2 is read on demand).</summary>
    internal void LookupBatch2L(ReadOnlySpan<uint> addresses, Span<uint> nextHops) =>
        LookupBatchTwoPass(addresses, nextHops, everyRootLine: false);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LocateBlock2(uint* entries, uint* pool, uint* a, int count, uint** chunks)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            uint entry = Volatile.Read(ref entries[a[i] >> Lpm4Table.ChunkShift]);
            uint* data = pool + (entry & Lpm4Table.ChunkOffsetMask);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(data);
                Sse.Prefetch0(data + ((((entry & Lpm4Table.ExtraLinesMask) + 1) >> 1) << 4));
            }
            chunks[i] = data;
        }
    }

    /// <summary>Two passes: entry → prefetch every root line the entry names; then rank and read the leaf.</summary>
    internal void LookupBatch2P(ReadOnlySpan<uint> addresses, Span<uint> nextHops) =>
        LookupBatchTwoPass(addresses, nextHops, everyRootLine: true);

    /// <summary>The two-pass variants' block loop: locate (<see cref="LocateBlock3"/> when
    /// <paramref name="everyRootLine"/>, else <see cref="LocateBlock2"/>), then <see cref="WalkBlock"/>.</summary>
    [SkipLocalsInit]
    private void LookupBatchTwoPass(ReadOnlySpan<uint> addresses, Span<uint> nextHops, bool everyRootLine)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        uint* entries = _entries, pool = _pool;
        uint** chunks = stackalloc uint*[BatchBlock];
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            for (int b = 0; b < n; b += BatchBlock)
            {
                int count = Math.Min(BatchBlock, n - b);
                if (everyRootLine) LocateBlock3(entries, pool, a + b, count, chunks);
                else LocateBlock2(entries, pool, a + b, count, chunks);
                WalkBlock(a + b, count, chunks, o + b);
            }
        }
        GC.KeepAlive(_owner);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LocateBlock3(uint* entries, uint* pool, uint* a, int count, uint** chunks)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            uint entry = Volatile.Read(ref entries[a[i] >> Lpm4Table.ChunkShift]);
            uint* data = pool + (entry & Lpm4Table.ChunkOffsetMask);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(data);
                PrefetchExtraLines(data, entry);
            }
            chunks[i] = data;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WalkBlock(uint* a, int count, uint** chunks, uint* o)
    {
        for (nuint i = 0; i < (nuint)count; i++) o[i] = WalkChunk(chunks[i], a[i]);
    }
}
