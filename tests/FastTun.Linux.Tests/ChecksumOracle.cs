using System.Buffers.Binary;

namespace FastTun.Linux.Tests;

/// <summary>Slow, obviously correct RFC 1071 checks used as the oracle for the port's offload work.</summary>
public static class ChecksumOracle
{
    public static ushort Sum16(ReadOnlySpan<byte> data, long initial = 0)
    {
        long sum = initial;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += (data[i] << 8) | data[i + 1];
        if ((data.Length & 1) != 0) sum += data[^1] << 8;
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    public static bool IpHeaderOk(ReadOnlySpan<byte> ip) => Sum16(ip[..((ip[0] & 0xF) * 4)]) == 0xFFFF;

    /// <summary>TCP or UDP checksum of an IPv4 packet including the pseudo-header (UDP 0 = none is accepted).</summary>
    public static bool L4Ok(ReadOnlySpan<byte> ip)
    {
        int ihl = (ip[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var l4 = ip[ihl..total];
        if (ip[9] == 17 && BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) == 0) return true;
        long pseudo = Sum16(ip.Slice(12, 8)) + ip[9] + l4.Length;
        return Sum16(l4, pseudo) == 0xFFFF;
    }
}
