using System.Buffers.Binary;

namespace FastTun.Packets.Checksum;

/// <summary>
/// RFC 1071 Internet checksum. <see cref="Sum"/> returns an unfolded 32-bit one's-complement partial sum so
/// callers can chain pieces (pseudo-header + header + payload); <see cref="Fold"/> reduces it to 16 bits and
/// <see cref="Compute"/> returns the value to write into a header (complemented).
/// This file holds the scalar reference; the fast paths (InternetChecksum.Native.cs, .Vector*.cs) must give
/// the same Fold() for every input.
/// </summary>
public static partial class InternetChecksum
{
    /// <summary>Scalar reference: 16-bit big-endian words added into a 64-bit accumulator, odd last byte
    /// padded with zero. Kept simple on purpose: tests compare every fast path against it.</summary>
    public static uint SumScalar(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong acc = initial;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            acc += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i, 2));
        }
        if (i < data.Length)
        {
            acc += (uint)data[i] << 8;
        }
        return FoldTo32(acc);
    }

    /// <summary>Folds a 64-bit one's-complement accumulator to 32 bits without losing carries.</summary>
    public static uint FoldTo32(ulong acc)
    {
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        return (uint)acc;
    }

    /// <summary>Folds a partial sum to 16 bits (not complemented).</summary>
    public static ushort Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>
    /// True when <paramref name="n"/> is a multiple of 0xFFFF, with one multiply instead of a division: for an odd
    /// divisor d, n is a multiple of d exactly when n × d⁻¹ (mod 2⁶⁴) is at most (2⁶⁴ − 1) / d (Granlund–Montgomery).
    /// A one's-complement sum folds to 0xFFFF (or 0 for n = 0) exactly when the integer sum is such a multiple,
    /// which lets a checksum be verified without folding it.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool IsMultipleOfFfff(ulong n) => n * InverseOfFfff <= MaxQuotientOfFfff;

    /// <summary>0xFFFF × this ≡ 1 (mod 2⁶⁴).</summary>
    private const ulong InverseOfFfff = 0xFFFE_FFFE_FFFE_FFFF;
    /// <summary>(2⁶⁴ − 1) / 0xFFFF.</summary>
    private const ulong MaxQuotientOfFfff = 0x0001_0001_0001_0001;

    /// <summary>The checksum field value for <paramref name="data"/> (with its checksum field zeroed).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Fold(Sum(data, initial));

    /// <summary>True when <paramref name="data"/>, checksum field included, sums to 0xFFFF.</summary>
    public static bool Verify(ReadOnlySpan<byte> data, uint initial = 0) => Fold(Sum(data, initial)) == 0xFFFF;
}
