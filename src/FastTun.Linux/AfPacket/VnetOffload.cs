using System.Buffers.Binary;
using FastTun.Packets.Checksum;

namespace FastTun.Linux.AfPacket;

/// <summary>
/// What a GSO super-frame must become: where its headers end, the segment size and count. Produced once per
/// super-frame by <see cref="VnetOffload.TryPlan"/>, then each segment is written by
/// <see cref="VnetOffload.WriteSegment"/>, so a super-frame can be cut across several rx bursts.
/// </summary>
public readonly struct GsoPlan
{
    public GsoPlan(int l3Offset, int l4Offset, int headerLength, int mss, int payloadLength, bool isTcp)
    {
        L3Offset = l3Offset;
        L4Offset = l4Offset;
        HeaderLength = headerLength;
        Mss = mss;
        PayloadLength = payloadLength;
        IsTcp = isTcp;
    }

    public int L3Offset { get; }
    public int L4Offset { get; }
    /// <summary>Ethernet + IPv4 + TCP/UDP header bytes repeated in every segment.</summary>
    public int HeaderLength { get; }
    public int Mss { get; }
    public int PayloadLength { get; }
    public bool IsTcp { get; }
    public int SegmentCount => PayloadLength == 0 ? 1 : (PayloadLength + Mss - 1) / Mss;
    /// <summary>Length of the largest segment (all but possibly the last).</summary>
    public int MaxSegmentLength => HeaderLength + Math.Min(Mss, PayloadLength);
}

/// <summary>
/// Finishing what the sending stack left to "hardware" when a frame arrives with a virtio-net header
/// (PACKET_VNET_HDR): CHECKSUM_PARTIAL completion and TCP/UDP segmentation of IPv4 GSO super-frames. Pure functions
/// over spans: no allocation, no exceptions; unsupported input returns false and the caller counts a drop.
/// The kernel would do the same in software (skb_checksum_help, skb_segment); a real NIC never hands us these.
/// </summary>
public static class VnetOffload
{
    private const int EthHeaderLength = 14;
    private const ushort EtherTypeIpv4 = 0x0800;
    private const byte ProtoTcp = 6;
    private const byte ProtoUdp = 17;
    // IPv4 header fields (RFC 791).
    private const int IpTotalLength = 2, IpId = 4, IpFlagsFrag = 6, IpProtocol = 9, IpChecksum = 10, IpSource = 12, IpDestination = 16;
    // TCP (RFC 9293) and UDP (RFC 768) fields.
    private const int TcpSeq = 4, TcpDataOffset = 12, TcpFlags = 13, TcpChecksum = 16;
    private const int UdpLength = 4, UdpChecksum = 6;
    private const byte TcpFin = 0x01, TcpPsh = 0x08, TcpCwr = 0x80;

    /// <summary>Completes a CHECKSUM_PARTIAL frame: the field at csum_start + csum_offset holds the folded
    /// pseudo-header sum, so the checksum of everything from csum_start on is the value to store.</summary>
    public static bool CompleteChecksum(Span<byte> frame, int csumStart, int csumOffset)
    {
        if (csumStart >= frame.Length || csumOffset > frame.Length - csumStart - 2) return false;
        // UDP sends 0 as "no checksum"; a computed 0 goes on the wire as 0xFFFF (RFC 768). TCP keeps 0.
        Packets.Checksum.PartialChecksum.FinishInPlace(frame[csumStart..], csumOffset, udp: csumOffset == UdpChecksum);
        return true;
    }

