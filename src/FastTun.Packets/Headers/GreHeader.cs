using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Packets.Headers;

/// <summary>
/// GRE header (RFC 2784 with the key and sequence extensions of RFC 2890).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |C| |K|S| Reserved0       | Ver |         Protocol Type         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Checksum (optional)      |       Reserved1 (Optional)    |   present when C
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Key (optional)                        |   present when K
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Sequence Number (Optional)                    |   present when S
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Bit 1 (the RFC 1701 routing bit) and bits 4–12 are Reserved0 and must be zero (RFC 2784 §2.3); the
/// version must be 0. The checksum covers the GRE header and its payload. Optional fields sit in the order
/// checksum, key, sequence; each is located by the bits before it.
/// </summary>
public readonly ref struct GreHeader
{
    public const int BaseLength = 4;
    public const int MaxLength = 16;
    public const int FlagsOffset = 0;
    public const int ProtocolTypeOffset = 2;
    public const int OptionsOffset = 4;

    /// <summary>Bits of the first 16-bit word.</summary>
    public const ushort FlagChecksum = 0x8000;
    public const ushort FlagKey = 0x2000;
    public const ushort FlagSequence = 0x1000;
    public const ushort Reserved0Mask = 0x4FF8;
    public const ushort VersionMask = 0x0007;

    public const ushort ProtocolIPv4 = 0x0800;

    private readonly Span<byte> _bytes;

    private GreHeader(Span<byte> bytes) => _bytes = bytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(Span<byte> packet, out GreHeader gre) => TryParse(packet, out gre, out _);

    /// <summary>The span is the IP payload. Checks version, reserved bits and that every optional field fits;
    /// the checksum is not verified here (see <see cref="IsChecksumValid"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(Span<byte> packet, out GreHeader gre, out DropReason reason)
    {
        gre = default;
        if (packet.Length < BaseLength) { reason = DropReason.Truncated; return false; }
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(packet);
        if ((flags & VersionMask) != 0) { reason = DropReason.GreBadVersion; return false; }
        if ((flags & Reserved0Mask) != 0) { reason = DropReason.GreReservedBits; return false; }
        if (LengthOf(flags) > packet.Length) { reason = DropReason.Truncated; return false; }
        gre = new GreHeader(packet);
        reason = DropReason.None;
        return true;
    }

    /// <summary>Header length implied by the C, K and S bits: 4 + 4 per option.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LengthOf(ushort flags) =>
        BaseLength + ((flags >> 13) & 4) + ((flags >> 11) & 4) + ((flags >> 10) & 4);

    public ushort Flags => BinaryPrimitives.ReadUInt16BigEndian(_bytes);
    public bool HasChecksum => (Flags & FlagChecksum) != 0;
    public bool HasKey => (Flags & FlagKey) != 0;
    public bool HasSequence => (Flags & FlagSequence) != 0;
    public int Version => Flags & VersionMask;
    public int HeaderLength => LengthOf(Flags);

    public ushort ProtocolType
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(ProtocolTypeOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(ProtocolTypeOffset), value);
    }

    private int KeyOffset => OptionsOffset + (HasChecksum ? 4 : 0);
    private int SequenceOffset => KeyOffset + (HasKey ? 4 : 0);

    /// <summary>The checksum field; 0 when absent.</summary>
    public ushort Checksum
    {
        get => HasChecksum ? BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(OptionsOffset)) : (ushort)0;
        set
        {
            if (!HasChecksum) throw new InvalidOperationException("GRE header has no checksum field");
            BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(OptionsOffset), value);
        }
    }

    /// <summary>The key; 0 when absent (check <see cref="HasKey"/>).</summary>
    public uint Key
    {
        get => HasKey ? BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(KeyOffset)) : 0;
        set
        {
            if (!HasKey) throw new InvalidOperationException("GRE header has no key field");
            BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(KeyOffset), value);
        }
    }

    /// <summary>The sequence number; 0 when absent (check <see cref="HasSequence"/>).</summary>
    public uint SequenceNumber
    {
        get => HasSequence ? BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(SequenceOffset)) : 0;
        set
        {
            if (!HasSequence) throw new InvalidOperationException("GRE header has no sequence field");
            BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(SequenceOffset), value);
        }
    }

    public Span<byte> Bytes => _bytes.Slice(0, HeaderLength);
    public Span<byte> Payload => _bytes.Slice(HeaderLength);

    /// <summary>True when there is no checksum, or the header plus payload (the whole view) sums correctly.</summary>
    public bool IsChecksumValid() => !HasChecksum || InternetChecksum.Verify(_bytes);

    /// <summary>Computes the checksum over the whole view (header + payload) and writes it.</summary>
    public void ComputeChecksum()
    {
        Checksum = 0;
        Checksum = InternetChecksum.Compute(_bytes);
    }

    /// <summary>
    /// Writes a GRE header with the given options (checksum written as 0, reserved1 0). When
    /// <paramref name="checksum"/> is set, call <see cref="ComputeChecksum"/> on the header+payload span after
    /// the payload is in place. Returns the header length.
    /// </summary>
    public static int Write(Span<byte> destination, ushort protocolType, bool checksum, uint? key, uint? sequence)
    {
        ushort flags = (ushort)((checksum ? FlagChecksum : 0) | (key.HasValue ? FlagKey : 0) | (sequence.HasValue ? FlagSequence : 0));
        int length = LengthOf(flags);
        Span<byte> h = destination.Slice(0, length);
        BinaryPrimitives.WriteUInt16BigEndian(h, flags);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(ProtocolTypeOffset), protocolType);
        int o = OptionsOffset;
        if (checksum) { BinaryPrimitives.WriteUInt32BigEndian(h.Slice(o), 0); o += 4; }
        if (key.HasValue) { BinaryPrimitives.WriteUInt32BigEndian(h.Slice(o), key.Value); o += 4; }
        if (sequence.HasValue) { BinaryPrimitives.WriteUInt32BigEndian(h.Slice(o), sequence.Value); }
        return length;
    }
}
