using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Checksum;

public static partial class InternetChecksum
{
    /// <summary>
    /// 64-byte vectors (AVX-512), four independent accumulator streams; the method is described in
    /// InternetChecksum.Native.cs. Up to 64 bytes take one masked load. Falls back to
    /// <see cref="SumVector256"/> when 512-bit vectors are not accelerated, so it is correct on any CPU; Fold()
    /// of the result equals Fold(<see cref="SumScalar"/>).
    /// </summary>
    public static uint SumVector512(ReadOnlySpan<byte> data, uint initial = 0)
    {
        if (!Vector512.IsHardwareAccelerated || !Avx512BW.IsSupported)
            return SumVector256(data, initial);
        if (data.Length <= Vector512<byte>.Count)
            return SumUpTo64(data, initial);

        const int W = 64;
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint len = (nuint)data.Length;
        ulong odd = TakeOddByte(ref p, ref len);

        Vector512<ulong> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector512<ulong> h0 = default, h1 = default, h2 = default, h3 = default;
        nuint i = 0;
        if (len >= 4 * W)
        {
            nuint last = len - 4 * W;
            do
            {
                Vector512<ulong> v0 = Vector512.LoadUnsafe(ref p, i).AsUInt64();
                Vector512<ulong> v1 = Vector512.LoadUnsafe(ref p, i + W).AsUInt64();
                Vector512<ulong> v2 = Vector512.LoadUnsafe(ref p, i + 2 * W).AsUInt64();
                Vector512<ulong> v3 = Vector512.LoadUnsafe(ref p, i + 3 * W).AsUInt64();
                s0 += v0; h0 += Vector512.ShiftRightLogical(v0, 32);
                s1 += v1; h1 += Vector512.ShiftRightLogical(v1, 32);
                s2 += v2; h2 += Vector512.ShiftRightLogical(v2, 32);
                s3 += v3; h3 += Vector512.ShiftRightLogical(v3, 32);
                i += 4 * W;
            }
            while (i <= last);
        }

        // 0..3 whole vectors left, each into its own stream, then the partial one (len >= W, so the
        // overlapping load at len - W stays inside the buffer).
        nuint rest = len - i;
        if (rest >= W)
        {
            Vector512<ulong> v = Vector512.LoadUnsafe(ref p, i).AsUInt64();
            s1 += v; h1 += Vector512.ShiftRightLogical(v, 32);
            if (rest >= 2 * W)
            {
                v = Vector512.LoadUnsafe(ref p, i + W).AsUInt64();
                s2 += v; h2 += Vector512.ShiftRightLogical(v, 32);
                if (rest >= 3 * W)
                {
                    v = Vector512.LoadUnsafe(ref p, i + 2 * W).AsUInt64();
                    s3 += v; h3 += Vector512.ShiftRightLogical(v, 32);
                }
            }
        }
        nuint partial = rest % W;
        if (partial != 0)
        {
            Vector512<ulong> mask = Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(TailMask), 64 - W + partial).AsUInt64();
            Vector512<ulong> v = Vector512.LoadUnsafe(ref p, len - W).AsUInt64() & mask;
            s0 += v; h0 += Vector512.ShiftRightLogical(v, 32);
        }

        Vector512<ulong> s = (s0 + s1) + (s2 + s3);
        Vector512<ulong> h = (h0 + h1) + (h2 + h3);
        ulong total = Vector512.Sum(s - Vector512.ShiftLeft(h, 32) + h);
        return Finish(total + odd, initial);
    }

    /// <summary>
    /// 0..64 bytes in one fault-suppressing masked load (AVX-512BW): bytes past the end read as zero, which
    /// is exactly RFC 1071's padding of an odd last byte, so there is no scalar tail and no branch on the
    /// length beyond this one. A single vector needs no wrapping accumulator: each lane is split into its
    /// 32-bit halves and added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe uint SumUpTo64(ReadOnlySpan<byte> data, uint initial)
    {
        Vector512<byte> keep = Vector512.LessThan(
            Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(ByteIndices)), Vector512.Create((byte)data.Length));
        Vector512<ulong> v;
        fixed (byte* p = data)
        {
            v = Avx512BW.MaskLoad(p, keep, Vector512<byte>.Zero).AsUInt64();
        }
        ulong total = Vector512.Sum((v & Vector512.Create(0xFFFF_FFFFUL)) + Vector512.ShiftRightLogical(v, 32));
        return Finish(total, initial);
    }
}
