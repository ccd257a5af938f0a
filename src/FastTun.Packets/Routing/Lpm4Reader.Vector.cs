using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Routing;

// Issue #11's vector question (bench/RESULTS.md, section lpm7v): LookupBatch's three passes with the rank stage on
// 8 lanes. Gathers measured slower than the scalar passes (.NET 10 exposes only AVX2 gathers and no vpopcntq): the
// entry gather waits for all eight entries before any chunk prefetch goes out, and gathering the root's bitmap words
// costs more than the scalar rank. What wins is plain loads: stage 1 scalar, stage 2 one 16-byte load per root and a
// transpose, stage 3 one vpgatherdd per 8 leaves (their lines were prefetched a whole pass earlier).
// On the chunk layout with stored root leaf bases the scalar passes match it in their best code placement but lose
// 7-12 % in others (the same JIT code, 2.15 vs 2.45 ns cache-resident by build; section lpm7w), while this path
// measured the same in every build: LookupBatch takes it for a figure that holds run after run (integration7).
public readonly unsafe partial struct Lpm4Reader
{
    /// <summary>True when <see cref="LookupBatch"/> takes <see cref="LookupBatchVector"/>.</summary>
    internal static bool VectorBatchAccelerated => Avx2.IsSupported;

    /// <summary>
    /// LookupBatch's path where AVX2 is supported: LocateBlock's stage 1 (storing chunk offsets), stage 2 on 8 lanes
    /// (<see cref="RankVector"/>) with the leaf prefetches unrolled behind each vector, stage 3 one vpgatherdd per 8
    /// leaves and a scalar walk for the child leaves among them. The last n mod 8 lookups go through the scalar batch.
    /// </summary>
    [SkipLocalsInit]
    internal void LookupBatchVector(ReadOnlySpan<uint> addresses, Span<uint> nextHops)
    {
        if (!Avx2.IsSupported)
        {
            LookupBatchScalar(addresses, nextHops);
            return;
        }
        if (nextHops.Length < addresses.Length) ThrowShortOutput();
        int n = addresses.Length;
        int vectorEnd = n & ~7;
        uint* entries = _entries, pool = _pool;
        uint* chunks = stackalloc uint[BatchBlock];   // stage 1 → 2 (and the walks): each lookup's chunk offset in the pool
        uint* leaves = stackalloc uint[BatchBlock];   // stage 2 → 3: each lookup's root leaf offset in the pool
        fixed (uint* a = addresses)
        fixed (uint* o = nextHops)
        {
            for (int b = 0; b < vectorEnd; b += BatchBlock)
            {
                int count = Math.Min(BatchBlock, vectorEnd - b);
                uint* ab = a + b, ob = o + b;
                LocateOffsets(entries, pool, ab, count, chunks);
                RankVector(pool, ab, count, chunks, leaves);
                ulong child = 0;
                Vector256<uint> tag = Vector256.Create(Lpm4Table.ChunkTag), notChild = Vector256.Create(Lpm4Table.NoRoute - Lpm4Table.ChunkTag);
                for (nuint i = 0; i < (nuint)count; i += 8)
                {
                    Vector256<uint> leaf = Avx2.GatherVector256(pool, Avx.LoadVector256(leaves + i).AsInt32(), 4);
                    Avx.Store(ob + i, leaf);
                    child |= (ulong)Vector256.LessThan(leaf - tag, notChild).ExtractMostSignificantBits() << (int)i;   // IsChild
                }
                for (; child != 0; child &= child - 1)
                {
                    int i = BitOperations.TrailingZeroCount(child);
                    ob[i] = WalkBelow(pool + chunks[i], ab[i], ob[i]);
                }
            }
        }
        if (vectorEnd < n) LookupBatchScalar(addresses[vectorEnd..], nextHops[vectorEnd..]);
        GC.KeepAlive(_owner);
    }

    /// <summary>Stage 1 (LocateBlock's loop, storing offsets for the vector stages).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LocateOffsets(uint* entries, uint* pool, uint* a, int count, uint* chunks)
    {
        for (nuint i = 0; i < (nuint)count; i++)
        {
            // Acquire, as in Lookup: the chunk named by the entry was completely written before the entry.
            uint offset = Volatile.Read(ref entries[a[i] >> Lpm4Table.ChunkShift]) & Lpm4Table.ChunkOffsetMask;
            Sse.Prefetch0(pool + offset);
            chunks[i] = offset;
        }
    }

    /// <summary>
    /// Stage 2 on 8 lanes: RootLeaf's arithmetic. Each root's 128-bit leaf bitmap is one 16-byte load; two roots per
    /// ymm and an unpack give the lower and upper words of four lookups. The word for v &lt; 64 or v ≥ 64 is chosen by
    /// the shift count (vpsllvq gives 0 for 64): rank = popcount(lower &lt;&lt; (w ? 0 : s)) + popcount(upper &lt;&lt; (w ? s : 64)),
    /// counted by a nibble table (vpshufb, vpsadbw; .NET 10 has no vpopcntq).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RankVector(uint* pool, uint* a, int count, uint* chunks, uint* leaves)
    {
        Vector256<uint> one = Vector256.Create(1u), sixtyThree = Vector256.Create(63u);
        Vector256<uint> leafBase = Vector256.Create(ChunkBuilder.RootLeafBase);
        for (nuint i = 0; i < (nuint)count; i += 8)
        {
            Vector256<uint> address = Avx.LoadVector256(a + i);
            Vector256<uint> w = Avx2.ShiftRightLogical(address, 14) & one;
            Vector256<uint> s = Avx2.ShiftRightLogical(~address, 8) & sixtyThree;
            Vector256<ulong> rankLo = RankQuad(pool, chunks + i, w.GetLower(), s.GetLower());
            Vector256<ulong> rankHi = RankQuad(pool, chunks + i + 4, w.GetUpper(), s.GetUpper());
            Avx.Store(leaves + i, Avx.LoadVector256(chunks + i) + leafBase + Vector256.Narrow(rankLo, rankHi));
            Sse.Prefetch0(pool + leaves[i]);
            Sse.Prefetch0(pool + leaves[i + 1]);
            Sse.Prefetch0(pool + leaves[i + 2]);
            Sse.Prefetch0(pool + leaves[i + 3]);
            Sse.Prefetch0(pool + leaves[i + 4]);
            Sse.Prefetch0(pool + leaves[i + 5]);
            Sse.Prefetch0(pool + leaves[i + 6]);
            Sse.Prefetch0(pool + leaves[i + 7]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> RankQuad(uint* pool, uint* chunks, Vector128<uint> w32, Vector128<uint> s32)
    {
        Vector256<ulong> ac = Vector256.Create(Sse2.LoadVector128((ulong*)(pool + chunks[0])), Sse2.LoadVector128((ulong*)(pool + chunks[2])));
        Vector256<ulong> bd = Vector256.Create(Sse2.LoadVector128((ulong*)(pool + chunks[1])), Sse2.LoadVector128((ulong*)(pool + chunks[3])));
        Vector256<ulong> lower = Avx2.UnpackLow(ac, bd), upper = Avx2.UnpackHigh(ac, bd);   // [a b c d] words 0 and 1
        Vector256<ulong> s = Avx2.ConvertToVector256Int64(s32).AsUInt64();
        Vector256<ulong> high = Vector256<ulong>.Zero - Avx2.ConvertToVector256Int64(w32).AsUInt64();   // all ones: v ≥ 64
        Vector256<ulong> sUpper = Avx2.BlendVariable(Vector256.Create(64UL), s, high);
        Vector256<byte> bits = NibbleCount(Avx2.ShiftLeftLogicalVariable(lower, Avx2.AndNot(high, s)))
            + NibbleCount(Avx2.ShiftLeftLogicalVariable(upper, sUpper));
        return Avx2.SumAbsoluteDifferences(bits, Vector256<byte>.Zero).AsUInt64();   // per qword: the sum of its bytes
    }

    /// <summary>Bits set per byte (0–8), by a 16-entry table per nibble (vpshufb).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> NibbleCount(Vector256<ulong> x)
    {
        Vector256<byte> table = Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        Vector256<byte> nibble = Vector256.Create((byte)0x0F);
        return Avx2.Shuffle(table, x.AsByte() & nibble) + Avx2.Shuffle(table, Avx2.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & nibble);
    }
}
