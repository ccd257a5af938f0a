using System.Buffers.Binary;
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
        // Finish what the NIC would have: the one's complement of the sum over the segment, starting from the field
        // as it is (it already holds the pseudo-header sum).
        ushort sum = InternetChecksum.Compute(l4);
        if (protocol == ProtocolUdp && sum == 0) sum = 0xFFFF; // RFC 768: a computed 0 is sent as all ones
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(field), sum);
        return PartialChecksumResult.Completed;
    }

    /// <summary>One's complement sum (unfolded) of the IPv4 pseudo-header: addresses, protocol, segment length.</summary>
    public static uint PseudoHeaderSum(ReadOnlySpan<byte> packet, byte protocol, int segmentLength)
    {
        uint sum = 0;
        for (int i = 12; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(i));
        return sum + protocol + (uint)segmentLength;
    }
}
