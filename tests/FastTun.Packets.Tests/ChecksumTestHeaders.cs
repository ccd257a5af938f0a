using System.Buffers.Binary;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Tests;

/// <summary>Random IPv4 headers and the slow checksum oracle (scalar 16-bit sum over a copy with the checksum
/// field zeroed) shared by the checksum tests.</summary>
internal static class ChecksumTestHeaders
{
    public const int ChecksumOffset = 10;

    /// <summary>Fills <paramref name="header"/> with random bytes, version 4 and the given IHL, and stores its
    /// correct checksum.</summary>
    public static void FillRandom(Random rng, Span<byte> header, int ihl)
    {
        rng.NextBytes(header.Slice(0, ihl * 4));
        header[0] = (byte)(0x40 | ihl);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(ChecksumOffset), OracleChecksum(header.Slice(0, ihl * 4)));
    }

    /// <summary>The checksum a full recomputation gives, whatever the field holds now.</summary>
    public static ushort OracleChecksum(ReadOnlySpan<byte> header)
    {
        byte[] copy = header.ToArray();
        copy[ChecksumOffset] = 0;
        copy[ChecksumOffset + 1] = 0;
        return (ushort)~InternetChecksum.Fold(InternetChecksum.SumScalar(copy));
    }

    public static ushort StoredChecksum(ReadOnlySpan<byte> header) =>
        BinaryPrimitives.ReadUInt16BigEndian(header.Slice(ChecksumOffset));
}