    /// <summary>Validates an IPv4 TCP or UDP-L4 super-frame and plans its segments. <paramref name="gsoType"/> is
    /// the virtio GSO type with the ECN bit already masked off.</summary>
    public static bool TryPlan(ReadOnlySpan<byte> frame, byte gsoType, int gsoSize, out GsoPlan plan)
    {
        plan = default;
        bool tcp = gsoType == Interop.Libc.VIRTIO_NET_HDR_GSO_TCPV4;
        bool udp = gsoType == Interop.Libc.VIRTIO_NET_HDR_GSO_UDP_L4;
        if (!tcp && !udp) return false;
        if (gsoSize <= 0 || frame.Length < EthHeaderLength + 20) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypeIpv4) return false;
        ReadOnlySpan<byte> ip = frame[EthHeaderLength..];
        if (ip[0] >> 4 != 4) return false;
        int ihl = (ip[0] & 0xF) * 4;
        if (ihl < 20 || ip.Length < ihl) return false;
        if (ip[IpProtocol] != (tcp ? ProtoTcp : ProtoUdp)) return false;
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[IpFlagsFrag..]) & 0x3FFF) != 0) return false; // a fragment
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[IpTotalLength..]);
        // A 64 KB super-frame can carry a total length the 16-bit field cannot express; trust the frame then.
        int ipLength = totalLength >= ihl && totalLength <= ip.Length ? totalLength : ip.Length;
        int l4Offset = EthHeaderLength + ihl;
        int l4HeaderLength;
        if (tcp)
        {
            if (frame.Length < l4Offset + 20) return false;
            l4HeaderLength = (frame[l4Offset + TcpDataOffset] >> 4) * 4;
            if (l4HeaderLength < 20) return false;
        }
        else
        {
            l4HeaderLength = 8;
        }
        int headerLength = l4Offset + l4HeaderLength;
        int end = EthHeaderLength + ipLength;
        if (headerLength > end) return false;
        plan = new GsoPlan(EthHeaderLength, l4Offset, headerLength, gsoSize, end - headerLength, tcp);
        return true;
    }

    /// <summary>Writes segment <paramref name="index"/> of <paramref name="superFrame"/> into
    /// <paramref name="destination"/> with correct IPv4 length/ID/checksum and L4 sequence/flags/length/checksum.
    /// Returns its length, or 0 when it does not fit.</summary>
    public static int WriteSegment(ReadOnlySpan<byte> superFrame, in GsoPlan plan, int index, Span<byte> destination)
    {
        int payloadStart = index * plan.Mss;
        int chunk = Math.Min(plan.Mss, plan.PayloadLength - payloadStart);
        if (chunk < 0 || (chunk == 0 && plan.PayloadLength != 0)) return 0;
        int length = plan.HeaderLength + chunk;
        if (length > destination.Length) return 0;
        superFrame[..plan.HeaderLength].CopyTo(destination);
        superFrame.Slice(plan.HeaderLength + payloadStart, chunk).CopyTo(destination[plan.HeaderLength..]);
        Span<byte> seg = destination[..length];
        bool first = index == 0;
        bool last = payloadStart + chunk >= plan.PayloadLength;

        Span<byte> ip = seg[plan.L3Offset..plan.L4Offset];
        BinaryPrimitives.WriteUInt16BigEndian(ip[IpTotalLength..], (ushort)(length - plan.L3Offset));
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(ip[IpId..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[IpId..], (ushort)(id + index)); // Linux GSO advances the ID per segment
        BinaryPrimitives.WriteUInt16BigEndian(ip[IpChecksum..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[IpChecksum..], InternetChecksum.Compute(ip));

        Span<byte> l4 = seg[plan.L4Offset..];
        int checksumAt;
        if (plan.IsTcp)
        {
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(l4[TcpSeq..]);
            BinaryPrimitives.WriteUInt32BigEndian(l4[TcpSeq..], seq + (uint)payloadStart);
            byte flags = l4[TcpFlags];
            if (!last) flags &= unchecked((byte)~(TcpFin | TcpPsh));
            if (!first) flags &= unchecked((byte)~TcpCwr);
            l4[TcpFlags] = flags;
            checksumAt = TcpChecksum;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4[UdpLength..], (ushort)l4.Length);
            checksumAt = UdpChecksum;
        }
        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumAt..], 0);
        ushort sum = InternetChecksum.Compute(l4, PseudoHeaderSum(ip, ip[IpProtocol], l4.Length));
        if (sum == 0 && !plan.IsTcp) sum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumAt..], sum);
        return length;
    }

    /// <summary>Unfolded sum of the IPv4 pseudo-header (source, destination, protocol, L4 length).</summary>
    public static uint PseudoHeaderSum(ReadOnlySpan<byte> ipHeader, byte protocol, int l4Length) =>
        (uint)BinaryPrimitives.ReadUInt16BigEndian(ipHeader[IpSource..]) + BinaryPrimitives.ReadUInt16BigEndian(ipHeader[(IpSource + 2)..])
        + BinaryPrimitives.ReadUInt16BigEndian(ipHeader[IpDestination..]) + BinaryPrimitives.ReadUInt16BigEndian(ipHeader[(IpDestination + 2)..])
        + protocol + (uint)l4Length;
}
