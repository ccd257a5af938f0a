using System.Buffers.Binary;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Headers;

/// <summary>
/// ICMP header (RFC 792; next-hop MTU from RFC 1191).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Identifier          |        Sequence Number        |  echo (8/0)
/// |           unused (0)          |         Next-Hop MTU          |  frag needed (3/4)
/// |                            unused                             |  other errors
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Data (echo payload, or the quoted IP header + 8 bytes) ...
/// </code>
/// The checksum covers the whole ICMP message, no pseudo-header.
/// </summary>
public readonly ref struct IcmpHeader
{
    public const int Length = 8;
    public const int TypeOffset = 0;
    public const int CodeOffset = 1;
    public const int ChecksumOffset = 2;
    public const int RestOffset = 4;
    public const int IdentifierOffset = 4;
    public const int SequenceOffset = 6;
    public const int NextHopMtuOffset = 6;

    public const byte TypeEchoReply = 0;
    public const byte TypeDestinationUnreachable = 3;
    public const byte TypeEchoRequest = 8;
    public const byte TypeTimeExceeded = 11;
    public const byte CodeNetUnreachable = 0;
    public const byte CodeHostUnreachable = 1;
    public const byte CodeProtocolUnreachable = 2;
    public const byte CodePortUnreachable = 3;
    public const byte CodeFragmentationNeeded = 4;

    private readonly Span<byte> _bytes;

    private IcmpHeader(Span<byte> bytes) => _bytes = bytes;

    /// <summary>The view spans the whole ICMP message (header and data).</summary>
    public static bool TryParse(Span<byte> message, out IcmpHeader icmp)
    {
        icmp = default;
        if (message.Length < Length) return false;
        icmp = new IcmpHeader(message);
        return true;
    }

    public byte Type { get => _bytes[TypeOffset]; set => _bytes[TypeOffset] = value; }
    public byte Code { get => _bytes[CodeOffset]; set => _bytes[CodeOffset] = value; }

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(ChecksumOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(ChecksumOffset), value);
    }

    /// <summary>The 32-bit word after the checksum, raw.</summary>
    public uint RestOfHeader
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(RestOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(RestOffset), value);
    }

    public ushort Identifier
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(IdentifierOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(IdentifierOffset), value);
    }

    public ushort Sequence
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(SequenceOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(SequenceOffset), value);
    }

    /// <summary>Next-hop MTU of a type 3 code 4 message (RFC 1191).</summary>
    public ushort NextHopMtu
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(NextHopMtuOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(NextHopMtuOffset), value);
    }

    public Span<byte> Data => _bytes.Slice(Length);

    public bool IsChecksumValid() => InternetChecksum.Verify(_bytes);

    /// <summary>Recomputes the checksum over the whole message and writes it.</summary>
    public void ComputeChecksum()
    {
        Checksum = 0;
        Checksum = InternetChecksum.Compute(_bytes);
    }

    /// <summary>Writes the 8-byte header over <paramref name="message"/> (whose data the caller has already
    /// placed after it) and the checksum over the whole message. Returns the header length.</summary>
    public static int Write(Span<byte> message, byte type, byte code, uint restOfHeader)
    {
        message[TypeOffset] = type;
        message[CodeOffset] = code;
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(ChecksumOffset), 0);
        BinaryPrimitives.WriteUInt32BigEndian(message.Slice(RestOffset), restOfHeader);
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(ChecksumOffset), InternetChecksum.Compute(message));
        return Length;
    }

    public static int WriteEcho(Span<byte> message, bool request, ushort identifier, ushort sequence) =>
        Write(message, request ? TypeEchoRequest : TypeEchoReply, 0, ((uint)identifier << 16) | sequence);
}
