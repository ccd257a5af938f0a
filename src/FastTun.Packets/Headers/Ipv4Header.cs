using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Packets.Headers;

/// <summary>
/// IPv4 header (RFC 791 §3.1), options included via IHL.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |   DSCP    |ECN|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// Flags: bit 0 reserved (must be zero), bit 1 DF, bit 2 MF.
/// </code>
/// The view spans the whole packet up to the end of the buffer; <see cref="Payload"/> stops at
/// <see cref="TotalLength"/>, so Ethernet padding after the packet is ignored.
/// </summary>
public readonly ref struct Ipv4Header
{
    public const int MinLength = 20;
    public const int VersionIhlOffset = 0;
    public const int TosOffset = 1;
    public const int TotalLengthOffset = 2;
    public const int IdentificationOffset = 4;
    public const int FlagsFragmentOffset = 6;
    public const int TtlOffset = 8;
    public const int ProtocolOffset = 9;
    public const int ChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;

    /// <summary>Flags/fragment-offset word bits.</summary>
    public const ushort FlagDontFragment = 0x4000;
    public const ushort FlagMoreFragments = 0x2000;
    public const ushort FragmentOffsetMask = 0x1FFF;

    public const byte ProtocolIcmp = 1;
    public const byte ProtocolIpip = 4;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolGre = 47;

    /// <summary>ECN codepoints (RFC 3168), the low two bits of the TOS byte.</summary>
    public const byte EcnNotEct = 0, EcnEct1 = 1, EcnEct0 = 2, EcnCe = 3, EcnMask = 3;

    private readonly Span<byte> _bytes;

    private Ipv4Header(Span<byte> bytes) => _bytes = bytes;

    /// <summary>True when <paramref name="packet"/> starts with a well-formed IPv4 header whose total length fits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(Span<byte> packet, out Ipv4Header header) =>
        TryParse(packet, out header, out _);

    /// <summary>As <see cref="TryParse(Span{byte}, out Ipv4Header)"/>, naming the first check that failed.
    /// The checksum is not verified here (see <see cref="IsChecksumValid"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(Span<byte> packet, out Ipv4Header header, out DropReason reason)
    {
        header = default;
        if (packet.Length < MinLength) { reason = DropReason.Truncated; return false; }
        byte versionIhl = packet[VersionIhlOffset];
        if ((versionIhl >> 4) != 4) { reason = DropReason.BadIpVersion; return false; }
        int headerLength = (versionIhl & 0x0F) << 2;
        if (headerLength < MinLength || headerLength > packet.Length) { reason = DropReason.BadIpHeaderLength; return false; }
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(TotalLengthOffset));
        if (totalLength < headerLength || totalLength > packet.Length) { reason = DropReason.BadIpTotalLength; return false; }
        header = new Ipv4Header(packet);
        reason = DropReason.None;
        return true;
    }

    public byte Version => (byte)(_bytes[VersionIhlOffset] >> 4);
    public int HeaderLength => (_bytes[VersionIhlOffset] & 0x0F) << 2;

    public ushort TotalLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(TotalLengthOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(TotalLengthOffset), value);
    }

    public byte Tos
    {
        get => _bytes[TosOffset];
        set => _bytes[TosOffset] = value;
    }

    public byte Dscp => (byte)(_bytes[TosOffset] >> 2);
    public byte Ecn => (byte)(_bytes[TosOffset] & EcnMask);

    public ushort Identification
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(IdentificationOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(IdentificationOffset), value);
    }

    /// <summary>The raw flags + fragment offset word.</summary>
    public ushort FlagsAndFragment
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(FlagsFragmentOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(FlagsFragmentOffset), value);
    }

    public bool DontFragment
    {
        get => (FlagsAndFragment & FlagDontFragment) != 0;
        set => FlagsAndFragment = (ushort)(value ? FlagsAndFragment | FlagDontFragment : FlagsAndFragment & ~FlagDontFragment);
    }

    public bool MoreFragments
    {
        get => (FlagsAndFragment & FlagMoreFragments) != 0;
        set => FlagsAndFragment = (ushort)(value ? FlagsAndFragment | FlagMoreFragments : FlagsAndFragment & ~FlagMoreFragments);
    }

    /// <summary>Fragment offset in bytes (the wire field counts 8-byte units).</summary>
    public int FragmentOffset
    {
        get => (FlagsAndFragment & FragmentOffsetMask) << 3;
        set
        {
            if ((value & 7) != 0 || (uint)value > FragmentOffsetMask << 3) throw new ArgumentOutOfRangeException(nameof(value));
            FlagsAndFragment = (ushort)((FlagsAndFragment & ~FragmentOffsetMask) | (value >> 3));
        }
    }

    /// <summary>A fragment other than a whole datagram: MF set or a non-zero offset.</summary>
    public bool IsFragment => (FlagsAndFragment & (FlagMoreFragments | FragmentOffsetMask)) != 0;

    public byte Ttl
    {
        get => _bytes[TtlOffset];
        set => _bytes[TtlOffset] = value;
    }

    public byte Protocol
    {
        get => _bytes[ProtocolOffset];
        set => _bytes[ProtocolOffset] = value;
    }

    public ushort HeaderChecksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_bytes.Slice(ChecksumOffset));
        set => BinaryPrimitives.WriteUInt16BigEndian(_bytes.Slice(ChecksumOffset), value);
    }

    /// <summary>Source address in host order.</summary>
    public uint Source
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(SourceOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(SourceOffset), value);
    }

    /// <summary>Destination address in host order.</summary>
    public uint Destination
    {
        get => BinaryPrimitives.ReadUInt32BigEndian(_bytes.Slice(DestinationOffset));
        set => BinaryPrimitives.WriteUInt32BigEndian(_bytes.Slice(DestinationOffset), value);
    }

    /// <summary>The header, options included.</summary>
    public Span<byte> Bytes => _bytes.Slice(0, HeaderLength);

    /// <summary>The options (empty when IHL is 5).</summary>
    public Span<byte> Options => _bytes.Slice(MinLength, HeaderLength - MinLength);

    /// <summary>The bytes after the header, up to <see cref="TotalLength"/>.</summary>
    public Span<byte> Payload => _bytes.Slice(HeaderLength, TotalLength - HeaderLength);

    /// <summary>The packet, header to <see cref="TotalLength"/> (without trailing link padding).</summary>
    public Span<byte> Packet => _bytes.Slice(0, TotalLength);

    public bool IsChecksumValid() => HeaderSum(_bytes, HeaderLength) == 0xFFFF;

    /// <summary>Recomputes the header checksum and writes it into the header.</summary>
    public void ComputeChecksum()
    {
        HeaderChecksum = 0;
        HeaderChecksum = (ushort)~HeaderSum(_bytes, HeaderLength);
    }

    /// <summary>
    /// Folded one's-complement sum of an IPv4 header. A 20-byte header is read as two 64-bit and one 32-bit
    /// native-endian words: the sum is the same modulo 2^16−1 whatever the word size, and byte order only swaps
    /// the two bytes of the folded result (RFC 1071 §2(B)), so five loads and adds replace ten 16-bit steps.
    /// Headers with options use <see cref="InternetChecksum"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort HeaderSum(ReadOnlySpan<byte> header, int headerLength)
    {
        if (headerLength == MinLength && header.Length >= MinLength)
        {
            ref byte start = ref MemoryMarshal.GetReference(header);
            ulong a = Unsafe.ReadUnaligned<ulong>(ref start);
            ulong b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, 8));
            ulong c = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, 16));
            ulong acc = (a & 0xFFFF_FFFF) + (a >> 32) + (b & 0xFFFF_FFFF) + (b >> 32) + c;
            ushort folded = InternetChecksum.Fold(InternetChecksum.FoldTo32(acc));
            return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded;
        }
        return InternetChecksum.Fold(InternetChecksum.Sum(header.Slice(0, headerLength)));
    }

    /// <summary>
    /// Writes a 20-byte header (no options) and its checksum. <paramref name="flagsAndFragment"/> is the raw
    /// word (e.g. <see cref="FlagDontFragment"/>). Returns the bytes written.
    /// </summary>
    public static int Write(Span<byte> destination, byte tos, ushort totalLength, ushort identification,
        ushort flagsAndFragment, byte ttl, byte protocol, uint source, uint destinationAddress)
    {
        Span<byte> h = destination.Slice(0, MinLength);
        h[VersionIhlOffset] = 0x45;
        h[TosOffset] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(TotalLengthOffset), totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(IdentificationOffset), identification);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(FlagsFragmentOffset), flagsAndFragment);
        h[TtlOffset] = ttl;
        h[ProtocolOffset] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(ChecksumOffset), 0);
        BinaryPrimitives.WriteUInt32BigEndian(h.Slice(SourceOffset), source);
        BinaryPrimitives.WriteUInt32BigEndian(h.Slice(DestinationOffset), destinationAddress);
        BinaryPrimitives.WriteUInt16BigEndian(h.Slice(ChecksumOffset), (ushort)~HeaderSum(h, MinLength));
        return MinLength;
    }

    /// <summary>Writes a header with DF given as a bool (the common case for generated packets).</summary>
    public static int Write(Span<byte> destination, byte tos, ushort totalLength, ushort identification,
        bool dontFragment, byte ttl, byte protocol, uint source, uint destinationAddress) =>
        Write(destination, tos, totalLength, identification, dontFragment ? FlagDontFragment : (ushort)0,
            ttl, protocol, source, destinationAddress);
}
