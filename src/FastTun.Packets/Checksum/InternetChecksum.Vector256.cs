using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FastTun.Packets.Checksum;

public static partial class InternetChecksum
{
    /// <summary>
    /// 32-byte vectors (AVX2), four independent accumulator streams; the method is described in
    /// InternetChecksum.Native.cs. Falls back to <see cref="SumVector128"/> below 32 bytes or when 256-bit
    /// vectors are not accelerated, so it is correct on any CPU; Fold() of the result equals
    /// Fold(<see cref="SumScalar"/>).
    /// </summary>
    public static uint SumVector256(ReadOnlySpan<byte> data, uint initial = 0)
    {
        if (!Vector256.IsHardwareAccelerated || data.Length < Vector256<byte>.Count)
            return SumVector128(data, initial);

        const int W = 32;
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint len = (nuint)data.Length;
        ulong odd = TakeOddByte(ref p, ref len);

        Vector256<ulong> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector256<ulong> h0 = default, h1 = default, h2 = default, h3 = default;
        nuint i = 0;
        if (len >= 4 * W)
        {
            nuint last = len - 4 * W;
            do
            {
                Vector256<ulong> v0 = Vector256.LoadUnsafe(ref p, i).AsUInt64();
                Vector256<ulong> v1 = Vector256.LoadUnsafe(ref p, i + W).AsUInt64();
                Vector256<ulong> v2 = Vector256.LoadUnsafe(ref p, i + 2 * W).AsUInt64();
                Vector256<ulong> v3 = Vector256.LoadUnsafe(ref p, i + 3 * W).AsUInt64();
                s0 += v0; h0 += Vector256.ShiftRightLogical(v0, 32);
                s1 += v1; h1 += Vector256.ShiftRightLogical(v1, 32);
                s2 += v2; h2 += Vector256.ShiftRightLogical(v2, 32);
                s3 += v3; h3 += Vector256.ShiftRightLogical(v3, 32);
                i += 4 * W;
            }
            while (i <= last);
        }

        // 0..3 whole vectors left, each into its own stream, then the partial one (len >= W, so the
        // overlapping load at len - W stays inside the buffer).
        nuint rest = len - i;
        if (rest >= W)
        {
            Vector256<ulong> v = Vector256.LoadUnsafe(ref p, i).AsUInt64();
            s1 += v; h1 += Vector256.ShiftRightLogical(v, 32);
            if (rest >= 2 * W)
            {
                v = Vector256.LoadUnsafe(ref p, i + W).AsUInt64();
                s2 += v; h2 += Vector256.ShiftRightLogical(v, 32);
                if (rest >= 3 * W)
                {
                    v = Vector256.LoadUnsafe(ref p, i + 2 * W).AsUInt64();
                    s3 += v; h3 += Vector256.ShiftRightLogical(v, 32);
                }
            }
        }
        nuint partial = rest % W;
        if (partial != 0)
        {
            Vector256<ulong> mask = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(TailMask), 64 - W + partial).AsUInt64();
            Vector256<ulong> v = Vector256.LoadUnsafe(ref p, len - W).AsUInt64() & mask;
            s0 += v; h0 += Vector256.ShiftRightLogical(v, 32);
        }

        Vector256<ulong> s = (s0 + s1) + (s2 + s3);
        Vector256<ulong> h = (h0 + h1) + (h2 + h3);
        ulong total = Vector256.Sum(s - Vector256.ShiftLeft(h, 32) + h);
        return Finish(total + odd, initial);
    }
}
