using System.Buffers.Binary;
using System.Text;

namespace FastTun.Gateway.Control;

/// <summary>
/// Writes pcapng (draft-ietf-opsawg-pcapng) blocks in little-endian order: a Section Header Block, one
/// Interface Description Block per interface, Enhanced Packet Blocks (nanosecond timestamps, an optional
/// opt_comment such as <c>drop: no-tunnel</c>) and Interface Statistics Blocks at the end (isb_osdrop = capture
/// copies lost because a ring was full). Every block is built in one buffer and written with one call.
/// </summary>
public sealed class PcapNgWriter
{
    public const ushort LinkTypeEthernet = 1;
    public const ushort LinkTypeRaw = 101; // raw IPv4/IPv6, no link header
    private const uint BlockShb = 0x0A0D0D0A;
    private const uint BlockIdb = 0x00000001;
    private const uint BlockIsb = 0x00000005;
    private const uint BlockEpb = 0x00000006;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const ushort OptEnd = 0, OptComment = 1;
    private const ushort ShbUserAppl = 4;
    private const ushort IfName = 2, IfTsResol = 9;
    private const ushort IsbStartTime = 2, IsbEndTime = 3, IsbOsDrop = 7;

    private readonly Stream _out;
    private readonly MemoryStream _block = new();
    private bool _options;

    public PcapNgWriter(Stream output) => _out = output;

    public void WriteSectionHeader(string application)
    {
        Begin(BlockShb);
        U32(ByteOrderMagic);
        U16(1); U16(0); // version 1.0
        U64(ulong.MaxValue); // section length unknown (-1)
        Option(ShbUserAppl, Encoding.UTF8.GetBytes(application));
        End();
    }

    public void WriteInterface(ushort linkType, int snapLength, string name)
    {
        Begin(BlockIdb);
        U16(linkType); U16(0);
        U32((uint)snapLength);
        Option(IfName, Encoding.UTF8.GetBytes(name));
        Option(IfTsResol, [9]); // timestamps in nanoseconds
        End();
    }

    /// <param name="unixNanoseconds">Capture time since the Unix epoch.</param>
    public void WritePacket(uint interfaceId, long unixNanoseconds, ReadOnlySpan<byte> data, int originalLength, string? comment)
    {
        Begin(BlockEpb);
        U32(interfaceId);
        U32((uint)((ulong)unixNanoseconds >> 32)); U32((uint)unixNanoseconds);
        U32((uint)data.Length); U32((uint)originalLength);
        _block.Write(data);
        Pad(data.Length);
        if (comment is not null) Option(OptComment, Encoding.UTF8.GetBytes(comment));
        End();
    }

    public void WriteStatistics(uint interfaceId, long startNs, long endNs, long osDrop, string? comment)
    {
        Begin(BlockIsb);
        U32(interfaceId);
        U32((uint)((ulong)endNs >> 32)); U32((uint)endNs);
        Span<byte> v = stackalloc byte[8];
        WriteTs(v, startNs); Option(IsbStartTime, v);
        WriteTs(v, endNs); Option(IsbEndTime, v);
        BinaryPrimitives.WriteUInt64LittleEndian(v, (ulong)osDrop); Option(IsbOsDrop, v);
        if (comment is not null) Option(OptComment, Encoding.UTF8.GetBytes(comment));
        End();
    }

    public void Flush() => _out.Flush();

    private static void WriteTs(Span<byte> v, long ns)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(v, (uint)((ulong)ns >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(v[4..], (uint)ns);
    }

    private void Begin(uint type)
    {
        _block.SetLength(0);
        _options = false;
        U32(type);
        U32(0); // total length, patched in End
    }

    private void End()
    {
        if (_options) { U16(OptEnd); U16(0); } // the end marker only follows options
        uint total = (uint)_block.Length + 4;
        U32(total);
        var buffer = _block.GetBuffer();
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(4), total);
        _out.Write(buffer, 0, (int)_block.Length);
    }

    private void Option(ushort code, ReadOnlySpan<byte> value)
    {
        _options = true;
        U16(code); U16((ushort)value.Length);
        _block.Write(value);
        Pad(value.Length);
    }

    private void Pad(int length)
    {
        for (int i = length; (i & 3) != 0; i++) _block.WriteByte(0);
    }

    private void U16(ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); _block.Write(b); }
    private void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); _block.Write(b); }
    private void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); _block.Write(b); }
}
