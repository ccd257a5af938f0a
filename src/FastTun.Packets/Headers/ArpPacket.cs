using System.Buffers.Binary;

namespace FastTun.Packets.Headers;

/// <summary>
/// ARP for Ethernet and IPv4 (RFC 826): hardware type 1, protocol 0x0800, lengths 6 and 4.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Hardware Type (1)        |     Protocol Type (0x0800)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  HLEN (6)     |   PLEN (4)    |   Operation (1 req, 2 reply)  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Sender hardware address (6)                   |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |  Sender protocol address (4)  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   Target hardware address (6) +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Target protocol address (4)                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly ref struct ArpPacket
{
    public const int Length = 28;
    public const int HardwareTypeOffset = 0;
    public const int ProtocolTypeOffset = 2;
    public const int HardwareLengthOffset = 4;
    public const int ProtocolLengthOffset = 5;
    public const int OperationOffset = 6;
    public const int SenderMacOffset = 8;
    public const int SenderIpOffset = 14;
    public const int TargetMacOffset = 18;
    public const int TargetIpOffset = 24;

    public const ushort HardwareTypeEthernet = 1;
    public const ushort OperationRequest = 1;
    public const ushort OperationReply = 2;

    private readonly Span<byte> _bytes;

    private ArpPacket(Span<byte> bytes) => _bytes = bytes;

    /// <summary>Accepts only Ethernet/IPv4 ARP (any operation); trailing padding is allowed.</summary>
    public static bool TryParse(Span<byte> packet, out ArpPacket arp)
    {
        arp = default;
        if (packet.Length < Length) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(HardwareTypeOffset)) != HardwareTypeEthernet) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(ProtocolTypeOffset)) != EthernetHeader.EtherTypeIPv4) return false;
        if (packet[HardwareLengthOffset] != EthernetHeader.MacLength || packet[ProtocolLengthOffset] != 4) return false;
        arp = new ArpPacket(packet);
        return true;
    }

    public ushort Operation
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(OperationOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(OperationOffset), value);
    }

    public Span<byte> SenderMac => _bytes.Slice(SenderMacOffset, EthernetHeader.MacLength);
    public Span<byte> TargetMac => _bytes.Slice(TargetMacOffset, EthernetHeader.MacLength);

    public uint SenderIp
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(SenderIpOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(SenderIpOffset), value);
    }

    public uint TargetIp
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(TargetIpOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(TargetIpOffset), value);
    }

    /// <summary>Writes a 28-byte Ethernet/IPv4 ARP body. Returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ushort operation, ReadOnlySpan<byte> senderMac, uint senderIp,
        ReadOnlySpan<byte> targetMac, uint targetIp)
    {
        if (senderMac.Length != EthernetHeader.MacLength) throw new ArgumentException("MAC must be 6 bytes", nameof(senderMac));
        if (targetMac.Length != EthernetHeader.MacLength) throw new ArgumentException("MAC must be 6 bytes", nameof(targetMac));
        Span<byte> p = destination.Slice(0, Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.Slice(HardwareTypeOffset), HardwareTypeEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(p.Slice(ProtocolTypeOffset), EthernetHeader.EtherTypeIPv4);
        p[HardwareLengthOffset] = EthernetHeader.MacLength;
        p[ProtocolLengthOffset] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(p.Slice(OperationOffset), operation);
        senderMac.CopyTo(p.Slice(SenderMacOffset));
        BinaryPrimitives.WriteUInt32BigEndian(p.Slice(SenderIpOffset), senderIp);
        targetMac.CopyTo(p.Slice(TargetMacOffset));
        BinaryPrimitives.WriteUInt32BigEndian(p.Slice(TargetIpOffset), targetIp);
        return Length;
    }

    /// <summary>A who-has request: the target MAC is all zeros (RFC 826; what Linux sends).</summary>
    public static int WriteRequest(Span<byte> destination, ReadOnlySpan<byte> senderMac, uint senderIp, uint targetIp) =>
        Write(destination, OperationRequest, senderMac, senderIp, stackalloc byte[EthernetHeader.MacLength], targetIp);

    /// <summary>An is-at reply from <paramref name="senderMac"/>/<paramref name="senderIp"/> to the requester.</summary>
    public static int WriteReply(Span<byte> destination, ReadOnlySpan<byte> senderMac, uint senderIp,
        ReadOnlySpan<byte> targetMac, uint targetIp) =>
        Write(destination, OperationReply, senderMac, senderIp, targetMac, targetIp);
}
