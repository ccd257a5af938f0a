using System.Buffers.Binary;

namespace FastTun.Gateway.Capture;

/// <summary>One packet of a capture file: its position, the link type of its interface and its bytes.</summary>
public sealed record CapturedPacket(int Number, ushort LinkType, byte[] Data, int OriginalLength);

/// <summary>A capture file that could not be read; the message names the file and the offset.</summary>
public sealed class CaptureFormatException(string message) : Exception(message);

/// <summary>
/// Reads the packets of a pcapng file (what `fasttun capture`, tshark and dumpcap write) or of a classic pcap
/// file (what tcpdump and scapy write), in either byte order, microsecond or nanosecond timestamps. Timestamps
/// are not kept: a comparison of two runs never looks at them. Only the blocks that carry packets are read
/// (EPB, SPB, obsolete PB); the others are skipped by their length.
/// </summary>
public static class CaptureFile
{
    public const ushort LinkTypeEthernet = 1;
    public const ushort LinkTypeRaw = 101;
    public const ushort LinkTypeIpv4 = 228;

    private const uint PcapMagicMicro = 0xA1B2C3D4;
    private const uint PcapMagicNano = 0xA1B23C4D;
    private const uint BlockShb = 0x0A0D0D0A;
    private const uint BlockIdb = 0x00000001;
    private const uint BlockPb = 0x00000002;
    private const uint BlockSpb = 0x00000003;
    private const uint BlockEpb = 0x00000006;
    private const uint ByteOrderMagic = 0x1A2B3C4D;

    public static IReadOnlyList<CapturedPacket> Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaptureFormatException($"{path}: {e.Message}");
        }
        return Parse(bytes, path);
    }

    public static IReadOnlyList<CapturedPacket> Parse(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 4) throw new CaptureFormatException($"{name}: too short to be a capture file ({bytes.Length} bytes)");
        uint magicLe = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        uint magicBe = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (magicLe == BlockShb) return ParsePcapNg(bytes, name);
        if (magicLe is PcapMagicMicro or PcapMagicNano) return ParsePcap(bytes, name, bigEndian: false);
        if (magicBe is PcapMagicMicro or PcapMagicNano) return ParsePcap(bytes, name, bigEndian: true);
        throw new CaptureFormatException($"{name}: not a pcap or pcapng file (magic 0x{magicBe:x8})");
    }

    private static IReadOnlyList<CapturedPacket> ParsePcap(ReadOnlySpan<byte> bytes, string name, bool bigEndian)
    {
        const int fileHeader = 24, recordHeader = 16;
        if (bytes.Length < fileHeader) throw new CaptureFormatException($"{name}: pcap file header truncated");
        var r = new EndianReader(bigEndian);
        ushort linkType = (ushort)r.U32(bytes.Slice(20));
        var packets = new List<CapturedPacket>();
        int at = fileHeader;
        while (at < bytes.Length)
        {
            if (bytes.Length - at < recordHeader) throw new CaptureFormatException($"{name}: record header truncated at offset {at}");
            uint captured = r.U32(bytes.Slice(at + 8));
            uint original = r.U32(bytes.Slice(at + 12));
            if (captured > (uint)(bytes.Length - at - recordHeader))
                throw new CaptureFormatException($"{name}: packet {packets.Count + 1} at offset {at} claims {captured} bytes, past the end of the file");
            packets.Add(new CapturedPacket(packets.Count + 1, linkType, bytes.Slice(at + recordHeader, (int)captured).ToArray(), (int)original));
            at += recordHeader + (int)captured;
        }
        return packets;
    }

    private static IReadOnlyList<CapturedPacket> ParsePcapNg(ReadOnlySpan<byte> bytes, string name)
    {
        var packets = new List<CapturedPacket>();
        var linkTypes = new List<ushort>();
        var r = new EndianReader(false);
        int at = 0;
        while (at < bytes.Length)
        {
            if (bytes.Length - at < 12) throw new CaptureFormatException($"{name}: block header truncated at offset {at}");
            uint type = r.U32(bytes.Slice(at));
            if (type == BlockShb)
            {
                // A new section: its byte-order magic decides how everything in it is read.
                uint bom = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(at + 8));
                if (bom == ByteOrderMagic) r = new EndianReader(false);
                else if (BinaryPrimitives.ReverseEndianness(bom) == ByteOrderMagic) r = new EndianReader(true);
                else throw new CaptureFormatException($"{name}: section header at offset {at} has no byte-order magic");
                linkTypes.Clear();
            }
            uint length = r.U32(bytes.Slice(at + 4));
            if (length < 12 || (length & 3) != 0 || length > (uint)(bytes.Length - at))
                throw new CaptureFormatException($"{name}: block at offset {at} has an invalid length {length}");
            ReadOnlySpan<byte> body = bytes.Slice(at + 8, (int)length - 12);
            switch (type)
            {
                case BlockIdb:
                    if (body.Length < 8) throw new CaptureFormatException($"{name}: interface block at offset {at} truncated");
                    linkTypes.Add(r.U16(body));
                    break;
                case BlockEpb or BlockPb:
                {
                    if (body.Length < 20) throw new CaptureFormatException($"{name}: packet block at offset {at} truncated");
                    int iface = type == BlockEpb ? (int)r.U32(body) : r.U16(body);
                    uint captured = r.U32(body.Slice(12));
                    uint original = r.U32(body.Slice(16));
                    if (captured > (uint)(body.Length - 20))
                        throw new CaptureFormatException($"{name}: packet {packets.Count + 1} at offset {at} claims {captured} bytes, more than its block");
                    packets.Add(new CapturedPacket(packets.Count + 1, LinkTypeOf(linkTypes, iface, name, at), body.Slice(20, (int)captured).ToArray(), (int)original));
                    break;
                }
                case BlockSpb:
                {
                    if (body.Length < 4) throw new CaptureFormatException($"{name}: simple packet block at offset {at} truncated");
                    uint original = r.U32(body);
                    int captured = (int)Math.Min(original, (uint)(body.Length - 4));
                    packets.Add(new CapturedPacket(packets.Count + 1, LinkTypeOf(linkTypes, 0, name, at), body.Slice(4, captured).ToArray(), (int)original));
                    break;
                }
            }
            at += (int)length;
        }
        return packets;
    }

    private static ushort LinkTypeOf(List<ushort> linkTypes, int iface, string name, int at) =>
        (uint)iface < (uint)linkTypes.Count ? linkTypes[iface]
            : throw new CaptureFormatException($"{name}: packet block at offset {at} names interface {iface}, which was never described");

    private readonly struct EndianReader(bool bigEndian)
    {
        public uint U32(ReadOnlySpan<byte> b) => bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
        public ushort U16(ReadOnlySpan<byte> b) => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);
    }
}
