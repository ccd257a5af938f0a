using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

/// <summary>
/// Lock-free read handle on an <see cref="Lpm4Table"/>. A worker takes one per batch
/// (<see cref="Lpm4Table.GetReader"/>) so the array references are loaded once. The table mutates its two top
/// arrays in place with single atomic stores and publishes rebuilt chunks by reference, so every answer is the
/// table's answer for that address at some instant during the lookup (old or new, never torn); different
/// addresses of one batch may straddle an update.
///
/// <para>Chunk arrays are read without bounds checks: they are immutable once published and every offset in
/// them was produced by <see cref="ChunkBuilder"/> within the array's length (checked by the oracle tests).
/// The top-level indices (addr &gt;&gt; 14) are always within the 2^18-entry arrays.</para>
/// </summary>
public readonly struct Lpm4Reader
{
    private readonly uint[] _direct;
    private readonly uint[]?[] _chunks;

    internal Lpm4Reader(uint[] direct, uint[]?[] chunks)
    {
        _direct = direct;
        _chunks = chunks;
    }

    /// <summary>Longest-prefix match; <see cref="Lpm4Table.NoRoute"/> when nothing covers the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Lookup(uint address)
    {
        nuint top = address >> Lpm4Table.ChunkShift;
        // Acquire, pairing with the writer's Volatile.Write in Lpm4Table.Rebuild: the chunk's contents, written
        // before that store, are visible through the reference loaded here (a plain mov on x64).
        uint[]? chunk = Volatile.Read(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_chunks), top));
        if (chunk is null) return Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_direct), top);
        uint leaf = WalkChunk(chunk, address);
        return leaf != Lpm4Table.DeferToDirect ? leaf : Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_direct), top);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint WalkChunk(uint[] chunk, uint address)
    {
        ref uint data = ref MemoryMarshal.GetArrayDataReference(chunk);
        ref uint node = ref data;
        int shift = ChunkBuilder.RootShift;
        while (true)
        {
            ulong childBits = Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<uint, byte>(ref node));
            int v = (int)((address << shift) >> 26);
            ulong upTo = ~0UL >> (63 - v);
            if ((childBits & upTo) > (upTo >> 1))   // bit v set: descend
            {
                node = ref Unsafe.Add(ref data, (int)Unsafe.Add(ref node, 4) + ChunkBuilder.NodeSize * BitOperations.PopCount(childBits & upTo));
                shift += 6;
                continue;
            }
            ulong runBits = Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<uint, byte>(ref Unsafe.Add(ref node, 2)));
            return Unsafe.Add(ref data, (int)Unsafe.Add(ref node, 5) + BitOperations.PopCount(runBits & upTo));
        }
    }

    /// <summary>
    /// nextHops[i] = Lookup(addresses[i]). Works in groups of 16: first touch (prefetch) the 16 chunk-reference
    /// slots, then the 16 chunks' root nodes, then walk — so the cache misses of independent lookups overlap
    /// instead of queueing behind each other.
    /// </summary>
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        const int Group = 16;
        int i = 0;
        if (Sse.IsSupported)
        {
            for (; i + Group <= addresses.Length; i += Group)
            {
                ReadOnlySpan<uint> group = addresses.Slice(i, Group);
                PrefetchTop(group);
                PrefetchRoots(group);
                for (int j = 0; j < Group; j++) nextHops[i + j] = Lookup(group[j]);
            }
        }
        for (; i < addresses.Length; i++) nextHops[i] = Lookup(addresses[i]);
    }

    private unsafe void PrefetchTop(ReadOnlySpan<uint> group)
    {
        ref uint[]? chunks = ref MemoryMarshal.GetArrayDataReference(_chunks);
        // The 2^18-entry arrays are on the large-object heap, which is not compacted, so the pointer stays valid;
        // even if it did not, a prefetch of a stale address is harmless (prefetches never fault).
        foreach (uint address in group)
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref chunks, address >> Lpm4Table.ChunkShift)));
    }

    private unsafe void PrefetchRoots(ReadOnlySpan<uint> group)
    {
        ref uint[]? chunks = ref MemoryMarshal.GetArrayDataReference(_chunks);
        ref uint direct = ref MemoryMarshal.GetArrayDataReference(_direct);
        foreach (uint address in group)
        {
            // Same acquire as in Lookup (pairs with Rebuild's Volatile.Write); only used as a prefetch hint here.
            uint[]? chunk = Volatile.Read(ref Unsafe.Add(ref chunks, address >> Lpm4Table.ChunkShift));
            // A chunk can move during a GC between here and the walk; the prefetch is then merely wasted.
            if (chunk is not null) Sse.Prefetch0(Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(chunk)));
            else Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref direct, address >> Lpm4Table.ChunkShift)));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShortOutput() =>
        throw new ArgumentException("nextHops is shorter than addresses", "nextHops");
}
