using System.Buffers.Binary;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Headers;

/// <summary>
/// UDP header (RFC 768).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Length             |           Checksum            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Checksum 0 means "none" over IPv4; a computed 0 is sent as 0xFFFF.
/// </summary>
public readonly ref struct UdpHeader
{
    public const int Length = 8;
    public const int SourcePortOffset = 0;
    public const int DestinationPortOffset = 2;
    public const int LengthOffset = 4;
    public const int ChecksumOffset = 6;

    private readonly Span<byte> _bytes;

    private UdpHeader(Span<byte> bytes) => _bytes = bytes;

    /// <summary>The span is the IP payload; the UDP length must be at least 8 and fit in it.</summary>
    public static bool TryParse(Span<byte> segment, out UdpHeader udp)
    {
        udp = default;
        if (segment.Length < Length) return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(LengthOffset));
        if (length < Length || length > segment.Length) return false;
        udp = new UdpHeader(segment);
        return true;
    }

    public ushort SourcePort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(SourcePortOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(SourcePortOffset), value);
    }

    public ushort DestinationPort
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(DestinationPortOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(DestinationPortOffset), value);
    }

    public ushort DatagramLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(LengthOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(LengthOffset), value);
    }

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(ChecksumOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(ChecksumOffset), value);
    }

    public Span<byte> Payload => _bytes.Slice(Length, DatagramLength - Length);

    /// <summary>Partial sum of the IPv4 pseudo-header (RFC 768 / RFC 793) for TCP and UDP checksums.</summary>
    public static uint PseudoHeaderSum(uint source, uint destination, byte protocol, int length) =>
        (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (uint)length;

    /// <summary>True when the checksum is absent (0) or correct.</summary>
    public bool IsChecksumValid(uint source, uint destination) =>
        Checksum == 0 || InternetChecksum.Verify(_bytes.Slice(0, DatagramLength),
            PseudoHeaderSum(source, destination, Ipv4Header.ProtocolUdp, DatagramLength));

    public void ComputeChecksum(uint source, uint destination)
    {
        Checksum = 0;
        ushort c = InternetChecksum.Compute(_bytes.Slice(0, DatagramLength),
            PseudoHeaderSum(source, destination, Ipv4Header.ProtocolUdp, DatagramLength));
        Checksum = c == 0 ? (ushort)0xFFFF : c;
    }

    /// <summary>Writes the header over <paramref name="datagram"/> (payload already in place after it), length =
    /// the span length, and the checksum. Returns the header length.</summary>
    public static int Write(Span<byte> datagram, ushort sourcePort, ushort destinationPort, uint source, uint destination)
    {
        if (datagram.Length is < Length or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(datagram));
        BinaryPrimitives.WriteUInt16BigEndian(datagram.Slice(SourcePortOffset), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.Slice(DestinationPortOffset), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.Slice(LengthOffset), (ushort)datagram.Length);
        var udp = new UdpHeader(datagram);
        udp.ComputeChecksum(source, destination);
        return Length;
    }
}
