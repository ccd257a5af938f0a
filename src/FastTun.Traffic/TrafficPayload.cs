using System.Buffers.Binary;

namespace FastTun.Traffic;

/// <summary>
/// The UDP payload the traffic generator writes and the sink reads: 22 bytes, so a 64-byte Ethernet frame
/// (14 + 20 + 8 + 22) carries it whole. Every field starts at an even offset from the UDP header, so the
/// generator can add the changing words to a precomputed checksum sum (RFC 1624 style) without a pass over
/// the packet.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Magic 0x46544731 "FTG1"                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Flow               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                  Sequence (64 bits, per flow, from 0)         |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |         TX timestamp (64 bits, CLOCK_MONOTONIC nanoseconds)   |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly ref struct TrafficPayload
{
    public const uint MagicValue = 0x46544731;
    public const int MagicOffset = 0;
    public const int FlowOffset = 4;
    public const int SequenceOffset = 6;
    public const int TimestampOffset = 14;
    public const int Length = 22;

    private readonly Span<byte> _bytes;

    private TrafficPayload(Span<byte> bytes) => _bytes = bytes;

    /// <summary>True when <paramref name="payload"/> is long enough and starts with the magic.</summary>
    public static bool TryParse(Span<byte> payload, out TrafficPayload view)
    {
        view = default;
        if (payload.Length < Length || BinaryPrimitives.ReadUInt32BigEndian(payload) != MagicValue) return false;
        view = new TrafficPayload(payload);
        return true;
    }

    public ushort Flow => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(FlowOffset));
    public ulong Sequence => BinaryPrimitives.ReadUInt64BigEndian(_bytes.Slice(SequenceOffset));
    public long Timestamp => BinaryPrimitives.ReadInt64BigEndian(_bytes.Slice(TimestampOffset));

    /// <summary>Writes the whole payload header (the rest of the payload is left as it is).</summary>
    public static void Write(Span<byte> payload, ushort flow, ulong sequence, long timestamp)
    {
        Span<byte> p = payload.Slice(0, Length);
        BinaryPrimitives.WriteUInt32BigEndian(p.Slice(MagicOffset), MagicValue);
        BinaryPrimitives.WriteUInt16BigEndian(p.Slice(FlowOffset), flow);
        BinaryPrimitives.WriteUInt64BigEndian(p.Slice(SequenceOffset), sequence);
        BinaryPrimitives.WriteInt64BigEndian(p.Slice(TimestampOffset), timestamp);
    }

    /// <summary>Writes sequence and timestamp only (the per-packet patch) and returns the unfolded one's-complement
    /// sum of the 8 words written, to add to a checksum sum computed with both fields zero.</summary>
    public static uint Patch(Span<byte> payload, ulong sequence, long timestamp)
    {
        BinaryPrimitives.WriteUInt64BigEndian(payload.Slice(SequenceOffset), sequence);
        BinaryPrimitives.WriteInt64BigEndian(payload.Slice(TimestampOffset), timestamp);
        return WordSum(sequence) + WordSum((ulong)timestamp);
    }

    /// <summary>Sum of the four big-endian 16-bit words of <paramref name="value"/> (at most 4 × 0xFFFF).</summary>
    public static uint WordSum(ulong value) =>
        (uint)(value >> 48) + (uint)((value >> 32) & 0xFFFF) + (uint)((value >> 16) & 0xFFFF) + (uint)(value & 0xFFFF);
}
