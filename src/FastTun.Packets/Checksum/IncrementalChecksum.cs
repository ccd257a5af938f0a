using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Checksum;

/// <summary>
/// RFC 1624 incremental checksum update: when a 16-bit word of a checksummed region changes from m to m',
/// the new checksum is HC' = ~(~HC + ~m + m') (eqn. 3), in one's-complement arithmetic (end-around carry).
/// <para>
/// Why eqn. 3 and not eqn. 2 (HC' = HC - ~m - m'): eqn. 3 only ever adds non-negative terms, so its folded
/// sum is 0x0000 only if every term is zero, i.e. HC = 0xFFFF, m = 0xFFFF, m' = 0. A checksum computed over a
/// region that is not all zero (every IPv4 header: the version nibble is 4) is never 0xFFFF, so for such
/// input the result is exactly what a full recomputation gives, including the -0/+0 corner that RFC 1624 §3
/// shows eqn. 2 getting wrong (it yields 0x0000 where recomputation gives 0xFFFF and vice versa).
/// </para>
/// <para>
/// Not for UDP checksums as is: there 0x0000 means "no checksum" and a computed 0x0000 is sent as 0xFFFF;
/// the caller must skip a zero field and map a 0x0000 result to 0xFFFF.
/// </para>
/// All values are in host order as read with big-endian accessors from the wire.
/// </summary>
public static class IncrementalChecksum
{
    /// <summary>IPv4 header offsets used by <see cref="TryDecrementTtl"/> (RFC 791).</summary>
    private const int TtlOffset = 8;
    private const int ChecksumOffset = 10;

    /// <summary>New checksum after a 16-bit word changed from <paramref name="oldWord"/> to
    /// <paramref name="newWord"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort oldChecksum, ushort oldWord, ushort newWord)
    {
        uint sum = (uint)(ushort)~oldChecksum + (ushort)~oldWord + newWord;
        return (ushort)~InternetChecksum.Fold(sum);
    }

    /// <summary>New checksum after a 32-bit field (an IPv4 address) changed from <paramref name="oldValue"/> to
    /// <paramref name="newValue"/>: both of its words at once. A 32-bit value is congruent to the sum of its two
    /// words modulo 0xFFFF, so ~old and new can be added whole and folded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort oldChecksum, uint oldValue, uint newValue)
    {
        ulong sum = (ulong)(ushort)~oldChecksum + ~oldValue + newValue;
        return (ushort)~InternetChecksum.Fold(InternetChecksum.FoldTo32(sum));
    }

    /// <summary>
    /// Forwarding step on an IPv4 header: decrements the TTL and patches the header checksum in place.
    /// Returns false and changes nothing when the TTL is 0 or 1 (the packet must not be forwarded: the caller
    /// drops it with <c>DropReason.TtlExceeded</c> and answers ICMP time exceeded) or when the span is too
    /// short to hold the TTL and checksum fields. The header is not otherwise validated (the parser did that).
    /// </summary>
    /// <remarks>The TTL shares a word with the protocol byte, so the word drops by exactly 0x0100; in eqn. 3
    /// ~m + m' is then the constant ~0x0100 = 0xFEFF, and one fold suffices (max 0xFFFF + 0xFEFF).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryDecrementTtl(Span<byte> ipv4Header)
    {
        if (ipv4Header.Length < ChecksumOffset + 2) return false;
        byte ttl = ipv4Header[TtlOffset];
        if (ttl <= 1) return false;
        ipv4Header[TtlOffset] = (byte)(ttl - 1);
        Span<byte> field = ipv4Header.Slice(ChecksumOffset, 2);
        uint sum = (uint)(ushort)~BinaryPrimitives.ReadUInt16BigEndian(field) + 0xFEFF;
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)~sum);
        return true;
    }

    /// <summary>
    /// <see cref="TryDecrementTtl"/> on a header at <paramref name="ipv4Header"/> whose TTL the caller has checked to be
    /// above 1: the same bytes, with one load and store of the checksum in wire order. One's-complement sums do
    /// not depend on byte order (RFC 1071 §2(B)), so the constant is added byte-swapped on a little-endian CPU
    /// (0xFEFF becomes 0xFFFE) instead of swapping the field twice.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void DecrementTtl(byte* ipv4Header)
    {
        ipv4Header[TtlOffset]--;
        ushort* field = (ushort*)(ipv4Header + ChecksumOffset);
        uint sum = (uint)(ushort)~Unsafe.ReadUnaligned<ushort>(field) + (BitConverter.IsLittleEndian ? 0xFFFEu : 0xFEFFu);
        sum = (sum & 0xFFFF) + (sum >> 16);
        Unsafe.WriteUnaligned(field, (ushort)~sum);
    }

    /// <summary>
    /// <see cref="DecrementTtl"/> on a copy of the header's bytes 8–11 (TTL, protocol, checksum) read as one native
    /// 32-bit word: returns the word to store back, with the same bytes <see cref="DecrementTtl"/> would leave. For a
    /// pass that read the header earlier and now only writes it (no load of a line that may have left the L1). The
    /// caller has checked the TTL (<see cref="TtlOfWord"/>) to be above 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DecrementTtlWord(uint word)
    {
        if (BitConverter.IsLittleEndian)
        {
            // Byte 8 (TTL) is the low byte: TTL > 1, so − 1 borrows nothing. The field (bytes 10–11) is the high half,
            // as DecrementTtl loads it; same constant, same fold.
            uint sum = (uint)(ushort)~(word >> 16) + 0xFFFEu;
            sum = (sum & 0xFFFF) + (sum >> 16);
            return ((word - 1) & 0xFFFF) | ((uint)(ushort)~sum << 16);
        }
        else
        {
            uint sum = (uint)(ushort)~word + 0xFEFFu;
            sum = (sum & 0xFFFF) + (sum >> 16);
            return ((word - 0x0100_0000u) & 0xFFFF_0000u) | (ushort)~sum;
        }
    }

    /// <summary>The TTL in a word read as <see cref="DecrementTtlWord"/> takes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint TtlOfWord(uint word) => BitConverter.IsLittleEndian ? word & 0xFF : word >> 24;

    /// <summary>Undoes <see cref="TryDecrementTtl"/>: TTL + 1 with the header checksum patched (RFC 1624), for a
    /// packet that must be quoted as it was received.</summary>
    public static void IncrementTtl(Span<byte> ipv4Header)
    {
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(ipv4Header.Slice(TtlOffset));
        ushort newWord = (ushort)(oldWord + 0x100);
        BinaryPrimitives.WriteUInt16BigEndian(ipv4Header.Slice(TtlOffset), newWord);
        Span<byte> field = ipv4Header.Slice(ChecksumOffset, 2);
        BinaryPrimitives.WriteUInt16BigEndian(field, Update16(BinaryPrimitives.ReadUInt16BigEndian(field), oldWord, newWord));
    }
}
