using System.Buffers.Binary;
using System.Globalization;

namespace FastTun.Packets.Routing;

/// <summary>
/// One IPv4 route: <see cref="Prefix"/>/<see cref="Length"/> → <see cref="NextHop"/>. The prefix is a host-order
/// address (10.1.5.0 is 0x0A010500) whose bits below <see cref="Length"/> are zero.
/// </summary>
public readonly record struct Route4(uint Prefix, int Length, uint NextHop)
{
    /// <summary>Network mask for a prefix length 0..32 (length 0 → 0, 32 → all ones).</summary>
    public static uint Mask(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    /// <summary>True when the length is 0..32, the prefix has no host bits and the next hop is storable.</summary>
    public bool IsValid => Length is >= 0 and <= 32 && (Prefix & ~Mask(Length)) == 0 && NextHop <= Lpm4Table.MaxNextHop;

    /// <summary>Dotted-quad text of a host-order address.</summary>
    public static string FormatAddress(uint address)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, address);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]}.{b[1]}.{b[2]}.{b[3]}");
    }

    /// <summary>Strict dotted-quad parser: exactly four decimal parts 0..255, no leading sign or spaces.</summary>
    public static bool TryParseAddress(ReadOnlySpan<char> text, out uint address)
    {
        address = 0;
        int part = 0, digits = 0;
        uint value = 0;
        foreach (char ch in text)
        {
            if (ch == '.')
            {
                if (digits == 0 || part == 3) return false;
                address = (address << 8) | value;
                part++;
                digits = 0;
                value = 0;
            }
            else if (ch is >= '0' and <= '9')
            {
                if (++digits > 3) return false;
                value = value * 10 + (uint)(ch - '0');
                if (value > 255) return false;
            }
            else
            {
                return false;
            }
        }
        if (digits == 0 || part != 3) return false;
        address = (address << 8) | value;
        return true;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{FormatAddress(Prefix)}/{Length} {NextHop}");
}
