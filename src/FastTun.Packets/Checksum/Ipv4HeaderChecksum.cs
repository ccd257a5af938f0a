using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastTun.Packets.Checksum;

/// <summary>
/// IPv4 header checksum (RFC 791 §3.1) with a fixed-size fast path for the 20-byte header without options
/// and batch writers for the outer headers of a whole burst. Every method takes the checksum field as zero
/// whatever it holds, so a header can be (re)checksummed without clearing the field first.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// |         Identification        |Flags|      Fragment Offset    |
/// |  Time to Live |    Protocol   |         Header Checksum       |  bytes 10-11
/// |                       Source Address                          |
/// |                    Destination Address                        |
/// |                    Options                    |    Padding    |  IHL &gt; 5 only
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public static unsafe partial class Ipv4HeaderChecksum
{
    public const int MinHeaderLength = 20;
    public const int ChecksumOffset = 10;
    private const int MaxHeaderLength = 60;
    /// <summary>Version 4, IHL 5: the only first byte the fixed-size path accepts.</summary>
    private const byte VersionIhlNoOptions = 0x45;

    /// <summary>Checksum of a header of any valid length (IHL 5..15). False when the span is shorter than
    /// 20 bytes or than IHL*4, or the version is not 4 or IHL &lt; 5.</summary>
    public static bool TryCompute(ReadOnlySpan<byte> header, out ushort checksum)
    {
        if (header.Length >= MinHeaderLength && header[0] == VersionIhlNoOptions)
        {
            checksum = Compute20(ref MemoryMarshal.GetReference(header));
            return true;
        }
        return TryComputeGeneral(header, out checksum);
    }

    /// <summary>Computes the checksum and stores it in bytes 10-11. False (header untouched) when malformed,
    /// as for <see cref="TryCompute"/>.</summary>
    public static bool TryWrite(Span<byte> header)
    {
        if (!TryCompute(header, out ushort checksum)) return false;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(ChecksumOffset), checksum);
        return true;
    }

    /// <summary>True when the header is well-formed and its stored checksum is the computed one.</summary>
    public static bool Verify(ReadOnlySpan<byte> header) =>
        TryCompute(header, out ushort checksum) && BinaryPrimitives.ReadUInt16BigEndian(header.Slice(ChecksumOffset)) == checksum;

    /// <summary>Checksum (host order, as written with a big-endian store) of a 20-byte header; the caller
    /// guarantees 20 readable bytes, the first byte is not checked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort Compute20(ref byte header)
    {
        ushort native = NativeChecksum20(ref header);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(native) : native;
    }

    /// <summary>
    /// Fixed-size path, result in native byte order (ready for a native 16-bit store at offset 10). The
    /// header is read as native 32-bit words, with bytes 8-9 (TTL, protocol) as a 16-bit load so the checksum
    /// field never enters the sum: five loads and four adds, no masks or shifts (loads run on the address
    /// ports, leaving the ALUs to the fold). A 32-bit word is congruent to the sum of its two 16-bit words
    /// mod 0xFFFF, and the one's-complement sum is byte-order independent (RFC 1071 §2(B)), so no byte swap is
    /// needed when the result is stored natively. The sum (below 2^35) is folded with rotate-and-add: the
    /// high half of x + ror(x, half) is x folded with end-around carry. About 14 instructions, no branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort NativeChecksum20(ref byte header)
    {
        ulong sum = (ulong)Unsafe.ReadUnaligned<uint>(ref header)
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref header, 4))
            + Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref header, 8))
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref header, 12))
            + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref header, 16));
        uint sum32 = (uint)((sum + BitOperations.RotateRight(sum, 32)) >> 32);
        return (ushort)~((sum32 + BitOperations.RotateRight(sum32, 16)) >> 16);
    }

    /// <summary>
    /// True when a 20-byte header, read as five native 32-bit words (bytes 0–3, 4–7, 8–11, 12–15, 16–19, checksum
    /// field included), carries a valid checksum: its one's-complement sum is 0xFFFF. That sum is 0xFFFF exactly when
    /// the plain integer sum of the words is a non-zero multiple of 0xFFFF (a 32-bit word is congruent to the sum of
    /// its 16-bit words mod 0xFFFF, and byte order only multiplies the residue by 256, which is invertible), so the
    /// fold chain (about 12 dependent steps) becomes a two-level add tree, one multiply and a compare
    /// (<see cref="InternetChecksum.IsMultipleOfFfff"/>). <see cref="Verify"/> is the reference the tests hold it to.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValid20(uint w0, uint w4, uint w8, uint w12, uint w16)
    {
        ulong sum = ((ulong)w0 + w4) + ((ulong)w8 + w12) + w16;
        return sum != 0 && InternetChecksum.IsMultipleOfFfff(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryComputeGeneral(ReadOnlySpan<byte> header, out ushort checksum)
    {
        checksum = 0;
        if (header.Length < MinHeaderLength || (header[0] >> 4) != 4) return false;
        int length = (header[0] & 0x0F) * 4;
        if (length < MinHeaderLength || length > header.Length) return false;
        uint sum = InternetChecksum.Sum(header.Slice(0, ChecksumOffset));
        sum = InternetChecksum.Sum(header.Slice(ChecksumOffset + 2, length - ChecksumOffset - 2), sum);
        checksum = (ushort)~InternetChecksum.Fold(sum);
        return true;
    }
}
