using System.Buffers.Binary;
using FastTun.Packets.Headers;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Checksum;

/// <summary>What <see cref="PartialChecksum.CompleteIfPartial"/> found.</summary>
public enum PartialChecksumResult : byte
{
    /// <summary>Not TCP/UDP, or its checksum field is not a bare pseudo-header sum: nothing to do.</summary>
    NotPartial,
    /// <summary>A partial checksum, completed in place: the packet is now what the sender's NIC would have sent.</summary>
    Completed,
    /// <summary>A partial checksum that cannot be completed here (a fragment: the rest of the segment is elsewhere).</summary>
    Incomplete,
}

/// <summary>
/// Frames with a partial (offloaded, CHECKSUM_PARTIAL) TCP or UDP checksum, seen on the receive path when no
/// metadata says so (AF_XDP: neither the descriptor nor XDP metadata carries the skb's checksum state). The sender's
/// stack leaves in the checksum field the folded, not complemented, pseudo-header sum (tcp_v4_send_check,
/// udp4_hwcsum) and expects its NIC to finish the sum over the segment; a veth or a virtio NIC with tx checksumming
/// hands the frame on unfinished. So a field equal to the pseudo-header sum marks a candidate; a candidate whose full
/// checksum already verifies (one chance in 65,536 for a finished packet) is left alone. Cost for every other
/// TCP/UDP packet: the pseudo-header sum (a few additions) and one compare.
/// </summary>
public static class PartialChecksum
{
    private const byte ProtocolTcp = 6, ProtocolUdp = 17;

    /// <summary>Checks (and completes in place) the TCP/UDP checksum of an IPv4 packet whose header is valid and whose
    /// length is its total length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PartialChecksumResult CompleteIfPartial(Span<byte> packet)
    {
        byte protocol = packet[9];
        if (protocol != ProtocolTcp && protocol != ProtocolUdp) return PartialChecksumResult.NotPartial;
        return Check(packet, protocol);
    }

    private static PartialChecksumResult Check(Span<byte> packet, byte protocol)
    {
        int ihl = (packet[0] & 0x0F) * 4;
        int field = protocol == ProtocolTcp ? 16 : 6;
        Span<byte> l4 = packet.Slice(ihl);
        if (l4.Length < field + 2) return PartialChecksumResult.NotPartial;
        ushort stored = BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(field));
        if (protocol == ProtocolUdp && stored == 0) return PartialChecksumResult.NotPartial; // UDP without checksum
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(6)) & 0x3FFF) != 0;
        // A fragment's field holds whatever the first fragment carried; its length is not the segment's.
        int segmentLength = l4.Length;
        uint pseudo = PseudoHeaderSum(packet, protocol, segmentLength);
        ushort folded = InternetChecksum.Fold(pseudo);
        if (stored != folded && !(folded == 0xFFFF && stored == 0)) return PartialChecksumResult.NotPartial;
        if (fragment) return PartialChecksumResult.Incomplete;
        if (InternetChecksum.Verify(l4, pseudo)) return PartialChecksumResult.NotPartial; // a finished packet by chance
        FinishInPlace(l4, field, protocol == ProtocolUdp);
        return PartialChecksumResult.Completed;
    }

    /// <summary>
    /// True when <paramref name="stored"/>, a TCP/UDP checksum field, equals the folded pseudo-header sum of the packet
    /// (or 0 where that sum folds to 0xFFFF): the test <see cref="Check"/> makes to find a candidate, on values already
    /// in registers and without folding. <paramref name="source"/>, <paramref name="destination"/> and
    /// <paramref name="stored"/> are native-order loads of the header's address fields and the checksum field;
    /// <paramref name="segmentLength"/> is the TCP/UDP segment's length. Both tests come down to "stored ≡ pseudo-header
    /// sum (mod 0xFFFF)": the folded sum lies in 1..0xFFFF and 0 stands for 0xFFFF. In native order (little-endian)
    /// every 16-bit word is byte-swapped, which multiplies both sides by 256 mod 0xFFFF and keeps the congruence, so
    /// the protocol and length words are swapped instead of the loads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MatchesPseudoHeader(uint source, uint destination, byte protocol, int segmentLength, ushort stored)
    {
        ulong n = BitConverter.IsLittleEndian
            ? ((ulong)source + destination) + ((uint)protocol << 8) + ((uint)BinaryPrimitives.ReverseEndianness((ushort)segmentLength) + (uint)(0xFFFF - stored))
            : ((ulong)source + destination) + protocol + ((uint)(ushort)segmentLength + (uint)(0xFFFF - stored));
        return InternetChecksum.IsMultipleOfFfff(n);
    }

    /// <summary>The IPv4 pseudo-header sum (unfolded) of <paramref name="packet"/>'s addresses: <see cref="UdpHeader.PseudoHeaderSum"/>
    /// read from the header.</summary>
    public static uint PseudoHeaderSum(ReadOnlySpan<byte> packet, byte protocol, int segmentLength) =>
        UdpHeader.PseudoHeaderSum(BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.SourceOffset)),
            BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.DestinationOffset)), protocol, segmentLength);

    /// <summary>
    /// Finishes what a NIC with checksum offload would have: the checksum field of <paramref name="segment"/> already
    /// holds the pseudo-header sum, so the one's complement of the sum over the whole segment is the value to store.
    /// UDP sends a computed 0 as all ones (RFC 768). Shared by the AF_PACKET virtio-header path, which knows the
    /// offsets from the kernel, and the receive-path detection above.
    /// </summary>
    public static void FinishInPlace(Span<byte> segment, int checksumOffset, bool udp)
    {
        ushort sum = InternetChecksum.Compute(segment);
        if (udp && sum == 0) sum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(segment.Slice(checksumOffset), sum);
    }
}
