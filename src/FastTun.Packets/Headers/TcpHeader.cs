using System.Buffers.Binary;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Headers;

/// <summary>
/// TCP header (RFC 9293 §3.1).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Sequence Number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Acknowledgment Number                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Data |       |C|E|U|A|P|R|S|F|                               |
/// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
/// |       |       |R|E|G|K|H|T|N|N|                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Checksum            |         Urgent Pointer        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly ref struct TcpHeader
{
    public const int MinLength = 20;
    public const int SourcePortOffset = 0;
    public const int DestinationPortOffset = 2;
    public const int SequenceOffset = 4;
    public const int AcknowledgmentOffset = 8;
    public const int DataOffsetOffset = 12;
    public const int FlagsOffset = 13;
    public const int WindowOffset = 14;
    public const int ChecksumOffset = 16;
    public const int UrgentPointerOffset = 18;

    public const byte FlagFin = 0x01, FlagSyn = 0x02, FlagRst = 0x04, FlagPsh = 0x08,
        FlagAck = 0x10, FlagUrg = 0x20, FlagEce = 0x40, FlagCwr = 0x80;

    public const byte OptionEnd = 0, OptionNop = 1, OptionMss = 2;

    private readonly Span<byte> _bytes;

    private TcpHeader(Span<byte> bytes) => _bytes = bytes;

    /// <summary>The span is the IP payload (the segment); data offset must be 5..15 words and fit.</summary>
    public static bool TryParse(Span<byte> segment, out TcpHeader tcp)
    {
        tcp = default;
        if (segment.Length < MinLength) return false;
        int headerLength = (segment[DataOffsetOffset] >> 4) << 2;
        if (headerLength < MinLength || headerLength > segment.Length) return false;
        tcp = new TcpHeader(segment);
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

    public uint SequenceNumber
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(SequenceOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(SequenceOffset), value);
    }

    public uint AcknowledgmentNumber
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(AcknowledgmentOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(AcknowledgmentOffset), value);
    }

    /// <summary>Header length in bytes (data offset × 4).</summary>
    public int HeaderLength => (_bytes[DataOffsetOffset] >> 4) << 2;

    public byte Flags { get => _bytes[FlagsOffset]; set => _bytes[FlagsOffset] = value; }

    public bool Syn => (Flags & FlagSyn) != 0;
    public bool Ack => (Flags & FlagAck) != 0;
    public bool Fin => (Flags & FlagFin) != 0;
    public bool Rst => (Flags & FlagRst) != 0;

    public ushort Window
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(WindowOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(WindowOffset), value);
    }

    public ushort Checksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(ChecksumOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(ChecksumOffset), value);
    }

    public ushort UrgentPointer
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(UrgentPointerOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(UrgentPointerOffset), value);
    }

    public Span<byte> Options => _bytes.Slice(MinLength, HeaderLength - MinLength);

    /// <summary>
    /// Reads the MSS option (kind 2, length 4). Walks the options with bounds checks on every step: a length
    /// byte under 2 or running past the header stops the walk with false, as does End-of-options.
    /// </summary>
    public bool TryReadMss(out ushort mss)
    {
        mss = 0;
        ReadOnlySpan<byte> o = Options;
        int i = 0;
        while (i < o.Length)
        {
            byte kind = o[i];
            if (kind == OptionEnd) return false;
            if (kind == OptionNop) { i++; continue; }
            if (i + 1 >= o.Length) return false;
            int len = o[i + 1];
            if (len < 2 || i + len > o.Length) return false;
            if (kind == OptionMss)
            {
                if (len != 4) return false;
                mss = BinaryPrimitives.ReadUInt16BigEndian(o.Slice(i + 2));
                return true;
            }
            i += len;
        }
        return false;
    }

    public bool IsChecksumValid(uint source, uint destination, int segmentLength) =>
        InternetChecksum.Verify(_bytes.Slice(0, segmentLength),
            UdpHeader.PseudoHeaderSum(source, destination, Ipv4Header.ProtocolTcp, segmentLength));

    public void ComputeChecksum(uint source, uint destination, int segmentLength)
    {
        Checksum = 0;
        Checksum = InternetChecksum.Compute(_bytes.Slice(0, segmentLength),
            UdpHeader.PseudoHeaderSum(source, destination, Ipv4Header.ProtocolTcp, segmentLength));
    }

    /// <summary>
    /// Writes a header with <paramref name="options"/> (padded with End-of-options to a 4-byte boundary) at the
    /// front of <paramref name="segment"/>, whose payload the caller has placed after the header; the checksum
    /// covers the whole span. Returns the header length.
    /// </summary>
    public static int Write(Span<byte> segment, ushort sourcePort, ushort destinationPort, uint sequence,
        uint acknowledgment, byte flags, ushort window, ReadOnlySpan<byte> options, uint source, uint destination)
    {
        int headerLength = MinLength + ((options.Length + 3) & ~3);
        if (headerLength > 60) throw new ArgumentOutOfRangeException(nameof(options), "TCP options exceed 40 bytes");
        if (segment.Length < headerLength) throw new ArgumentOutOfRangeException(nameof(segment));
        Span<byte> h = segment.Slice(0, headerLength);
        h.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(SourcePortOffset), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(DestinationPortOffset), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(h.Slice(SequenceOffset), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(h.Slice(AcknowledgmentOffset), acknowledgment);
        h[DataOffsetOffset] = (byte)((headerLength >> 2) << 4);
        h[FlagsOffset] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(WindowOffset), window);
        options.CopyTo(h.Slice(MinLength));
        var tcp = new TcpHeader(segment);
        tcp.ComputeChecksum(source, destination, segment.Length);
        return headerLength;
    }
}
