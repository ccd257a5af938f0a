using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Headers;

/// <summary>
/// Ethernet II header, optionally with one IEEE 802.1Q tag.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Destination MAC (6 octets)                   |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+      Source MAC (6 octets)    +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   EtherType or TPID 0x8100    | [PCP|DEI|  VLAN ID (12)]      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | [EtherType after the tag]     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Only one tag is recognised; a QinQ frame shows the inner TPID as its <see cref="EtherType"/>.
/// </summary>
public readonly ref struct EthernetHeader
{
    public const int MacLength = 6;
    public const int DestinationOffset = 0;
    public const int SourceOffset = 6;
    public const int TypeOffset = 12;
    public const int VlanTciOffset = 14;
    public const int TaggedTypeOffset = 16;
    public const int Length = 14;
    public const int TaggedLength = 18;

    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const ushort EtherTypeVlan = 0x8100;

    private readonly Span<byte> _bytes;

    private EthernetHeader(Span<byte> bytes) => _bytes = bytes;

    /// <summary>Accepts a frame that holds the full header (tagged or not).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(Span<byte> frame, out EthernetHeader header)
    {
        header = default;
        if (frame.Length < Length) return false;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(TypeOffset)) == EtherTypeVlan && frame.Length < TaggedLength)
            return false;
        header = new EthernetHeader(frame);
        return true;
    }

    public Span<byte> Destination => _bytes.Slice(DestinationOffset, MacLength);
    public Span<byte> Source => _bytes.Slice(SourceOffset, MacLength);

    public bool HasVlan => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(TypeOffset)) == EtherTypeVlan;

    /// <summary>The 12-bit VLAN id, or 0 when the frame is untagged.</summary>
    public ushort VlanId => HasVlan ? (ushort)(BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(VlanTciOffset)) & 0x0FFF) : (ushort)0;

    /// <summary>The EtherType of the payload (after the 802.1Q tag when there is one).</summary>
    public ushort EtherType
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(HasVlan ? TaggedTypeOffset : TypeOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(HasVlan ? TaggedTypeOffset : TypeOffset), value);
    }

    public int HeaderLength => HasVlan ? TaggedLength : Length;

    /// <summary>The whole frame after the Ethernet header.</summary>
    public Span<byte> Payload => _bytes.Slice(HeaderLength);

    /// <summary>Writes an untagged 14-byte header. Returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> dst, ReadOnlySpan<byte> src, ushort etherType)
    {
        if (dst.Length != MacLength) throw new ArgumentException("MAC must be 6 bytes", nameof(dst));
        if (src.Length != MacLength) throw new ArgumentException("MAC must be 6 bytes", nameof(src));
        Span<byte> h = destination.Slice(0, Length);
        dst.CopyTo(h.Slice(DestinationOffset));
        src.CopyTo(h.Slice(SourceOffset));
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(TypeOffset), etherType);
        return Length;
    }

    /// <summary>Writes an 18-byte header with an 802.1Q tag (priority 0). Returns the bytes written.</summary>
    public static int WriteTagged(Span<byte> destination, ReadOnlySpan<byte> dst, ReadOnlySpan<byte> src, ushort vlanId, ushort etherType)
    {
        if (vlanId > 0x0FFF) throw new ArgumentOutOfRangeException(nameof(vlanId));
        Span<byte> h = destination.Slice(0, TaggedLength);
        Write(h, dst, src, EtherTypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(VlanTciOffset), vlanId);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(TaggedTypeOffset), etherType);
        return TaggedLength;
    }
}
